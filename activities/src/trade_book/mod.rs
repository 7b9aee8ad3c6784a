//! The trade book: the one owner of the `member`, `member_trade` and `external_trade` tables
//! (migrations 0002, 0003), of their status history, `trade_transition` (0007), of the
//! custodian's callbacks as received, `custodian_callback` (0014), and of switches (0017).
//! Activities, the CLI and the callback ingress read and write those tables only through these
//! functions, plain `async fn`s on a pool or a connection, so every status change is a named
//! [`transition`] that is checked and recorded, and the SQL is in one place.
//!
//! - [`callbacks`]: custodian callbacks as received, stored before they are signalled;
//! - [`status`]: [`Side`], [`MemberTradeStatus`], [`ExternalTradeStatus`];
//! - [`transition`]: the named transitions and who makes them ([`Actor`]);
//! - [`members`]: members (onboarding, lookups);
//! - [`member_trades`]: creating member trades, aggregating them, chunked reads and set-based
//!   transitions;
//! - [`external_trades`]: external trades, their transitions and what the CLI shows of them;
//! - [`switches`]: sells whose proceeds fund buys, their planned buys and funding (ADR 26);
//! - [`gauges`]: trades by kind and status, for the worker's metrics;
//! - [`invariants`]: the trade-book side of the end-of-cycle check (invariants 5 and 8).
//!
//! The ledger's own tables (journal, balances, accounts) stay with `acme-ledger`.

pub mod callbacks;
pub mod external_trades;
pub mod gauges;
pub mod invariants;
pub mod member_trades;
pub mod members;
pub mod status;
pub mod switches;
pub mod transition;

use acme_sdk::BusinessError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use temporalio_sdk::activities::ActivityError;
use uuid::Uuid;

pub use status::{ExternalTradeStatus, MemberTradeStatus, Side};
pub use transition::{Actor, ExternalTransition, MemberTransition, TradeKind};

/// What a transition did to one trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// The trade moved (and the move is recorded).
    Moved,
    /// The trade was already where the transition leads: a repeat, nothing changed.
    AlreadyThere,
}

/// Errors of the trade book: refusals are the caller's to explain, the rest are faults.
#[derive(Debug, thiserror::Error)]
pub enum TradeBookError {
    #[error("{kind} trade {trade_id}: transition {transition} refused, the trade is {actual}")]
    Refused {
        kind: TradeKind,
        trade_id: Uuid,
        /// The transition, with where it comes from and goes to.
        transition: String,
        actual: String,
    },
    #[error("no {kind} trade {trade_id}")]
    Unknown { kind: TradeKind, trade_id: Uuid },
    /// A trade already exists under the key (`origin`, side, asset) with other content: the
    /// request that made it was not this one, so nothing is created.
    #[error(
        "member trade {trade_id} of {origin} exists with other content: the same key with another \
         member, asset or amount is refused"
    )]
    KeyReused { trade_id: Uuid, origin: String },
    /// A value in the tables that the trade book's types do not know: a bug or a migration
    /// this code has not caught up with; never guessed at.
    #[error("unreadable {what} {value:?} in the trade book")]
    Unreadable { what: &'static str, value: String },
    #[error("trade book: {0}")]
    Database(#[from] sqlx::Error),
}

impl TradeBookError {
    /// The stable code of a refusal (a business "no"), `None` for a fault.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::Refused { .. } => Some("trade_book.transition_refused"),
            Self::Unknown {
                kind: TradeKind::External,
                ..
            } => Some("external_trade.unknown"),
            Self::Unknown {
                kind: TradeKind::Member,
                ..
            } => Some("member_trade.unknown"),
            Self::KeyReused { .. } => Some("member_trade.key_reused"),
            Self::Unreadable { .. } | Self::Database(_) => None,
        }
    }
}

/// A trade-book failure as an activity error: refusals are final business errors, anything
/// else is transient and retried by the activity's preset.
pub(crate) fn trade_book_failure(error: TradeBookError) -> ActivityError {
    match error.code() {
        Some(code) => BusinessError::new(code, error.to_string()).into(),
        None => ActivityError::from(error),
    }
}

/// One recorded status change of a trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TransitionRecord {
    pub trade_kind: String,
    pub trade_id: Uuid,
    pub from_status: Option<String>,
    pub to_status: String,
    pub transition: String,
    pub at: DateTime<Utc>,
    pub workflow_id: String,
    pub actor: String,
}

/// A trade's history (member or external), oldest first.
pub async fn history(
    pool: &PgPool,
    trade_id: Uuid,
) -> Result<Vec<TransitionRecord>, TradeBookError> {
    Ok(sqlx::query_as(
        "select trade_kind, trade_id, from_status, to_status, transition, at, workflow_id, actor
         from trade_transition where trade_id = $1 order by at",
    )
    .bind(trade_id)
    .fetch_all(pool)
    .await?)
}
