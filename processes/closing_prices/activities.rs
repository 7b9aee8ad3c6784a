//! `closing_prices.*`: the activities of `closing-prices`, on the ledger queue. Both go through
//! the one owner of `closing_price` (`acme_activities::prices`): the funds whose prices a day
//! needs, and recording a day's prices, idempotent (the same prices again change nothing; a
//! different price for a recorded day is refused whole).

use std::sync::Arc;

use acme_ledger::Ledger;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::WorkerOptions;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::prices::{self, Quote, Recorded, price_failure};

/// A day's prices from one source, to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPrices {
    pub date: NaiveDate,
    pub source: String,
    /// The run recording them.
    pub recorded_by: String,
    pub quotes: Vec<Quote>,
}

#[derive(Debug, Clone)]
pub struct ClosingPricesActivities {
    ledger: Ledger,
}

/// Registers these activities on the ledger queue; the worker calls it for every process folder
/// with an `activities.rs`.
pub fn register(options: &mut WorkerOptions, ledger: &Ledger) {
    options.register_activities(ClosingPricesActivities {
        ledger: ledger.clone(),
    });
}

#[activities]
impl ClosingPricesActivities {
    /// The funds of the scheme, by asset code (the custodian's ISIN).
    #[activity(name = "closing_prices.funds")]
    pub async fn funds(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _input: (),
    ) -> Result<Vec<String>, ActivityError> {
        prices::funds(self.ledger.pool())
            .await
            .map_err(price_failure)
    }

    /// Records the day's prices, all or nothing (`crate::prices::record`). The prices were
    /// fetched by this run from the custodian, the source they are recorded under; they are
    /// checked again here (strict decimals, known funds) because this is where they are stored.
    #[activity(name = "closing_prices.record")]
    pub async fn record(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: RecordPrices,
    ) -> Result<Recorded, ActivityError> {
        prices::record(
            self.ledger.pool(),
            request.date,
            &request.source,
            &request.recorded_by,
            &request.quotes,
        )
        .await
        .map_err(price_failure)
    }
}
