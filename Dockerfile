# One image for the platform's three programs: acme-worker (the default entrypoint), acme (the
# operations CLI, also what the migrations Job runs) and acme-custodian (the simulator, for test
# environments). Multi-stage: the build stage has the toolchain and protoc, the runtime stage only
# the binaries, CA certificates and a non-root user. Base images are pinned to exact tags (use a
# digest, `@sha256:...`, where your registry policy requires it; `docker buildx imagetools
# inspect <tag>` prints it). Build: docker build -t acme-platform:$(git rev-parse --short HEAD) .
# Not built by ops/test (no Docker needed to test); deploy/*.yaml reference the image.

FROM docker.io/library/rust:1.95.0-slim-bookworm AS build
# The Temporal crates compile .proto files at build time (as ops/stack installs for dev).
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p acme-worker -p acme-cli -p acme-custodian --bins \
    && mkdir /out \
    && cp target/release/acme-worker target/release/acme target/release/acme-custodian /out/

FROM docker.io/library/debian:12.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 acme \
    && useradd --system --uid 10001 --gid acme --no-create-home --shell /usr/sbin/nologin acme
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
# Metrics (ACME_METRICS_LISTEN) and the callback ingress (ACME_CALLBACK_LISTEN), when enabled.
EXPOSE 9464 7300
ENTRYPOINT ["/usr/local/bin/acme-worker"]
