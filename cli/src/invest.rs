//! `acme invest`: starts the `invest-cash` process for a member, or attaches to the run already
//! handling the same request id, and prints where to watch it.

use acme_activities::members::CASH_SCALE;
use acme_sdk::{Sign, parse_amount};
use acme_workflows::invest_cash::{Input, InvestCash};
use anyhow::Context as _;
use clap::Args;

use crate::Outcome;
use crate::operator::{Operator, OperatorArgs};
use crate::run;

#[derive(Debug, Args)]
#[command(
    after_help = "Example: acme invest --member m-1 --amount 100.00 --request-id r-2026-11-22-001"
)]
pub struct InvestArgs {
    /// The member's id
    #[arg(long)]
    member: String,
    /// Pounds to invest, as a plain decimal with at most 2 places (e.g. 100.00)
    #[arg(long)]
    amount: String,
    /// The request's id, chosen by the caller and reused on a retry: the same id never invests
    /// twice, so a retried command cannot invest again (there is no default, ADR 20)
    #[arg(long)]
    request_id: String,
    /// Wait for the run to finish and print its trades
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    operator: OperatorArgs,
}

pub async fn run(args: InvestArgs) -> anyhow::Result<Outcome> {
    parse_amount(&args.amount, CASH_SCALE, Sign::Positive).context("--amount")?;
    let operator = Operator::connect(&args.operator).await?;
    let handle = run::start::<InvestCash>(
        &operator,
        Input {
            request_id: args.request_id,
            member_id: args.member,
            amount: serde_json::Value::String(args.amount),
        },
    )
    .await?;
    if args.wait {
        let output = run::wait(&handle).await?;
        println!("reserved £{}; trades:", output.reserved_gbp);
        for trade_id in output.trade_ids {
            println!("  {trade_id}");
        }
    }
    Ok(Outcome::Done)
}
