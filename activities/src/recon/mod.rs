//! Reconciliation's records: the one owner of the tables of migration 0011 (statements as
//! received and their lines, breaks and their events, the daily report). The reconciliation
//! process's activities (`processes/reconciliation/activities.rs`) and `acme recon` read and write
//! them only through these functions (ADR 17).
//!
//! - [`statements`]: importing a statement as received (digest, idempotent, refused whole when
//!   malformed) and parsing it into lines;
//! - [`compare`]: the set-based comparisons (positions per fund, cash per order reference) and
//!   the classification of what differs;
//! - [`transactions`]: matching our external trades with the custodian's settled movements
//!   (`semt.017`): by reference, then by amount and date; one-to-one, one-to-many, many-to-one;
//! - [`breaks`]: breaks, their lifecycle (open → acknowledged → resolved) and its events;
//! - [`report`]: the daily report, append-only, with the journal's head at the time of the run.

pub mod breaks;
pub mod compare;
pub mod report;
pub mod statements;
pub mod transactions;

use acme_sdk::BusinessError;
use temporalio_sdk::activities::ActivityError;

/// Errors of the reconciliation records: refusals carry a stable code, the rest are faults.
#[derive(Debug, thiserror::Error)]
pub enum ReconError {
    /// A business refusal: nothing was written.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl ReconError {
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }

    /// The refusal's code, if this is one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            Self::Database(_) => None,
        }
    }
}

/// A reconciliation error as an activity error: refusals are final, faults are retried.
pub fn recon_failure(error: ReconError) -> ActivityError {
    match error {
        ReconError::Refused { code, message } => BusinessError::new(code, message).into(),
        ReconError::Database(error) => ActivityError::from(anyhow::Error::from(error)),
    }
}
