//! The dealing book: closing a day's member trades into external trades, and the ledger side of
//! an external trade's life (priced, allocated, settled, or rejected and released).
//!
//! Every step is set-based SQL in chunks, keyed so that a retry or a crash repeats nothing:
//! allocate, settle and release are bulk steps (`acme_sdk::bulk`) whose chunks each commit the
//! entries, the balances and the trades' moves in one transaction; journal entries have keys
//! `<external-trade workflow id>/<step>[/<member trade id>]` and their amounts are computed
//! identically on a retry, so the ledger's idempotency turns a repeated entry into a no-op;
//! member trade statuses only move forward, by the trade book's named transitions
//! ([`crate::trade_book`]), which own every query on the trade tables.
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
//!
//! One file per step: [`close_day`] (aggregating), `pricing` (placed, priced), `allocate`,
//! `settle` (settle and release), `switch` (a sell's proceeds funding its switch's buys, part
//! of allocating), `check` (invariants 5 and 8); `chunks` is the one chunked pass
//! over an external trade's member trades that allocate, settle and release share (entries
//! staged and sealed in the database, `acme_ledger::staged`), and `books` the house accounts and
//! the house entries.

mod allocate;
mod books;
mod check;
mod chunks;
mod close_day;
mod pricing;
mod settle;
mod switch;

use std::sync::Arc;

use acme_ledger::Ledger;
use acme_sdk::BusinessError;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use crate::trade_book::external_trades::{self, ExternalTradeRecord};
use crate::trade_book::{Actor, trade_book_failure};

pub use crate::trade_book::Side;
pub use check::{check_cycle, progress};
pub use close_day::{close_day_reporting, external_trade_id};

/// ACME's clearing pot: holds an external trade's assets between pricing and allocation.
pub const DEALING_POT: &str = "dealing";
/// ACME's rounding pot: what rounding down allocations left over.
pub const ROUNDING_POT: &str = "rounding";
/// The mirror of what the custodian holds for us and what we owe each other.
pub const CUSTODIAN_POT: &str = "custodian";
/// The process name on the dealing book's journal entries.
pub const PROCESS: &str = "external-trade";
/// Member trades per chunk: per transaction of a bulk step.
pub const CHUNK: i64 = 20_000;

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

    /// The sealed trade of a stored record; a trade not sealed yet has no total to work with.
    fn sealed(record: &ExternalTradeRecord) -> Result<Self, ActivityError> {
        let (Some(ordered_total), Some(member_trades)) =
            (record.ordered_total, record.member_trade_count)
        else {
            return Err(anyhow::anyhow!("{} has not been closed", record.order_ref).into());
        };
        Ok(Self {
            external_trade_id: record.external_trade_id,
            dealing_date: record.dealing_date,
            asset: record.asset_code.clone(),
            side: record.side,
            order_ref: record.order_ref.clone(),
            ordered_total,
            member_trades,
        })
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

/// The reason an external trade was refused, for its compensation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub external_trade_id: Uuid,
    pub reason: String,
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

    /// The external trade and its stored record; `external_trade.unknown` if there is none.
    async fn trade(
        &self,
        external_trade_id: Uuid,
    ) -> Result<(ExternalTrade, ExternalTradeRecord), ActivityError> {
        stored_trade(&self.ledger, external_trade_id).await
    }
}

/// The sealed external trade as the trade book holds it, and its record;
/// `external_trade.unknown` if there is none.
pub async fn stored_trade(
    ledger: &Ledger,
    external_trade_id: Uuid,
) -> Result<(ExternalTrade, ExternalTradeRecord), ActivityError> {
    let record = external_trades::get(ledger.pool(), external_trade_id)
        .await
        .map_err(trade_book_failure)?
        .ok_or_else(|| {
            ActivityError::from(BusinessError::new(
                "external_trade.unknown",
                format!("no external trade {external_trade_id}"),
            ))
        })?;
    Ok((ExternalTrade::sealed(&record)?, record))
}

/// The activities, one line each: the steps are in their own files.
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
        close_day::close_day(&self.ledger, &ctx, &close).await
    }

    /// Marks an external trade placed with the custodian.
    #[activity(name = "dealing.mark_placed")]
    pub async fn mark_placed(
        self: Arc<Self>,
        ctx: ActivityContext,
        external_trade_id: Uuid,
    ) -> Result<(), ActivityError> {
        self.placed(&ctx, external_trade_id).await
    }

    /// Records the custodian's confirmation and posts what it moved between the custodian and
    /// the dealing pot. A confirmation that does not fit the order is refused (and changes nothing).
    #[activity(name = "dealing.record_priced")]
    pub async fn record_priced(
        self: Arc<Self>,
        ctx: ActivityContext,
        priced: Priced,
    ) -> Result<(), ActivityError> {
        self.priced(&ctx, &priced).await
    }

    /// Allocates a priced external trade to its member trades pro rata (DESIGN.md §3), in
    /// chunks, then moves the residue to the rounding pot.
    #[activity(name = "dealing.allocate")]
    pub async fn allocate(
        self: Arc<Self>,
        ctx: ActivityContext,
        external_trade_id: Uuid,
    ) -> Result<Allocation, ActivityError> {
        self.allocated(&ctx, external_trade_id).await
    }

    /// Settles an allocated external trade: members' units or cash become available, and the
    /// custodian's cash is squared with the bank.
    #[activity(name = "dealing.settle")]
    pub async fn settle(
        self: Arc<Self>,
        ctx: ActivityContext,
        external_trade_id: Uuid,
    ) -> Result<i64, ActivityError> {
        self.settled(&ctx, external_trade_id).await
    }

    /// The compensation of a rejected external trade: its member trades fail and what they had
    /// reserved goes back to available.
    #[activity(name = "dealing.release_rejected")]
    pub async fn release_rejected(
        self: Arc<Self>,
        ctx: ActivityContext,
        rejected: Rejected,
    ) -> Result<i64, ActivityError> {
        self.released(&ctx, &rejected).await
    }

    /// Invariants 5 and 8 for one dealing date, recomputed from the journal and the trade book.
    #[activity(name = "dealing.check_cycle")]
    pub async fn check_cycle(
        self: Arc<Self>,
        ctx: ActivityContext,
        dealing_date: NaiveDate,
    ) -> Result<Vec<Violation>, ActivityError> {
        // One statement over the whole day: at a million trades it outlasts the heartbeat timeout.
        acme_sdk::heartbeat::while_working(&ctx, check_cycle(&self.ledger, dealing_date))
            .await
            .map_err(trade_book_failure)
    }
}

/// Who a dealing activity acts as: the running activity, in its workflow (the external trade's
/// own when run outside one).
fn actor(ctx: &ActivityContext, trade: &ExternalTrade) -> Actor {
    Actor::activity(ctx, &trade.workflow_id())
}
