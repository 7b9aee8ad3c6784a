//! Benchmark of seeding at scale: onboarding N members and booking a buy for each through
//! `acme_activities::seeding` (what `acme member seed --buys` runs), each against a baseline
//! measured in the same run on the same database. Run it in release mode against the dev stack:
//!
//! ```text
//! cargo run --release -p acme-activities --example seed_bench -- [MEMBERS] [CHUNK] [verify]
//! ```
//!
//! It creates a fresh database (dropped at the end), then:
//! - seeds MEMBERS (default 100,000) members in chunks of CHUNK (default 20,000);
//! - baseline: the same pot, account, balance and member rows inserted by plain
//!   `insert … select` over `generate_series`, chunk by chunk, into tables of the same shape with
//!   the same indexes and checks but no foreign keys or triggers;
//! - books one buy per member (two entries and a pending trade each);
//! - baseline: the same journal, posting, trade and trade history rows copied (`insert …
//!   select` of the rows just written, one statement per table) into tables with the same
//!   indexes and checks;
//! - runs both seeds again (nothing to do: the time to find that out);
//! - with `verify`, runs the hash-chain check and the invariants over the whole journal.

// Rates and ratios of timings are measurements, not money: floats are right here.
#![allow(clippy::float_arithmetic)]

use std::time::Instant;

use acme_activities::members::ensure_reference_data;
use acme_activities::seeding::{Booking, Seed, seed_buys, seed_members};
use acme_ledger::testkit::TestDatabase;
use anyhow::Context as _;
use chrono::NaiveDate;
use sqlx::PgConnection;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let members: u64 = args
        .first()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let chunk: usize = args
        .get(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let verify = args.iter().any(|a| a == "verify");
    let db = TestDatabase::create(2)
        .await
        .context("create the benchmark database (is the stack up? ops/stack up)")?;
    println!("database {}", db.name);
    let result = run(&db, members, chunk, verify).await;
    db.drop_database().await?;
    result
}

async fn run(db: &TestDatabase, members: u64, chunk: usize, verify: bool) -> anyhow::Result<()> {
    let ledger = &db.ledger;
    ensure_reference_data(ledger).await?;
    let mut seed = Seed::new("member", members, Some("balanced"));
    seed.chunk = chunk;
    let booking = Booking {
        process: "seed".into(),
        tag: "bench".into(),
        effective_date: NaiveDate::from_ymd_opt(2026, 11, 23).context("a date")?,
    };
    let mut owner = db.owner_connection().await?;

    let started = Instant::now();
    let seeded = seed_members(ledger, &seed, |_, _| {}).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seed members: {} new members in {seconds:.1}s = {:.0} members/s",
        seeded.new,
        members as f64 / seconds
    );
    let baseline = raw_members_seconds(&mut owner, members, chunk).await?;
    println!(
        "baseline: the same rows by plain insert … select in {baseline:.1}s = {:.0} members/s; seeding / baseline = {:.0}%",
        members as f64 / baseline,
        100.0 * baseline / seconds
    );

    let started = Instant::now();
    let booked = seed_buys(ledger, &seed, &booking, |_, _| {}).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "book buys: {} buys ({} entries) in {seconds:.1}s = {:.0} buys/s",
        booked.new,
        2 * booked.new,
        members as f64 / seconds
    );
    let baseline = raw_buys_seconds(&mut owner).await?;
    println!(
        "baseline: the same journal, posting, trade and history rows by plain insert … select in {baseline:.1}s = {:.0} buys/s; booking / baseline = {:.0}%",
        members as f64 / baseline,
        100.0 * baseline / seconds
    );

    let started = Instant::now();
    let again = seed_members(ledger, &seed, |_, _| {}).await?;
    let again_buys = seed_buys(ledger, &seed, &booking, |_, _| {}).await?;
    println!(
        "again: {} new members, {} new buys, {} chunks skipped in {:.1}s",
        again.new,
        again_buys.new,
        again.skipped_chunks + again_buys.skipped_chunks,
        started.elapsed().as_secs_f64()
    );
    let (size,): (String,) =
        sqlx::query_as("select pg_size_pretty(pg_database_size(current_database()))")
            .fetch_one(&mut owner)
            .await?;
    println!("database size (with the baseline's copies): {size}");

    if verify {
        let started = Instant::now();
        let chain = ledger.verify().await?;
        anyhow::ensure!(chain.is_sound(), "the chain is broken: {chain:?}");
        let invariants = ledger.check_invariants().await?;
        anyhow::ensure!(invariants.holds(), "invariants fail: {invariants:?}");
        println!(
            "verify and invariants: {} entries, sound, in {:.1}s",
            chain.entries_checked,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Inserts the seed's rows again into look-alike tables (same columns, checks and indexes; no
/// foreign keys, no triggers), one transaction per chunk, and returns the seconds it took.
async fn raw_members_seconds(
    owner: &mut PgConnection,
    members: u64,
    chunk: usize,
) -> anyhow::Result<f64> {
    for table in ["pot", "account", "balance", "member"] {
        sqlx::query(&format!(
            "create table raw_{table} (like {table} including all)"
        ))
        .execute(&mut *owner)
        .await?;
    }
    let started = Instant::now();
    let step = u64::try_from(chunk)?;
    let mut first = 1;
    while first <= members {
        let last = members.min(first + step - 1);
        let (first_id, last_id) = (i64::try_from(first)?, i64::try_from(last)?);
        sqlx::query(
            "with new_pot as (
                 insert into raw_pot (owner_kind, owner_ref)
                 select 'member', 'member-' || n from generate_series($1::bigint, $2) as n
                 returning pot_id, owner_ref),
             new_account as (
                 insert into raw_account (pot_id, asset_code, purpose, may_go_negative)
                 select pot_id, 'GBP', purpose, false
                 from new_pot cross join (values ('available'), ('reserved')) as a (purpose)
                 returning account_id),
             new_balance as (
                 insert into raw_balance (account_id, amount, may_go_negative)
                 select account_id, 0, false from new_account)
             insert into raw_member (member_id, pot_id, portfolio_code)
             select owner_ref, pot_id, 'balanced' from new_pot",
        )
        .bind(first_id)
        .bind(last_id)
        .execute(&mut *owner)
        .await?;
        first = last + 1;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Copies the booked rows (every journal entry, posting, trade and trade history row: the
/// benchmark's database holds nothing else) into look-alike tables with the same indexes, one
/// `insert … select` per table, and returns the seconds it took.
async fn raw_buys_seconds(owner: &mut PgConnection) -> anyhow::Result<f64> {
    let tables = [
        "journal_entry",
        "posting",
        "member_trade",
        "trade_transition",
    ];
    for table in tables {
        sqlx::query(&format!(
            "create table raw_{table} (like {table} including all)"
        ))
        .execute(&mut *owner)
        .await?;
    }
    let started = Instant::now();
    for table in tables {
        sqlx::query(&format!("insert into raw_{table} select * from {table}"))
            .execute(&mut *owner)
            .await?;
    }
    Ok(started.elapsed().as_secs_f64())
}
