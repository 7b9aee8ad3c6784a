//! Ledger errors. A [`Rejection`] is a business "no" about one entry: it is final, retrying the
//! same input cannot succeed, and it carries a stable code. Everything else is infrastructure.

use rust_decimal::Decimal;

use crate::model::{AccountId, EntryId};

/// Why an entry was refused. Nothing is written when an entry (or any entry of a batch) is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("{field} is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("an entry needs at least two postings, got {count}")]
    TooFewPostings { count: usize },
    #[error("an entry may have at most {max} postings, got {count}")]
    TooManyPostings { count: usize, max: usize },
    #[error("leg {leg} has a zero amount")]
    ZeroAmount { leg: usize },
    #[error("account {account} appears in more than one leg")]
    DuplicateAccount { account: AccountId },
    #[error("account {account} does not exist")]
    UnknownAccount { account: AccountId },
    #[error("leg {leg} amount {amount} has more decimals than {asset} allows ({scale})")]
    TooManyDecimals {
        leg: usize,
        amount: Decimal,
        asset: String,
        scale: u32,
    },
    #[error("postings in {asset} sum to {sum}, not zero")]
    Unbalanced { asset: String, sum: Decimal },
    #[error("account {account} may not go negative: balance {balance}, change {change}")]
    Overdraft {
        account: AccountId,
        balance: Decimal,
        change: Decimal,
    },
    #[error("amounts are too large to add up")]
    Overflow,
    #[error("idempotency key was already used for different content (entry {existing})")]
    IdempotencyConflict { existing: EntryId },
}

impl Rejection {
    /// A stable, machine-readable code, for workflow failures, APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidField { .. } => "ledger.invalid_field",
            Self::TooFewPostings { .. } | Self::TooManyPostings { .. } => "ledger.posting_count",
            Self::ZeroAmount { .. } => "ledger.zero_amount",
            Self::DuplicateAccount { .. } => "ledger.duplicate_account",
            Self::UnknownAccount { .. } => "ledger.unknown_account",
            Self::TooManyDecimals { .. } => "ledger.too_many_decimals",
            Self::Unbalanced { .. } => "ledger.unbalanced",
            Self::Overdraft { .. } => "ledger.overdraft",
            Self::Overflow => "ledger.overflow",
            Self::IdempotencyConflict { .. } => "ledger.idempotency_conflict",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("entry {key:?} rejected: {reason}")]
    Rejected { key: String, reason: Rejection },
    #[error(
        "batch rejected at entry {index} (key {key:?}): {reason}; nothing in the batch was written"
    )]
    BatchRejected {
        index: usize,
        key: String,
        reason: Rejection,
    },
    #[error("batch of {count} entries is larger than the limit of {max}; split it into chunks")]
    BatchTooLarge { count: usize, max: usize },
    #[error("{what} {name:?} already exists with different attributes: {detail}")]
    ChartConflict {
        what: &'static str,
        name: String,
        detail: String,
    },
    #[error("{what} {name:?} does not exist")]
    NotFound { what: &'static str, name: String },
    /// An operator's request the ledger refuses (a reversal under four eyes): final, with a
    /// stable code.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error("ledger database error")]
    Database(#[from] sqlx::Error),
}

impl LedgerError {
    /// The rejection behind this error, if it is a business "no" rather than a failure.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected { reason, .. } | Self::BatchRejected { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// True when retrying the same call may succeed (the database was unreachable, a
    /// serialization conflict); false for every business rejection.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Database(_))
    }

    /// True when the write lost a race with a concurrent writer (a deadlock, a serialization
    /// failure, the same key posted at the same moment): running its transaction again re-reads
    /// everything and may succeed.
    pub fn lost_race(&self) -> bool {
        matches!(self, Self::Database(error) if crate::posting::lost_race(error))
    }
}
