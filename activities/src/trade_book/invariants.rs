//! The trade book's side of the end-of-cycle check: what the member and external trades of a
//! dealing date say about invariants 8 (every member trade ends in one terminal state, in the
//! one external trade of its asset and side) and 5 (per settled external trade, what reached the
//! pots equals what the custodian confirmed; read from the journal by entry key, read-only).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use sqlx::PgPool;

use super::{MemberTradeStatus, TradeBookError};

/// Findings are capped: a broken day lists its first few, not every trade.
const FINDINGS_MAX: i64 = 20;

/// Member trades of the day not in a terminal status.
pub async fn unfinished(
    pool: &PgPool,
    dealing_date: NaiveDate,
) -> Result<Vec<(Uuid, MemberTradeStatus)>, TradeBookError> {
    let terminal: Vec<&str> = MemberTradeStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect();
    Ok(sqlx::query_as(
        "select trade_id, status from member_trade
         where dealing_date = $1 and status <> all($2::text[])
         order by trade_id limit $3",
    )
    .bind(dealing_date)
    .bind(&terminal)
    .bind(FINDINGS_MAX)
    .fetch_all(pool)
    .await?)
}

/// Member trades of the day filed under an external trade of another day, asset or side, with
/// that trade's order reference.
pub async fn misfiled(
    pool: &PgPool,
    dealing_date: NaiveDate,
) -> Result<Vec<(Uuid, String)>, TradeBookError> {
    Ok(sqlx::query_as(
        "select t.trade_id, e.order_ref from member_trade t
         join external_trade e using (external_trade_id)
         where t.dealing_date = $1 and (e.dealing_date <> t.dealing_date
             or e.asset_code <> t.asset_code or e.side <> t.side)
         limit $2",
    )
    .bind(dealing_date)
    .bind(FINDINGS_MAX)
    .fetch_all(pool)
    .await?)
}

/// Sealed external trades of the day whose member trade count changed since: order reference,
/// count when sealed, count now.
pub async fn miscounted(
    pool: &PgPool,
    dealing_date: NaiveDate,
) -> Result<Vec<(String, Option<i32>, i64)>, TradeBookError> {
    Ok(sqlx::query_as(
        "select e.order_ref, e.member_trade_count, count(t.trade_id) from external_trade e
         left join member_trade t using (external_trade_id)
         where e.dealing_date = $1 and e.ordered_total is not null
         group by e.external_trade_id
         having e.member_trade_count is distinct from count(t.trade_id)::int",
    )
    .bind(dealing_date)
    .fetch_all(pool)
    .await?)
}

/// A settled external trade's confirmation beside what its journal entries gave the pots.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SettledTotals {
    pub order_ref: String,
    pub delivered: Decimal,
    pub consumed: Decimal,
    /// The delivered asset reaching member and rounding pots.
    pub to_pots: Option<Decimal>,
    /// The ordered asset's net movement in member and rounding pots.
    pub ordered_net: Option<Decimal>,
}

/// Per settled external trade of the day: the confirmation, and what its allocation and
/// residue entries moved in member pots and the house pot `rounding_pot`.
pub async fn settled_totals(
    pool: &PgPool,
    dealing_date: NaiveDate,
    rounding_pot: &str,
) -> Result<Vec<SettledTotals>, TradeBookError> {
    Ok(sqlx::query_as(
        "with settled as (
             select e.*, 'external-trade/' || to_char(e.dealing_date, 'YYYY-MM-DD') || '/'
                        || e.asset_code || '/' || e.side as workflow_id
             from external_trade e where e.dealing_date = $1 and e.status = 'settled')
         select e.order_ref, e.delivered, e.consumed,
                sum(p.amount) filter (where (a.asset_code = e.asset_code) = (e.side = 'buy'))
                    as to_pots,
                sum(p.amount) filter (where (a.asset_code = e.asset_code) = (e.side = 'sell'))
                    as ordered_net
         from settled e
         -- By the idempotency-key index: the trade's keys all start with its workflow id.
         left join journal_entry j on j.idempotency_key >= e.workflow_id || '/'
             and j.idempotency_key < e.workflow_id || '0'
             and j.kind in ('dealing.allocated', 'dealing.residue')
         left join posting p on p.entry_id = j.entry_id
         left join account a on a.account_id = p.account_id
             and a.pot_id in (select pot_id from pot where owner_kind = 'member'
                              or (owner_kind = 'house' and owner_ref = $2))
         group by e.order_ref, e.delivered, e.consumed",
    )
    .bind(dealing_date)
    .bind(rounding_pot)
    .fetch_all(pool)
    .await?)
}
