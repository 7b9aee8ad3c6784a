//! `acme demo`: a simulated business day (two dealing days, in fact) on the local stack, end to
//! end through the real processes: members are onboarded, invest through `invest-cash`, the
//! dealing cycle trades with the custodian simulator (whose clock this command moves on), units
//! reach the pots; on the second day some members sell through `sell-units` while others buy.
//! It prints what happened and checks the books: ledger invariants and hash chain, every member
//! trade settled, internal units equal to the custodian's holdings statement.
//!
//! Needs a worker (with the callback ingress) and the simulator running: `ops/demo` starts both.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use acme_activities::custodian::DEFAULT_CUSTODIAN_URL;
use acme_activities::dealing;
use acme_activities::members::{NewMember, ensure_reference_data, onboard_members};
use acme_activities::trade_book::external_trades;
use acme_custodian::messages::{AdvanceClock, ClockState, HoldingsStatement};
use acme_ledger::Ledger;
use acme_sdk::Process;
use acme_workflows::dealing_cycle::{self, DealingCycle};
use acme_workflows::invest_cash::{self, InvestCash};
use acme_workflows::sell_units::{self, SellUnits};
use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;
use futures::StreamExt as _;
use rust_decimal::Decimal;
use temporalio_client::{Client, WorkflowGetResultOptions};
use temporalio_common::WorkflowDefinition;

use crate::Outcome;
use crate::connect::{self, AppDatabase};
use crate::output;
use crate::progress::Progress;
use crate::temporal;

/// Requests in flight at once while investing and selling.
const IN_FLIGHT: usize = 50;
/// The longest any one wait may take before the demo says what is missing.
const PATIENCE: Duration = Duration::from_secs(180);

#[derive(Debug, Args)]
pub struct BusinessDayArgs {
    /// How many members take part
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(4..=100_000))]
    members: u32,
    /// The custodian simulator's base URL
    #[arg(long, env = "ACME_CUSTODIAN_URL", default_value = DEFAULT_CUSTODIAN_URL)]
    custodian_url: String,
    #[command(flatten)]
    database: AppDatabase,
}

pub async fn run(args: BusinessDayArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let ledger = connect::dev_ledger(&args.database, "acme demo").await?;
    let client = temporal::connect().await?;
    let custodian = Custodian::new(&args.custodian_url);
    let run_tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

    ensure_reference_data(&ledger).await?;
    let members: Vec<String> = (1..=args.members).map(|n| format!("demo-{n}")).collect();
    let new = onboard_members(
        &ledger,
        &members
            .iter()
            .map(|member_id| NewMember {
                member_id: member_id.clone(),
                portfolio: Some(
                    ["cautious", "balanced", "adventurous"][member_id.len() % 3].into(),
                ),
            })
            .collect::<Vec<_>>(),
    )
    .await?;
    println!("members: {} taking part ({new} new)", members.len());

    // Day one: everyone invests.
    // A date whose cut-off (16:00 London) has passed deals nothing that is invested now: the
    // custodian's clock moves on to a date still open.
    let mut day_one = custodian.business_date().await?;
    while acme_sdk::cutoff::cutoff_of(day_one) <= chrono::Utc::now() {
        custodian.advance().await?;
        day_one = custodian.business_date().await?;
    }
    println!("\n== dealing day {day_one} ==");
    let invests = members
        .iter()
        .enumerate()
        .map(|(n, member)| invest_cash::Input {
            request_id: format!("demo-{run_tag}-{n}"),
            member_id: member.clone(),
            amount: serde_json::Value::String(format!("{}.{:02}", 50 + n % 450, n % 100)),
        });
    run_all::<InvestCash>(&client, "invest-cash", invests).await?;
    deal(&client, &ledger, &custodian, day_one).await?;

    // Day two: a quarter of the members sell a third of one holding, another quarter invest.
    let day_two = custodian.business_date().await?;
    println!("\n== dealing day {day_two} ==");
    let holdings: Vec<(String, String, Decimal)> = sqlx::query_as(
        "select distinct on (p.owner_ref) p.owner_ref, a.asset_code, b.amount
         from balance b join account a using (account_id) join pot p using (pot_id)
         where p.owner_kind = 'member' and a.purpose = 'available' and a.asset_code <> 'GBP'
           and b.amount >= 3 and p.owner_ref = any($1)
         order by p.owner_ref, b.amount desc",
    )
    .bind(&members[..members.len() / 4])
    .fetch_all(ledger.pool())
    .await?;
    let sells = holdings
        .into_iter()
        .enumerate()
        .map(|(n, (member, asset, units))| sell_units::Input {
            request_id: format!("demo-{run_tag}-s{n}"),
            member_id: member,
            asset,
            units: serde_json::Value::String((units / Decimal::from(3)).round_dp(4).to_string()),
        });
    run_all::<SellUnits>(&client, "sell-units", sells).await?;
    let invests = members[members.len() / 2..members.len() * 3 / 4]
        .iter()
        .enumerate()
        .map(|(n, member)| invest_cash::Input {
            request_id: format!("demo-{run_tag}-i{n}"),
            member_id: member.clone(),
            amount: serde_json::Value::String(format!("{}.00", 100 + n % 200)),
        });
    run_all::<InvestCash>(&client, "invest-cash", invests).await?;
    deal(&client, &ledger, &custodian, day_two).await?;

    println!("\n== the books ==");
    let invariants = ledger.check_invariants().await?;
    let chain = ledger.verify().await?;
    let internal: BTreeMap<String, Decimal> = sqlx::query_as(
        "select a.asset_code, sum(b.amount) from balance b
         join account a using (account_id) join pot p using (pot_id)
         where p.owner_kind in ('member', 'house') and a.asset_code <> 'GBP'
         group by a.asset_code having sum(b.amount) <> 0",
    )
    .fetch_all(ledger.pool())
    .await?
    .into_iter()
    .collect();
    let statement = custodian.holdings().await?;
    let mut table = output::table(&["fund", "units in our pots", "custodian holds", "match"]);
    let mut reconciled = true;
    for holding in &statement.holdings {
        let ours = internal.get(&holding.isin).copied().unwrap_or_default();
        reconciled &= ours == holding.units;
        table.add_row(vec![
            holding.isin.clone(),
            ours.to_string(),
            holding.units.to_string(),
            if ours == holding.units { "yes" } else { "NO" }.to_owned(),
        ]);
    }
    reconciled &= internal.len() == statement.holdings.len();
    println!("{table}");
    println!(
        "ledger invariants 1-3: {}; hash chain: {}; units reconcile with the custodian: {}",
        if invariants.holds() {
            "hold"
        } else {
            "VIOLATED"
        },
        if chain.is_sound() { "sound" } else { "BROKEN" },
        if reconciled { "yes" } else { "NO" },
    );
    println!(
        "\ndone in {:.0}s. See the runs: {}",
        started.elapsed().as_secs_f64(),
        temporal::ui_link("")
    );
    let sound = invariants.holds() && chain.is_sound() && reconciled;
    Ok(if sound {
        Outcome::Done
    } else {
        Outcome::CheckFailed
    })
}

/// Runs every request through process `P`, `IN_FLIGHT` at a time, showing progress.
async fn run_all<P: Process>(
    client: &Client,
    what: &'static str,
    inputs: impl ExactSizeIterator<Item = <P as WorkflowDefinition>::Input>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let total = inputs.len() as u64;
    let progress = Progress::new(what, total);
    let queues = temporal::task_queues();
    let mut results = futures::stream::iter(inputs)
        .map(|input| {
            let queues = &queues;
            async move {
                let handle = acme_sdk::start::<P>(client, queues, input).await?;
                tokio::time::timeout(
                    PATIENCE,
                    handle.get_result(WorkflowGetResultOptions::default()),
                )
                .await
                .context("no result: is a worker running (`ops/demo` starts one)?")??;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(IN_FLIGHT);
    let mut done = 0_usize;
    while let Some(result) = results.next().await {
        result?;
        done += 1;
        progress.update(done as u64, total);
    }
    progress.finish();
    println!(
        "{what}: {done} requests completed in {:.1}s ({}/s)",
        started.elapsed().as_secs_f64(),
        per_second(done, started)
    );
    Ok(())
}

/// Requests per second, in whole numbers (no floats in this codebase).
fn per_second(count: usize, since: Instant) -> u128 {
    let millis = since.elapsed().as_millis().max(1);
    (count as u128) * 1_000 / millis
}

/// Runs the dealing cycle of `date`, moving the custodian's clock on once orders are in (priced
/// the next business day) and again once priced (settled), then prints its external trades.
async fn deal(
    client: &Client,
    ledger: &Ledger,
    custodian: &Custodian,
    date: NaiveDate,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let input = dealing_cycle::Input {
        dealing_date: date.to_string(),
        poll_every_secs: Some(2),
        expect_within_secs: None,
    };
    let handle = acme_sdk::start::<DealingCycle>(client, &temporal::task_queues(), input).await?;
    println!(
        "dealing cycle {} started",
        dealing_cycle::workflow_id(&date.to_string())
    );
    wait_until_none(ledger, date, "created").await?;
    custodian.advance().await?;
    wait_until_none(ledger, date, "placed").await?;
    custodian.advance().await?;
    let status = tokio::time::timeout(
        PATIENCE,
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .context("the dealing cycle did not finish: is the worker running with --callback-listen?")?
    .with_context(|| format!("dealing cycle for {date} failed"))?;
    let mut table = output::table(&[
        "order",
        "members",
        "ordered",
        "delivered",
        "residue",
        "outcome",
    ]);
    for result in &status.trades {
        let trade = &result.trade;
        let record = external_trades::get(ledger.pool(), trade.external_trade_id)
            .await?
            .with_context(|| format!("external trade {} has gone", trade.order_ref))?;
        let (delivered, residue) = (record.delivered, record.residue_delivered);
        let outcome = match &result.outcome {
            Some(Ok(acme_workflows::external_trade::Outcome::Settled { .. })) => {
                "settled".to_owned()
            }
            Some(Ok(acme_workflows::external_trade::Outcome::Rejected { reason, .. })) => {
                format!("rejected: {reason}")
            }
            Some(Err(error)) => format!("failed: {error}"),
            None => "unfinished".to_owned(),
        };
        table.add_row(vec![
            trade.order_ref.clone(),
            trade.member_trades.to_string(),
            trade.ordered_total.to_string(),
            delivered.map(|d| d.to_string()).unwrap_or_default(),
            residue.map(|d| d.to_string()).unwrap_or_default(),
            outcome,
        ]);
    }
    println!("{table}");
    println!(
        "dealing {date}: settled in {:.1}s; invariants 5 and 8 checked by the cycle: hold",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Waits until no external trade of `date` is still in `status`.
async fn wait_until_none(ledger: &Ledger, date: NaiveDate, status: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let counts = dealing::progress(ledger, date).await?;
        if !counts.is_empty() && !counts.contains_key(status) {
            return Ok(());
        }
        if started.elapsed() > PATIENCE {
            anyhow::bail!(
                "external trades of {date} still {status} after {}s: is the worker running?",
                PATIENCE.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The custodian simulator's admin and statement endpoints.
struct Custodian {
    http: reqwest::Client,
    base_url: String,
}

impl Custodian {
    fn new(base_url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    async fn business_date(&self) -> anyhow::Result<NaiveDate> {
        let clock: ClockState = self.get("/admin/clock").await?;
        Ok(clock.business_date)
    }

    async fn advance(&self) -> anyhow::Result<()> {
        let url = format!("{}/admin/clock/advance", self.base_url);
        self.http
            .post(&url)
            .json(&AdvanceClock { days: 1 })
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("cannot move the custodian's clock at {url}"))?;
        Ok(())
    }

    async fn holdings(&self) -> anyhow::Result<HoldingsStatement> {
        self.get("/statements/holdings").await
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base_url);
        let response = self
            .http
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| {
                format!("cannot reach the custodian simulator at {url}: is it running (`ops/demo` starts it)?")
            })?;
        Ok(response.json().await?)
    }
}
