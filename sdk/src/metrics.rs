//! The platform's business metrics: every metric ACME's own code records, listed here in one
//! place, in one registry that `acme-worker` serves on `/metrics` beside the Temporal SDK's own
//! `temporal_*` metrics (ADR 16). Code deep in the ledger or the trade book records with one
//! call (`metrics::ledger_written(...)`); nothing here talks to the network.
//!
//! Conventions (Prometheus's): the `acme_` prefix, base units (`_seconds`), `_total` on
//! counters, and labels whose values come from a small fixed set (an activity name, a status, an
//! outcome) — never a member, trade, order or workflow id, which would make one series per
//! member.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `acme_activity_duration_seconds` | histogram | `activity`, `outcome` (ok, retryable, rejected, cancelled) |
//! | `acme_activity_retries_total` | counter | `activity`: executions on attempt 2 or later |
//! | `acme_dealing_rows_total` | counter | `phase` (aggregate, price, settle, release): member trades moved |
//! | `acme_ledger_entries_written_total` | counter | `path` (single, batch, staged): replays not counted |
//! | `acme_ledger_postings_written_total` | counter | `path` |
//! | `acme_custodian_requests_total` | counter | `operation` (place_order, order_status, statement, closing_prices), `outcome` (ok, refused, error, unreachable) |
//! | `acme_custodian_request_duration_seconds` | histogram | `operation` |
//! | `acme_callbacks_received_total` | counter | `kind` (priced, settled) |
//! | `acme_callbacks_refused_total` | counter | `reason` (unauthenticated, malformed, unknown_order, ledger_unavailable, unreadable, temporal_unavailable, run_closed) |
//! | `acme_trades` | gauge | `kind` (member, external), `status`: the trade book, see [`set_trade_book`] |
//! | `acme_trade_oldest_age_seconds` | gauge | `kind`, `status` (open statuses only) |
//! | `acme_trade_book_refresh_failures_total` | counter | none |
//! | `acme_reconciliation_breaks` | gauge | `class`: unresolved breaks, see [`set_reconciliation_breaks`] |
//! | `acme_reconciliation_breaks_overdue` | gauge | `class`: unresolved breaks past their age limit |
//! | `acme_reconciliation_break_oldest_age_seconds` | gauge | `class`: since the oldest unresolved break was opened |
//! | `acme_reconciliation_refresh_failures_total` | counter | none |

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Outcomes of an activity execution (the `outcome` label of `acme_activity_duration_seconds`).
pub const ACTIVITY_OUTCOMES: [&str; 4] = ["ok", "retryable", "rejected", "cancelled"];
/// Outcomes of a custodian request.
pub const CUSTODIAN_OUTCOMES: [&str; 4] = ["ok", "refused", "error", "unreachable"];
/// The custodian gateway's operations.
pub const CUSTODIAN_OPERATIONS: [&str; 2] = ["place_order", "order_status"];
/// Why the ingress refuses a callback.
pub const CALLBACK_REFUSALS: [&str; 7] = [
    "unauthenticated",
    "malformed",
    "unknown_order",
    "ledger_unavailable",
    "unreadable",
    "temporal_unavailable",
    "run_closed",
];
/// The kinds of custodian callback.
pub const CALLBACK_KINDS: [&str; 2] = ["priced", "settled"];
/// The dealing phases that move member trades (the trade book's member transitions).
pub const DEALING_PHASES: [&str; 4] = ["aggregate", "price", "settle", "release"];

/// Seconds: from 5 ms (a local ledger step) to 30 minutes (a day's close at a million trades).
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0, 600.0, 1800.0,
];
/// Seconds, for one HTTP request to the custodian (the client's timeout is 30 s).
const REQUEST_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

/// The registry and every metric in it.
#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub activity_duration_seconds: HistogramVec,
    pub activity_retries_total: IntCounterVec,
    pub dealing_rows_total: IntCounterVec,
    pub ledger_entries_written_total: IntCounterVec,
    pub ledger_postings_written_total: IntCounterVec,
    pub custodian_requests_total: IntCounterVec,
    pub custodian_request_duration_seconds: HistogramVec,
    pub callbacks_received_total: IntCounterVec,
    pub callbacks_refused_total: IntCounterVec,
    pub trades: IntGaugeVec,
    pub trade_oldest_age_seconds: GaugeVec,
    pub trade_book_refresh_failures_total: IntCounter,
    pub reconciliation_breaks: IntGaugeVec,
    pub reconciliation_breaks_overdue: IntGaugeVec,
    pub reconciliation_break_oldest_age_seconds: GaugeVec,
    pub reconciliation_refresh_failures_total: IntCounter,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics (created, with every known series at zero, on first use).
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("a valid counter definition");
            registry
                .register(Box::new(metric.clone()))
                .expect("each metric registered once");
            metric
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let metric = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )
            .expect("a valid histogram definition");
            registry
                .register(Box::new(metric.clone()))
                .expect("each metric registered once");
            metric
        };
        let trades = IntGaugeVec::new(
            Opts::new(
                "acme_trades",
                "Trades in the trade book by kind and status: every pending trade and those of \
                 recent dealing dates",
            ),
            &["kind", "status"],
        )
        .expect("a valid gauge definition");
        let trade_oldest_age_seconds = GaugeVec::new(
            Opts::new(
                "acme_trade_oldest_age_seconds",
                "Age of the oldest trade in an open status, since it was created",
            ),
            &["kind", "status"],
        )
        .expect("a valid gauge definition");
        let trade_book_refresh_failures_total = IntCounter::new(
            "acme_trade_book_refresh_failures_total",
            "Times the trade book gauges could not be read",
        )
        .expect("a valid counter definition");
        let class_gauge = |name: &str, help: &str| {
            IntGaugeVec::new(Opts::new(name, help), &["class"]).expect("a valid gauge definition")
        };
        let reconciliation_breaks = class_gauge(
            "acme_reconciliation_breaks",
            "Reconciliation breaks not yet resolved, by class",
        );
        let reconciliation_breaks_overdue = class_gauge(
            "acme_reconciliation_breaks_overdue",
            "Unresolved reconciliation breaks past their age limit (a timing break past its \
             expected clear date, any other open for a day), by class",
        );
        let reconciliation_break_oldest_age_seconds = GaugeVec::new(
            Opts::new(
                "acme_reconciliation_break_oldest_age_seconds",
                "Age of the oldest unresolved reconciliation break of a class, since it was opened",
            ),
            &["class"],
        )
        .expect("a valid gauge definition");
        let reconciliation_refresh_failures_total = IntCounter::new(
            "acme_reconciliation_refresh_failures_total",
            "Times the reconciliation gauges could not be read",
        )
        .expect("a valid counter definition");
        for metric in [
            Box::new(trades.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(trade_oldest_age_seconds.clone()),
            Box::new(trade_book_refresh_failures_total.clone()),
            Box::new(reconciliation_breaks.clone()),
            Box::new(reconciliation_breaks_overdue.clone()),
            Box::new(reconciliation_break_oldest_age_seconds.clone()),
            Box::new(reconciliation_refresh_failures_total.clone()),
        ] {
            registry
                .register(metric)
                .expect("each metric registered once");
        }
        let metrics = Self {
            activity_duration_seconds: histogram(
                "acme_activity_duration_seconds",
                "Activity executions (each attempt) by activity and outcome, and how long they ran",
                &["activity", "outcome"],
                &DURATION_BUCKETS,
            ),
            activity_retries_total: counter(
                "acme_activity_retries_total",
                "Activity executions on their second or later attempt",
                &["activity"],
            ),
            dealing_rows_total: counter(
                "acme_dealing_rows_total",
                "Member trades moved by each dealing phase",
                &["phase"],
            ),
            ledger_entries_written_total: counter(
                "acme_ledger_entries_written_total",
                "Journal entries written (idempotent replays not counted)",
                &["path"],
            ),
            ledger_postings_written_total: counter(
                "acme_ledger_postings_written_total",
                "Postings written with those entries",
                &["path"],
            ),
            custodian_requests_total: counter(
                "acme_custodian_requests_total",
                "Requests to the custodian by operation and outcome",
                &["operation", "outcome"],
            ),
            custodian_request_duration_seconds: histogram(
                "acme_custodian_request_duration_seconds",
                "How long the custodian took to answer, answered or not",
                &["operation"],
                &REQUEST_BUCKETS,
            ),
            callbacks_received_total: counter(
                "acme_callbacks_received_total",
                "Custodian callbacks accepted by the ingress (signalled, or a repeat)",
                &["kind"],
            ),
            callbacks_refused_total: counter(
                "acme_callbacks_refused_total",
                "Custodian callbacks the ingress refused, by reason",
                &["reason"],
            ),
            trades,
            trade_oldest_age_seconds,
            trade_book_refresh_failures_total,
            reconciliation_breaks,
            reconciliation_breaks_overdue,
            reconciliation_break_oldest_age_seconds,
            reconciliation_refresh_failures_total,
            registry,
        };
        // Every known series starts at zero, so rates and alerts see the first increment.
        for phase in DEALING_PHASES {
            metrics.dealing_rows_total.with_label_values(&[phase]);
        }
        for path in ["single", "batch", "staged"] {
            metrics
                .ledger_entries_written_total
                .with_label_values(&[path]);
            metrics
                .ledger_postings_written_total
                .with_label_values(&[path]);
        }
        for operation in CUSTODIAN_OPERATIONS {
            metrics
                .custodian_request_duration_seconds
                .with_label_values(&[operation]);
            for outcome in CUSTODIAN_OUTCOMES {
                metrics
                    .custodian_requests_total
                    .with_label_values(&[operation, outcome]);
            }
        }
        for kind in CALLBACK_KINDS {
            metrics.callbacks_received_total.with_label_values(&[kind]);
        }
        for reason in CALLBACK_REFUSALS {
            metrics.callbacks_refused_total.with_label_values(&[reason]);
        }
        metrics
    }

    /// Every metric in the text exposition format.
    pub fn render(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# acme metrics could not be encoded: {e}\n"))
    }
}

/// Records journal entries (and their postings) written by `path` (`single`, `batch` or
/// `staged`).
pub fn ledger_written(path: &str, entries: usize, postings: usize) {
    let m = metrics();
    m.ledger_entries_written_total
        .with_label_values(&[path])
        .inc_by(u64::try_from(entries).unwrap_or(u64::MAX));
    m.ledger_postings_written_total
        .with_label_values(&[path])
        .inc_by(u64::try_from(postings).unwrap_or(u64::MAX));
}

/// Records `rows` member trades moved by a dealing phase (a member transition's name).
pub fn dealing_rows(phase: &str, rows: u64) {
    metrics()
        .dealing_rows_total
        .with_label_values(&[phase])
        .inc_by(rows);
}

/// Records one request to the custodian.
pub fn custodian_request(operation: &str, outcome: &str, took: Duration) {
    let m = metrics();
    m.custodian_requests_total
        .with_label_values(&[operation, outcome])
        .inc();
    m.custodian_request_duration_seconds
        .with_label_values(&[operation])
        .observe(took.as_secs_f64());
}

/// Records a callback the ingress accepted (`kind`) or refused (`reason`).
pub fn callback(outcome: Result<&str, &str>) {
    let m = metrics();
    match outcome {
        Ok(kind) => m.callbacks_received_total.with_label_values(&[kind]).inc(),
        Err(reason) => m.callbacks_refused_total.with_label_values(&[reason]).inc(),
    }
}

/// One row of the trade book's gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeBookRow {
    pub kind: &'static str,
    pub status: String,
    pub trades: i64,
    /// Seconds since the oldest trade in this status was created; `None` for a closed status.
    pub oldest_age_seconds: Option<f64>,
}

/// Replaces the trade book gauges with `rows` (statuses not in `rows` drop to nothing, so a
/// status the book no longer has does not linger at its last value).
pub fn set_trade_book(rows: &[TradeBookRow]) {
    let m = metrics();
    m.trades.reset();
    m.trade_oldest_age_seconds.reset();
    for row in rows {
        m.trades
            .with_label_values(&[row.kind, row.status.as_str()])
            .set(row.trades);
        if let Some(age) = row.oldest_age_seconds {
            m.trade_oldest_age_seconds
                .with_label_values(&[row.kind, row.status.as_str()])
                .set(age);
        }
    }
}

/// One break class's row of the reconciliation gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakClassRow {
    pub class: &'static str,
    pub unresolved: i64,
    pub overdue: i64,
    /// Seconds since the oldest unresolved break of the class was opened; `None` if none is.
    pub oldest_age_seconds: Option<f64>,
}

/// Sets the reconciliation gauges to `rows` (one per class, so a class with no break reads 0
/// rather than vanishing, and an alert on it resolves).
pub fn set_reconciliation_breaks(rows: &[BreakClassRow]) {
    let m = metrics();
    m.reconciliation_break_oldest_age_seconds.reset();
    for row in rows {
        m.reconciliation_breaks
            .with_label_values(&[row.class])
            .set(row.unresolved);
        m.reconciliation_breaks_overdue
            .with_label_values(&[row.class])
            .set(row.overdue);
        if let Some(age) = row.oldest_age_seconds {
            m.reconciliation_break_oldest_age_seconds
                .with_label_values(&[row.class])
                .set(age);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions_and_known_series_start_at_zero() {
        let text = metrics().render();
        for family in metrics().registry.gather() {
            let name = family.name();
            assert!(name.starts_with("acme_"), "{name} lacks the acme_ prefix");
            if family.get_field_type() == prometheus::proto::MetricType::COUNTER {
                assert!(name.ends_with("_total"), "counter {name} lacks _total");
            }
        }
        assert!(
            text.contains("acme_callbacks_refused_total{reason=\"unauthenticated\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn the_trade_book_gauges_are_replaced_not_merged() {
        let row = |status: &str, trades| TradeBookRow {
            kind: "external",
            status: status.to_owned(),
            trades,
            oldest_age_seconds: Some(1.0),
        };
        set_trade_book(&[row("placed", 3)]);
        set_trade_book(&[row("priced", 2)]);
        let text = metrics().render();
        assert!(
            text.contains("acme_trades{kind=\"external\",status=\"priced\"} 2"),
            "{text}"
        );
        assert!(!text.contains("status=\"placed\""), "{text}");
    }
}
