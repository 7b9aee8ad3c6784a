//! How ACME's programs report what they do (ADR 24): one `tracing` subscriber per process that
//! writes the log (text lines or one JSON object per line) and, when OpenTelemetry's standard
//! settings name a collector, sends spans there over OTLP/HTTP.
//!
//! - The log is filtered by `RUST_LOG`, else by the program's default (the worker logs `info`;
//!   `acme` shows only its own warnings and libraries' errors, so sqlx's slow-statement warnings
//!   never land in the middle of a user's output). Libraries that log through `log` rather than
//!   `tracing` come through the same subscriber, and the Temporal core, given no logger of its
//!   own, logs through it too.
//! - Traces are on only when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`
//!   is set; the exporter itself reads the rest of OpenTelemetry's settings (`..._HEADERS`,
//!   `..._TIMEOUT`, `OTEL_BSP_*`), and `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` name the
//!   service (default: the program's name). Spans are filtered by [`TRACE_FILTER`], not
//!   `RUST_LOG`: a quiet log must not thin the traces.
//! - [`activity_span`] is the span every activity runs in (the worker's interceptor opens it):
//!   it carries the run's workflow id and business key, so the SQL the activity sends (sqlx's
//!   statement events, recorded on it) and the Temporal SDK's own `RunActivity` span around it
//!   are found from the run.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The settings that switch traces on, the traces-only one first (OpenTelemetry's names).
pub const OTLP_ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// What becomes a span or span event: `info` and above, and sqlx's `debug` events, among them
/// each SQL statement it sends (its `query` target: the statement and the rows), so an
/// activity's trace shows its SQL.
pub const TRACE_FILTER: &str = "info,sqlx=debug";

/// The log's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event
    #[default]
    Text,
    /// One JSON object per line, for a log collector: the event's fields at the top level beside
    /// `timestamp`, `level`, `target` and the current span
    Json,
}

/// Where the log goes: a service writes to stdout, a command-line tool to stderr (its stdout
/// is its output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    Stdout,
    Stderr,
}

/// How a program reports: the log's format, filter and output, and its service name.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub format: LogFormat,
    /// Used when `RUST_LOG` is not set.
    pub default_filter: &'static str,
    pub output: LogOutput,
    /// The service name of its spans unless `OTEL_SERVICE_NAME` says otherwise.
    pub service_name: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot set up the OTLP trace exporter ({settings}): {reason}", settings = OTLP_ENDPOINT_VARS.join(", "))]
    Exporter { reason: String },
    #[error("a log subscriber is already installed in this process")]
    AlreadyInstalled,
}

/// Keeps the trace exporter running; dropping it sends the spans still buffered. Hold it for
/// the life of `main`.
#[must_use = "dropping it stops the trace exporter"]
#[derive(Debug)]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("traces not all sent: {e}");
        }
    }
}

/// Installs the process's subscriber; call once, first thing in `main`.
pub fn init(settings: Settings) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.default_filter));
    let writer = match settings.output {
        LogOutput::Stdout => BoxMakeWriter::new(std::io::stdout),
        LogOutput::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    let log = tracing_subscriber::fmt::layer().with_writer(writer);
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![match settings.format {
        LogFormat::Text => log.with_filter(filter).boxed(),
        LogFormat::Json => log
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(filter)
            .boxed(),
    }];
    let tracer_provider = otlp_tracer_provider(settings.service_name)?;
    if let Some(provider) = &tracer_provider {
        let tracer = provider.tracer("acme");
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(EnvFilter::new(TRACE_FILTER))
                .boxed(),
        );
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(Telemetry { tracer_provider })
}

/// The OTLP/HTTP exporter, when OpenTelemetry's settings name a collector.
fn otlp_tracer_provider(service_name: &str) -> Result<Option<SdkTracerProvider>, TelemetryError> {
    let configured = OTLP_ENDPOINT_VARS
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
    if !configured {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| TelemetryError::Exporter {
            reason: e.to_string(),
        })?;
    // The resource reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the program's name is
    // only the default.
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service_name.to_owned());
    }
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    ))
}

/// The business key in a workflow id: what follows the process's prefix (`invest/<request-id>`,
/// `dealing/<date>`; DESIGN §4), or the whole id when it has none (a scheduled run).
pub fn business_key(workflow_id: &str) -> &str {
    workflow_id
        .split_once('/')
        .map_or(workflow_id, |(_, key)| key)
}

/// The span an activity execution runs in, named after the activity, carrying its run's
/// workflow id, business key and process, and the attempt.
pub fn activity_span(info: &temporalio_sdk::activities::ActivityInfo) -> tracing::Span {
    let workflow_id = info.workflow_id.as_deref().unwrap_or_default();
    tracing::info_span!(
        "activity",
        otel.name = %info.activity_type,
        activity = %info.activity_type,
        workflow_id,
        business_key = business_key(workflow_id),
        process = info.workflow_type.as_deref().unwrap_or_default(),
        run_id = info.workflow_run_id.as_deref().unwrap_or_default(),
        attempt = info.attempt,
        local = info.is_local,
    )
}

#[cfg(test)]
mod tests {
    use super::business_key;

    #[test]
    fn the_business_key_is_the_workflow_id_after_its_process_prefix() {
        assert_eq!(business_key("invest/r-1"), "r-1");
        assert_eq!(
            business_key("external-trade/2026-12-07/GB00ACMEGLB1/buy"),
            "2026-12-07/GB00ACMEGLB1/buy"
        );
        assert_eq!(business_key("dealing-cutoff"), "dealing-cutoff");
    }
}
