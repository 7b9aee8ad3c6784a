//! The simulator's own metrics, on its `GET /metrics` (beside the API it serves: the simulator
//! is a test double inside our network, so one port is enough). They say what the custodian
//! saw: requests by route and HTTP status with their latency, and callbacks it sent. Names
//! carry `acme_custodian_sim_` so they never mix with the platform's `acme_custodian_*` (what
//! the workers saw of the custodian); routes are axum's matched paths (`/orders/{order_ref}`),
//! never an order reference.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

struct Metrics {
    registry: Registry,
    requests_total: IntCounterVec,
    request_duration_seconds: HistogramVec,
    callbacks_sent_total: IntCounterVec,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests_total = IntCounterVec::new(
        Opts::new(
            "acme_custodian_sim_http_requests_total",
            "Requests the custodian simulator answered, by route and HTTP status",
        ),
        &["route", "code"],
    )
    .expect("a valid counter definition");
    let request_duration_seconds = HistogramVec::new(
        HistogramOpts::new(
            "acme_custodian_sim_http_request_duration_seconds",
            "How long the simulator took to answer, by route",
        )
        .buckets(vec![
            0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
        ]),
        &["route"],
    )
    .expect("a valid histogram definition");
    let callbacks_sent_total = IntCounterVec::new(
        Opts::new(
            "acme_custodian_sim_callback_attempts_total",
            "Callback deliveries the simulator attempted, by outcome (accepted, refused, unreachable)",
        ),
        &["outcome"],
    )
    .expect("a valid counter definition");
    for outcome in ["accepted", "refused", "unreachable"] {
        callbacks_sent_total.with_label_values(&[outcome]);
    }
    for metric in [
        Box::new(requests_total.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(request_duration_seconds.clone()),
        Box::new(callbacks_sent_total.clone()),
    ] {
        registry
            .register(metric)
            .expect("each metric registered once");
    }
    Metrics {
        registry,
        requests_total,
        request_duration_seconds,
        callbacks_sent_total,
    }
});

/// Axum middleware: counts and times every request by its route.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &*METRICS;
    m.requests_total
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    m.request_duration_seconds
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Records one callback delivery attempt: `Ok(status)` answered, `Err` no answer.
pub(crate) fn callback_attempt(outcome: &Result<u16, String>) {
    let outcome = match outcome {
        Ok(status) if (200..300).contains(status) => "accepted",
        Ok(_) => "refused",
        Err(_) => "unreachable",
    };
    METRICS
        .callbacks_sent_total
        .with_label_values(&[outcome])
        .inc();
}

/// `GET /metrics`: the text exposition format.
pub(crate) async fn render() -> Response {
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&METRICS.registry.gather())
        .unwrap_or_else(|e| format!("# metrics could not be encoded: {e}\n"));
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
