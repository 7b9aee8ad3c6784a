//! `acme rebalance plan --date D`: the dry run of re-balancing D. How many pots have drifted
//! outside their model portfolio's band at D's closing prices, how many are skipped because they
//! have trades in flight, and per fund the units that would be sold on D and the cash that would
//! buy on D+1, before anything is created. Reads only (the read-only role).
//!
//! `acme rebalance run --date D`: starts `rebalance-day` (`rebalance/<date>`, recorded in the
//! operator audit log like any start), which reserves and creates the drifted pots' sells (whose
//! proceeds buy the pots' shortfalls once priced, ADR 26), and prints what it did.

use acme_activities::rebalance;
use acme_workflows::rebalance_day::{Input, RebalanceDay};
use chrono::NaiveDate;
use clap::Subcommand;

use crate::Outcome;
use crate::connect::{self, ReadonlyDatabase};
use crate::operator::{Operator, OperatorArgs};
use crate::output::{self, Format};
use crate::run;

#[derive(Debug, Subcommand)]
pub enum RebalanceCommand {
    /// What re-balancing a date would trade, without creating anything
    #[command(after_help = "Example: acme rebalance plan --date 2026-11-23")]
    Plan {
        /// The business date whose closing prices value the pots, YYYY-MM-DD
        #[arg(long)]
        date: NaiveDate,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
        #[command(flatten)]
        database: ReadonlyDatabase,
    },
    /// Re-balance the drifted pots: sell their overweight units; the proceeds buy their
    /// shortfalls once priced (starts `rebalance/<date>` and waits for it)
    #[command(after_help = "Example: acme rebalance run --date 2026-11-23")]
    Run {
        /// The business date whose closing prices value the pots, YYYY-MM-DD (recorded first
        /// with `acme prices record`)
        #[arg(long)]
        date: NaiveDate,
        /// Pots per chunk (one transaction each), 1 to 50,000
        #[arg(long)]
        chunk_size: Option<i64>,
        #[command(flatten)]
        operator: OperatorArgs,
    },
}

pub async fn run(command: RebalanceCommand) -> anyhow::Result<Outcome> {
    match command {
        RebalanceCommand::Plan {
            date,
            output,
            database,
        } => {
            let pool = connect::pool(&database.url, ReadonlyDatabase::SETTING, 2).await?;
            let plan = rebalance::plan(&pool, date).await?;
            match output {
                Format::Json => output::json(&plan)?,
                Format::Table => {
                    println!(
                        "re-balancing {date}: {} pots valued, {} drifted and would trade, {} \
                         drifted but skipped (trades in flight)",
                        plan.pots_valued, plan.drifted, plan.skipped_in_flight
                    );
                    let mut table = output::table(&[
                        "fund",
                        "pots selling (D)",
                        "units sold",
                        "proceeds",
                        "pots buying (D+1)",
                        "cash to buy",
                    ]);
                    for line in &plan.funds {
                        table.add_row(vec![
                            line.asset_code.clone(),
                            line.selling_pots.to_string(),
                            line.sell_units.normalize().to_string(),
                            format!("£{}", line.sell_proceeds.round_dp(2)),
                            line.buying_pots.to_string(),
                            format!("£{}", line.buy_cash.round_dp(2)),
                        ]);
                    }
                    println!("{table}");
                }
            }
            Ok(Outcome::Done)
        }
        RebalanceCommand::Run {
            date,
            chunk_size,
            operator,
        } => {
            let operator = Operator::connect(&operator).await?;
            let input = Input {
                date: date.to_string(),
                chunk_size,
            };
            let handle = run::start::<RebalanceDay>(&operator, input).await?;
            let done = run::wait(&handle).await?;
            println!(
                "re-balancing {date}: {} pots selling ({} sell trades created), {} skipped \
                 (trades in flight), {} already done by this date's run",
                done.pots_selling, done.sell_trades, done.skipped_in_flight, done.already_done
            );
            if !done.skipped_members.is_empty() {
                println!("skipped: {}", done.skipped_members.join(", "));
            }
            Ok(Outcome::Done)
        }
    }
}
