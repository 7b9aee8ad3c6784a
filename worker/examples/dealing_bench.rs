//! Dealing-cycle benchmark: N members (default 100,000) over five funds, four in five buying
//! (£100.00–£999.99) and one in five selling units it holds, every order filled in part, dealt
//! end to end through the real processes, the custodian simulator, the callback ingress, a
//! local Temporal server and one `acme-worker` process. Prints each phase's time, the
//! allocation's postings per second against raw baselines of the same posting rows in the same
//! run (a COPY from the client, an `INSERT … SELECT` inside the database, a rebuild of the
//! balances they move), the worker's peak memory and the database's size per million members.
//!
//! ```text
//! ops/stack up && source .acme/env
//! cargo build --release -p acme-worker --example dealing_bench --bin acme-worker
//! target/release/examples/dealing_bench [MEMBERS] [kill]
//! ```
//!
//! With `kill`, the worker is killed (`kill -9`) once a third of the member trades are
//! allocated, and a new one started: the run then checks that the cycle completed, that each
//! member trade has exactly one allocation entry following the floor rule, and that the
//! ledger's invariants hold.
// A benchmark prints rates; the float arithmetic stays out of the platform's code.
#![allow(clippy::float_arithmetic, clippy::unwrap_used, dead_code)]

#[path = "../tests/e2e/dealing_support.rs"]
mod dealing_support;
#[path = "../tests/e2e/support.rs"]
mod support;
#[path = "shared/worker_process.rs"]
mod worker_process;

use std::time::{Duration, Instant};

use acme_custodian::messages::Faults;
use acme_ledger::chart::Asset;
use acme_ledger::{AssetKind, Ledger, OwnerKind, chart, staged};
use acme_sdk::AssetCode;
use dealing_support::{Dealing, FUNDS, book_buys, monday};
use rust_decimal::Decimal;
use temporalio_client::WorkflowGetResultOptions;

/// The benchmark's five funds: the platform's three and two it registers.
const EXTRA_FUNDS: [&str; 2] = ["GB00ACMEEMK1", "GB00ACMEGLT1"];
/// One member in this many sells instead of buying.
const SELLER_EVERY: usize = 5;
/// Buys booked per call, so the benchmark's memory stays flat.
const BOOKING_CHUNK: usize = 100_000;
/// The fill every order gets, so every allocation also refunds.
const FILL: &str = "0.995";

fn main() -> anyhow::Result<()> {
    let members: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
    let kill = match std::env::args().nth(2).as_deref() {
        None => false,
        Some("kill") => true,
        Some(other) => anyhow::bail!("unknown option {other:?}: the only one is `kill`"),
    };
    tokio::runtime::Runtime::new()?
        .block_on(tokio::task::LocalSet::new().run_until(run(members, kill)))
}

fn funds() -> Vec<&'static str> {
    FUNDS.iter().chain(&EXTRA_FUNDS).copied().collect()
}

async fn run(members: usize, kill: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let dealing = Dealing::start(members, monday()).await;
    println!(
        "{members} members onboarded in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let ledger = dealing.ledger().clone();
    for code in EXTRA_FUNDS {
        ledger
            .register_asset(&Asset {
                code: AssetCode::parse(code)?,
                kind: AssetKind::Fund,
                scale: 6,
                description: "benchmark fund".into(),
            })
            .await?;
    }
    let funds = funds();
    let started = Instant::now();
    // Members not selling buy £100.00 + i % 90,000 pence of fund i % 5, booked a chunk at a
    // time so the benchmark's own memory stays flat.
    let mut buys = 0;
    for first in (0..members).step_by(BOOKING_CHUNK) {
        let chunk: Vec<(String, &str, Decimal)> = (first..members.min(first + BOOKING_CHUNK))
            .filter(|i| i % SELLER_EVERY != 0)
            .map(|i| {
                let cash = Decimal::new(i64::try_from(10_000 + i % 90_000).unwrap_or(10_000), 2);
                (format!("m-{i}"), funds[i % funds.len()], cash)
            })
            .collect();
        book_buys(&ledger, "bench", &chunk).await;
        buys += chunk.len();
    }
    let sells = book_sells_in_bulk(&ledger, members, &funds).await?;
    println!(
        "{buys} buys and {sells} sells booked (cash or units received and reserved, trades pending) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    dealing
        .faults(&Faults {
            partial_fill: FILL.parse()?,
            ..Faults::default()
        })
        .await;
    let mut worker = spawn_worker(&dealing)?;

    let cycle = Instant::now();
    let handle = dealing.start_cycle(monday()).await;
    dealing.wait_until_none_in(monday(), "created").await;
    let placed = cycle.elapsed();
    dealing.advance_one_day().await;
    let priced_at = Instant::now();
    if kill {
        wait_for(&ledger, "status = 'priced'", members / 3).await;
        // SIGKILL, no graceful shutdown: the chunk in flight dies with its transaction.
        worker.kill().await?;
        println!(
            "worker killed (kill -9) {:.1}s into the allocation, a third of the members allocated; a new one started",
            priced_at.elapsed().as_secs_f64()
        );
        worker = spawn_worker(&dealing)?;
    }
    let worker_pid = worker.id().unwrap_or_default();
    wait_for(&ledger, "status = 'priced'", members).await;
    let allocated = priced_at.elapsed();
    dealing.advance_one_day().await;
    let settling = Instant::now();
    wait_for(&ledger, "status = 'settled'", members).await;
    let settled = settling.elapsed();
    handle
        .get_result(WorkflowGetResultOptions::default())
        .await?;
    let checked = settling.elapsed() - settled;
    let total = cycle.elapsed();
    let worker_peak_kib = worker_process::peak_rss_kib(worker_pid);
    worker.kill().await?;

    let (entries, postings): (i64, i64) = sqlx::query_as(
        "select count(distinct j.entry_id), count(*) from journal_entry j
         join posting p on p.entry_id = j.entry_id where j.kind = 'dealing.allocated'",
    )
    .fetch_one(ledger.pool())
    .await?;
    if kill {
        check_nothing_twice(&ledger, members, entries).await?;
    }
    let postings_usize = usize::try_from(postings)?;
    let copy = raw_copy_seconds(&dealing, postings_usize).await?;
    let (insert_select, rebuild) = raw_sql_seconds(&dealing).await?;
    let allocation_rate = postings as f64 / allocated.as_secs_f64();
    let rate = |seconds: f64| postings as f64 / seconds;
    let database_bytes: i64 = sqlx::query_scalar("select pg_database_size(current_database())")
        .fetch_one(ledger.pool())
        .await?;
    let funds_count = funds.len();
    println!(
        "dealing cycle for {members} members, {funds_count} funds, buys and sells, every order filled at {FILL}:"
    );
    let line = |phase: &str, seconds: f64| println!("  {phase:<34}: {seconds:>7.1}s");
    line("close the day and place the orders", placed.as_secs_f64());
    println!(
        "  {:<34}: {:>7.1}s  ({entries} entries, {postings} postings, {allocation_rate:.0} postings/s)",
        "priced → allocated to all pots",
        allocated.as_secs_f64()
    );
    line("settled → units and cash available", settled.as_secs_f64());
    line(
        "end-of-cycle check (invariants 5, 8)",
        checked.as_secs_f64(),
    );
    line("whole cycle", total.as_secs_f64());
    println!(
        "raw baselines, the same {postings} posting rows: COPY {copy:.1}s ({:.0} rows/s), INSERT … SELECT {insert_select:.1}s ({:.0} rows/s), their balances rebuilt {rebuild:.1}s",
        rate(copy),
        rate(insert_select)
    );
    println!(
        "allocation / raw INSERT … SELECT = {:.0}%, / raw COPY = {:.0}%, / (INSERT … SELECT + balance rebuild) = {:.0}%",
        100.0 * allocation_rate / rate(insert_select),
        100.0 * allocation_rate / rate(copy),
        100.0 * allocation_rate / rate(insert_select + rebuild)
    );
    println!(
        "worker peak RSS {:.0} MiB; database {:.0} MiB = {:.0} MiB per million members",
        worker_peak_kib as f64 / 1024.0,
        database_bytes as f64 / 1048576.0,
        database_bytes as f64 / 1048576.0 * 1e6 / members as f64
    );
    dealing.finish().await;
    Ok(())
}

/// One member in [`SELLER_EVERY`] (`m-0`, `m-5`, …) holds units of one fund and has a pending
/// sell of them reserved, as sell-units leaves it; set-based, through the ledger's staged path.
async fn book_sells_in_bulk(
    ledger: &Ledger,
    members: usize,
    funds: &[&str],
) -> anyhow::Result<u64> {
    let sellers: Vec<(String, String, Decimal)> = (0..members)
        .step_by(SELLER_EVERY)
        .map(|i| {
            let units = Decimal::new(i64::try_from(1_000_000 + i % 9_000_000)?, 6);
            Ok((format!("m-{i}"), funds[i % funds.len()].to_owned(), units))
        })
        .collect::<anyhow::Result<_>>()?;
    let custodian = ledger
        .open_pot(OwnerKind::External, acme_activities::dealing::CUSTODIAN_POT)
        .await?;
    for fund in funds {
        let code = AssetCode::parse(fund)?;
        ledger
            .open_account(custodian, &code, "available", true)
            .await?;
    }
    for chunk in sellers.chunks(100_000) {
        let mut tx = ledger.pool().begin().await?;
        for fund in funds {
            let owners: Vec<String> = chunk
                .iter()
                .filter(|(_, f, _)| f == fund)
                .map(|(m, _, _)| m.clone())
                .collect();
            let code = AssetCode::parse(fund)?;
            chart::open_in_transaction(&mut tx, OwnerKind::Member, &owners, &[(code, "reserved")])
                .await?;
        }
        staged::prepare(&mut tx).await?;
        let (ids, (assets, units)): (Vec<&str>, (Vec<&str>, Vec<Decimal>)) = chunk
            .iter()
            .map(|(m, f, u)| (m.as_str(), (f.as_str(), *u)))
            .unzip();
        sqlx::query(
            "with holding as (
                 select row_number() over () as seq, member_id, asset_code, units
                 from unnest($1::text[], $2::text[], $3::numeric[])
                     as h (member_id, asset_code, units)),
             entries as (
                 insert into staged_entry (seq, idempotency_key, kind, process, workflow_id,
                     effective_date)
                 select seq, 'fixture/hold/' || member_id || '/' || asset_code || '/hold',
                        'fixture.hold', 'fixture',
                        'fixture/hold/' || member_id || '/' || asset_code, '2026-11-20'
                 from holding)
             insert into staged_posting (seq, leg, account_id, amount)
             select h.seq, l.leg, l.account_id, l.amount
             from holding h
             join pot p on p.owner_kind = 'member' and p.owner_ref = h.member_id
             join account r on r.pot_id = p.pot_id and r.asset_code = h.asset_code
                 and r.purpose = 'reserved'
             join pot c on c.owner_kind = 'external' and c.owner_ref = 'custodian'
             join account ca on ca.pot_id = c.pot_id and ca.asset_code = h.asset_code
                 and ca.purpose = 'available'
             cross join lateral (values (0::smallint, ca.account_id, -h.units),
                                        (1::smallint, r.account_id, h.units))
                 as l (leg, account_id, amount)",
        )
        .bind(&ids)
        .bind(&assets)
        .bind(&units)
        .execute(&mut *tx)
        .await?;
        staged::seal(&mut tx).await?;
        sqlx::query(
            "insert into member_trade (trade_id, origin_workflow_id, member_id, asset_code, side,
                 units)
             select gen_random_uuid(), 'fixture/sell/' || member_id || '/' || asset_code,
                    member_id, asset_code, 'sell', units
             from unnest($1::text[], $2::text[], $3::numeric[]) as s (member_id, asset_code, units)",
        )
        .bind(&ids)
        .bind(&assets)
        .bind(&units)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(u64::try_from(sellers.len())?)
}

/// After a kill: one allocation entry per member trade, every allocation by the floor rule,
/// the ledger's invariants holding.
async fn check_nothing_twice(ledger: &Ledger, members: usize, entries: i64) -> anyhow::Result<()> {
    anyhow::ensure!(
        entries == i64::try_from(members)?,
        "{entries} allocation entries for {members} member trades"
    );
    let trades = dealing_support::assert_allocations_follow_the_rule(ledger, monday()).await;
    let report = ledger.check_invariants().await?;
    anyhow::ensure!(report.holds(), "invariants broken: {report:?}");
    println!(
        "after the kill: {entries} allocation entries for {members} member trades, {trades} external trades allocated by the floor rule, invariants hold"
    );
    Ok(())
}

/// Starts the `acme-worker` built beside this benchmark, as the end-to-end tests start one, so
/// its memory is its own.
fn spawn_worker(dealing: &Dealing) -> anyhow::Result<tokio::process::Child> {
    // Its own warnings, not the database driver's slow-statement lines.
    worker_process::Launcher::beside_this_program(&dealing.platform, "error,acme=warn")?.start()
}

/// Waits until `expected` member trades match `condition`, however long that takes.
async fn wait_for(ledger: &Ledger, condition: &str, expected: usize) {
    let expected = i64::try_from(expected).unwrap_or(i64::MAX);
    let query = format!("select count(*) from member_trade where {condition}");
    loop {
        let asked = Instant::now();
        let count: i64 = sqlx::query_scalar(&query)
            .fetch_one(ledger.pool())
            .await
            .unwrap();
        if count >= expected {
            return;
        }
        // Each poll counts the whole trade table (about a second of a core at 5M trades): it
        // waits ten times as long as the count took, so the poll takes under a tenth of a core
        // from the cycle it times, and at least a second.
        tokio::time::sleep((asked.elapsed() * 10).max(Duration::from_secs(1))).await;
    }
}

/// The allocation's own posting rows written again by the database, into a plain table with
/// the posting table's primary key (`INSERT … SELECT`), and the balances they move rebuilt by
/// aggregating them: what set-based SQL costs with no ledger around it.
async fn raw_sql_seconds(dealing: &Dealing) -> anyhow::Result<(f64, f64)> {
    let mut conn = dealing.platform.db.owner_connection().await?;
    sqlx::query("create table bench_insert_posting (like posting including indexes)")
        .execute(&mut conn)
        .await?;
    let started = Instant::now();
    sqlx::query(
        "insert into bench_insert_posting (entry_id, leg, account_id, amount)
         select p.entry_id, p.leg, p.account_id, p.amount
         from journal_entry j join posting p on p.entry_id = j.entry_id
         where j.kind = 'dealing.allocated'",
    )
    .execute(&mut conn)
    .await?;
    let insert_select = started.elapsed().as_secs_f64();
    let started = Instant::now();
    sqlx::query(
        "create table bench_balance as
         select account_id, sum(amount) as amount from bench_insert_posting group by account_id",
    )
    .execute(&mut conn)
    .await?;
    Ok((insert_select, started.elapsed().as_secs_f64()))
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
