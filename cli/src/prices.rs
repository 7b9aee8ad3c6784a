//! `acme prices`: record a closed business day's closing prices from the custodian (starts
//! `closing-prices/<date>`, recorded in the operator audit log like any start) and show what
//! was recorded for a fund over a range of days, with its source.

use acme_activities::prices;
use acme_workflows::closing_prices::{ClosingPrices, Input};
use chrono::NaiveDate;
use clap::Subcommand;

use crate::Outcome;
use crate::connect::{self, ReadonlyDatabase};
use crate::operator::{Operator, OperatorArgs};
use crate::output::{self, Format};
use crate::run;

#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// Record a closed day's closing prices from the custodian (starts `closing-prices/<date>`)
    #[command(after_help = "Example: acme prices record --date 2026-11-23")]
    Record {
        /// The business date, YYYY-MM-DD (the custodian must have closed it)
        #[arg(long)]
        date: NaiveDate,
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// The recorded closing prices of a fund from one date to another (inclusive)
    #[command(
        after_help = "Example: acme prices show --asset GB00ACMEGLB1 --from 2026-11-02 --to 2026-11-27"
    )]
    Show {
        /// The fund's asset code (ISIN)
        #[arg(long)]
        asset: String,
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
        #[command(flatten)]
        database: ReadonlyDatabase,
    },
}

pub async fn run(command: PricesCommand) -> anyhow::Result<Outcome> {
    match command {
        PricesCommand::Record { date, operator } => {
            let operator = Operator::connect(&operator).await?;
            let input = Input {
                date: date.to_string(),
            };
            let handle = run::start::<ClosingPrices>(&operator, input).await?;
            let recorded = run::wait(&handle).await?;
            println!(
                "closing prices of {date}: {} recorded, {} already recorded",
                recorded.new, recorded.unchanged
            );
            Ok(Outcome::Done)
        }
        PricesCommand::Show {
            asset,
            from,
            to,
            output,
            database,
        } => {
            let pool = connect::pool(&database.url, ReadonlyDatabase::SETTING, 2).await?;
            let rows = prices::range(&pool, &asset, from, to).await?;
            match output {
                Format::Json => output::json(&rows)?,
                Format::Table => {
                    let mut table =
                        output::table(&["date", "asset", "price", "source", "recorded at"]);
                    for row in &rows {
                        table.add_row(vec![
                            row.price_date.to_string(),
                            row.asset_code.clone(),
                            row.price.to_string(),
                            row.source.clone(),
                            output::when(row.recorded_at),
                        ]);
                    }
                    println!("{table}");
                    if rows.is_empty() {
                        println!("no closing prices of {asset} recorded from {from} to {to}");
                    }
                }
            }
            Ok(Outcome::Done)
        }
    }
}
