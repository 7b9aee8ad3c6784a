//! Benchmark of the ledger's whole-journal checks at scale: `verify` (the hash chain) and
//! `check_invariants` (invariants 1–3). Run it in release mode against the dev stack:
//!
//! ```text
//! cargo run --release -p acme-ledger --example verify_bench -- [ENTRIES] [BATCH] [keep]
//! ```
//!
//! It creates a fresh database, loads ENTRIES (default 200,000) two-leg entries (bank → one of
//! 100,000 member accounts) through the ledger's own bulk path, `post_batch`, BATCH (default
//! 100,000) per call, so every digest and chain link is real, then ANALYZEs (as a bulk step
//! should: this stack runs with autovacuum off). It then starts itself again as a fresh process
//! that only measures, so the peak RSS printed (VmHWM) is the checks' own and not the loader's:
//! - a baseline: a plain server-side scan of the same rows (`count(*)` and a `sum` over
//!   every journal entry and every posting);
//! - `verify`, then `check_invariants`, each with its entries/s and the process's peak RSS.
//!
//! The database is dropped at the end, unless `keep` is given (to try `acme ledger verify` on
//! it by hand; then drop it with `drop database <name>` as the owning role).

// Rates and ratios of timings are measurements, not money: floats are right here.
#![allow(clippy::float_arithmetic)]

mod support;

use std::time::Instant;

use acme_ledger::testkit::TestDatabase;
use acme_ledger::{Ledger, NewEntry};
use anyhow::Context as _;
use rust_decimal::Decimal;
use sqlx::postgres::PgPoolOptions;
use support::MEMBERS;
/// The argument that makes the program measure an existing database instead of building one.
const MEASURE: &str = "measure";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, url] = args.as_slice()
        && mode == MEASURE
    {
        return measure(url).await;
    }
    let entries = args
        .first()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let batch = args
        .get(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let keep = args.get(2).is_some_and(|a| a == "keep");
    let db = TestDatabase::create(2)
        .await
        .context("create the benchmark database (is the stack up? ops/stack up)")?;
    println!("database {}", db.name);
    let result = build_and_measure(&db, entries, batch).await;
    if keep {
        println!("kept database {} (drop it when done)", db.name);
    } else {
        db.drop_database().await?;
    }
    result
}

async fn build_and_measure(db: &TestDatabase, entries: usize, batch: usize) -> anyhow::Result<()> {
    load(&db.ledger, entries, batch).await?;
    let started = Instant::now();
    let mut owner = db.owner_connection().await?;
    sqlx::query("analyze").execute(&mut owner).await?;
    let (journal, posting): (String, String) = sqlx::query_as(
        "select pg_size_pretty(pg_total_relation_size('journal_entry')),
                pg_size_pretty(pg_total_relation_size('posting'))",
    )
    .fetch_one(&mut owner)
    .await?;
    println!(
        "analyze: {:.1}s; journal_entry {journal}, posting {posting} (with indexes)",
        started.elapsed().as_secs_f64()
    );
    // A fresh process, so that its peak RSS is the checks' alone.
    let status = std::process::Command::new(std::env::current_exe()?)
        .args([MEASURE, &db.app_url()])
        .status()?;
    anyhow::ensure!(status.success(), "the measuring process failed: {status}");
    Ok(())
}

async fn load(ledger: &Ledger, entries: usize, batch: usize) -> anyhow::Result<()> {
    let (bank, members) = support::open_books(ledger).await?;
    let started = Instant::now();
    let mut written = 0;
    while written < entries {
        let size = batch.min(entries - written);
        let chunk: Vec<NewEntry> = (written..written + size)
            .map(|n| support::deposit("verify-bench", n, bank, members[n % MEMBERS]))
            .collect();
        ledger.post_batch(&chunk).await?;
        written += size;
        if written % 1_000_000 == 0 || written == entries {
            println!(
                "load: {written} entries in {:.0}s ({:.0} entries/s)",
                started.elapsed().as_secs_f64(),
                written as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// In the fresh process: the baseline scan, then the two checks, each with the peak RSS so far.
async fn measure(url: &str) -> anyhow::Result<()> {
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    let ledger = Ledger::new(pool.clone());
    println!("measuring process: peak RSS at start {}", peak_rss()?);

    let started = Instant::now();
    let (entries, key_bytes): (i64, Option<i64>) = sqlx::query_as(
        "select count(*), sum(length(idempotency_key) + length(entry_hash)) from journal_entry",
    )
    .fetch_one(&pool)
    .await?;
    let (postings, total): (i64, Option<Decimal>) =
        sqlx::query_as("select count(*), sum(amount) from posting")
            .fetch_one(&pool)
            .await?;
    let baseline = started.elapsed().as_secs_f64();
    let baseline_rate = entries as f64 / baseline;
    println!(
        "baseline scan: {entries} entries ({} key and hash bytes), {postings} postings (sum {}) in {baseline:.1}s = {baseline_rate:.0} entries/s",
        key_bytes.unwrap_or(0),
        total.unwrap_or_default()
    );

    let started = Instant::now();
    let chain = ledger.verify().await?;
    let seconds = started.elapsed().as_secs_f64();
    let rate = chain.entries_checked as f64 / seconds;
    println!(
        "verify: {} entries in {seconds:.1}s = {rate:.0} entries/s ({:.0}% of the baseline scan); peak RSS {}",
        chain.entries_checked,
        100.0 * rate / baseline_rate,
        peak_rss()?
    );
    anyhow::ensure!(chain.is_sound(), "chain unsound: {:?}", chain.first_break);

    let started = Instant::now();
    let report = ledger.check_invariants().await?;
    let seconds = started.elapsed().as_secs_f64();
    let rate = entries as f64 / seconds;
    println!(
        "check_invariants: {entries} entries, {postings} postings in {seconds:.1}s = {rate:.0} entries/s ({:.0}% of the baseline scan); peak RSS {}",
        100.0 * rate / baseline_rate,
        peak_rss()?
    );
    anyhow::ensure!(report.holds(), "invariants violated: {report:#?}");
    Ok(())
}

/// This process's peak resident set size, as the kernel reports it.
fn peak_rss() -> anyhow::Result<String> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?;
    Ok(line.trim_start_matches("VmHWM:").trim().to_owned())
}
