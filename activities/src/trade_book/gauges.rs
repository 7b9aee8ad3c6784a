//! What the trade book holds right now, for the `acme_trades` and
//! `acme_trade_oldest_age_seconds` gauges (`acme_sdk::metrics`): trades by kind and status,
//! and how old the oldest trade of each open status is. Read by the worker when its metrics are
//! scraped, at most every so often, so its cost is bounded by the scrape, never by the traffic.
//!
//! Both queries use indexes: member trades are every pending trade (partial index
//! `member_trade_pending`) and those of dealing dates from `since` (`member_trade_dealing_date`);
//! external trades are few (one per fund, side and day). A member trade that stayed aggregated
//! or priced since before `since` is not counted: the age alerts fire days before that.

use acme_sdk::metrics::TradeBookRow;
use chrono::NaiveDate;
use sqlx::PgPool;

use super::TradeBookError;
use super::status::{ExternalTradeStatus, MemberTradeStatus};

/// Trades by kind and status: every pending member trade, trades of dealing dates from `since`,
/// and every external trade still open. Every status of both kinds is listed, with 0 if none.
pub async fn trade_book_rows(
    pool: &PgPool,
    since: NaiveDate,
) -> Result<Vec<TradeBookRow>, TradeBookError> {
    let member: Vec<(String, i64, Option<f64>)> = sqlx::query_as(
        "select status, count(*)::bigint,
                extract(epoch from clock_timestamp() - min(created_at))::float8
         from member_trade
         where status = 'pending' or dealing_date >= $1
         group by status",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let external: Vec<(String, i64, Option<f64>)> = sqlx::query_as(
        "select status, count(*)::bigint,
                extract(epoch from clock_timestamp() - min(created_at))::float8
         from external_trade
         where status in ('created', 'placed', 'priced') or dealing_date >= $1
         group by status",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    let mut rows = Vec::new();
    for status in [
        MemberTradeStatus::Pending,
        MemberTradeStatus::Aggregated,
        MemberTradeStatus::Priced,
        MemberTradeStatus::Settled,
        MemberTradeStatus::Cancelled,
        MemberTradeStatus::Failed,
    ] {
        rows.push(row(
            "member",
            status.as_str(),
            status.is_terminal(),
            &member,
        ));
    }
    for status in [
        ExternalTradeStatus::Created,
        ExternalTradeStatus::Placed,
        ExternalTradeStatus::Priced,
        ExternalTradeStatus::Settled,
        ExternalTradeStatus::Rejected,
        ExternalTradeStatus::Failed,
    ] {
        let terminal = matches!(
            status,
            ExternalTradeStatus::Settled
                | ExternalTradeStatus::Rejected
                | ExternalTradeStatus::Failed
        );
        rows.push(row("external", status.as_str(), terminal, &external));
    }
    Ok(rows)
}

fn row(
    kind: &'static str,
    status: &str,
    terminal: bool,
    counted: &[(String, i64, Option<f64>)],
) -> TradeBookRow {
    let found = counted.iter().find(|(s, _, _)| s == status);
    TradeBookRow {
        kind,
        status: status.to_owned(),
        trades: found.map_or(0, |(_, n, _)| *n),
        // An open status with no trade has no oldest trade: 0 s, so an age alert stays quiet.
        oldest_age_seconds: (!terminal).then(|| found.and_then(|(_, _, age)| *age).unwrap_or(0.0)),
    }
}
