//! Benchmark of re-balancing's plan at scale: the set-based plan (`acme_activities::rebalance`,
//! what `acme rebalance plan` runs) over POTS member pots of which about a fifth drift, against a
//! raw-SQL baseline of the same rows measured in the same run on the same database:
//!
//! ```text
//! cargo run -p acme-activities --example rebalance_bench -- [POTS]
//! ```
//!
//! It creates a fresh database (dropped at the end), then:
//! - seeds POTS (default 200,000) members on the balanced portfolio (`seeding::seed_members`);
//! - set-up only, as the owner: gives every pot units of the three funds straight into
//!   `account`/`balance` (no journal: the plan reads balances), on the model at the prices
//!   recorded next except every fifth pot, which holds twice its model's units of the first fund;
//! - records Monday's closing prices (`prices::record`);
//! - times the plan (drifted pots, and units and cash per fund, summed from every pot's trades);
//! - baseline: one plain `create temporary table … as select` of the same position rows (every
//!   pot's fund balances joined to their prices and model weights, valued), then a `group by` of
//!   them per fund, with none of the plan's windows, drift test or trade arithmetic.
//!
//! Trade creation is not built yet (docs/adr/0018), so only the plan is timed.

// Rates and ratios of timings are measurements, not money: floats are right here.
#![allow(clippy::float_arithmetic)]

use std::time::Instant;

use acme_activities::members::{FUNDS, ensure_reference_data};
use acme_activities::prices::{self, Quote};
use acme_activities::rebalance;
use acme_activities::seeding::{Seed, seed_members};
use acme_ledger::testkit::TestDatabase;
use anyhow::Context as _;
use chrono::NaiveDate;

/// Monday's closing prices, in fund order.
const PRICES: [&str; 3] = ["2.000000", "1.000000", "0.500000"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let pots: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(200_000);
    let db = TestDatabase::create(2)
        .await
        .context("create the benchmark database (is the stack up? ops/stack up)")?;
    println!("database {}", db.name);
    let result = run(&db, pots).await;
    db.drop_database().await?;
    result
}

async fn run(db: &TestDatabase, pots: u64) -> anyhow::Result<()> {
    let ledger = &db.ledger;
    let monday = NaiveDate::from_ymd_opt(2026, 11, 23).context("a date")?;
    ensure_reference_data(ledger).await?;
    let started = Instant::now();
    seed_members(
        ledger,
        &Seed::new("member", pots, Some("balanced")),
        |_, _| {},
    )
    .await?;
    println!(
        "set-up: {pots} members seeded in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut owner = db.owner_connection().await?;
    // Balanced: 50/40/10 of £100 at the prices above, i.e. 25, 40 and 20 units; every fifth pot
    // holds 50 units of the first fund instead (about 67% of its value: drifted).
    sqlx::query(
        "insert into account (pot_id, asset_code, purpose)
         select m.pot_id, f.asset_code, 'available'
         from member m cross join unnest($1::text[]) as f (asset_code)",
    )
    .bind(FUNDS.iter().map(|(code, _)| *code).collect::<Vec<_>>())
    .execute(&mut owner)
    .await?;
    sqlx::query(
        "insert into balance (account_id, amount, may_go_negative)
         select a.account_id,
                case a.asset_code when $1 then case when a.pot_id % 5 = 0 then 50 else 25 end
                                  when $2 then 40 else 20 end,
                false
         from account a join member m on m.pot_id = a.pot_id
         where a.purpose = 'available' and a.asset_code <> 'GBP'",
    )
    .bind(FUNDS[0].0)
    .bind(FUNDS[1].0)
    .execute(&mut owner)
    .await?;
    sqlx::raw_sql("analyze account; analyze balance; analyze member")
        .execute(&mut owner)
        .await?;
    let quotes: Vec<Quote> = FUNDS
        .iter()
        .zip(PRICES)
        .map(|((code, _), price)| Quote {
            asset_code: (*code).to_owned(),
            price: price.to_owned(),
        })
        .collect();
    prices::record(ledger.pool(), monday, "bench", "bench", &quotes).await?;
    println!(
        "set-up: holdings and prices in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let plan = rebalance::plan(ledger.pool(), monday).await?;
    let planned = started.elapsed().as_secs_f64();
    println!(
        "plan: {} pots valued, {} drifted, {} skipped in flight, in {planned:.1}s = {:.0} pots/s",
        plan.pots_valued,
        plan.drifted,
        plan.skipped_in_flight,
        pots as f64 / planned
    );
    for line in &plan.funds {
        println!(
            "  {}: {} pots sell {} units (£{}), {} pots buy £{}",
            line.asset_code,
            line.selling_pots,
            line.sell_units.normalize(),
            line.sell_proceeds,
            line.buying_pots,
            line.buy_cash
        );
    }
    anyhow::ensure!(
        u64::try_from(plan.drifted)? == pots / 5,
        "expected every fifth pot to drift, got {}",
        plan.drifted
    );

    let started = Instant::now();
    sqlx::query(
        "create temporary table baseline_position as
         select a.pot_id, a.asset_code, b.amount as units, c.price, w.weight,
                floor(b.amount * c.price * 100) * 0.01 as value
         from account a
         join balance b on b.account_id = a.account_id
         join member m on m.pot_id = a.pot_id
         join model_weight w on w.portfolio_code = m.portfolio_code and w.asset_code = a.asset_code
         join closing_price c on c.asset_code = a.asset_code and c.price_date = $1
         where a.purpose = 'available' and a.asset_code <> 'GBP'",
    )
    .bind(monday)
    .execute(&mut owner)
    .await?;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select asset_code, count(*) from baseline_position group by asset_code order by 1",
    )
    .fetch_all(&mut owner)
    .await?;
    let baseline = started.elapsed().as_secs_f64();
    let positions: i64 = rows.iter().map(|(_, n)| n).sum();
    println!(
        "baseline: the same {positions} position rows by one create table … as select and a \
         group by in {baseline:.1}s; plan / baseline = {:.1}x the time",
        planned / baseline
    );
    Ok(())
}
