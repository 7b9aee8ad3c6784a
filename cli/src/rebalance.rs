//! `acme rebalance plan --date D`: the dry run of re-balancing D. How many pots have drifted
//! outside their model portfolio's band at D's closing prices, how many are skipped because they
//! have trades in flight, and per fund the units that would be sold on D and the cash that would
//! buy on D+1, before anything is created. Reads only (the read-only role).

use acme_activities::rebalance;
use chrono::NaiveDate;
use clap::Subcommand;

use crate::Outcome;
use crate::connect::{self, ReadonlyDatabase};
use crate::output::{self, Format};

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
    }
}
