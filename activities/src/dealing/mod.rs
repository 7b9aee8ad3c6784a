//! The dealing book: closing a day's member trades into external trades, and the ledger side of
//! an external trade's life (priced, allocated, settled, or rejected and released).
//!
//! Every step is set-based SQL in chunks, keyed so that a retry or a crash repeats nothing:
//! journal entries have keys `<external-trade workflow id>/<step>[/<member trade id>]` and their
//! amounts are recomputed identically on a retry, so the ledger's idempotency turns a repeated
//! chunk into a no-op; member trade statuses only move forward.
//!
//! How money moves (O = the ordered asset, cash for a buy and the fund for a sell; V = the
//! delivered asset, the other one). `dealing` is ACME's clearing pot, `rounding` its residue pot,
//! `custodian` and `bank` mirror outside bodies:
//! - priced: custodian[O] += consumed, dealing[O] -= consumed; custodian[V] -= delivered,
//!   dealing[V] += delivered;
//! - allocated, per member trade (q = what the member put in): reserved[O] -= q,
//!   available[O] += refund, dealing[O] += q - refund; unsettled[V] += share, dealing[V] -= share;
//! - residue: what rounding down left in dealing goes to rounding (both assets);
//! - settled: each member's unsettled[V] -> available[V]; the custodian's cash is squared with
//!   the bank. The dealing pot is back to zero after every external trade.

use std::collections::BTreeMap;
use std::sync::Arc;

use acme_ledger::{AccountId, Ledger, LedgerError, NewEntry, NewPosting, OwnerKind};
use acme_sdk::allocation::pro_rata;
use acme_sdk::{AssetCode, BusinessError, step_key};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use crate::ledger_failure;
use crate::members::{BANK_POT, CASH, CASH_SCALE};

/// ACME's clearing pot: holds an external trade's assets between pricing and allocation.
pub const DEALING_POT: &str = "dealing";
/// ACME's rounding pot: what rounding down allocations left over.
pub const ROUNDING_POT: &str = "rounding";
/// The mirror of what the custodian holds for us and what we owe each other.
pub const CUSTODIAN_POT: &str = "custodian";
/// The process name on the dealing book's journal entries.
pub const PROCESS: &str = "external-trade";
/// Member trades handled per statement and per journal batch.
pub const CHUNK: i64 = 5_000;

const ORDER_NAMESPACE: Uuid = Uuid::from_u128(0x1c9e_52d4_0b7f_4f0e_8f3a_6a2d_9e41_c7b3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }

    fn parse(text: &str) -> Result<Self, ActivityError> {
        match text {
            "buy" => Ok(Self::Buy),
            "sell" => Ok(Self::Sell),
            other => Err(anyhow::anyhow!("unknown trade side {other:?} in the database").into()),
        }
    }
}

/// The workflow id of an external trade; also the prefix of its journal entries' keys.
pub fn external_trade_workflow_id(date: NaiveDate, asset: &str, side: Side) -> String {
    format!("external-trade/{date}/{asset}/{}", side.as_str())
}

/// Our reference for the custodian: `ET-<yyyymmdd>-<asset>-<B|S>`, at most 35 characters.
pub fn order_ref(date: NaiveDate, asset: &str, side: Side) -> String {
    let side = match side {
        Side::Buy => 'B',
        Side::Sell => 'S',
    };
    format!("ET-{}-{asset}-{side}", date.format("%Y%m%d"))
}

/// An external trade as the workflows see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalTrade {
    pub external_trade_id: Uuid,
    pub dealing_date: NaiveDate,
    pub asset: String,
    pub side: Side,
    pub order_ref: String,
    /// Cash for a buy, units for a sell.
    pub ordered_total: Decimal,
    pub member_trades: i32,
}

impl ExternalTrade {
    pub fn workflow_id(&self) -> String {
        external_trade_workflow_id(self.dealing_date, &self.asset, self.side)
    }
}

/// Closing a dealing day: trades created up to `cutoff` and still pending join the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseDay {
    pub dealing_date: NaiveDate,
    pub cutoff: DateTime<Utc>,
}

/// The custodian's confirmation, reduced to what the ledger needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priced {
    pub external_trade_id: Uuid,
    pub price: Decimal,
    /// Units bought (buy) or cash received (sell).
    pub delivered: Decimal,
    /// Cash paid (buy) or units sold (sell): at most the ordered total.
    pub consumed: Decimal,
    pub settlement_date: NaiveDate,
    /// The confirmation as received, kept for audit.
    pub confirmation: serde_json::Value,
}

/// What allocating an external trade did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub member_trades: i64,
    pub residue_delivered: Decimal,
    pub residue_refunded: Decimal,
}

/// A finding of the end-of-cycle check (invariants 5 and 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub invariant: u8,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct DealingActivities {
    ledger: Ledger,
}

impl DealingActivities {
    pub fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }
}

#[activities]
impl DealingActivities {
    /// Aggregates the day's pending member trades into one external trade per asset and side,
    /// in chunks (heartbeating), then fixes each external trade's total. Re-running it picks up
    /// where it stopped and returns the same external trades.
    #[activity(name = "dealing.close_day")]
    pub async fn close_day(
        self: Arc<Self>,
        ctx: ActivityContext,
        close: CloseDay,
    ) -> Result<Vec<ExternalTrade>, ActivityError> {
        let pool = self.ledger.pool();
        let groups: Vec<(String, String)> = sqlx::query_as(
            "select distinct asset_code, side from member_trade
             where status = 'pending' and created_at <= $1",
        )
        .bind(close.cutoff)
        .fetch_all(pool)
        .await?;
        for (asset, side) in &groups {
            let side = Side::parse(side)?;
            let reference = order_ref(close.dealing_date, asset, side);
            sqlx::query(
                "insert into external_trade
                     (external_trade_id, dealing_date, asset_code, side, order_ref)
                 values ($1, $2, $3, $4, $5)
                 on conflict (dealing_date, asset_code, side) do nothing",
            )
            .bind(Uuid::new_v5(&ORDER_NAMESPACE, reference.as_bytes()))
            .bind(close.dealing_date)
            .bind(asset)
            .bind(side.as_str())
            .bind(&reference)
            .execute(pool)
            .await?;
        }
        let mut aggregated = 0_u64;
        loop {
            // Only external trades not yet sealed take more member trades.
            let done = sqlx::query(
                "with chunk as (
                     select t.trade_id, e.external_trade_id
                     from member_trade t
                     join external_trade e on e.dealing_date = $1 and e.asset_code = t.asset_code
                         and e.side = t.side and e.status = 'created' and e.ordered_total is null
                     where t.status = 'pending' and t.created_at <= $2
                     order by t.trade_id
                     limit $3
                     for update of t skip locked for share of e)
                 update member_trade t
                 set status = 'aggregated', dealing_date = $1,
                     external_trade_id = chunk.external_trade_id
                 from chunk where t.trade_id = chunk.trade_id",
            )
            .bind(close.dealing_date)
            .bind(close.cutoff)
            .bind(CHUNK)
            .execute(pool)
            .await?
            .rows_affected();
            if done == 0 {
                break;
            }
            aggregated += done;
            ctx.record_heartbeat(aggregated).await?;
        }
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
        .bind(close.dealing_date)
        .execute(pool)
        .await?;
        let rows: Vec<ExternalTradeRow> = sqlx::query_as(
            "select external_trade_id, dealing_date, asset_code, side, order_ref,
                    ordered_total, member_trade_count
             from external_trade
             where dealing_date = $1 and ordered_total is not null
             order by asset_code, side",
        )
        .bind(close.dealing_date)
        .fetch_all(pool)
        .await?;
        rows.into_iter().map(ExternalTradeRow::into_trade).collect()
    }

    /// Marks an external trade placed with the custodian.
    #[activity(name = "dealing.mark_placed")]
    pub async fn mark_placed(
        self: Arc<Self>,
        _ctx: ActivityContext,
        external_trade_id: Uuid,
    ) -> Result<(), ActivityError> {
        sqlx::query(
            "update external_trade set status = 'placed'
             where external_trade_id = $1 and status = 'created'",
        )
        .bind(external_trade_id)
        .execute(self.ledger.pool())
        .await?;
        Ok(())
    }

    /// Records the custodian's confirmation and posts what it moved between the custodian and
    /// the dealing pot. A confirmation that does not fit the order is refused (and changes nothing).
    #[activity(name = "dealing.record_priced")]
    pub async fn record_priced(
        self: Arc<Self>,
        _ctx: ActivityContext,
        priced: Priced,
    ) -> Result<(), ActivityError> {
        let trade = self.trade(priced.external_trade_id).await?;
        let assets = TradeAssets::of(&self.ledger, &trade).await?;
        if priced.consumed > trade.ordered_total
            || priced.consumed <= Decimal::ZERO
            || priced.delivered < Decimal::ZERO
            || priced.price <= Decimal::ZERO
            || priced.delivered.normalize().scale() > assets.delivered_scale
            || priced.consumed.normalize().scale() > assets.ordered_scale
        {
            return Err(BusinessError::new(
                "custodian.confirmation_mismatch",
                format!(
                    "confirmation for {} (price {}, consumed {}, delivered {}) does not fit the order of {}",
                    trade.order_ref, priced.price, priced.consumed, priced.delivered, trade.ordered_total
                ),
            )
            .into());
        }
        let house = HouseAccounts::open(&self.ledger, &assets).await?;
        self.post_house_entry(
            &trade,
            None,
            "priced",
            "dealing.priced",
            vec![
                (house.custodian_ordered, priced.consumed),
                (house.dealing_ordered, -priced.consumed),
                (house.custodian_delivered, -priced.delivered),
                (house.dealing_delivered, priced.delivered),
            ],
        )
        .await?;
        sqlx::query(
            "update external_trade
             set status = 'priced', price = $2, delivered = $3, consumed = $4,
                 settlement_date = $5, confirmation = $6
             where external_trade_id = $1 and status in ('created', 'placed')",
        )
        .bind(trade.external_trade_id)
        .bind(priced.price)
        .bind(priced.delivered)
        .bind(priced.consumed)
        .bind(priced.settlement_date)
        .bind(&priced.confirmation)
        .execute(self.ledger.pool())
        .await?;
        Ok(())
    }

    /// Allocates a priced external trade to its member trades pro rata (DESIGN.md §3), in
    /// chunks, then moves the residue to the rounding pot.
    #[activity(name = "dealing.allocate")]
    pub async fn allocate(
        self: Arc<Self>,
        ctx: ActivityContext,
        external_trade_id: Uuid,
    ) -> Result<Allocation, ActivityError> {
        let trade = self.trade(external_trade_id).await?;
        let assets = TradeAssets::of(&self.ledger, &trade).await?;
        let house = HouseAccounts::open(&self.ledger, &assets).await?;
        let (delivered, consumed): (Option<Decimal>, Option<Decimal>) = sqlx::query_as(
            "select delivered, consumed from external_trade where external_trade_id = $1",
        )
        .bind(external_trade_id)
        .fetch_one(self.ledger.pool())
        .await?;
        let (Some(delivered), Some(consumed)) = (delivered, consumed) else {
            return Err(anyhow::anyhow!("{} is not priced yet", trade.order_ref).into());
        };
        // The order the custodian filled must be exactly these member trades: allocating to a
        // trade that joined after the total was sealed would give out more than was delivered.
        let (booked, count): (Option<Decimal>, i64) = sqlx::query_as(
            "select sum(coalesce(cash_amount, units)), count(*) from member_trade
             where external_trade_id = $1",
        )
        .bind(external_trade_id)
        .fetch_one(self.ledger.pool())
        .await?;
        if booked != Some(trade.ordered_total) || count != i64::from(trade.member_trades) {
            return Err(BusinessError::new(
                "dealing.order_mismatch",
                format!(
                    "{} was placed for {} over {} member trades but now holds {booked:?} over {count}",
                    trade.order_ref, trade.ordered_total, trade.member_trades
                ),
            )
            .into());
        }
        let unfilled = trade.ordered_total - consumed;
        let mut done = 0_i64;
        loop {
            let chunk: Vec<(Uuid, String, Decimal)> = sqlx::query_as(
                "select trade_id, member_id, coalesce(cash_amount, units) from member_trade
                 where external_trade_id = $1 and status = 'aggregated'
                 order by trade_id limit $2",
            )
            .bind(external_trade_id)
            .bind(CHUNK)
            .fetch_all(self.ledger.pool())
            .await?;
            if chunk.is_empty() {
                break;
            }
            let members: Vec<String> = chunk.iter().map(|(_, m, _)| m.clone()).collect();
            let accounts = self
                .ledger
                .open_pots_in_bulk(
                    OwnerKind::Member,
                    &members,
                    &[
                        (assets.ordered.clone(), "reserved"),
                        (assets.ordered.clone(), "available"),
                        (assets.delivered.clone(), "unsettled"),
                    ],
                )
                .await
                .map_err(ledger_failure)?;
            let put_in: Vec<Decimal> = chunk.iter().map(|(_, _, q)| *q).collect();
            let shares = pro_rata(
                delivered,
                &put_in,
                trade.ordered_total,
                assets.delivered_scale,
            )
            .map_err(allocation_failure)?;
            let refunds = pro_rata(unfilled, &put_in, trade.ordered_total, assets.ordered_scale)
                .map_err(allocation_failure)?;
            let entries: Vec<NewEntry> = chunk
                .iter()
                .zip(&accounts)
                .zip(shares.iter().zip(&refunds))
                .map(|(((trade_id, member_id, q), member), (share, refund))| {
                    let [reserved, available, unsettled] = opened(member)?;
                    let postings = non_zero(vec![
                        (reserved, -*q),
                        (available, *refund),
                        (house.dealing_ordered, *q - *refund),
                        (unsettled, *share),
                        (house.dealing_delivered, -*share),
                    ]);
                    Ok(self.entry(
                        &trade,
                        None,
                        &format!("allocate/{trade_id}"),
                        "dealing.allocated",
                        postings,
                        member_metadata(member_id, trade_id),
                    ))
                })
                .collect::<Result<_, ActivityError>>()?;
            self.ledger
                .post_batch(&entries)
                .await
                .map_err(ledger_failure)?;
            let ids: Vec<Uuid> = chunk.iter().map(|(id, _, _)| *id).collect();
            sqlx::query(
                "update member_trade t set status = 'priced', delivered = a.share,
                     refunded = a.refund
                 from unnest($1::uuid[], $2::numeric[], $3::numeric[]) as a (trade_id, share, refund)
                 where t.trade_id = a.trade_id and t.status = 'aggregated'",
            )
            .bind(&ids)
            .bind(&shares)
            .bind(&refunds)
            .execute(self.ledger.pool())
            .await?;
            done += i64::try_from(chunk.len()).unwrap_or(i64::MAX);
            ctx.record_heartbeat(done).await?;
        }
        let (allocated, refunded, trades): (Option<Decimal>, Option<Decimal>, i64) =
            sqlx::query_as(
                "select sum(delivered), sum(refunded), count(*) from member_trade
                 where external_trade_id = $1",
            )
            .bind(external_trade_id)
            .fetch_one(self.ledger.pool())
            .await?;
        let residue_delivered = delivered - allocated.unwrap_or_default();
        let residue_refunded = unfilled - refunded.unwrap_or_default();
        self.post_house_entry(
            &trade,
            None,
            "residue",
            "dealing.residue",
            vec![
                (house.dealing_delivered, -residue_delivered),
                (house.rounding_delivered, residue_delivered),
                (house.dealing_ordered, -residue_refunded),
                (house.rounding_ordered, residue_refunded),
            ],
        )
        .await?;
        sqlx::query(
            "update external_trade set residue_delivered = $2, residue_refunded = $3
             where external_trade_id = $1",
        )
        .bind(external_trade_id)
        .bind(residue_delivered)
        .bind(residue_refunded)
        .execute(self.ledger.pool())
        .await?;
        Ok(Allocation {
            member_trades: trades,
            residue_delivered,
            residue_refunded,
        })
    }

    /// Settles an allocated external trade: members' units or cash become available, and the
    /// custodian's cash is squared with the bank.
    #[activity(name = "dealing.settle")]
    pub async fn settle(
        self: Arc<Self>,
        ctx: ActivityContext,
        external_trade_id: Uuid,
    ) -> Result<i64, ActivityError> {
        let trade = self.trade(external_trade_id).await?;
        let assets = TradeAssets::of(&self.ledger, &trade).await?;
        let house = HouseAccounts::open(&self.ledger, &assets).await?;
        // Settlement entries take effect on the settlement date, so "as of" balances show
        // units and cash as unsettled until then.
        let settles_on: Option<NaiveDate> = sqlx::query_scalar(
            "select settlement_date from external_trade where external_trade_id = $1",
        )
        .bind(external_trade_id)
        .fetch_one(self.ledger.pool())
        .await?;
        let pass = MemberPass {
            from_status: "priced",
            amount_column: "delivered",
            asset: &assets.delivered,
            from_purpose: "unsettled",
            to_purpose: "available",
            effective: settles_on,
            step: "settle",
            kind: "dealing.settled",
            to_status: "settled",
        };
        let done = self.move_members(&ctx, &trade, &pass).await?;
        // The cash the custodian took (buy) or paid (sell) now leaves or reaches the bank.
        let (delivered, consumed): (Option<Decimal>, Option<Decimal>) = sqlx::query_as(
            "select delivered, consumed from external_trade where external_trade_id = $1",
        )
        .bind(external_trade_id)
        .fetch_one(self.ledger.pool())
        .await?;
        let owed_by_custodian = match trade.side {
            Side::Buy => consumed.unwrap_or_default(),
            Side::Sell => -delivered.unwrap_or_default(),
        };
        self.post_house_entry(
            &trade,
            settles_on,
            "settle-cash",
            "dealing.cash-settled",
            vec![
                (house.custodian_cash, -owed_by_custodian),
                (house.bank_cash, owed_by_custodian),
            ],
        )
        .await?;
        sqlx::query(
            "update external_trade set status = 'settled'
             where external_trade_id = $1 and status = 'priced'",
        )
        .bind(external_trade_id)
        .execute(self.ledger.pool())
        .await?;
        Ok(done)
    }

    /// The compensation of a rejected external trade: its member trades fail and what they had
    /// reserved goes back to available.
    #[activity(name = "dealing.release_rejected")]
    pub async fn release_rejected(
        self: Arc<Self>,
        ctx: ActivityContext,
        rejected: Rejected,
    ) -> Result<i64, ActivityError> {
        let trade = self.trade(rejected.external_trade_id).await?;
        let assets = TradeAssets::of(&self.ledger, &trade).await?;
        let pass = MemberPass {
            from_status: "aggregated",
            amount_column: "coalesce(cash_amount, units)",
            asset: &assets.ordered,
            from_purpose: "reserved",
            to_purpose: "available",
            effective: None,
            step: "release",
            kind: "dealing.released",
            to_status: "failed",
        };
        let done = self.move_members(&ctx, &trade, &pass).await?;
        sqlx::query(
            "update external_trade set status = 'rejected', rejection_reason = $2
             where external_trade_id = $1 and status in ('created', 'placed')",
        )
        .bind(trade.external_trade_id)
        .bind(&rejected.reason)
        .execute(self.ledger.pool())
        .await?;
        Ok(done)
    }

    /// Invariants 5 and 8 for one dealing date, recomputed from the journal and the trade book.
    #[activity(name = "dealing.check_cycle")]
    pub async fn check_cycle(
        self: Arc<Self>,
        _ctx: ActivityContext,
        dealing_date: NaiveDate,
    ) -> Result<Vec<Violation>, ActivityError> {
        Ok(check_cycle(&self.ledger, dealing_date).await?)
    }
}

/// How many of a dealing date's closed external trades are in each status.
pub async fn progress(
    ledger: &Ledger,
    dealing_date: NaiveDate,
) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select status, count(*) from external_trade
         where dealing_date = $1 and ordered_total is not null group by status",
    )
    .bind(dealing_date)
    .fetch_all(ledger.pool())
    .await?;
    Ok(rows.into_iter().collect())
}

/// Invariants 5 and 8 for one dealing date (see [`DealingActivities::check_cycle`]).
pub async fn check_cycle(
    ledger: &Ledger,
    dealing_date: NaiveDate,
) -> Result<Vec<Violation>, sqlx::Error> {
    let mut violations = Vec::new();
    // 8: every member trade of the day ends in exactly one terminal state, in the one external
    // trade of its asset and side.
    let unfinished: Vec<(Uuid, String)> = sqlx::query_as(
        "select trade_id, status from member_trade
         where dealing_date = $1 and status not in ('settled', 'failed', 'cancelled')
         order by trade_id limit 20",
    )
    .bind(dealing_date)
    .fetch_all(ledger.pool())
    .await?;
    violations.extend(unfinished.into_iter().map(|(trade_id, status)| Violation {
        invariant: 8,
        detail: format!("member trade {trade_id} is still {status}"),
    }));
    let misfiled: Vec<(Uuid, String)> = sqlx::query_as(
        "select t.trade_id, e.order_ref from member_trade t
         join external_trade e using (external_trade_id)
         where t.dealing_date = $1 and (e.dealing_date <> t.dealing_date
             or e.asset_code <> t.asset_code or e.side <> t.side)
         limit 20",
    )
    .bind(dealing_date)
    .fetch_all(ledger.pool())
    .await?;
    violations.extend(misfiled.into_iter().map(|(trade_id, order)| Violation {
        invariant: 8,
        detail: format!(
            "member trade {trade_id} is filed under {order}, of another asset, side or day"
        ),
    }));
    let miscounted: Vec<(String, Option<i32>, i64)> = sqlx::query_as(
        "select e.order_ref, e.member_trade_count, count(t.trade_id) from external_trade e
         left join member_trade t using (external_trade_id)
         where e.dealing_date = $1 and e.ordered_total is not null
         group by e.external_trade_id
         having e.member_trade_count is distinct from count(t.trade_id)::int",
    )
    .bind(dealing_date)
    .fetch_all(ledger.pool())
    .await?;
    violations.extend(
        miscounted
            .into_iter()
            .map(|(order, sealed, now)| Violation {
                invariant: 8,
                detail: format!("{order} was closed with {sealed:?} member trades but has {now}"),
            }),
    );
    // 5: per settled external trade, what reached member and rounding pots in its journal
    // entries equals what the custodian confirmed: all of the delivered asset, and the ordered
    // asset net of what the custodian consumed.
    let sums: Vec<SettledTotals> = sqlx::query_as(
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
    .bind(ROUNDING_POT)
    .fetch_all(ledger.pool())
    .await?;
    for SettledTotals {
        order_ref: order,
        delivered,
        consumed,
        to_pots,
        ordered_net,
    } in sums
    {
        let to_pots = to_pots.unwrap_or_default();
        let ordered_net = ordered_net.unwrap_or_default();
        if to_pots != delivered {
            violations.push(Violation {
                invariant: 5,
                detail: format!(
                    "{order}: allocations and residue total {to_pots}, confirmed {delivered}"
                ),
            });
        }
        if ordered_net != -consumed {
            violations.push(Violation {
                invariant: 5,
                detail: format!(
                    "{order}: pots gave {} of the ordered asset, the custodian took {consumed}",
                    -ordered_net
                ),
            });
        }
    }
    Ok(violations)
}

/// A settled external trade's confirmation beside what its journal entries gave the pots.
#[derive(sqlx::FromRow)]
struct SettledTotals {
    order_ref: String,
    delivered: Decimal,
    consumed: Decimal,
    /// The delivered asset reaching member and rounding pots.
    to_pots: Option<Decimal>,
    /// The ordered asset's net movement in member and rounding pots.
    ordered_net: Option<Decimal>,
}

/// The reason an external trade was refused, for its compensation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub external_trade_id: Uuid,
    pub reason: String,
}

#[derive(sqlx::FromRow)]
struct ExternalTradeRow {
    external_trade_id: Uuid,
    dealing_date: NaiveDate,
    asset_code: String,
    side: String,
    order_ref: String,
    ordered_total: Option<Decimal>,
    member_trade_count: Option<i32>,
}

impl ExternalTradeRow {
    fn into_trade(self) -> Result<ExternalTrade, ActivityError> {
        let (Some(ordered_total), Some(member_trades)) =
            (self.ordered_total, self.member_trade_count)
        else {
            return Err(anyhow::anyhow!("{} has not been closed", self.order_ref).into());
        };
        Ok(ExternalTrade {
            external_trade_id: self.external_trade_id,
            dealing_date: self.dealing_date,
            asset: self.asset_code,
            side: Side::parse(&self.side)?,
            order_ref: self.order_ref,
            ordered_total,
            member_trades,
        })
    }
}

/// The two assets of an external trade and their scales.
struct TradeAssets {
    side: Side,
    ordered: AssetCode,
    ordered_scale: u32,
    delivered: AssetCode,
    delivered_scale: u32,
}

impl TradeAssets {
    async fn of(ledger: &Ledger, trade: &ExternalTrade) -> Result<Self, ActivityError> {
        let cash = asset_code(CASH)?;
        let fund = asset_code(&trade.asset)?;
        let fund_scale = ledger.asset_scale(&fund).await.map_err(ledger_failure)?;
        Ok(match trade.side {
            Side::Buy => Self {
                side: trade.side,
                ordered: cash,
                ordered_scale: CASH_SCALE,
                delivered: fund,
                delivered_scale: fund_scale,
            },
            Side::Sell => Self {
                side: trade.side,
                ordered: fund,
                ordered_scale: fund_scale,
                delivered: cash,
                delivered_scale: CASH_SCALE,
            },
        })
    }
}

/// The house and external accounts an external trade moves money through.
struct HouseAccounts {
    dealing_ordered: AccountId,
    dealing_delivered: AccountId,
    rounding_ordered: AccountId,
    rounding_delivered: AccountId,
    custodian_ordered: AccountId,
    custodian_delivered: AccountId,
    custodian_cash: AccountId,
    bank_cash: AccountId,
}

impl HouseAccounts {
    async fn open(ledger: &Ledger, assets: &TradeAssets) -> Result<Self, ActivityError> {
        let cash = asset_code(CASH)?;
        let open = |owner, name: &'static str, asset: &AssetCode, negative| {
            let asset = asset.clone();
            async move {
                let pot = ledger.open_pot(owner, name).await?;
                ledger
                    .open_account(pot, &asset, "available", negative)
                    .await
            }
        };
        let house = async {
            let custodian_ordered =
                open(OwnerKind::External, CUSTODIAN_POT, &assets.ordered, true).await?;
            let custodian_delivered =
                open(OwnerKind::External, CUSTODIAN_POT, &assets.delivered, true).await?;
            Ok::<_, LedgerError>(Self {
                dealing_ordered: open(OwnerKind::House, DEALING_POT, &assets.ordered, true).await?,
                dealing_delivered: open(OwnerKind::House, DEALING_POT, &assets.delivered, true)
                    .await?,
                rounding_ordered: open(OwnerKind::House, ROUNDING_POT, &assets.ordered, false)
                    .await?,
                rounding_delivered: open(OwnerKind::House, ROUNDING_POT, &assets.delivered, false)
                    .await?,
                custodian_ordered,
                custodian_delivered,
                custodian_cash: match assets.side {
                    Side::Buy => custodian_ordered,
                    Side::Sell => custodian_delivered,
                },
                bank_cash: open(OwnerKind::External, BANK_POT, &cash, true).await?,
            })
        };
        house.await.map_err(ledger_failure)
    }
}

impl DealingActivities {
    async fn trade(&self, external_trade_id: Uuid) -> Result<ExternalTrade, ActivityError> {
        let row: Option<ExternalTradeRow> = sqlx::query_as(
            "select external_trade_id, dealing_date, asset_code, side, order_ref,
                    ordered_total, member_trade_count
             from external_trade where external_trade_id = $1",
        )
        .bind(external_trade_id)
        .fetch_optional(self.ledger.pool())
        .await?;
        row.ok_or_else(|| {
            BusinessError::new(
                "external_trade.unknown",
                format!("no external trade {external_trade_id}"),
            )
            .into()
        })
        .and_then(ExternalTradeRow::into_trade)
    }

    /// An entry of `trade`, effective on the dealing date (`on`: another date, e.g. settlement).
    /// One chunked pass over an external trade's member trades in `from_status`: each member's
    /// amount moves between two of their accounts (one entry each, keyed by trade), then the
    /// trades move to `to_status`. A retry after a crash resumes with the trades not yet moved.
    async fn move_members(
        &self,
        ctx: &ActivityContext,
        trade: &ExternalTrade,
        pass: &MemberPass<'_>,
    ) -> Result<i64, ActivityError> {
        let select = format!(
            "select trade_id, member_id, {} from member_trade
             where external_trade_id = $1 and status = $2
             order by trade_id limit $3",
            pass.amount_column
        );
        let mut done = 0_i64;
        loop {
            let chunk: Vec<(Uuid, String, Decimal)> = sqlx::query_as(&select)
                .bind(trade.external_trade_id)
                .bind(pass.from_status)
                .bind(CHUNK)
                .fetch_all(self.ledger.pool())
                .await?;
            if chunk.is_empty() {
                break;
            }
            let members: Vec<String> = chunk.iter().map(|(_, m, _)| m.clone()).collect();
            let accounts = self
                .ledger
                .open_pots_in_bulk(
                    OwnerKind::Member,
                    &members,
                    &[
                        (pass.asset.clone(), pass.from_purpose),
                        (pass.asset.clone(), pass.to_purpose),
                    ],
                )
                .await
                .map_err(ledger_failure)?;
            let entries: Vec<NewEntry> = chunk
                .iter()
                .zip(&accounts)
                .filter(|((_, _, amount), _)| !amount.is_zero())
                .map(|((trade_id, member_id, amount), member)| {
                    let [from, to] = opened(member)?;
                    Ok(self.entry(
                        trade,
                        pass.effective,
                        &format!("{}/{trade_id}", pass.step),
                        pass.kind,
                        vec![
                            NewPosting {
                                account_id: from,
                                amount: -*amount,
                            },
                            NewPosting {
                                account_id: to,
                                amount: *amount,
                            },
                        ],
                        member_metadata(member_id, trade_id),
                    ))
                })
                .collect::<Result<_, ActivityError>>()?;
            self.ledger
                .post_batch(&entries)
                .await
                .map_err(ledger_failure)?;
            let ids: Vec<Uuid> = chunk.iter().map(|(id, _, _)| *id).collect();
            sqlx::query(
                "update member_trade set status = $3
                 where trade_id = any($1) and status = $2",
            )
            .bind(&ids)
            .bind(pass.from_status)
            .bind(pass.to_status)
            .execute(self.ledger.pool())
            .await?;
            done += i64::try_from(chunk.len()).unwrap_or(i64::MAX);
            ctx.record_heartbeat(done).await?;
        }
        Ok(done)
    }

    /// Posts one entry between ACME's own accounts for a trade; zero legs are left out, and
    /// nothing is posted if every leg is zero.
    async fn post_house_entry(
        &self,
        trade: &ExternalTrade,
        on: Option<NaiveDate>,
        step: &str,
        kind: &str,
        legs: Vec<(AccountId, Decimal)>,
    ) -> Result<(), ActivityError> {
        let postings = non_zero(legs);
        if postings.is_empty() {
            return Ok(());
        }
        let entry = self.entry(trade, on, step, kind, postings, BTreeMap::new());
        self.ledger
            .post_batch(&[entry])
            .await
            .map_err(ledger_failure)?;
        Ok(())
    }

    fn entry(
        &self,
        trade: &ExternalTrade,
        on: Option<NaiveDate>,
        step: &str,
        kind: &str,
        postings: Vec<NewPosting>,
        mut metadata: BTreeMap<String, String>,
    ) -> NewEntry {
        let workflow_id = trade.workflow_id();
        metadata.insert("order_ref".into(), trade.order_ref.clone());
        NewEntry {
            idempotency_key: step_key(&workflow_id, step),
            kind: kind.to_owned(),
            process: PROCESS.to_owned(),
            workflow_id,
            effective_date: on.unwrap_or(trade.dealing_date),
            metadata,
            postings,
        }
    }
}

/// A member's accounts as opened by `open_pots_in_bulk`, in the order asked for.
/// A pass of [`DealingActivities::move_members`]: which member trades, what moves where, and
/// the entries' step, kind and effective date.
struct MemberPass<'a> {
    from_status: &'static str,
    /// The SQL expression of each trade's amount (a column of `member_trade`, never input).
    amount_column: &'static str,
    asset: &'a AssetCode,
    from_purpose: &'static str,
    to_purpose: &'static str,
    effective: Option<NaiveDate>,
    step: &'static str,
    kind: &'static str,
    to_status: &'static str,
}

fn opened<const N: usize>(accounts: &[AccountId]) -> Result<[AccountId; N], ActivityError> {
    <[AccountId; N]>::try_from(accounts).map_err(|_| {
        anyhow::anyhow!(
            "expected {N} accounts per member, the ledger opened {}",
            accounts.len()
        )
        .into()
    })
}

/// Postings with their zero legs left out (the ledger refuses zero legs).
fn non_zero(legs: Vec<(AccountId, Decimal)>) -> Vec<NewPosting> {
    legs.into_iter()
        .filter(|(_, amount)| !amount.is_zero())
        .map(|(account_id, amount)| NewPosting { account_id, amount })
        .collect()
}

fn member_metadata(member_id: &str, trade_id: &Uuid) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("member_id".to_owned(), member_id.to_owned()),
        ("trade_id".to_owned(), trade_id.to_string()),
    ])
}

fn asset_code(code: &str) -> Result<AssetCode, ActivityError> {
    AssetCode::parse(code).map_err(|e| anyhow::anyhow!("bad asset code {:?}", e.text).into())
}

fn allocation_failure(error: acme_sdk::allocation::AllocationError) -> ActivityError {
    BusinessError::new("dealing.allocation_impossible", error.to_string()).into()
}
