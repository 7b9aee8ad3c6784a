//! `acme member`: onboarding one member, seeding many for demos and benchmarks, showing one
//! (pot, balances, holdings valued against the model portfolio, latest trades), or changing a
//! member's risk profile (starts `change-profile`, recorded in the operator audit log).

use std::time::Instant;

use acme_activities::members::{
    MODEL_PORTFOLIOS, NewMember, ensure_reference_data, onboard_members,
};
use acme_activities::seeding::{self, Booking, Seed};
use acme_activities::trade_book::{
    self,
    member_trades::{self, MemberTradeView},
};
use acme_ledger::query::AccountBalance;
use acme_ledger::{Ledger, PotId};
use acme_workflows::change_profile::{ChangeProfile, Input};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::Outcome;
use crate::connect::{self, AppDatabase, ReadonlyDatabase};
use crate::operator::{Operator, OperatorArgs};
use crate::output::{self, Format};
use crate::progress::Progress;
use crate::run;
use crate::valuation;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Onboard one member: a pot with cash accounts and, optionally, a model portfolio
    #[command(after_help = "Example: acme member onboard --member m-42 --portfolio balanced")]
    Onboard {
        #[arg(long)]
        member: String,
        /// cautious, balanced or adventurous; omit to leave the member unable to invest
        #[arg(long)]
        portfolio: Option<String>,
        #[command(flatten)]
        database: AppDatabase,
    },
    /// Onboard N members named <prefix>-1 .. <prefix>-N and, with --buys, book a buy for each
    /// (chunked, resumable: running it again writes nothing), for demos and benchmarks
    #[command(
        after_help = "Examples:\n  acme member seed --count 100000 --portfolio balanced\n  \
        acme member seed --count 5000000 --buys      # the members and a pending buy each"
    )]
    Seed(SeedArgs),
    /// A member: pot, model portfolio, balances and latest trades
    #[command(after_help = "Example: acme member show m-42 --output json")]
    Show {
        member: String,
        /// How many of the latest trades to show
        #[arg(long, default_value_t = 20)]
        trades: i64,
        /// Value the pot as of this business date [default: the latest with closing prices]
        #[arg(long)]
        date: Option<NaiveDate>,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
        #[command(flatten)]
        database: ReadonlyDatabase,
    },
    /// Change a member's risk profile: the new model portfolio, and the whole pot sold and
    /// bought again by its weights (starts `set-profile/<request-id>`)
    #[command(
        after_help = "Example: acme member set-profile m-42 --portfolio cautious --request-id p-2026-11-22-001 --wait"
    )]
    SetProfile {
        member: String,
        /// cautious, balanced or adventurous
        #[arg(long)]
        portfolio: String,
        /// The request's id, chosen by the caller and reused on a retry: the same id never
        /// changes the profile twice (there is no default, ADR 20)
        #[arg(long)]
        request_id: String,
        /// Wait for the run to finish and print the sells
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        operator: OperatorArgs,
    },
}

/// A member as `acme member show` tells it.
#[derive(Debug, Serialize)]
struct MemberView {
    member_id: String,
    pot_id: i64,
    portfolio: Option<String>,
    onboarded: DateTime<Utc>,
    balances: Vec<AccountBalance>,
    valuation: valuation::Valued,
    latest_trades: Vec<MemberTradeView>,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// How many members: <prefix>-1 to <prefix>-<count>
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    count: u64,
    #[arg(long, default_value = "member")]
    prefix: String,
    #[arg(long, default_value = "balanced")]
    portfolio: String,
    /// Also book one buy per member, as invest-cash leaves it: £100.00 to £999.99 received
    /// from the bank and reserved (two journal entries) and a pending trade, in each fund in turn
    #[arg(long)]
    buys: bool,
    /// The booked buys' origin is seed/<tag>/<member>/<fund>: the same tag books nothing new
    #[arg(long, default_value = "seed", requires = "buys")]
    tag: String,
    /// Effective date of the booked entries [default: today]; resuming an interrupted seed on
    /// another day needs the first run's date
    #[arg(long, requires = "buys")]
    date: Option<NaiveDate>,
    /// Members (and buys) per chunk: one transaction each
    #[arg(long, default_value_t = seeding::MEMBER_CHUNK,
        value_parser = chunk_size)]
    chunk: usize,
    #[command(flatten)]
    database: AppDatabase,
}

fn chunk_size(text: &str) -> Result<usize, String> {
    let size: usize = text.parse().map_err(|e| format!("{e}"))?;
    if (1..=seeding::CHUNK_MAX).contains(&size) {
        Ok(size)
    } else {
        Err(format!("must be 1 to {}", seeding::CHUNK_MAX))
    }
}

pub async fn run(command: MemberCommand) -> anyhow::Result<Outcome> {
    match command {
        MemberCommand::Onboard {
            member,
            portfolio,
            database,
        } => {
            if let Some(portfolio) = &portfolio {
                check_portfolio(portfolio)?;
            }
            let ledger = Ledger::new(connect::pool(&database.url, AppDatabase::SETTING, 2).await?);
            ensure_reference_data(&ledger).await?;
            let new = onboard_members(
                &ledger,
                &[NewMember {
                    member_id: member.clone(),
                    portfolio,
                }],
            )
            .await?;
            println!(
                "member {member}: {}",
                if new == 1 {
                    "onboarded"
                } else {
                    "already onboarded, left as it was"
                }
            );
            Ok(Outcome::Done)
        }
        MemberCommand::Seed(args) => seed(args).await,
        MemberCommand::SetProfile {
            member,
            portfolio,
            request_id,
            wait,
            operator,
        } => {
            let operator = Operator::connect(&operator).await?;
            let handle = run::start::<ChangeProfile>(
                &operator,
                Input {
                    request_id,
                    member_id: member.clone(),
                    portfolio: portfolio.clone(),
                },
            )
            .await?;
            if wait {
                let output = run::wait(&handle).await?;
                println!(
                    "member {member}: {} -> {portfolio}; {} sell trades, whose proceeds buy the \
                     new model once priced",
                    output.previous.as_deref().unwrap_or("no portfolio"),
                    output.sell_trades.len()
                );
            }
            Ok(Outcome::Done)
        }
        MemberCommand::Show {
            member,
            trades,
            date,
            output,
            database,
        } => show(&member, trades, date, output, &database).await,
    }
}

async fn show(
    member: &str,
    trades: i64,
    date: Option<NaiveDate>,
    format: Format,
    database: &ReadonlyDatabase,
) -> anyhow::Result<Outcome> {
    let ledger = Ledger::new(connect::pool(&database.url, ReadonlyDatabase::SETTING, 1).await?);
    let Some(found) = trade_book::members::find(ledger.pool(), member).await? else {
        anyhow::bail!("no member {member:?}");
    };
    let latest_trades = member_trades::latest(ledger.pool(), member, trades).await?;
    let portfolio = found.portfolio_code.as_deref();
    let valuation = valuation::of_pot(ledger.pool(), found.pot_id, portfolio, date).await?;
    let view = MemberView {
        member_id: found.member_id,
        pot_id: found.pot_id,
        portfolio: found.portfolio_code,
        onboarded: found.created_at,
        balances: ledger.pot_balances(PotId(found.pot_id)).await?,
        valuation,
        latest_trades,
    };
    match format {
        Format::Json => output::json(&view)?,
        Format::Table => {
            println!(
                "member {} (pot {}, portfolio {}, onboarded {})",
                view.member_id,
                view.pot_id,
                view.portfolio.as_deref().unwrap_or("none"),
                view.onboarded.format("%Y-%m-%d")
            );
            let mut balances = output::table(&["asset", "purpose", "balance"]);
            for line in &view.balances {
                balances.add_row(vec![
                    line.asset_code.clone(),
                    line.purpose.clone(),
                    line.amount.to_string(),
                ]);
            }
            println!("{balances}");
            valuation::print(&view.valuation);
            let mut trades =
                output::table(&["created", "asset", "side", "amount", "status", "started by"]);
            for trade in &view.latest_trades {
                let amount = match (&trade.cash_amount, &trade.units) {
                    (Some(cash), _) => format!("£{cash}"),
                    (None, Some(units)) => format!("{units} units"),
                    (None, None) => String::new(),
                };
                trades.add_row(vec![
                    trade.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    trade.asset_code.clone(),
                    trade.side.to_string(),
                    amount,
                    trade.status.to_string(),
                    trade.origin_workflow_id.clone(),
                ]);
            }
            println!("{trades}");
        }
    }
    Ok(Outcome::Done)
}

fn check_portfolio(portfolio: &str) -> anyhow::Result<()> {
    let known: Vec<&str> = MODEL_PORTFOLIOS.iter().map(|(code, _)| *code).collect();
    anyhow::ensure!(
        known.contains(&portfolio),
        "unknown model portfolio {portfolio:?}; choose one of {}",
        known.join(", ")
    );
    Ok(())
}

async fn seed(args: SeedArgs) -> anyhow::Result<Outcome> {
    check_portfolio(&args.portfolio)?;
    let ledger = Ledger::new(connect::pool(&args.database.url, AppDatabase::SETTING, 2).await?);
    ensure_reference_data(&ledger).await?;
    let mut seed = Seed::new(&args.prefix, args.count, Some(&args.portfolio));
    seed.chunk = args.chunk;
    let started = Instant::now();
    let progress = Progress::new("members seeded", args.count);
    let seeded = seeding::seed_members(&ledger, &seed, |done, total| {
        progress.update(done, total);
    })
    .await;
    progress.finish();
    let seeded = seeded?;
    println!(
        "{} new members ({} asked) in {:.1}s",
        seeded.new,
        args.count,
        started.elapsed().as_secs_f64()
    );
    if args.buys {
        let booking = Booking {
            process: "seed".into(),
            tag: args.tag.clone(),
            effective_date: args.date.unwrap_or_else(|| Utc::now().date_naive()),
        };
        let started = Instant::now();
        let progress = Progress::new("buys booked", args.count);
        let booked = seeding::seed_buys(&ledger, &seed, &booking, |done, total| {
            progress.update(done, total);
        })
        .await;
        progress.finish();
        let booked = booked?;
        println!(
            "{} new buys booked, cash received and reserved ({} asked, origin seed/{}/…) in {:.1}s",
            booked.new,
            args.count,
            args.tag,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Outcome::Done)
}
