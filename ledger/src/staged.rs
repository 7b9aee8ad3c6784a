//! The set-based posting path, for bulk steps that post hundreds of thousands of entries: the
//! caller stages entries and postings with its own `INSERT … SELECT` into two temporary tables,
//! inside its own transaction, and [`seal`] checks, digests, chains and writes them in a fixed
//! handful of statements, however many there are. No entry crosses the wire (ADR 15).
//!
//! The staging tables ([`prepare`] creates them once per connection; they empty at every
//! commit):
//! - `staged_entry (seq, idempotency_key, kind, process, workflow_id, effective_date, metadata)`:
//!   `seq` orders the entries in the chain; `metadata` is a JSON object of strings;
//! - `staged_posting (seq, leg, account_id, amount)`: `leg` orders an entry's postings (gaps
//!   are fine: a caller leaves zero legs out).
//!
//! The guarantees are `post_batch`'s: every entry is checked (shape, known accounts, decimals,
//! balanced per asset) before anything is written and a rejection names the first bad entry;
//! an idempotency key already in the journal with the same content is a replay and is skipped,
//! with other content it is refused; an account that may not go negative is judged entry by
//! entry in `seq` order; entries are numbered and hash-chained under the chain head lock, taken
//! after the balance rows. The content digest is computed by SQL in the encoding of
//! `digest.rs` (migration 0009), so `verify` checks these entries like any other, and a test
//! compares both encodings.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::model::{AccountId, EntryId};
use crate::posting::{
    MAX_IDEMPOTENCY_KEY_LEN, MAX_POSTINGS_PER_ENTRY, MAX_WORKFLOW_ID_LEN, hit_overdraft_guard,
    lost_race,
};
use crate::{LedgerError, Rejection};

/// What [`seal`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sealed {
    pub entries: u64,
    pub postings: u64,
    /// Staged entries whose key was already posted with the same content: not written again.
    pub replayed: u64,
}

/// Makes sure this connection has the staging tables. They are temporary (this connection's
/// own) and empty at the start of every transaction.
pub async fn prepare(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let exists: bool = sqlx::query_scalar("select to_regclass('pg_temp.staged_entry') is not null")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        // One statement each: `raw_sql`'s future trips the compiler's Send check in callers.
        sqlx::query(
            r#"create temp table staged_entry (
                   seq bigint primary key,
                   idempotency_key text collate "C" not null unique,
                   kind text not null,
                   process text not null,
                   workflow_id text collate "C" not null,
                   effective_date date not null,
                   metadata jsonb not null default '{}',
                   digest bytea
               ) on commit delete rows"#,
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "create temp table staged_posting (
                 seq bigint not null,
                 leg smallint not null,
                 account_id bigint not null,
                 amount numeric not null
             ) on commit delete rows",
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Checks, chains and writes everything staged in this transaction, then empties the staging
/// tables. On a rejection nothing of the batch is written (the caller's own statements in the
/// transaction are left alone); the caller commits or rolls back.
pub async fn seal(conn: &mut PgConnection) -> Result<Sealed, LedgerError> {
    // Temporary tables have no statistics unless asked; every statement below joins them.
    sqlx::query("analyze staged_entry, staged_posting")
        .execute(&mut *conn)
        .await?;
    if let Some(problem) = first_problem(conn).await? {
        return Err(problem.into_error());
    }
    if let Some(overdraft) = first_overdraft(conn, true).await? {
        return Err(overdraft);
    }
    // Content digests depend on nothing shared: computed before the balances move and the
    // chain head is locked, so no other writer waits for them.
    sqlx::query(&format!(
        "with {STAGED_DIGESTS} update staged_entry e set digest = d.digest
         from staged_digest d where d.seq = e.seq"
    ))
    .execute(&mut *conn)
    .await?;
    sqlx::query("savepoint ledger_seal")
        .execute(&mut *conn)
        .await?;
    let mut replayed = 0;
    loop {
        match write(conn).await {
            Ok(mut sealed) => {
                sqlx::query("release savepoint ledger_seal")
                    .execute(&mut *conn)
                    .await?;
                sealed.replayed = replayed;
                acme_sdk::metrics::ledger_written(
                    "staged",
                    usize::try_from(sealed.entries).unwrap_or(usize::MAX),
                    usize::try_from(sealed.postings).unwrap_or(usize::MAX),
                );
                return Ok(sealed);
            }
            Err(error) => {
                sqlx::query("rollback to savepoint ledger_seal")
                    .execute(&mut *conn)
                    .await?;
                if hit_overdraft_guard(&error) {
                    return Err(first_overdraft(conn, false).await?.unwrap_or(error.into()));
                }
                if replayed > 0 || !lost_race(&error) {
                    return Err(error.into());
                }
                // Some keys are in the journal already: skip the replays, refuse a conflict.
                replayed = drop_replays(conn).await?;
                if replayed == 0 {
                    return Err(error.into());
                }
            }
        }
    }
}

/// The content digest of every staged entry, as `digest::content_digest` computes it; [`seal`]
/// stores it in `staged_entry.digest`.
const STAGED_DIGESTS: &str = r#"
    staged_digest as (
        select e.seq, sha256(
            ledger_digest_field('acme-ledger-entry-v1')
            || ledger_digest_field(e.idempotency_key) || ledger_digest_field(e.kind)
            || ledger_digest_field(e.process) || ledger_digest_field(e.workflow_id)
            || ledger_digest_field(to_char(e.effective_date, 'YYYY-MM-DD'))
            || m.bytes || p.bytes) as digest
        from staged_entry e
        cross join lateral (
            select int8send(count(*)) || coalesce(string_agg(
                       ledger_digest_field(key) || ledger_digest_field(value), ''::bytea
                       order by key collate "C"), ''::bytea) as bytes
            from jsonb_each_text(e.metadata)) m
        join (
            select seq, int8send(count(*)) || string_agg(
                       int8send(account_id) || ledger_digest_field(trim_scale(amount)::text),
                       ''::bytea order by leg) as bytes
            from staged_posting group by seq) p on p.seq = e.seq)"#;

/// Moves the balances, then numbers, chains and writes the entries and postings.
async fn write(conn: &mut PgConnection) -> Result<Sealed, sqlx::Error> {
    // The UPDATEs take the balance rows' locks; the database's own guard refuses an overdraft.
    // Accounts only one staged entry moves (members' own) go first; accounts many entries move
    // (the house's, which other writers share) go last, so that their locks
    // are held only for the chaining that follows.
    for shared in [false, true] {
        sqlx::query(
            "update balance b set amount = b.amount + d.delta
             from (select account_id, sum(amount) as delta from staged_posting
                   group by account_id having (count(*) > 1) = $1) d
             where b.account_id = d.account_id",
        )
        .bind(shared)
        .execute(&mut *conn)
        .await?;
    }
    let (last_entry_id, last_hash, recorded_at): (i64, Vec<u8>, DateTime<Utc>) = sqlx::query_as(
        "select last_entry_id, last_hash, greatest(clock_timestamp(), last_recorded_at)
         from journal_head for update",
    )
    .fetch_one(&mut *conn)
    .await?;
    let entries = sqlx::query(
        "with numbered as (
             select e.*, $1 + row_number() over (order by e.seq) as entry_id
             from staged_entry e),
         chained as (
             select n.*, ledger_chain($2, n.entry_id, $4, n.digest) over (order by n.seq) as hash
             from numbered n)
         insert into journal_entry (entry_id, idempotency_key, kind, process, workflow_id,
             effective_date, recorded_at, metadata, content_digest, prev_hash, entry_hash)
         select entry_id, idempotency_key, kind, process, workflow_id, effective_date, $3,
                metadata, digest, coalesce(lag(hash) over (order by seq), $2), hash
         from chained order by seq",
    )
    .bind(last_entry_id)
    .bind(&last_hash)
    .bind(recorded_at)
    .bind(recorded_at.timestamp_micros())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let postings = sqlx::query(
        "insert into posting (entry_id, leg, account_id, amount)
         select n.entry_id, (row_number() over (partition by p.seq order by p.leg) - 1)::smallint,
                p.account_id, p.amount
         from staged_posting p
         join (select seq, $1 + row_number() over (order by seq) as entry_id
               from staged_entry) n on n.seq = p.seq",
    )
    .bind(last_entry_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if entries > 0 {
        let last = last_entry_id + i64::try_from(entries).unwrap_or(i64::MAX);
        sqlx::query(
            "update journal_head set last_entry_id = $1, last_recorded_at = $2,
                 last_hash = (select entry_hash from journal_entry where entry_id = $1)",
        )
        .bind(last)
        .bind(recorded_at)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("truncate staged_entry, staged_posting")
        .execute(&mut *conn)
        .await?;
    Ok(Sealed {
        entries,
        postings,
        replayed: 0,
    })
}

/// Removes from the staging tables every entry whose key was already posted with the same
/// content; a key posted with other content refuses the batch. Returns how many were removed.
async fn drop_replays(conn: &mut PgConnection) -> Result<u64, LedgerError> {
    let conflict: Option<(i64, String, i64)> = sqlx::query_as(
        "select e.seq, e.idempotency_key, j.entry_id
         from staged_entry e
         join journal_entry j on j.idempotency_key = e.idempotency_key
         where j.content_digest <> e.digest
         order by e.seq limit 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((seq, key, existing)) = conflict {
        return Err(LedgerError::BatchRejected {
            index: index_of(seq),
            key,
            reason: Rejection::IdempotencyConflict {
                existing: EntryId(existing),
            },
        });
    }
    let removed: i64 = sqlx::query_scalar(
        "with replays as (
             delete from staged_entry e using journal_entry j
             where j.idempotency_key = e.idempotency_key
             returning e.seq),
         their_postings as (delete from staged_posting p using replays r where p.seq = r.seq)
         select count(*) from replays",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(u64::try_from(removed).unwrap_or(0))
}

/// The first staged entry that cannot be posted as it stands, and why.
#[derive(Debug, sqlx::FromRow)]
struct Problem {
    seq: i64,
    key: String,
    problem: String,
    field: Option<String>,
    leg: Option<i64>,
    account_id: Option<i64>,
    amount: Option<Decimal>,
    asset: Option<String>,
    scale: Option<i16>,
    count: Option<i64>,
}

impl Problem {
    fn into_error(self) -> LedgerError {
        let leg = usize::try_from(self.leg.unwrap_or(0)).unwrap_or(0);
        let account = AccountId(self.account_id.unwrap_or(0));
        let count = usize::try_from(self.count.unwrap_or(0)).unwrap_or(0);
        let reason = match self.problem.as_str() {
            "posting_count" if count < 2 => Rejection::TooFewPostings { count },
            "posting_count" => Rejection::TooManyPostings {
                count,
                max: MAX_POSTINGS_PER_ENTRY,
            },
            "zero_amount" => Rejection::ZeroAmount { leg },
            "duplicate_account" => Rejection::DuplicateAccount { account },
            "unknown_account" => Rejection::UnknownAccount { account },
            "too_many_decimals" => Rejection::TooManyDecimals {
                leg,
                amount: self.amount.unwrap_or_default(),
                asset: self.asset.unwrap_or_default(),
                scale: u32::try_from(self.scale.unwrap_or(0)).unwrap_or(0),
            },
            "unbalanced" => Rejection::Unbalanced {
                asset: self.asset.unwrap_or_default(),
                sum: self.amount.unwrap_or_default(),
            },
            _ => Rejection::InvalidField {
                field: field_name(self.field.as_deref()),
                reason: self.problem,
            },
        };
        LedgerError::BatchRejected {
            index: index_of(self.seq),
            key: self.key,
            reason,
        }
    }
}

/// The fields a staged entry's text checks name, as `'static` for [`Rejection::InvalidField`].
fn field_name(field: Option<&str>) -> &'static str {
    match field {
        Some("idempotency_key") => "idempotency_key",
        Some("kind") => "kind",
        Some("process") => "process",
        Some("workflow_id") => "workflow_id",
        _ => "metadata",
    }
}

fn index_of(seq: i64) -> usize {
    usize::try_from(seq).unwrap_or(0)
}

/// Every check `post_batch` makes of an entry before it touches a balance, set-based: the first
/// failing entry (lowest `seq`) and its first failing check.
async fn first_problem(conn: &mut PgConnection) -> Result<Option<Problem>, sqlx::Error> {
    sqlx::query_as(
        r"with texts as (
             select e.seq, t.field, t.value, t.max_len
             from staged_entry e
             cross join lateral (values
                 ('idempotency_key', e.idempotency_key, $1::int),
                 ('kind', e.kind, 100), ('process', e.process, 100),
                 ('workflow_id', e.workflow_id, $2::int)) as t (field, value, max_len)),
         legs as (
             select p.seq, p.leg, p.account_id, p.amount, a.asset_code, s.scale,
                    row_number() over (partition by p.seq order by p.leg) - 1 as position,
                    count(*) over (partition by p.seq, p.account_id) as uses
             from staged_posting p
             left join account a on a.account_id = p.account_id
             left join asset s on s.asset_code = a.asset_code),
         problems as (
             select seq, 'must not be empty' as problem, field, null::bigint as leg,
                    null::bigint as account_id, null::numeric as amount, null::text as asset,
                    null::smallint as scale, null::bigint as count
             from texts where btrim(value) = ''
             union all
             select seq, 'is too long (at most ' || max_len || ' characters)', field,
                    null, null, null, null, null, null
             from texts where char_length(value) > max_len
             union all
             select seq, 'must not contain control characters', field,
                    null, null, null, null, null, null
             from texts where value ~ '[[:cntrl:]]'
             union all
             select seq, 'must be the workflow id, ''/'', and a step', 'idempotency_key',
                    null, null, null, null, null, null
             from staged_entry
             where not starts_with(idempotency_key, workflow_id || '/')
                or char_length(idempotency_key) <= char_length(workflow_id) + 1
             union all
             select seq, 'must be a JSON object of strings', 'metadata',
                    null, null, null, null, null, null
             from staged_entry
             where jsonb_typeof(metadata) <> 'object'
                or exists (select 1 from jsonb_each(metadata) m
                           where jsonb_typeof(m.value) <> 'string')
             union all
             select e.seq, 'posting_count', null, null, null, null, null, null, count(p.seq)
             from staged_entry e left join staged_posting p on p.seq = e.seq
             group by e.seq having count(p.seq) < 2 or count(p.seq) > $3
             union all
             select seq, 'zero_amount', null, position, account_id, amount, null, null, null
             from legs where amount = 0
             union all
             select seq, 'duplicate_account', null, position, account_id, amount, null, null,
                    null
             from legs where uses > 1
             union all
             select seq, 'unknown_account', null, position, account_id, amount, null, null, null
             from legs where asset_code is null
             union all
             select seq, 'too_many_decimals', null, position, account_id, amount, asset_code,
                    scale, null
             from legs where amount <> round(amount, scale)
             union all
             select seq, 'unbalanced', null, null, null, sum(amount), asset_code, null, null
             from legs where asset_code is not null
             group by seq, asset_code having sum(amount) <> 0
             union all
             select seq, 'has no entry', 'seq', null, null, null, null, null, null
             from staged_posting
             where seq not in (select seq from staged_entry))
         select p.seq, coalesce(e.idempotency_key, '') as key, p.problem, p.field, p.leg,
                p.account_id, p.amount, p.asset, p.scale, p.count
         from problems p left join staged_entry e on e.seq = p.seq
         -- As `post_batch` judges an entry: its fields, then leg by leg, then the balance.
         order by p.seq, p.problem = 'unbalanced', p.leg nulls first limit 1",
    )
    .bind(i32::try_from(MAX_IDEMPOTENCY_KEY_LEN).unwrap_or(i32::MAX))
    .bind(i32::try_from(MAX_WORKFLOW_ID_LEN).unwrap_or(i32::MAX))
    .bind(i64::try_from(MAX_POSTINGS_PER_ENTRY).unwrap_or(i64::MAX))
    .fetch_optional(conn)
    .await
}

/// The first entry, in `seq` order, that takes an account that may not go negative below
/// zero, judged from the balances before the batch. With `repeated_only`, only accounts the
/// batch draws on more than once, whose rows it locks first: for the others, the database's
/// guard on the final balance is the same judgement, and costs nothing until it fires.
async fn first_overdraft(
    conn: &mut PgConnection,
    repeated_only: bool,
) -> Result<Option<LedgerError>, sqlx::Error> {
    let judged = if repeated_only {
        "(select r.account_id
          from (select account_id from staged_posting
                group by account_id having count(*) > 1 and min(amount) < 0) r
          join balance b on b.account_id = r.account_id and not b.may_go_negative)"
    } else {
        "(select distinct account_id from staged_posting where amount < 0)"
    };
    if repeated_only {
        sqlx::query(&format!(
            "select 1 from balance where account_id in {judged} order by account_id for update"
        ))
        .execute(&mut *conn)
        .await?;
    }
    let found: Option<(i64, String, i64, Decimal, Decimal)> = sqlx::query_as(&format!(
        "with moves as (
             select p.seq, p.account_id, p.amount,
                    sum(p.amount) over (partition by p.account_id order by p.seq) as moved
             from staged_posting p where p.account_id in {judged})
         select m.seq, e.idempotency_key, m.account_id, b.amount + m.moved - m.amount, m.amount
         from moves m
         join balance b on b.account_id = m.account_id
         join staged_entry e on e.seq = m.seq
         where not b.may_go_negative and b.amount + m.moved < 0
         order by m.seq limit 1"
    ))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.map(
        |(seq, key, account, balance, change)| LedgerError::BatchRejected {
            index: index_of(seq),
            key,
            reason: Rejection::Overdraft {
                account: AccountId(account),
                balance,
                change,
            },
        },
    ))
}

/// Stages entries built in Rust, `seq` numbering them from `first_seq` in order: for callers
/// whose entries are not the result of a query, and for tests comparing the two paths.
pub async fn stage(
    conn: &mut PgConnection,
    first_seq: i64,
    entries: &[crate::NewEntry],
) -> Result<(), sqlx::Error> {
    let seqs = (first_seq..).take(entries.len());
    let mut posting_seqs = Vec::new();
    let mut legs = Vec::new();
    let mut accounts = Vec::new();
    let mut amounts = Vec::new();
    for (seq, entry) in seqs.clone().zip(entries) {
        for (leg, posting) in (0_i16..).zip(&entry.postings) {
            posting_seqs.push(seq);
            legs.push(leg);
            accounts.push(posting.account_id.0);
            amounts.push(posting.amount);
        }
    }
    let metadata: Vec<serde_json::Value> = entries
        .iter()
        .map(|entry| serde_json::json!(entry.metadata))
        .collect();
    sqlx::query(
        "insert into staged_entry (seq, idempotency_key, kind, process, workflow_id,
             effective_date, metadata)
         select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
             $6::date[], $7::jsonb[])",
    )
    .bind(seqs.collect::<Vec<i64>>())
    .bind(
        entries
            .iter()
            .map(|e| e.idempotency_key.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(entries.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
    .bind(
        entries
            .iter()
            .map(|e| e.process.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        entries
            .iter()
            .map(|e| e.workflow_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(entries.iter().map(|e| e.effective_date).collect::<Vec<_>>())
    .bind(metadata)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into staged_posting (seq, leg, account_id, amount)
         select * from unnest($1::bigint[], $2::smallint[], $3::bigint[], $4::numeric[])",
    )
    .bind(posting_seqs)
    .bind(legs)
    .bind(accounts)
    .bind(amounts)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
