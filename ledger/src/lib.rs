//! The ACME ledger: one append-only, double-entry journal in PostgreSQL, and the balances kept
//! from it in the same transaction.
//!
//! Rooms: [`chart`] (assets, pots, accounts), [`posting`] (the only way money moves: `post` and
//! the set-based `post_batch`; [`staged`] seals entries a query staged, for bulk steps, whose
//! chunks commit in a [`chunk`] transaction), [`query`] (balances, statements, journals), [`verify`] (the
//! tamper-evident hash chain), [`invariants`] (the design's invariants 1–3 as a report; both
//! stream the journal in bounded pages and report [`progress`]) and [`audit`] (the operator
//! audit log); [`environment`] says whether the database is a dev one.
//! Every write validates first and then writes atomically, so a rejected entry leaves nothing.

pub mod audit;
pub mod chart;
pub mod checkpoint;
pub mod chunk;
pub mod copy;
mod digest;
pub mod environment;
pub mod error;
pub mod invariants;
pub mod model;
pub mod posting;
pub mod progress;
pub mod query;
pub mod reversal;
pub mod staged;
pub mod testkit;
pub mod verify;

pub use error::{LedgerError, Rejection};
pub use model::{AccountId, AssetKind, EntryId, NewEntry, NewPosting, OwnerKind, Posted, PotId};
pub use progress::Progress;

use sqlx::PgPool;

/// The ledger's schema migrations, embedded in the binary. They must run as the owning role.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A handle on the ledger database, cheap to clone (it wraps a connection pool).
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: PgPool,
}

impl Ledger {
    /// Wraps a pool connected as the application role (which may append but never edit).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
