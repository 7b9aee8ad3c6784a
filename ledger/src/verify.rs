//! The tamper check (invariant 7): walks the journal in chain order, recomputes every entry's
//! digest from what is stored now and re-links the chain, and names the first entry that does
//! not match. The triggers and grants stop the application from editing the journal; this
//! catches an edit made around them (by a superuser or the owning role).
//!
//! The walk is one statement streamed row by row inside one read-only snapshot: PostgreSQL
//! sorts the postings by entry (spilling to disk past `work_mem`) and merges them with the
//! entries in key order, and the client holds one entry at a time, so memory stays flat whatever
//! the journal's size. Not keyset pages: postings are found by entry only through a BRIN index,
//! and a BRIN range that VACUUM has not summarized yet (every range of a bulk load on a server
//! with autovacuum off) matches every query, so each page would re-read the whole posting table.
//! Measured at 1M entries: pages took 13 s, the streamed merge 4 s (BENCHMARKS.md).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::digest::{EntryContent, Hash, chain_hash, content_digest, hash_from_db};
use crate::model::{AccountId, EntryId};
use crate::{Ledger, LedgerError, Progress};

/// Entries verified between two progress reports.
pub const VERIFY_PROGRESS_EVERY: u64 = 20_000;

/// What [`Progress`] counts while verifying.
pub const VERIFY_PROGRESS: &str = "entries verified";

/// The outcome of a chain verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub entries_checked: u64,
    /// The entry the chain head says is last.
    pub head_entry_id: EntryId,
    /// The first place the chain does not hold, if any. Later entries are not checked: once a
    /// link is broken, everything after it is suspect.
    pub first_break: Option<ChainBreak>,
}

impl VerifyReport {
    pub fn is_sound(&self) -> bool {
        self.first_break.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    pub entry_id: EntryId,
    pub problem: String,
}

#[derive(sqlx::FromRow)]
struct StoredEntry {
    entry_id: i64,
    idempotency_key: String,
    kind: String,
    process: String,
    workflow_id: String,
    effective_date: NaiveDate,
    recorded_at: DateTime<Utc>,
    metadata: serde_json::Value,
    content_digest: Vec<u8>,
    prev_hash: Vec<u8>,
    entry_hash: Vec<u8>,
    account_ids: Vec<i64>,
    amounts: Vec<Decimal>,
}

impl Ledger {
    /// Verifies the whole hash chain. Reads only; safe on the read-only role and while writers
    /// are posting (it checks the entries committed when it starts, up to the head it saw).
    pub async fn verify(&self) -> Result<VerifyReport, LedgerError> {
        self.verify_with_progress(|_| {}).await
    }

    /// [`Ledger::verify`], calling `progress` every [`VERIFY_PROGRESS_EVERY`] entries with the
    /// entries checked so far (under [`VERIFY_PROGRESS`]).
    pub async fn verify_with_progress(
        &self,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<VerifyReport, LedgerError> {
        let mut conn = self.pool.begin().await?;
        // One snapshot for the head and the walk, so concurrent posts cannot confuse them.
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *conn)
            .await?;
        let (head_entry_id, head_hash): (i64, Vec<u8>) =
            sqlx::query_as("select last_entry_id, last_hash from journal_head")
                .fetch_one(&mut *conn)
                .await?;
        let last_stored: Option<i64> =
            sqlx::query_scalar("select max(entry_id) from journal_entry")
                .fetch_one(&mut *conn)
                .await?;
        // Entry ids are the chain's positions, 1, 2, ...: the larger end is the work to do.
        let total = head_entry_id.max(last_stored.unwrap_or(0));
        progress(Progress::new(VERIFY_PROGRESS, 0, total));
        let mut expected_id = 1_i64;
        let mut prev_hash: Hash = [0; 32];
        let mut first_break = None;
        let mut entries_checked = 0_u64;
        {
            let mut rows = sqlx::query_as::<_, StoredEntry>(
                "select e.entry_id, e.idempotency_key, e.kind, e.process, e.workflow_id,
                        e.effective_date, e.recorded_at, e.metadata, e.content_digest,
                        e.prev_hash, e.entry_hash,
                        coalesce(array_agg(p.account_id order by p.leg)
                            filter (where p.entry_id is not null), '{}') as account_ids,
                        coalesce(array_agg(p.amount order by p.leg)
                            filter (where p.entry_id is not null), '{}') as amounts
                 from journal_entry e left join posting p on p.entry_id = e.entry_id
                 group by e.entry_id
                 order by e.entry_id",
            )
            .fetch(&mut *conn);
            while let Some(entry) = rows.try_next().await? {
                entries_checked += 1;
                if let Err(problem) = check_link(&entry, expected_id, &prev_hash) {
                    first_break = Some(ChainBreak {
                        entry_id: EntryId(entry.entry_id),
                        problem,
                    });
                    break;
                }
                prev_hash = hash_from_db(&entry.entry_hash).unwrap_or_default();
                expected_id = entry.entry_id + 1;
                if entries_checked.is_multiple_of(VERIFY_PROGRESS_EVERY) {
                    progress(Progress::new(VERIFY_PROGRESS, expected_id - 1, total));
                }
            }
        }
        progress(Progress::new(VERIFY_PROGRESS, expected_id - 1, total));
        if first_break.is_none() {
            first_break = check_head(head_entry_id, &head_hash, expected_id - 1, &prev_hash);
        }
        conn.commit().await?;
        Ok(VerifyReport {
            entries_checked,
            head_entry_id: EntryId(head_entry_id),
            first_break,
        })
    }
}

fn check_link(entry: &StoredEntry, expected_id: i64, prev_hash: &Hash) -> Result<(), String> {
    if entry.entry_id != expected_id {
        return Err(format!(
            "entry {expected_id} is missing: the journal jumps from {} to {}",
            expected_id - 1,
            entry.entry_id
        ));
    }
    if entry.prev_hash.as_slice() != prev_hash.as_slice() {
        return Err("its link to the previous entry does not match that entry's hash".into());
    }
    let metadata = metadata_map(&entry.metadata)
        .ok_or("its metadata is no longer a map of strings to strings")?;
    if entry.account_ids.len() < 2 {
        return Err(format!("it has {} postings", entry.account_ids.len()));
    }
    let digest = content_digest(
        &EntryContent {
            idempotency_key: &entry.idempotency_key,
            kind: &entry.kind,
            process: &entry.process,
            workflow_id: &entry.workflow_id,
            effective_date: entry.effective_date,
            metadata: &metadata,
        },
        entry
            .account_ids
            .iter()
            .zip(&entry.amounts)
            .map(|(&account, &amount)| (AccountId(account), amount)),
    );
    if entry.content_digest.as_slice() != digest.as_slice() {
        return Err("its content (fields or postings) no longer matches its digest".into());
    }
    let hash = chain_hash(prev_hash, entry.entry_id, entry.recorded_at, &digest);
    if entry.entry_hash.as_slice() != hash.as_slice() {
        return Err("its hash does not match its content, position and time".into());
    }
    Ok(())
}

fn check_head(
    head_entry_id: i64,
    head_hash: &[u8],
    last_entry_id: i64,
    last_hash: &Hash,
) -> Option<ChainBreak> {
    if head_entry_id != last_entry_id {
        Some(ChainBreak {
            entry_id: EntryId(last_entry_id.max(head_entry_id)),
            problem: format!(
                "the chain head says the last entry is {head_entry_id}, the journal ends at {last_entry_id}"
            ),
        })
    } else if head_hash != last_hash.as_slice() {
        Some(ChainBreak {
            entry_id: EntryId(head_entry_id),
            problem: "the chain head's hash does not match the last entry".into(),
        })
    } else {
        None
    }
}

fn metadata_map(value: &serde_json::Value) -> Option<BTreeMap<String, String>> {
    value
        .as_object()?
        .iter()
        .map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect()
}
