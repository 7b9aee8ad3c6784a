//! `ledger.post_entries`: posts a workflow step's entries atomically. Replays (the activity
//! retried after it had already committed) return the original entries and write nothing.

use std::sync::Arc;

use acme_ledger::{Ledger, NewEntry, Posted};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::ledger_failure;

#[derive(Debug, Clone)]
pub struct LedgerActivities {
    ledger: Ledger,
}

impl LedgerActivities {
    pub fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }
}

#[activities]
impl LedgerActivities {
    #[activity(name = "ledger.post_entries")]
    pub async fn post_entries(
        self: Arc<Self>,
        _ctx: ActivityContext,
        entries: Vec<NewEntry>,
    ) -> Result<Vec<Posted>, ActivityError> {
        self.ledger
            .post_batch(&entries)
            .await
            .map_err(ledger_failure)
    }
}
