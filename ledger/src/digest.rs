//! The canonical digest of an entry's content and the hash that chains entries together.
//!
//! Every field is length-prefixed so that no two different entries encode to the same bytes.
//! Amounts are hashed in normalised form (`10.50` and `10.5` are the same amount), so the digest
//! does not depend on the scale a value happened to be stored at.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sha2::{Digest as _, Sha256};

use crate::model::AccountId;

pub(crate) type Hash = [u8; 32];

/// The fields of an entry that its digest covers, borrowed from wherever they live.
pub(crate) struct EntryContent<'a> {
    pub idempotency_key: &'a str,
    pub kind: &'a str,
    pub process: &'a str,
    pub workflow_id: &'a str,
    pub effective_date: NaiveDate,
    pub metadata: &'a BTreeMap<String, String>,
}

/// Tags the encoding so a future change of format cannot collide with this one.
const CONTENT_VERSION: &[u8] = b"acme-ledger-entry-v1";

pub(crate) fn content_digest(
    content: &EntryContent<'_>,
    postings: impl ExactSizeIterator<Item = (AccountId, Decimal)>,
) -> Hash {
    let mut hasher = Sha256::new();
    field(&mut hasher, CONTENT_VERSION);
    field(&mut hasher, content.idempotency_key.as_bytes());
    field(&mut hasher, content.kind.as_bytes());
    field(&mut hasher, content.process.as_bytes());
    field(&mut hasher, content.workflow_id.as_bytes());
    field(&mut hasher, content.effective_date.to_string().as_bytes());
    count(&mut hasher, content.metadata.len());
    for (key, value) in content.metadata {
        field(&mut hasher, key.as_bytes());
        field(&mut hasher, value.as_bytes());
    }
    count(&mut hasher, postings.len());
    for (account, amount) in postings {
        hasher.update(account.0.to_be_bytes());
        field(&mut hasher, amount.normalize().to_string().as_bytes());
    }
    hasher.finalize().into()
}

/// `sha256(prev_hash || entry_id || recorded_at µs || content_digest)`: changing any entry, its
/// position or its time breaks this link or the next one.
pub(crate) fn chain_hash(
    prev_hash: &Hash,
    entry_id: i64,
    recorded_at: DateTime<Utc>,
    content_digest: &Hash,
) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(entry_id.to_be_bytes());
    hasher.update(recorded_at.timestamp_micros().to_be_bytes());
    hasher.update(content_digest);
    hasher.finalize().into()
}

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    count(hasher, bytes.len());
    hasher.update(bytes);
}

fn count(hasher: &mut Sha256, n: usize) {
    hasher.update(u64::try_from(n).unwrap_or(u64::MAX).to_be_bytes());
}

/// Converts a hash read back from the database, which the schema guarantees is 32 bytes.
pub(crate) fn hash_from_db(bytes: &[u8]) -> Option<Hash> {
    bytes.try_into().ok()
}
