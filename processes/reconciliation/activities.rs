//! `reconciliation.*`: the activities of `reconciliation`, on the ledger queue. Both write
//! through the one owner of reconciliation's tables (`acme_activities::recon`) and are
//! idempotent: a statement is stored once per digest, breaks once per id, a report once per
//! content, so a retried activity or a second run of a date stores nothing new.

use std::sync::Arc;

use acme_ledger::Ledger;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::WorkerOptions;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::recon::recon_failure;
use crate::recon::report::{self, Outcome, Reconcile};
use crate::recon::statements::{self, Imported, StatementKind};

/// A statement as the custodian sent it, to be stored and parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStatement {
    pub kind: StatementKind,
    pub as_of: NaiveDate,
    /// The body exactly as received.
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct ReconciliationActivities {
    ledger: Ledger,
}

impl ReconciliationActivities {
    pub fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }
}

/// Registers these activities on the ledger queue; the worker calls it for every process folder
/// with an `activities.rs`.
pub fn register(options: &mut WorkerOptions, ledger: &Ledger) {
    options.register_activities(ReconciliationActivities::new(ledger.clone()));
}

#[activities]
impl ReconciliationActivities {
    /// Stores a statement as received and parses it into lines; the same statement again stores
    /// nothing; a malformed one is refused whole (`statement.malformed`) with the reason.
    #[activity(name = "reconciliation.import_statement")]
    pub async fn import_statement(
        self: Arc<Self>,
        _ctx: ActivityContext,
        statement: ImportStatement,
    ) -> Result<Imported, ActivityError> {
        statements::import(
            self.ledger.pool(),
            statement.kind,
            statement.as_of,
            &statement.body,
        )
        .await
        .map_err(recon_failure)
    }

    /// Compares positions and cash for the date, stores breaks and the report. One set-based
    /// statement per comparison, so it heartbeats while the database works (the bulk preset).
    #[activity(name = "reconciliation.reconcile")]
    pub async fn reconcile(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: Reconcile,
    ) -> Result<Outcome, ActivityError> {
        acme_sdk::heartbeat::while_working(&ctx, report::reconcile(self.ledger.pool(), &request))
            .await
            .map_err(recon_failure)
    }
}
