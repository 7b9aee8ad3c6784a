//! Which kind of database the ledger is in. A dev (or test) database carries the comment
//! `acme.environment=dev`, set by its owner (`ops/stack up`, the test kit); commands
//! that write demo entries (`acme ledger tour`, `acme demo`) refuse any database without it, so
//! they cannot write into production, which is never marked (ADR 20). It guards against a
//! mistake, not an attacker: whoever holds the application's credentials can post anyway.

use crate::{Ledger, LedgerError};

/// The comment on a dev database that marks it so.
pub const DEV_MARK: &str = "acme.environment=dev";

impl Ledger {
    /// Whether this database is marked as a dev database (its comment is [`DEV_MARK`]).
    pub async fn is_dev_database(&self) -> Result<bool, LedgerError> {
        let mark: Option<String> = sqlx::query_scalar(
            "select shobj_description(oid, 'pg_database') from pg_database
             where datname = current_database()",
        )
        .fetch_one(self.pool())
        .await
        .map_err(LedgerError::Database)?;
        Ok(mark.as_deref() == Some(DEV_MARK))
    }
}
