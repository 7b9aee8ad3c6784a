//! Ledger write benchmark. Run it in release mode against the dev stack:
//!
//! ```text
//! cargo run --release -p acme-ledger --example ledger_bench -- [ENTRIES] [BATCH] [SINGLE]
//! ```
//!
//! In one fresh database and one run it measures:
//! - the bulk path: ENTRIES (default 1,000,000) two-leg entries through `post_batch`, BATCH
//!   (default 100,000) per call, against its physical limit: a raw COPY of the same rows (one
//!   entry row, two posting rows each) into plain tables of the same shape;
//! - the single path: SINGLE (default 10,000) entries through `post`, one writer and then eight,
//!   against a plain two-insert-two-update transaction on the same server.
//!
//! The machine is shared and noisy, so the ratios matter more than the absolute figures.

// Rates and ratios of timings are measurements, not money: floats are right here.
#![allow(clippy::float_arithmetic)]

mod support;

use std::time::Instant;

use acme_ledger::testkit::TestDatabase;
use acme_ledger::{AccountId, NewEntry};
use anyhow::Context as _;
use rust_decimal::Decimal;
use support::MEMBERS;
const SINGLE_WRITERS: u32 = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let entries = args.next().transpose()?.unwrap_or(1_000_000);
    let batch = args.next().transpose()?.unwrap_or(100_000);
    let single = args.next().transpose()?.unwrap_or(10_000);
    let db = TestDatabase::create(SINGLE_WRITERS + 2)
        .await
        .context("create the benchmark database (is the stack up? ops/stack up)")?;
    let result = run(&db, entries, batch, single).await;
    db.drop_database().await?;
    result
}

async fn run(db: &TestDatabase, entries: usize, batch: usize, single: usize) -> anyhow::Result<()> {
    let ledger = &db.ledger;
    let started = Instant::now();
    let (bank, members) = support::open_books(ledger).await?;
    println!(
        "setup: {MEMBERS} member pots and accounts opened in {:.2}s",
        started.elapsed().as_secs_f64()
    );

    // Bulk path.
    let started = Instant::now();
    let mut written = 0;
    while written < entries {
        let size = batch.min(entries - written);
        let chunk: Vec<NewEntry> = (written..written + size)
            .map(|n| deposit(n, bank, members[n % MEMBERS]))
            .collect();
        ledger.post_batch(&chunk).await?;
        written += size;
    }
    let bulk_seconds = started.elapsed().as_secs_f64();
    let bulk_rate = entries as f64 / bulk_seconds;

    let copy_seconds = raw_copy_baseline(db, entries, batch).await?;
    let copy_rate = entries as f64 / copy_seconds;
    println!(
        "post_batch: {entries} entries ({} rows) in {bulk_seconds:.2}s = {bulk_rate:.0} entries/s ({:.0} rows/s), batches of {batch}",
        entries * 3,
        bulk_rate * 3.0
    );
    println!(
        "raw COPY baseline: same {} rows into plain tables in {copy_seconds:.2}s = {copy_rate:.0} entries/s ({:.0} rows/s)",
        entries * 3,
        copy_rate * 3.0
    );
    println!(
        "bulk path / raw COPY = {:.0}% (goal >= 40%)",
        100.0 * bulk_rate / copy_rate
    );

    // Single path.
    let offset = entries;
    let started = Instant::now();
    for n in offset..offset + single {
        ledger.post(&deposit(n, bank, members[n % MEMBERS])).await?;
    }
    let one_writer = single as f64 / started.elapsed().as_secs_f64();
    let offset = offset + single;
    let started = Instant::now();
    let writers = (0..SINGLE_WRITERS).map(|w| {
        let ledger = ledger.clone();
        let members = members.clone();
        tokio::spawn(async move {
            for n in (offset + w as usize..offset + single).step_by(SINGLE_WRITERS as usize) {
                ledger.post(&deposit(n, bank, members[n % MEMBERS])).await?;
            }
            Ok::<_, acme_ledger::LedgerError>(())
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer??;
    }
    let eight_writers = single as f64 / started.elapsed().as_secs_f64();
    let plain = plain_transaction_baseline(db, single).await?;
    println!("post, 1 writer: {single} entries at {one_writer:.0} entries/s");
    println!("post, {SINGLE_WRITERS} writers: {single} entries at {eight_writers:.0} entries/s");
    println!("plain two-insert-two-update transaction baseline, 1 writer: {plain:.0} tx/s");
    println!(
        "post (1 writer) / baseline = {:.0}%",
        100.0 * one_writer / plain
    );

    let report = ledger.check_invariants().await?;
    let chain = ledger.verify().await?;
    anyhow::ensure!(
        report.holds() && chain.is_sound(),
        "ledger unsound after the benchmark"
    );
    println!(
        "invariants hold; chain of {} entries verified",
        chain.entries_checked
    );
    Ok(())
}

fn deposit(n: usize, bank: AccountId, member: AccountId) -> NewEntry {
    support::deposit("ledger-bench", n, bank, member)
}

/// COPYs the same rows the bulk path writes (one entry row and two posting rows per entry) into
/// plain tables of the journal's shape with only a primary key: the physical limit.
async fn raw_copy_baseline(db: &TestDatabase, entries: usize, batch: usize) -> anyhow::Result<f64> {
    let mut conn = db.owner_connection().await?;
    for statement in [
        "create table bench_entry (like journal_entry)",
        "alter table bench_entry add primary key (entry_id)",
        "create table bench_posting (like posting)",
        "alter table bench_posting add primary key (account_id, entry_id)",
    ] {
        sqlx::query(statement).execute(&mut conn).await?;
    }
    let hash = format!("\\\\x{}", "ab".repeat(32));
    let started = Instant::now();
    let mut written = 0;
    while written < entries {
        let size = batch.min(entries - written);
        let mut tx = sqlx::Connection::begin(&mut conn).await?;
        let mut rows = String::new();
        let mut copy = tx
            .copy_in_raw("copy bench_entry (entry_id, idempotency_key, kind, process, workflow_id, effective_date, recorded_at, metadata, content_digest, prev_hash, entry_hash) from stdin")
            .await?;
        for n in written..written + size {
            rows.push_str(&format!(
                "{n}\tledger-bench/{}/{n}\tcontribution.received\tledger-bench\tledger-bench/{}\t2026-11-20\t2026-11-22T00:00:00+00:00\t{{}}\t{hash}\t{hash}\t{hash}\n",
                n / 100_000,
                n / 100_000
            ));
            if rows.len() > 4 << 20 {
                copy.send(rows.as_bytes()).await?;
                rows.clear();
            }
        }
        copy.send(rows.as_bytes()).await?;
        copy.finish().await?;
        rows.clear();
        let mut copy = tx
            .copy_in_raw("copy bench_posting (entry_id, leg, account_id, amount) from stdin")
            .await?;
        for n in written..written + size {
            let amount = Decimal::new(i64::try_from(100 + n % 10_000).unwrap_or(100), 2);
            rows.push_str(&format!(
                "{n}\t0\t1\t{}\n{n}\t1\t{}\t{amount}\n",
                -amount,
                2 + n % MEMBERS
            ));
            if rows.len() > 4 << 20 {
                copy.send(rows.as_bytes()).await?;
                rows.clear();
            }
        }
        copy.send(rows.as_bytes()).await?;
        copy.finish().await?;
        tx.commit().await?;
        written += size;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// A plain transaction per entry: insert the entry, insert its two postings, update two
/// balances, commit. Run on copies of the tables so it competes for nothing.
async fn plain_transaction_baseline(db: &TestDatabase, count: usize) -> anyhow::Result<f64> {
    let mut conn = db.owner_connection().await?;
    for statement in [
        "create table plain_entry (like journal_entry)",
        "alter table plain_entry add primary key (entry_id)",
        "create table plain_posting (like posting)",
        "alter table plain_posting add primary key (account_id, entry_id)",
        "create table plain_balance (like balance)",
        "alter table plain_balance add primary key (account_id)",
        "insert into plain_balance select * from balance",
    ] {
        sqlx::query(statement).execute(&mut conn).await?;
    }
    let hash = vec![0xab_u8; 32];
    let started = Instant::now();
    for n in 0..count {
        let amount = Decimal::new(i64::try_from(100 + n % 10_000).unwrap_or(100), 2);
        let member = i64::try_from(2 + n % MEMBERS)?;
        let id = i64::try_from(n)?;
        let mut tx = sqlx::Connection::begin(&mut conn).await?;
        sqlx::query("insert into plain_entry values ($1, $2, 'contribution.received', 'ledger-bench', 'ledger-bench/0', '2026-11-20', now(), '{}', $3, $3, $3)")
            .bind(id).bind(format!("ledger-bench/0/plain-{n}")).bind(&hash).execute(&mut *tx).await?;
        sqlx::query("insert into plain_posting values ($1, 0, 1, $2), ($1, 1, $3, $4)")
            .bind(id)
            .bind(-amount)
            .bind(member)
            .bind(amount)
            .execute(&mut *tx)
            .await?;
        sqlx::query("update plain_balance set amount = amount + $2 where account_id = $1")
            .bind(1_i64)
            .bind(-amount)
            .execute(&mut *tx)
            .await?;
        sqlx::query("update plain_balance set amount = amount + $2 where account_id = $1")
            .bind(member)
            .bind(amount)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}
