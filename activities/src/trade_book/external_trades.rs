//! External trades: one per dealing date, asset and side, created when a day closes, sealed
//! with its total, then placed, priced and settled (or rejected) by its workflow. A status
//! change is one statement that checks where the trade is, moves it and records the move;
//! the fields a transition brings (a confirmation, a rejection reason) are written in the same
//! transaction, only when the trade moved.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::transition::{CREATE, record_transitions};
use super::{
    Actor, ExternalTradeStatus, ExternalTransition, Moved, Side, TradeBookError, TradeKind,
};

/// Held by the one attempt that closes a dealing date (`dealing.close_day`), so two attempts
/// (a retry and the attempt it replaced, still running) never aggregate and seal the same day
/// at once: one could seal a total that leaves out the chunk the other has not yet committed.
/// It is a PostgreSQL session advisory lock on a connection of its own, taken out of the pool:
/// dropping the guard closes the connection, which releases the lock however the attempt ends.
#[derive(Debug)]
pub struct CloseLock {
    _connection: PgConnection,
}

/// Takes the close lock of `dealing_date` if no other attempt holds it.
pub async fn try_lock_close(
    pool: &PgPool,
    dealing_date: NaiveDate,
) -> Result<Option<CloseLock>, TradeBookError> {
    let mut connection = pool.acquire().await?.detach();
    let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(format!("dealing.close_day/{dealing_date}"))
        .fetch_one(&mut connection)
        .await?;
    Ok(locked.then_some(CloseLock {
        _connection: connection,
    }))
}

/// An external trade as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExternalTradeRecord {
    pub external_trade_id: Uuid,
    pub dealing_date: NaiveDate,
    pub asset_code: String,
    pub side: Side,
    pub status: ExternalTradeStatus,
    pub order_ref: String,
    /// Cash for a buy, units for a sell; `None` until the day is closed.
    pub ordered_total: Option<Decimal>,
    pub member_trade_count: Option<i32>,
    pub price: Option<Decimal>,
    pub delivered: Option<Decimal>,
    pub consumed: Option<Decimal>,
    pub settlement_date: Option<NaiveDate>,
    pub residue_delivered: Option<Decimal>,
    pub residue_refunded: Option<Decimal>,
}

const RECORD_COLUMNS: &str = "external_trade_id, dealing_date, asset_code, side, status, order_ref,
    ordered_total, member_trade_count, price, delivered, consumed, settlement_date,
    residue_delivered, residue_refunded";

/// Creates the external trade of `dealing_date`, `asset` and `side` unless it exists.
pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    external_trade_id: Uuid,
    dealing_date: NaiveDate,
    asset: &str,
    side: Side,
    order_ref: &str,
) -> Result<(), TradeBookError> {
    sqlx::query(concat!(
        "with created as (
             insert into external_trade
                 (external_trade_id, dealing_date, asset_code, side, order_ref)
             values ($1, $2, $3, $4, $5)
             on conflict (dealing_date, asset_code, side) do nothing
             returning external_trade_id) ",
        record_transitions!(),
        "select 'external', external_trade_id, null, 'created', $6, $7, $8 from created"
    ))
    .bind(external_trade_id)
    .bind(dealing_date)
    .bind(asset)
    .bind(side)
    .bind(order_ref)
    .bind(CREATE)
    .bind(&actor.workflow_id)
    .bind(&actor.who)
    .execute(pool)
    .await?;
    Ok(())
}

/// Fixes the total and member trade count of each external trade of `dealing_date` not sealed
/// yet, from the member trades aggregated into it.
pub async fn seal(pool: &PgPool, dealing_date: NaiveDate) -> Result<(), TradeBookError> {
    sqlx::query(
        "update external_trade e
         set ordered_total = totals.ordered, member_trade_count = totals.trades
         from (select external_trade_id,
                      sum(coalesce(cash_amount, units)) as ordered,
                      count(*)::int as trades
               from member_trade where dealing_date = $1 and external_trade_id is not null
               group by external_trade_id) as totals
         where e.external_trade_id = totals.external_trade_id and e.ordered_total is null",
    )
    .bind(dealing_date)
    .execute(pool)
    .await?;
    Ok(())
}

/// The sealed external trades of `dealing_date`, by asset and side.
pub async fn sealed(
    pool: &PgPool,
    dealing_date: NaiveDate,
) -> Result<Vec<ExternalTradeRecord>, TradeBookError> {
    Ok(sqlx::query_as(&format!(
        "select {RECORD_COLUMNS} from external_trade
         where dealing_date = $1 and ordered_total is not null
         order by asset_code, side"
    ))
    .bind(dealing_date)
    .fetch_all(pool)
    .await?)
}

/// The external trade, if it exists.
pub async fn get(
    pool: &PgPool,
    external_trade_id: Uuid,
) -> Result<Option<ExternalTradeRecord>, TradeBookError> {
    Ok(sqlx::query_as(&format!(
        "select {RECORD_COLUMNS} from external_trade where external_trade_id = $1"
    ))
    .bind(external_trade_id)
    .fetch_optional(pool)
    .await?)
}

/// What names an external trade's workflow: its dealing date, asset and side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeKey {
    pub dealing_date: NaiveDate,
    pub asset_code: String,
    pub side: Side,
}

/// The external trade with our order reference `order_ref`, if any. A side the trade book does
/// not know is an error, never guessed at.
pub async fn by_order_ref(
    pool: &PgPool,
    order_ref: &str,
) -> Result<Option<TradeKey>, TradeBookError> {
    let row: Option<(NaiveDate, String, String)> = sqlx::query_as(
        "select dealing_date, asset_code, side from external_trade where order_ref = $1",
    )
    .bind(order_ref)
    .fetch_optional(pool)
    .await?;
    row.map(|(dealing_date, asset_code, side)| {
        Ok(TradeKey {
            dealing_date,
            asset_code,
            side: side.parse()?,
        })
    })
    .transpose()
}

/// Moves one external trade by `transition`, recorded in its history. A trade already where
/// the transition leads is a repeat ([`Moved::AlreadyThere`], nothing written); anywhere else
/// it is refused. Use a transaction to write what the transition brings along with it.
pub async fn transition(
    conn: &mut PgConnection,
    actor: &Actor,
    external_trade_id: Uuid,
    transition: ExternalTransition,
) -> Result<Moved, TradeBookError> {
    let from: Vec<&str> = transition.from().iter().map(|s| s.as_str()).collect();
    // `current` is the row as it was (the statement's snapshot), locked until the end.
    let before: Option<ExternalTradeStatus> = sqlx::query_scalar(concat!(
        "with current as (
             select external_trade_id, status from external_trade
             where external_trade_id = $1 for update),
         moved as (
             update external_trade e set status = $3
             from current
             where e.external_trade_id = current.external_trade_id
                 and current.status = any($2::text[])
             returning e.external_trade_id, current.status as from_status),
         recorded as (",
        record_transitions!(),
        "select 'external', external_trade_id, from_status, $3, $4, $5, $6 from moved)
         select status from current"
    ))
    .bind(external_trade_id)
    .bind(&from)
    .bind(transition.to())
    .bind(transition.name())
    .bind(&actor.workflow_id)
    .bind(&actor.who)
    .fetch_optional(&mut *conn)
    .await?;
    match before {
        None => Err(TradeBookError::Unknown {
            kind: TradeKind::External,
            trade_id: external_trade_id,
        }),
        Some(status) => transition.applied_to(external_trade_id, status),
    }
}

/// The custodian's confirmation of an external trade, as recorded when it is priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed<'a> {
    pub price: Decimal,
    pub delivered: Decimal,
    pub consumed: Decimal,
    pub settlement_date: NaiveDate,
    pub confirmation: &'a serde_json::Value,
}

/// [`ExternalTransition::Price`] with the confirmation it brings (written only if it moved).
pub async fn price(
    pool: &PgPool,
    actor: &Actor,
    external_trade_id: Uuid,
    confirmed: &Confirmed<'_>,
) -> Result<Moved, TradeBookError> {
    let mut tx = pool.begin().await?;
    let moved = transition(&mut tx, actor, external_trade_id, ExternalTransition::Price).await?;
    if moved == Moved::Moved {
        sqlx::query(
            "update external_trade
             set price = $2, delivered = $3, consumed = $4, settlement_date = $5,
                 confirmation = $6
             where external_trade_id = $1",
        )
        .bind(external_trade_id)
        .bind(confirmed.price)
        .bind(confirmed.delivered)
        .bind(confirmed.consumed)
        .bind(confirmed.settlement_date)
        .bind(confirmed.confirmation)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// [`ExternalTransition::Reject`] with its reason (written only if it moved).
pub async fn reject(
    pool: &PgPool,
    actor: &Actor,
    external_trade_id: Uuid,
    reason: &str,
) -> Result<Moved, TradeBookError> {
    let mut tx = pool.begin().await?;
    let moved = transition(
        &mut tx,
        actor,
        external_trade_id,
        ExternalTransition::Reject,
    )
    .await?;
    if moved == Moved::Moved {
        sqlx::query("update external_trade set rejection_reason = $2 where external_trade_id = $1")
            .bind(external_trade_id)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// A status-only transition ([`ExternalTransition::Place`], [`ExternalTransition::Settle`]).
pub async fn advance(
    pool: &PgPool,
    actor: &Actor,
    external_trade_id: Uuid,
    to: ExternalTransition,
) -> Result<Moved, TradeBookError> {
    let mut conn = pool.acquire().await?;
    transition(&mut conn, actor, external_trade_id, to).await
}

/// Records what rounding down left for ACME's rounding pot.
pub async fn record_residue(
    pool: &PgPool,
    external_trade_id: Uuid,
    residue_delivered: Decimal,
    residue_refunded: Decimal,
) -> Result<(), TradeBookError> {
    sqlx::query(
        "update external_trade set residue_delivered = $2, residue_refunded = $3
         where external_trade_id = $1",
    )
    .bind(external_trade_id)
    .bind(residue_delivered)
    .bind(residue_refunded)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many of a dealing date's sealed external trades are in each status.
pub async fn progress(
    pool: &PgPool,
    dealing_date: NaiveDate,
) -> Result<BTreeMap<ExternalTradeStatus, i64>, TradeBookError> {
    let rows: Vec<(ExternalTradeStatus, i64)> = sqlx::query_as(
        "select status, count(*) from external_trade
         where dealing_date = $1 and ordered_total is not null group by status",
    )
    .bind(dealing_date)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// One external trade as `acme dealing status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TradeLine {
    pub asset_code: String,
    pub side: Side,
    pub status: ExternalTradeStatus,
    pub order_ref: String,
    pub member_trades: i64,
    pub ordered_total: Option<Decimal>,
    pub price: Option<Decimal>,
    pub delivered: Option<Decimal>,
    pub consumed: Option<Decimal>,
    pub residue_delivered: Option<Decimal>,
    pub settlement_date: Option<NaiveDate>,
}

/// Every external trade of `dealing_date`, sealed or not, by asset and side.
pub async fn lines(
    pool: &PgPool,
    dealing_date: NaiveDate,
) -> Result<Vec<TradeLine>, TradeBookError> {
    Ok(sqlx::query_as(
        "select e.asset_code, e.side, e.status, e.order_ref,
                (select count(*) from member_trade t
                 where t.external_trade_id = e.external_trade_id) as member_trades,
                e.ordered_total, e.price, e.delivered, e.consumed, e.residue_delivered,
                e.settlement_date
         from external_trade e where e.dealing_date = $1
         order by e.asset_code, e.side",
    )
    .bind(dealing_date)
    .fetch_all(pool)
    .await?)
}
