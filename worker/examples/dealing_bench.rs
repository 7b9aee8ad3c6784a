//! Dealing-cycle benchmark: N members (default 100,000) each with one pending buy over three
//! funds, dealt end to end through the real processes, the custodian simulator, the callback
//! ingress and a local Temporal server, with the time of each phase and the allocation's
//! postings per second against its physical limit: a raw COPY of as many posting rows into a
//! plain table with the same primary key, in the same run.
//!
//! ```text
//! ops/stack up && source .acme/env
//! cargo run --release -p acme-worker --example dealing_bench -- [MEMBERS]
//! ```
// A benchmark prints rates; the float arithmetic stays out of the platform's code.
#![allow(clippy::float_arithmetic, clippy::unwrap_used, dead_code)]

#[path = "../tests/e2e/dealing_support.rs"]
mod dealing_support;
#[path = "../tests/e2e/support.rs"]
mod support;

use std::time::{Duration, Instant};

use acme_activities::seeding;
use dealing_support::{Dealing, fixture_booking, member_seed, monday};
use temporalio_client::WorkflowGetResultOptions;

fn main() -> anyhow::Result<()> {
    let members: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
    tokio::runtime::Runtime::new()?.block_on(tokio::task::LocalSet::new().run_until(run(members)))
}

async fn run(members: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let dealing = Dealing::start(members, monday()).await;
    println!(
        "{members} members onboarded in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let ledger = dealing.ledger().clone();
    let started = Instant::now();
    // Member m-<i> buys £100.00 + i % 90,000 pence of fund i % 3, in chunks (flat memory).
    if let Some(last) = u64::try_from(members)?.checked_sub(1) {
        seeding::seed_buys(
            &ledger,
            &member_seed(last),
            &fixture_booking("bench"),
            |_, _| {},
        )
        .await?;
    }
    println!(
        "{members} buys booked (cash received and reserved, trades pending) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let worker = dealing.platform.spawn_worker("bench");

    let cycle = Instant::now();
    let handle = dealing.start_cycle(monday()).await;
    dealing.wait_until_none_in(monday(), "created").await;
    let closed = cycle.elapsed();
    dealing.advance_one_day().await;
    let priced_at = Instant::now();
    wait_for(
        &ledger,
        "select count(*) from member_trade where status = 'priced'",
        members,
    )
    .await;
    let allocated = priced_at.elapsed();
    dealing.advance_one_day().await;
    let settling = Instant::now();
    handle
        .get_result(WorkflowGetResultOptions::default())
        .await?;
    let settled = settling.elapsed();
    let total = cycle.elapsed();

    let (entries, postings): (i64, i64) = sqlx::query_as(
        "select count(distinct j.entry_id), count(*) from journal_entry j
         join posting p on p.entry_id = j.entry_id where j.kind = 'dealing.allocated'",
    )
    .fetch_one(ledger.pool())
    .await?;
    let baseline = raw_copy_seconds(&dealing, usize::try_from(postings)?).await?;
    let allocation_rate = postings as f64 / allocated.as_secs_f64();
    let copy_rate = postings as f64 / baseline;
    println!("dealing cycle for {members} members, 3 external trades:");
    println!(
        "  close the day and place 3 orders : {:>7.1}s",
        closed.as_secs_f64()
    );
    println!(
        "  priced → allocated to all pots   : {:>7.1}s  ({entries} entries, {postings} postings, {allocation_rate:.0} postings/s)",
        allocated.as_secs_f64()
    );
    println!(
        "  settled → units available, cash  : {:>7.1}s",
        settled.as_secs_f64()
    );
    println!(
        "  whole cycle                      : {:>7.1}s",
        total.as_secs_f64()
    );
    println!(
        "raw COPY baseline: {postings} posting rows in {baseline:.1}s = {copy_rate:.0} rows/s; allocation / raw COPY = {:.0}%",
        100.0 * allocation_rate / copy_rate
    );
    worker.stop().await;
    dealing.finish().await;
    Ok(())
}

async fn wait_for(ledger: &acme_ledger::Ledger, count_query: &str, expected: usize) {
    let expected = i64::try_from(expected).unwrap_or(i64::MAX);
    loop {
        let count: i64 = sqlx::query_scalar(count_query)
            .fetch_one(ledger.pool())
            .await
            .unwrap();
        if count >= expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// COPYs `rows` posting-shaped rows into a plain table with the posting table's primary key.
async fn raw_copy_seconds(dealing: &Dealing, rows: usize) -> anyhow::Result<f64> {
    let mut conn = dealing.platform.db.owner_connection().await?;
    sqlx::query("create table bench_posting (like posting including indexes)")
        .execute(&mut conn)
        .await?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("copy bench_posting (entry_id, leg, account_id, amount) from stdin")
        .await?;
    let mut text = String::new();
    for n in 0..rows {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}.{:02}\n",
            n / 5,
            n % 5,
            n,
            100 + n % 1_000,
            n % 100
        ));
        if text.len() > 4 << 20 {
            copy.send(text.as_bytes()).await?;
            text.clear();
        }
    }
    copy.send(text.as_bytes()).await?;
    copy.finish().await?;
    Ok(started.elapsed().as_secs_f64())
}
