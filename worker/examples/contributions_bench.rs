//! Contribution benchmark: one employer's schedule of N rows (default 1,000,000; issue 15's
//! target is 5,000,000) for N onboarded members, through the real path: the file streamed in
//! (digest, stored as received, every row checked, set-based member checks, one transaction),
//! the employer's payment staged at the simulator's bank, then `invest-contributions` (bank
//! statement fetched and stored, payment matched, every row invested in bulk: an entry each and
//! buy trades split by the model portfolio, ready for the next dealing cycle), on a local
//! Temporal server with an in-process worker. The baseline, in the same run, is a raw `COPY` of
//! the same file into an unlogged table with no checks at all.
//!
//! ```text
//! ops/stack up && source .acme/env
//! cargo build --release -p acme-worker --example contributions_bench
//! target/release/examples/contributions_bench [ROWS]
//! ```
// A benchmark prints rates; the float arithmetic stays out of the platform's code.
#![allow(clippy::float_arithmetic, clippy::unwrap_used, dead_code)]

#[path = "../tests/e2e/dealing_support.rs"]
mod dealing_support;
#[path = "../tests/e2e/support.rs"]
mod support;

use std::time::Instant;

use acme_activities::contributions::import::{self, LIMITS, Upload};
use acme_sdk::EmployerId;
use acme_workflows::invest_contributions::{Input, InvestContributions};
use dealing_support::{Dealing, monday};
use tokio::io::{AsyncWriteExt as _, BufWriter};

fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    tokio::runtime::Runtime::new()?.block_on(tokio::task::LocalSet::new().run_until(run(rows)))
}

async fn run(rows: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let dealing = Dealing::start(rows, monday()).await;
    println!(
        "{rows} members onboarded in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let path = std::env::temp_dir().join(format!("contributions-bench-{rows}.csv"));
    let mut file = BufWriter::new(tokio::fs::File::create(&path).await?);
    file.write_all(b"member_id,employer_amount,member_amount,pay_period\n")
        .await?;
    for n in 0..rows {
        let line = format!(
            "m-{n},{}.{:02},{}.50,2026-11\n",
            100 + n % 400,
            n % 100,
            20 + n % 50
        );
        file.write_all(line.as_bytes()).await?;
    }
    file.flush().await?;
    let bytes = tokio::fs::metadata(&path).await?.len();
    let pool = dealing.ledger().pool().clone();

    let import_started = Instant::now();
    let upload = Upload {
        employer_id: EmployerId::parse("bench-employer").map_err(|e| anyhow::anyhow!("{e}"))?,
        file_name: "bench.csv".into(),
        today: monday(),
    };
    let imported =
        import::import(&pool, &upload, tokio::fs::File::open(&path).await?, LIMITS).await?;
    let import_seconds = import_started.elapsed().as_secs_f64();
    let schedule = imported.schedule;
    assert_eq!(usize::try_from(schedule.accepted)?, rows);

    let copy_seconds = raw_copy_seconds(&pool, &path).await?;

    let due = schedule.employer_total + schedule.member_total;
    // Booked on the date the workflow asks the bank's statement for: today's, in UTC.
    let paid_on = chrono::Utc::now().date_naive();
    dealing_support::pay(&dealing, "bench", &schedule.payment_reference, paid_on, due).await;
    let worker = dealing.platform.spawn_worker("bench");
    let invest_started = Instant::now();
    let invested = dealing
        .platform
        .run::<InvestContributions>(Input {
            schedule_id: schedule.schedule_id.to_string(),
            poll_every_secs: Some(1),
            chunk_rows: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let invest_seconds = invest_started.elapsed().as_secs_f64();
    assert_eq!(usize::try_from(invested.rows)?, rows);

    let per_second = |seconds: f64| rows as f64 / seconds;
    println!("schedule of {rows} rows ({bytes} bytes), one employer, every row accepted:");
    println!(
        "  import (stream, digest, store, check, commit)     : {import_seconds:>7.1}s  {:>9.0} rows/s",
        per_second(import_seconds)
    );
    println!(
        "  match and invest ({} entries, {} buy trades)      : {invest_seconds:>7.1}s  {:>9.0} rows/s",
        invested.rows,
        invested.trades,
        per_second(invest_seconds)
    );
    println!(
        "  end to end, file to trades ready for dealing       : {:>7.1}s",
        import_seconds + invest_seconds
    );
    println!(
        "  baseline: raw COPY of the same file, no checks     : {copy_seconds:>7.1}s  {:>9.0} rows/s",
        per_second(copy_seconds)
    );
    println!(
        "  import / COPY: {:.1}×; end to end / COPY: {:.1}×",
        import_seconds / copy_seconds,
        (import_seconds + invest_seconds) / copy_seconds
    );
    worker.stop().await;
    tokio::fs::remove_file(&path).await?;
    dealing.finish().await;
    Ok(())
}

/// Seconds to COPY the file, as is, into an unlogged table without keys or checks.
async fn raw_copy_seconds(pool: &sqlx::PgPool, path: &std::path::Path) -> anyhow::Result<f64> {
    let mut conn = pool.acquire().await?;
    sqlx::query(
        "create temp table raw_contribution (member_id text, employer_amount numeric,
             member_amount numeric, pay_period text)",
    )
    .execute(&mut *conn)
    .await?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("copy raw_contribution from stdin (format csv, header true)")
        .await?;
    copy.read_from(tokio::fs::File::open(path).await?).await?;
    copy.finish().await?;
    Ok(started.elapsed().as_secs_f64())
}
