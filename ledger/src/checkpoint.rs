//! Checkpoints of the journal's head, anchored outside the database (issue 16 point 2, ADR 31).
//!
//! The hash chain ([`crate::verify`]) catches an edit that does not recompute the chain. Whoever
//! can write the journal's tables around the triggers (the owning role, a superuser) can also
//! recompute every hash after the edit, and the chain verifies again. A checkpoint closes that:
//! the head's entry id and hash, taken at a moment, with an HMAC-SHA256 under a key the database
//! never holds, kept in an append-only place outside it (a file, an object-locked bucket). Later,
//! each checkpoint must still hold: its MAC under the key, and the journal still having that
//! entry with that very hash, and reaching at least that far. A rewritten past, a rewritten tail
//! or a cut one no longer matches the checkpoints taken before it.
//!
//! What a checkpoint cannot catch: entries appended after the latest one by someone who may write
//! the journal (that is point 1's to stop: writes through definer functions only).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Ledger, LedgerError};

/// Tags the signed text so that a MAC made for anything else never passes for a checkpoint's.
const CHECKPOINT_VERSION: &str = "acme-ledger-checkpoint-v1";
/// The shortest key accepted, in bytes: HMAC-SHA256's own block of strength.
pub const MIN_KEY_BYTES: usize = 32;

/// The key checkpoints are signed with. Never printed, never stored in the database.
pub struct CheckpointKey(Vec<u8>);

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckpointKey(..)")
    }
}

impl CheckpointKey {
    /// A key of at least [`MIN_KEY_BYTES`] bytes (e.g. a file's content: `openssl rand 32`).
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "a checkpoint key must be at least {MIN_KEY_BYTES} bytes, this one is {}",
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    fn mac(&self, entry_id: i64, entry_hash: &str, taken_at: DateTime<Utc>) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(
            format!(
                "{CHECKPOINT_VERSION}\n{entry_id}\n{entry_hash}\n{}",
                taken_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            )
            .as_bytes(),
        );
        mac
    }
}

/// The journal's head at a moment, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last entry then (0: the journal was empty).
    pub entry_id: i64,
    /// Its chain hash, hex.
    pub entry_hash: String,
    pub taken_at: DateTime<Utc>,
    /// HMAC-SHA256 of the above under the checkpoint key, hex.
    pub mac: String,
}

/// A checkpoint that no longer holds, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointProblem {
    pub entry_id: i64,
    pub taken_at: DateTime<Utc>,
    pub problem: String,
}

impl Ledger {
    /// Signs the journal's head as it is now.
    pub async fn checkpoint(&self, key: &CheckpointKey) -> Result<Checkpoint, LedgerError> {
        let (entry_id, hash): (i64, Vec<u8>) =
            sqlx::query_as("select last_entry_id, last_hash from journal_head")
                .fetch_one(self.pool())
                .await?;
        let entry_hash = hex::encode(hash);
        // Microseconds: what the signed text and the stored JSON both keep.
        let taken_at =
            DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_else(Utc::now);
        let mac = hex::encode(
            key.mac(entry_id, &entry_hash, taken_at)
                .finalize()
                .into_bytes(),
        );
        Ok(Checkpoint {
            entry_id,
            entry_hash,
            taken_at,
            mac,
        })
    }

    /// Checks every checkpoint against `key` and the journal as it is now; empty when all hold.
    pub async fn check_checkpoints(
        &self,
        key: &CheckpointKey,
        checkpoints: &[Checkpoint],
    ) -> Result<Vec<CheckpointProblem>, LedgerError> {
        let head: i64 = sqlx::query_scalar("select last_entry_id from journal_head")
            .fetch_one(self.pool())
            .await?;
        let mut problems = Vec::new();
        for checkpoint in checkpoints {
            let problem = |problem: String| CheckpointProblem {
                entry_id: checkpoint.entry_id,
                taken_at: checkpoint.taken_at,
                problem,
            };
            let signed = hex::decode(&checkpoint.mac).is_ok_and(|mac| {
                key.mac(
                    checkpoint.entry_id,
                    &checkpoint.entry_hash,
                    checkpoint.taken_at,
                )
                .verify_slice(&mac)
                .is_ok()
            });
            if !signed {
                problems.push(problem(
                    "its MAC does not verify under the key: it was not taken with this key, or \
                     it was altered"
                        .to_owned(),
                ));
                continue;
            }
            if head < checkpoint.entry_id {
                problems.push(problem(format!(
                    "the journal now ends at entry {head}, before this checkpoint's entry: \
                     entries were cut from its end"
                )));
                continue;
            }
            if checkpoint.entry_id == 0 {
                continue;
            }
            let stored: Option<Vec<u8>> =
                sqlx::query_scalar("select entry_hash from journal_entry where entry_id = $1")
                    .bind(checkpoint.entry_id)
                    .fetch_optional(self.pool())
                    .await?;
            match stored.map(hex::encode) {
                None => problems.push(problem("the entry is gone from the journal".to_owned())),
                Some(hash) if hash != checkpoint.entry_hash => problems.push(problem(format!(
                    "the entry's chain hash is now {hash}, not the {} checkpointed: the journal \
                     up to it was rewritten",
                    checkpoint.entry_hash
                ))),
                Some(_) => {}
            }
        }
        Ok(problems)
    }
}
