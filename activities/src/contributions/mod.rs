//! Contributions: the one owner of the tables of migration 0013 (employers' schedules as
//! received, their accepted rows and their rejection reports; ADR 19). `acme contributions` and
//! the contribution processes read and write them only through these functions.
//!
//! - [`schedule`]: the file format, as pure functions (header, one row's checks);
//! - [`import`]: streaming a file in (bounded memory), storing it as received with its digest,
//!   checking every row, and committing before anything is acknowledged;
//! - [`funding`]: matching a schedule to the money ACME's bank statements show (held when short
//!   or over);
//! - [`invest`]: investing a funded schedule as a bulk step (pots credited, buy trades created).

pub mod funding;
pub mod import;
pub mod invest;
pub mod schedule;

use acme_sdk::BusinessError;
use temporalio_sdk::activities::ActivityError;

/// Errors of the contribution records: a refusal (the SDK's business error, with its stable
/// code) changed nothing; anything else is a fault.
#[derive(Debug, thiserror::Error)]
pub enum ContributionError {
    #[error("{}", .0.message)]
    Refused(BusinessError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl ContributionError {
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Self::Refused(BusinessError::new(code, message))
    }

    /// The refusal's code, if this is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused(refusal) => Some(&refusal.code),
            Self::Database(_) => None,
        }
    }

    /// As an activity error: refusals are final, faults are retried.
    pub fn into_activity(self) -> ActivityError {
        match self {
            Self::Refused(refusal) => refusal.into(),
            Self::Database(error) => ActivityError::from(anyhow::Error::from(error)),
        }
    }
}
