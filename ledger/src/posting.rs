//! The posting engine: the only code that writes the journal and balances.
//!
//! One write, in one transaction:
//! 1. refuse what is malformed (shape, decimals, balance per asset) before touching anything;
//! 2. find an earlier entry with the same idempotency key: same content is a replay (nothing is
//!    written, the original is returned), different content is a conflict;
//! 3. move the balances involved and refuse an overdraft of an account that may not go
//!    negative, judging entries one by one in order;
//! 4. lock the chain head last, number and hash the entries, write entries and postings, move
//!    the head, commit.
//!
//! `post` does this for one entry, locking its balance rows in account-id order first. The bulk
//! path `post_batch` (up to [`MAX_BATCH_ENTRIES`] entries, all or nothing) is optimistic: it
//! skips the key look-up and the separate lock pass, applies its summed deltas in one UPDATE that
//! returns each account's prior balance, and checks overdrafts from those. If the optimistic
//! attempt meets an existing key, a rejection or the database's own overdraft guard, it is
//! rolled back and run again carefully (look-up and lock first), which either succeeds or names
//! the offending entry exactly.
//!
//! It is one file (about 780 lines) on purpose: both paths share the checks, the replay rule and
//! the chain sealing, and the ledger's guarantees are easiest to audit when every write is read
//! in one place.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Transaction};

use crate::copy::copy_rows;
use crate::digest::{EntryContent, Hash, chain_hash, content_digest, hash_from_db};
use crate::model::{AccountId, EntryId, NewEntry, Posted};
use crate::{Ledger, LedgerError, Rejection};

/// Most legs one entry may have.
pub const MAX_POSTINGS_PER_ENTRY: usize = 1_000;
/// Most entries one `post_batch` call may carry; bulk processes chunk below this.
pub const MAX_BATCH_ENTRIES: usize = 2_000_000;
/// Longest idempotency key: `<workflow id>/<step>`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;
/// Longest workflow id, leaving room in the key for the step.
pub const MAX_WORKFLOW_ID_LEN: usize = 150;
/// A write that lost a race (same key posted concurrently, deadlock, serialization failure)
/// is retried this many times in all before the error is returned.
const MAX_ATTEMPTS: u32 = 5;

impl Ledger {
    /// Posts one entry atomically, or returns the original entry if this idempotency key was
    /// already posted with the same content.
    pub async fn post(&self, entry: &NewEntry) -> Result<Posted, LedgerError> {
        let reject = |reason| LedgerError::Rejected {
            key: entry.idempotency_key.clone(),
            reason,
        };
        check_shape(entry).map_err(reject)?;
        let digest = digest_entry(entry);
        let mut attempt = 1;
        loop {
            match self.try_post(entry, &digest).await {
                Err(LedgerError::Database(error))
                    if attempt < MAX_ATTEMPTS && lost_race(&error) =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn try_post(&self, entry: &NewEntry, digest: &Hash) -> Result<Posted, LedgerError> {
        let reject = |reason| LedgerError::Rejected {
            key: entry.idempotency_key.clone(),
            reason,
        };
        let mut tx = self.pool.begin().await?;
        let existing = find_existing(&mut tx, &[entry.idempotency_key.as_str()]).await?;
        if let Some(original) = existing.get(&entry.idempotency_key) {
            return original.replay_of(digest).map_err(reject);
        }
        let account_ids: Vec<AccountId> = entry_accounts(entry).collect();
        let mut accounts = lock_accounts(&mut tx, &account_ids).await?;
        let amounts = validate_entry(entry, &accounts).map_err(reject)?;
        apply_to_balances(entry, &amounts, &mut accounts).map_err(reject)?;
        let head = lock_head(&mut tx).await?;
        let entry_id = head.last_entry_id + 1;
        let entry_hash = chain_hash(&head.last_hash, entry_id, head.recorded_at, digest);
        let account_ids: Vec<i64> = entry.postings.iter().map(|p| p.account_id.0).collect();
        sqlx::query(
            "with entry as (
                 insert into journal_entry (entry_id, idempotency_key, kind, process, workflow_id,
                     effective_date, recorded_at, metadata, content_digest, prev_hash, entry_hash)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)),
             legs as (
                 insert into posting (entry_id, leg, account_id, amount)
                 select $1, (leg - 1)::smallint, account_id, amount
                 from unnest($12::bigint[], $13::numeric[])
                     with ordinality as leg_row (account_id, amount, leg)),
             balances as (
                 update balance set amount = balance.amount + leg_row.amount
                 from unnest($12::bigint[], $13::numeric[]) as leg_row (account_id, amount)
                 where balance.account_id = leg_row.account_id)
             update journal_head set last_entry_id = $1, last_hash = $11, last_recorded_at = $7",
        )
        .bind(entry_id)
        .bind(&entry.idempotency_key)
        .bind(&entry.kind)
        .bind(&entry.process)
        .bind(&entry.workflow_id)
        .bind(entry.effective_date)
        .bind(head.recorded_at)
        .bind(Json(&entry.metadata))
        .bind(digest.as_slice())
        .bind(head.last_hash.as_slice())
        .bind(entry_hash.as_slice())
        .bind(&account_ids)
        .bind(&amounts)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        acme_sdk::metrics::ledger_written("single", 1, entry.postings.len());
        Ok(Posted {
            entry_id: EntryId(entry_id),
            replayed: false,
        })
    }

    /// Posts many entries in one transaction: all of them or none. Entries whose idempotency
    /// key was already posted with the same content are returned as replays; a key repeated
    /// inside the batch with the same content is posted once. The result has one element per
    /// input entry, in order.
    pub async fn post_batch(&self, entries: &[NewEntry]) -> Result<Vec<Posted>, LedgerError> {
        if entries.len() > MAX_BATCH_ENTRIES {
            return Err(LedgerError::BatchTooLarge {
                count: entries.len(),
                max: MAX_BATCH_ENTRIES,
            });
        }
        for (index, entry) in entries.iter().enumerate() {
            check_shape(entry).map_err(|reason| batch_rejection(entries, index, reason))?;
        }
        let digests: Vec<Hash> = entries.iter().map(digest_entry).collect();
        let first_of_key = first_index_of_each_key(entries, &digests)?;
        let mut mode = Mode::Optimistic;
        let mut attempt = 1;
        loop {
            match self
                .try_post_batch(entries, &digests, &first_of_key, mode)
                .await
            {
                Err(LedgerError::Database(error))
                    if mode == Mode::Optimistic && hit_overdraft_guard(&error) => {}
                Err(LedgerError::BatchRejected { .. }) if mode == Mode::Optimistic => {}
                Err(LedgerError::Database(error))
                    if attempt < MAX_ATTEMPTS && lost_race(&error) => {}
                result => return result,
            }
            mode = Mode::Careful;
            attempt += 1;
        }
    }

    async fn try_post_batch(
        &self,
        entries: &[NewEntry],
        digests: &[Hash],
        first_of_key: &[usize],
        mode: Mode,
    ) -> Result<Vec<Posted>, LedgerError> {
        let mut tx = self.pool.begin().await?;
        let mut posted: Vec<Option<Posted>> = vec![None; entries.len()];
        if mode == Mode::Careful {
            let keys: Vec<&str> = unique_entries(first_of_key)
                .map(|index| entries[index].idempotency_key.as_str())
                .collect();
            let existing = find_existing(&mut tx, &keys).await?;
            for index in unique_entries(first_of_key) {
                if let Some(original) = existing.get(&entries[index].idempotency_key) {
                    let replay = original
                        .replay_of(&digests[index])
                        .map_err(|reason| batch_rejection(entries, index, reason))?;
                    posted[index] = Some(replay);
                }
            }
        }
        let to_write: Vec<usize> = unique_entries(first_of_key)
            .filter(|&index| posted[index].is_none())
            .collect();
        if !to_write.is_empty() {
            let account_ids: Vec<AccountId> = to_write
                .iter()
                .flat_map(|&index| entry_accounts(&entries[index]))
                .collect();
            let amounts = match mode {
                Mode::Careful => {
                    let mut accounts = lock_accounts(&mut tx, &account_ids).await?;
                    let amounts = validate_entries(entries, &to_write, &accounts)?;
                    check_overdrafts(entries, &to_write, &amounts, &mut accounts)?;
                    write_balances(&mut tx, &sum_deltas(entries, &to_write)?).await?;
                    amounts
                }
                Mode::Optimistic => {
                    // The UPDATE locks the rows and says what they held before it: the true
                    // starting balances, from which every check below is made.
                    let mut accounts =
                        write_balances(&mut tx, &sum_deltas(entries, &to_write)?).await?;
                    let amounts = validate_entries(entries, &to_write, &accounts)?;
                    check_overdrafts(entries, &to_write, &amounts, &mut accounts)?;
                    amounts
                }
            };
            let head = lock_head(&mut tx).await?;
            let sealed = seal(&head, &to_write, digests);
            write_entries(
                &mut tx,
                entries,
                digests,
                &to_write,
                &sealed,
                head.recorded_at,
            )
            .await?;
            write_postings(&mut tx, entries, &to_write, &sealed, &amounts).await?;
            let (last_entry_id, last_hash) = sealed
                .last()
                .map_or((head.last_entry_id, head.last_hash), |s| {
                    (s.entry_id, s.entry_hash)
                });
            sqlx::query(
                "update journal_head set last_entry_id = $1, last_hash = $2, last_recorded_at = $3",
            )
            .bind(last_entry_id)
            .bind(last_hash.as_slice())
            .bind(head.recorded_at)
            .execute(&mut *tx)
            .await?;
            for (&index, seal) in to_write.iter().zip(&sealed) {
                posted[index] = Some(Posted {
                    entry_id: EntryId(seal.entry_id),
                    replayed: false,
                });
            }
        }
        tx.commit().await?;
        acme_sdk::metrics::ledger_written(
            "batch",
            to_write.len(),
            to_write.iter().map(|&i| entries[i].postings.len()).sum(),
        );
        // Every first occurrence is now either written or a replay; a key repeated within the
        // batch is a replay of its first occurrence.
        first_of_key
            .iter()
            .enumerate()
            .map(|(index, &first)| {
                let original = posted[first].ok_or_else(|| {
                    sqlx::Error::Protocol(format!(
                        "batch entry {first} was neither written nor found"
                    ))
                })?;
                Ok(Posted {
                    entry_id: original.entry_id,
                    replayed: original.replayed || first != index,
                })
            })
            .collect()
    }
}

/// What a writer learns when it locks the chain head.
struct Head {
    last_entry_id: i64,
    last_hash: Hash,
    recorded_at: DateTime<Utc>,
}

/// An entry's place in the chain.
struct Seal {
    entry_id: i64,
    prev_hash: Hash,
    entry_hash: Hash,
}

/// How a batch attempt treats earlier keys and balance rows (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Optimistic,
    Careful,
}

/// An account being posted to: its asset, and its balance as this transaction moves it.
struct AccountState {
    asset_code: String,
    scale: u32,
    may_go_negative: bool,
    balance: Decimal,
}

/// An entry already in the journal under a key being posted.
struct Original {
    entry_id: i64,
    content_digest: Vec<u8>,
}

impl Original {
    fn replay_of(&self, digest: &Hash) -> Result<Posted, Rejection> {
        if self.content_digest.as_slice() == digest.as_slice() {
            Ok(Posted {
                entry_id: EntryId(self.entry_id),
                replayed: true,
            })
        } else {
            Err(Rejection::IdempotencyConflict {
                existing: EntryId(self.entry_id),
            })
        }
    }
}

fn batch_rejection(entries: &[NewEntry], index: usize, reason: Rejection) -> LedgerError {
    LedgerError::BatchRejected {
        index,
        key: entries[index].idempotency_key.clone(),
        reason,
    }
}

/// Everything about an entry that can be checked without the database.
fn check_shape(entry: &NewEntry) -> Result<(), Rejection> {
    check_text(
        "idempotency_key",
        &entry.idempotency_key,
        MAX_IDEMPOTENCY_KEY_LEN,
    )?;
    check_text("kind", &entry.kind, 100)?;
    check_text("process", &entry.process, 100)?;
    check_text("workflow_id", &entry.workflow_id, MAX_WORKFLOW_ID_LEN)?;
    let within_workflow = entry
        .idempotency_key
        .strip_prefix(entry.workflow_id.as_str())
        .is_some_and(|step| step.len() > 1 && step.starts_with('/'));
    if !within_workflow {
        return Err(Rejection::InvalidField {
            field: "idempotency_key",
            reason: format!(
                "must be the workflow id, '/', and a step (\"{}/<step>\")",
                entry.workflow_id
            ),
        });
    }
    let count = entry.postings.len();
    if count < 2 {
        return Err(Rejection::TooFewPostings { count });
    }
    if count > MAX_POSTINGS_PER_ENTRY {
        return Err(Rejection::TooManyPostings {
            count,
            max: MAX_POSTINGS_PER_ENTRY,
        });
    }
    let mut seen = Vec::with_capacity(count);
    for (leg, posting) in entry.postings.iter().enumerate() {
        if posting.amount.is_zero() {
            return Err(Rejection::ZeroAmount { leg });
        }
        if seen.contains(&posting.account_id) {
            return Err(Rejection::DuplicateAccount {
                account: posting.account_id,
            });
        }
        seen.push(posting.account_id);
    }
    Ok(())
}

fn check_text(field: &'static str, value: &str, max_len: usize) -> Result<(), Rejection> {
    let reason = if value.trim().is_empty() {
        "must not be empty"
    } else if value.chars().count() > max_len {
        "is too long"
    } else if value.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(Rejection::InvalidField {
        field,
        reason: format!("{reason} (at most {max_len} characters)"),
    })
}

fn digest_entry(entry: &NewEntry) -> Hash {
    content_digest(
        &EntryContent {
            idempotency_key: &entry.idempotency_key,
            kind: &entry.kind,
            process: &entry.process,
            workflow_id: &entry.workflow_id,
            effective_date: entry.effective_date,
            metadata: &entry.metadata,
        },
        entry.postings.iter().map(|p| (p.account_id, p.amount)),
    )
}

/// For each entry, the index of the first entry in the batch with the same key. A repeated key
/// with different content rejects the batch.
fn first_index_of_each_key(
    entries: &[NewEntry],
    digests: &[Hash],
) -> Result<Vec<usize>, LedgerError> {
    let mut first_by_key: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    let mut first_of_key = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let first = *first_by_key
            .entry(entry.idempotency_key.as_str())
            .or_insert(index);
        if digests[first] != digests[index] {
            return Err(batch_rejection(
                entries,
                index,
                Rejection::InvalidField {
                    field: "idempotency_key",
                    reason: format!("repeats entry {first} of this batch with different content"),
                },
            ));
        }
        first_of_key.push(first);
    }
    Ok(first_of_key)
}

fn unique_entries(first_of_key: &[usize]) -> impl Iterator<Item = usize> + '_ {
    first_of_key
        .iter()
        .enumerate()
        .filter(|(index, first)| index == *first)
        .map(|(index, _)| index)
}

fn entry_accounts(entry: &NewEntry) -> impl Iterator<Item = AccountId> + '_ {
    entry.postings.iter().map(|p| p.account_id)
}

async fn find_existing(
    conn: &mut PgConnection,
    keys: &[&str],
) -> Result<HashMap<String, Original>, sqlx::Error> {
    let rows: Vec<(String, i64, Vec<u8>)> = sqlx::query_as(
        "select idempotency_key, entry_id, content_digest from journal_entry
         where idempotency_key = any($1)",
    )
    .bind(keys)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key, entry_id, content_digest)| {
            (
                key,
                Original {
                    entry_id,
                    content_digest,
                },
            )
        })
        .collect())
}

/// Locks the balance rows of `accounts` in account-id order and reads them with their assets.
/// Accounts that do not exist are absent (and rejected by [`validate_entry`]).
async fn lock_accounts(
    conn: &mut PgConnection,
    accounts: &[AccountId],
) -> Result<HashMap<AccountId, AccountState>, sqlx::Error> {
    let mut ids: Vec<i64> = accounts.iter().map(|a| a.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<AccountRow> = sqlx::query_as(
        "select b.account_id, b.amount, b.may_go_negative, a.asset_code, s.scale
         from balance b
         join account a on a.account_id = b.account_id
         join asset s on s.asset_code = a.asset_code
         where b.account_id = any($1)
         order by b.account_id
         for update of b",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(account_states(rows))
}

/// A balance row with its account's asset, as the statements here read it.
type AccountRow = (i64, Decimal, bool, String, i16);

fn account_states(rows: Vec<AccountRow>) -> HashMap<AccountId, AccountState> {
    rows.into_iter()
        .map(
            |(account_id, balance, may_go_negative, asset_code, scale)| {
                (
                    AccountId(account_id),
                    AccountState {
                        asset_code,
                        scale: u32::try_from(scale).unwrap_or(0),
                        may_go_negative,
                        balance,
                    },
                )
            },
        )
        .collect()
}

fn validate_entries(
    entries: &[NewEntry],
    to_write: &[usize],
    accounts: &HashMap<AccountId, AccountState>,
) -> Result<Vec<Vec<Decimal>>, LedgerError> {
    to_write
        .iter()
        .map(|&index| {
            validate_entry(&entries[index], accounts)
                .map_err(|reason| batch_rejection(entries, index, reason))
        })
        .collect()
}

/// Checks an entry against its accounts: they exist, no amount is finer than its asset allows,
/// and the legs of each asset sum to zero. Returns the leg amounts at each asset's scale.
fn validate_entry(
    entry: &NewEntry,
    accounts: &HashMap<AccountId, AccountState>,
) -> Result<Vec<Decimal>, Rejection> {
    let mut amounts = Vec::with_capacity(entry.postings.len());
    let mut sums: BTreeMap<&str, Decimal> = BTreeMap::new();
    for (leg, posting) in entry.postings.iter().enumerate() {
        let account = accounts
            .get(&posting.account_id)
            .ok_or(Rejection::UnknownAccount {
                account: posting.account_id,
            })?;
        if posting.amount.normalize().scale() > account.scale {
            return Err(Rejection::TooManyDecimals {
                leg,
                amount: posting.amount,
                asset: account.asset_code.clone(),
                scale: account.scale,
            });
        }
        let mut amount = posting.amount;
        amount.rescale(account.scale);
        amounts.push(amount);
        let sum = sums.entry(account.asset_code.as_str()).or_default();
        *sum = sum.checked_add(amount).ok_or(Rejection::Overflow)?;
    }
    match sums.into_iter().find(|(_, sum)| !sum.is_zero()) {
        Some((asset, sum)) => Err(Rejection::Unbalanced {
            asset: asset.to_owned(),
            sum,
        }),
        None => Ok(amounts),
    }
}

/// Moves the running balances by one validated entry, refusing it if an account that may not
/// go negative would.
fn apply_to_balances(
    entry: &NewEntry,
    amounts: &[Decimal],
    accounts: &mut HashMap<AccountId, AccountState>,
) -> Result<(), Rejection> {
    let mut new_balances = Vec::with_capacity(amounts.len());
    for (posting, amount) in entry.postings.iter().zip(amounts) {
        let account = &accounts[&posting.account_id];
        let balance = account
            .balance
            .checked_add(*amount)
            .ok_or(Rejection::Overflow)?;
        if balance.is_sign_negative() && !account.may_go_negative {
            return Err(Rejection::Overdraft {
                account: posting.account_id,
                balance: account.balance,
                change: *amount,
            });
        }
        new_balances.push(balance);
    }
    for (posting, balance) in entry.postings.iter().zip(new_balances) {
        if let Some(account) = accounts.get_mut(&posting.account_id) {
            account.balance = balance;
        }
    }
    Ok(())
}

/// Applies a batch's entries in order from the accounts' starting balances; the first that
/// would overdraw an account rejects the batch.
fn check_overdrafts(
    entries: &[NewEntry],
    to_write: &[usize],
    amounts: &[Vec<Decimal>],
    accounts: &mut HashMap<AccountId, AccountState>,
) -> Result<(), LedgerError> {
    for (&index, entry_amounts) in to_write.iter().zip(amounts) {
        apply_to_balances(&entries[index], entry_amounts, accounts)
            .map_err(|reason| batch_rejection(entries, index, reason))?;
    }
    Ok(())
}

/// What the batch changes on each account, in account-id order. Amounts are summed as given:
/// their scale is checked later, and rescaling never changes a value.
fn sum_deltas(
    entries: &[NewEntry],
    to_write: &[usize],
) -> Result<Vec<(i64, Decimal)>, LedgerError> {
    let mut deltas: BTreeMap<i64, Decimal> = BTreeMap::new();
    for &index in to_write {
        for posting in &entries[index].postings {
            let delta = deltas.entry(posting.account_id.0).or_default();
            *delta = delta
                .checked_add(posting.amount)
                .ok_or_else(|| batch_rejection(entries, index, Rejection::Overflow))?;
        }
    }
    Ok(deltas
        .into_iter()
        .filter(|(_, delta)| !delta.is_zero())
        .collect())
}

/// Locks the chain head. Every writer takes it last and holds it to commit, which makes entry
/// ids gapless and the chain a total order.
async fn lock_head(conn: &mut PgConnection) -> Result<Head, sqlx::Error> {
    let (last_entry_id, last_hash, recorded_at): (i64, Vec<u8>, DateTime<Utc>) = sqlx::query_as(
        "select last_entry_id, last_hash, greatest(clock_timestamp(), last_recorded_at)
         from journal_head for update",
    )
    .fetch_one(conn)
    .await?;
    let last_hash = hash_from_db(&last_hash).ok_or_else(|| {
        sqlx::Error::Protocol("journal_head.last_hash is not 32 bytes".to_owned())
    })?;
    // Hash and store the same microsecond-precision time.
    let recorded_at =
        DateTime::from_timestamp_micros(recorded_at.timestamp_micros()).unwrap_or(recorded_at);
    Ok(Head {
        last_entry_id,
        last_hash,
        recorded_at,
    })
}

fn seal(head: &Head, to_write: &[usize], digests: &[Hash]) -> Vec<Seal> {
    let mut prev_hash = head.last_hash;
    let mut entry_id = head.last_entry_id;
    to_write
        .iter()
        .map(|&index| {
            entry_id += 1;
            let entry_hash = chain_hash(&prev_hash, entry_id, head.recorded_at, &digests[index]);
            let seal = Seal {
                entry_id,
                prev_hash,
                entry_hash,
            };
            prev_hash = entry_hash;
            seal
        })
        .collect()
}

async fn write_entries(
    tx: &mut Transaction<'_, Postgres>,
    entries: &[NewEntry],
    digests: &[Hash],
    to_write: &[usize],
    sealed: &[Seal],
    recorded_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let recorded_at = recorded_at.to_rfc3339();
    copy_rows(
        tx,
        "copy journal_entry (entry_id, idempotency_key, kind, process, workflow_id,
             effective_date, recorded_at, metadata, content_digest, prev_hash, entry_hash)
         from stdin",
        0..to_write.len(),
        |row, n| {
            let (entry, seal) = (&entries[to_write[n]], &sealed[n]);
            let metadata = serde_json::to_string(&entry.metadata).unwrap_or_default();
            row.plain(seal.entry_id)
                .text(&entry.idempotency_key)
                .text(&entry.kind)
                .text(&entry.process)
                .text(&entry.workflow_id)
                .plain(entry.effective_date)
                .plain(&recorded_at)
                .text(&metadata)
                .bytea(&digests[to_write[n]])
                .bytea(&seal.prev_hash)
                .bytea(&seal.entry_hash);
        },
    )
    .await
}

async fn write_postings(
    tx: &mut Transaction<'_, Postgres>,
    entries: &[NewEntry],
    to_write: &[usize],
    sealed: &[Seal],
    amounts: &[Vec<Decimal>],
) -> Result<u64, sqlx::Error> {
    // Flattened eagerly: an iterator of closures held across the COPY's awaits would make this
    // future not `Send`.
    let mut legs = Vec::with_capacity(to_write.len() * 2);
    for ((&index, seal), entry_amounts) in to_write.iter().zip(sealed).zip(amounts) {
        for (leg, (posting, amount)) in entries[index]
            .postings
            .iter()
            .zip(entry_amounts)
            .enumerate()
        {
            legs.push((seal.entry_id, leg, posting.account_id, *amount));
        }
    }
    copy_rows(
        tx,
        "copy posting (entry_id, leg, account_id, amount) from stdin",
        legs,
        |row, (entry_id, leg, account_id, amount)| {
            row.plain(entry_id)
                .plain(leg)
                .plain(account_id)
                .plain(amount);
        },
    )
    .await
}

/// Moves every touched balance by what the batch changed, in one statement, and returns each
/// account as it was just before (read under the row lock the UPDATE takes).
async fn write_balances(
    tx: &mut Transaction<'_, Postgres>,
    deltas: &[(i64, Decimal)],
) -> Result<HashMap<AccountId, AccountState>, sqlx::Error> {
    let (ids, amounts): (Vec<i64>, Vec<Decimal>) = deltas.iter().copied().unzip();
    let rows: Vec<AccountRow> = sqlx::query_as(
        "update balance set amount = balance.amount + change.delta
         from unnest($1::bigint[], $2::numeric[]) as change (account_id, delta),
              account a, asset s
         where balance.account_id = change.account_id
           and a.account_id = change.account_id and s.asset_code = a.asset_code
         returning balance.account_id, balance.amount - change.delta, balance.may_go_negative,
                   a.asset_code, s.scale",
    )
    .bind(&ids)
    .bind(&amounts)
    .fetch_all(&mut **tx)
    .await?;
    Ok(account_states(rows))
}

/// True when the database's own guard refused a balance below zero: the optimistic bulk path
/// then retries carefully to find and name the entry responsible.
pub(crate) fn hit_overdraft_guard(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.constraint() == Some("balance_not_negative"))
}

/// True when a write failed only because a concurrent writer got there first, so running it
/// again (which re-reads everything) is safe and may succeed: the same idempotency key posted
/// concurrently, a deadlock or a serialization failure.
pub fn lost_race(error: &sqlx::Error) -> bool {
    const UNIQUE_VIOLATION: &str = "23505";
    const SERIALIZATION_FAILURE: &str = "40001";
    const DEADLOCK_DETECTED: &str = "40P01";
    let Some(db_error) = error.as_database_error() else {
        return false;
    };
    match db_error.code().as_deref() {
        Some(UNIQUE_VIOLATION) => {
            db_error.constraint() == Some("journal_entry_idempotency_key_key")
        }
        Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED) => true,
        _ => false,
    }
}
