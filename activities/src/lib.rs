//! Every side effect of ACME's processes, each an idempotent Temporal activity with a stable
//! name. Workflows call these and never touch the database themselves.
//!
//! - [`contributions`]: employers' contribution schedules as received, checked row by row
//!   (ADR 19);
//! - [`custodian`]: the custodian gateway (orders and their status), on the external queue;
//! - [`dealing`]: the dealing book: closing a day into external trades, pricing, allocation,
//!   settlement and the compensation of a rejected trade;
//! - [`intake`]: the HTTP intake's requests as received, with their Idempotency-Key (ADR 25);
//! - [`ledger`]: posting journal entries (`ledger.post_entries`);
//! - [`members`]: reference data, onboarding, and what a member's investment needs;
//! - [`prices`]: closing prices, recorded append-only with their source; a day's prices for
//!   whatever needs them, refused when missing or stale;
//! - [`rebalance`]: re-balancing's plan, set-based: drifted pots, skipped ones, units and cash
//!   per fund;
//! - [`recon`]: reconciliation's records (statements as received, breaks, reports; ADR 17);
//! - [`seeding`]: numbered members and their buys by the million, chunked and resumable
//!   (`acme member seed`, the dealing benchmark, tests);
//! - [`trade_book`]: the one owner of members, member and external trades and their status
//!   history (every query and transition on those tables);
//! - [`trades`]: creating member trades (`trades.create_buy_trades`, `trades.create_sell_trade`);
//! - [`valuation`]: a pot's holdings, value and weights as of a date, and every pot's, set-based.
//!
//! A process that needs activities of its own keeps them in its folder
//! (`processes/<name>/activities.rs`, with a `pub fn register`); the build script compiles each
//! in here as module `<name>`. [`register_ledger_activities`] serves the shared areas and those
//! on the ledger queue.

// `#[activities]` generates a definition type per activity without a Debug impl.
#![allow(missing_debug_implementations)]

pub mod contributions;
pub mod custodian;
pub mod dealing;
pub mod intake;
pub mod ledger;
pub mod members;
pub mod prices;
pub mod rebalance;
pub mod recon;
pub mod seeding;
pub mod trade_book;
pub mod trades;
pub mod valuation;

// One module per process folder with an `activities.rs`, and `register_process_activities`.
include!(concat!(env!("OUT_DIR"), "/processes.rs"));

use acme_ledger::{Ledger, LedgerError};
use acme_sdk::BusinessError;
use temporalio_sdk::WorkerOptions;
use temporalio_sdk::activities::ActivityError;

/// Registers the activities that run on the ledger queue: the shared areas, one line each in
/// alphabetical order, then every process folder's own.
pub fn register_ledger_activities(options: &mut WorkerOptions, ledger: &Ledger) {
    options.register_activities(dealing::DealingActivities::new(ledger.clone()));
    options.register_activities(ledger::LedgerActivities::new(ledger.clone()));
    options.register_activities(members::MemberActivities::new(ledger.clone()));
    options.register_activities(trades::TradeActivities::new(ledger.clone()));
    register_process_activities(options, ledger);
}

/// A ledger failure as an activity error: rejections are final business errors with the
/// ledger's code; anything else is transient and retried by the activity's preset.
pub(crate) fn ledger_failure(error: LedgerError) -> ActivityError {
    match error.rejection() {
        Some(rejection) => BusinessError::new(rejection.code(), error.to_string()).into(),
        None => ActivityError::from(error),
    }
}
