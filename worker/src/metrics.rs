//! The worker's `/metrics` (ADR 16): one endpoint with the platform's business metrics
//! (`acme_sdk::metrics`, `acme_*`) and the Temporal SDK's own worker metrics (`temporal_*`: task
//! slots, schedule-to-start latency, polls, sticky cache).
//!
//! The SDK only exports its metrics through its own HTTP exporter, whose registry is private,
//! so [`TemporalExporter`] starts it on a loopback port chosen by the OS and `/metrics` appends
//! what that port serves to our own text. The two sets of names cannot clash (`acme_` and
//! `temporal_`). The trade book and reconciliation gauges are read from the database when
//! `/metrics` is scraped, at most once per [`TRADE_BOOK_REFRESH`], so their cost follows the
//! scrape interval.
//!
//! [`ActivityMetrics`] is the activity interceptor that times every activity execution (every
//! queue, local activities too), counts retries and runs each in its span
//! (`acme_sdk::telemetry::activity_span`: workflow id, business key); `Workers::build` always
//! installs it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acme_ledger::Ledger;
use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use temporalio_common::telemetry::metrics::CoreMeter;
use temporalio_common::telemetry::{PrometheusExporterOptions, start_prometheus_metric_exporter};
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::interceptors::{
    ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next,
};
use tracing::Instrument as _;

use crate::ActivityInterceptor;

/// The database's gauges (trade book, reconciliation breaks) are read at most this often,
/// however often `/metrics` is scraped.
pub const TRADE_BOOK_REFRESH: Duration = Duration::from_secs(15);
/// The longest each of those reads may take before the scrape goes on without it.
pub const TRADE_BOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Completed trades of this many recent days are counted in `acme_trades` (pending trades and
/// open external trades always are).
pub const TRADE_BOOK_WINDOW_DAYS: i64 = 7;
/// The longest the SDK's exporter may take to answer our own scrape.
const TEMPORAL_SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// The Temporal SDK's Prometheus exporter, on a loopback port of its own.
#[derive(Clone)]
pub struct TemporalExporter {
    /// Give this to the SDK's runtime (`TelemetryOptions::metrics`).
    pub meter: Arc<dyn CoreMeter>,
    /// Where the exporter serves its `/metrics`.
    pub address: SocketAddr,
}

impl std::fmt::Debug for TemporalExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporalExporter")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl TemporalExporter {
    /// Starts the exporter (needs a Tokio runtime), with Prometheus's naming: `_total` on
    /// counters, durations in seconds with the unit in the name.
    pub fn start() -> anyhow::Result<Self> {
        let options = PrometheusExporterOptions::builder()
            .socket_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
            .counters_total_suffix(true)
            .unit_suffix(true)
            .use_seconds_for_durations(true)
            .build();
        let started = start_prometheus_metric_exporter(options).map_err(|e| {
            anyhow::anyhow!("cannot start the Temporal SDK's metrics exporter: {e}")
        })?;
        Ok(Self {
            meter: started.meter,
            address: started.bound_addr,
        })
    }
}

#[derive(Clone)]
struct Endpoint {
    temporal: Option<SocketAddr>,
    ledger: Option<Ledger>,
    http: reqwest::Client,
    last_refresh: Arc<Mutex<Option<Instant>>>,
}

/// The `/metrics` routes: our metrics, the trade book's gauges when `ledger` is given, and the
/// SDK's metrics when `temporal` is given.
pub fn router(temporal: Option<&TemporalExporter>, ledger: Option<Ledger>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/health", get(|| async { "ok" }))
        .with_state(Endpoint {
            temporal: temporal.map(|t| t.address),
            ledger,
            http: reqwest::Client::new(),
            last_refresh: Arc::new(Mutex::new(None)),
        })
}

/// Binds the metrics address, with a clear error when it is taken.
pub async fn bind(address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve metrics on {address}: {e}"))
}

async fn scrape(State(endpoint): State<Endpoint>) -> Response {
    if let Some(ledger) = &endpoint.ledger {
        refresh_gauges(ledger, &endpoint.last_refresh).await;
    }
    let mut text = acme_sdk::metrics::metrics().render();
    if let Some(address) = endpoint.temporal {
        let url = format!("http://{address}/metrics");
        let fetched = endpoint
            .http
            .get(&url)
            .timeout(TEMPORAL_SCRAPE_TIMEOUT)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        match fetched {
            Ok(response) => match response.text().await {
                Ok(temporal) => text.push_str(&temporal),
                Err(e) => tracing::warn!("temporal sdk metrics unreadable: {e}"),
            },
            Err(e) => tracing::warn!("temporal sdk metrics unavailable: {e}"),
        }
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Reads the trade book and the reconciliation breaks into their gauges unless that was done
/// less than [`TRADE_BOOK_REFRESH`] ago; a failure is counted and logged, and the gauges keep
/// their values.
async fn refresh_gauges(ledger: &Ledger, last_refresh: &Mutex<Option<Instant>>) {
    {
        let mut last = last_refresh.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < TRADE_BOOK_REFRESH) {
            return;
        }
        *last = Some(Instant::now());
    }
    let metrics = acme_sdk::metrics::metrics();
    let now = chrono::Utc::now();
    let since = now.date_naive() - chrono::Days::new(TRADE_BOOK_WINDOW_DAYS as u64);
    let trade_book = acme_activities::trade_book::gauges::trade_book_rows(ledger.pool(), since);
    if let Some(rows) = read_gauges(
        "trade book",
        trade_book,
        &metrics.trade_book_refresh_failures_total,
    )
    .await
    {
        acme_sdk::metrics::set_trade_book(&rows);
    }
    let breaks = acme_activities::recon::breaks::gauges(
        ledger.pool(),
        acme_activities::recon::breaks::AGE_LIMIT,
        now,
    );
    if let Some(rows) = read_gauges(
        "reconciliation",
        breaks,
        &metrics.reconciliation_refresh_failures_total,
    )
    .await
    {
        acme_sdk::metrics::set_reconciliation_breaks(&rows);
    }
}

/// Awaits one gauge read within [`TRADE_BOOK_TIMEOUT`]; a failure or a timeout is counted in
/// `failures` and logged, and gives `None`.
async fn read_gauges<T, E: std::fmt::Display>(
    what: &str,
    read: impl Future<Output = Result<T, E>>,
    failures: &prometheus::IntCounter,
) -> Option<T> {
    match tokio::time::timeout(TRADE_BOOK_TIMEOUT, read).await {
        Ok(Ok(rows)) => Some(rows),
        Ok(Err(e)) => {
            failures.inc();
            tracing::warn!("{what} gauges not refreshed: {e}");
            None
        }
        Err(_) => {
            failures.inc();
            tracing::warn!("{what} gauges not refreshed: no answer within {TRADE_BOOK_TIMEOUT:?}");
            None
        }
    }
}

/// Times every activity execution by activity and outcome, counts retries and runs it in its
/// span, then hands over to `inner` (the harness's fault injector in tests), if any.
#[derive(Debug)]
pub struct ActivityMetrics {
    inner: Option<ActivityInterceptor>,
}

impl ActivityMetrics {
    pub fn new(inner: Option<ActivityInterceptor>) -> Self {
        Self { inner }
    }
}

impl ActivityInboundInterceptor for ActivityMetrics {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        let info = input.activity_info();
        let activity = info.activity_type.clone();
        let metrics = acme_sdk::metrics::metrics();
        if info.attempt > 1 {
            metrics
                .activity_retries_total
                .with_label_values(&[activity.as_str()])
                .inc();
        }
        let span = acme_sdk::telemetry::activity_span(info);
        let started = Instant::now();
        let run = span.in_scope(|| match &self.inner {
            Some(inner) => inner.execute_activity(input, next),
            None => next.run(input),
        });
        let timed = async move {
            let result = run.await;
            let outcome = match &result {
                Ok(_) | Err(ActivityError::WillCompleteAsync) => "ok",
                Err(ActivityError::Application(failure)) if failure.is_non_retryable() => {
                    "rejected"
                }
                Err(ActivityError::Application(_)) => "retryable",
                Err(ActivityError::Cancelled { .. }) => "cancelled",
                Err(_) => "retryable",
            };
            metrics
                .activity_duration_seconds
                .with_label_values(&[activity.as_str(), outcome])
                .observe(started.elapsed().as_secs_f64());
            result
        };
        Box::pin(timed.instrument(span))
    }
}
