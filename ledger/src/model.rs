//! The ledger's vocabulary: typed ids and the shape of an entry to post.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            sqlx::Type,
        )]
        #[sqlx(transparent)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A pot: the collection of accounts owned by one member, ACME or an external body.
    PotId
);
id_type!(
    /// An internal account: one (pot, asset, purpose).
    AccountId
);
id_type!(
    /// A journal entry; also its position in the hash chain (gapless, from 1).
    EntryId
);

/// Who owns a pot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerKind {
    Member,
    /// ACME's own pots: dealing, rounding residue, fees.
    House,
    /// Mirrors of external bodies: the custodian, the bank.
    External,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::House => "house",
            Self::External => "external",
        }
    }
}

/// Cash or a fund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    Cash,
    Fund,
}

impl AssetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Fund => "fund",
        }
    }
}

/// One leg of an entry: a signed amount on one account, in that account's asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPosting {
    pub account_id: AccountId,
    pub amount: Decimal,
}

/// An entry to post. The caller derives the idempotency key as `<workflow id>/<step>` and
/// reuses it on every retry: the same key with the same content returns the original entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    pub idempotency_key: String,
    /// What happened, e.g. `invest.reserve-cash`.
    pub kind: String,
    /// The process that wrote it, e.g. `invest-cash`.
    pub process: String,
    pub workflow_id: String,
    pub effective_date: NaiveDate,
    /// Free-form context for people reading the journal (trade ids, references).
    pub metadata: BTreeMap<String, String>,
    pub postings: Vec<NewPosting>,
}

/// The postings that undo `postings`: the same accounts, every amount negated.
pub(crate) fn negated(postings: impl IntoIterator<Item = (AccountId, Decimal)>) -> Vec<NewPosting> {
    postings
        .into_iter()
        .map(|(account_id, amount)| NewPosting {
            account_id,
            amount: -amount,
        })
        .collect()
}

impl NewEntry {
    /// The entry that undoes this one, for a compensation: every posting negated, kind
    /// `<kind>.reversed`, keyed `<key>/reversed` so it is posted once however often the undo
    /// runs. Corrections are new entries, never edits.
    pub fn reversal(&self) -> NewEntry {
        let mut metadata = self.metadata.clone();
        metadata.insert("reverses".to_owned(), self.idempotency_key.clone());
        NewEntry {
            idempotency_key: format!("{}/reversed", self.idempotency_key),
            kind: format!("{}.reversed", self.kind),
            process: self.process.clone(),
            workflow_id: self.workflow_id.clone(),
            effective_date: self.effective_date,
            metadata,
            postings: negated(
                self.postings
                    .iter()
                    .map(|posting| (posting.account_id, posting.amount)),
            ),
        }
    }
}

/// The result of posting one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub entry_id: EntryId,
    /// True when the idempotency key had already been posted with the same content, so nothing
    /// was written this time.
    pub replayed: bool,
}
