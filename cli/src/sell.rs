//! `acme sell`: starts the `sell-units` process for a member, or attaches to the run already
//! handling the same request id, and prints where to watch it.

use acme_workflows::sell_units::{Input, SellUnits};
use clap::Args;

use crate::Outcome;
use crate::operator::{Operator, OperatorArgs};
use crate::run;

#[derive(Debug, Args)]
#[command(
    after_help = "Example: acme sell --member m-1 --asset GB00ACMEGLB1 --units 12.5 --request-id s-2026-11-22-001 --wait"
)]
pub struct SellArgs {
    /// The member's id
    #[arg(long)]
    member: String,
    /// The fund's code (ISIN)
    #[arg(long)]
    asset: String,
    /// Units to sell, as a plain decimal with at most the fund's decimal places
    #[arg(long)]
    units: String,
    /// The request's id, chosen by the caller and reused on a retry: the same id never sells
    /// twice, so a retried command cannot sell again (there is no default, ADR 20)
    #[arg(long)]
    request_id: String,
    /// Wait for the run to finish and print the trade
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    operator: OperatorArgs,
}

pub async fn run(args: SellArgs) -> anyhow::Result<Outcome> {
    let operator = Operator::connect(&args.operator).await?;
    let handle = run::start::<SellUnits>(
        &operator,
        Input {
            request_id: args.request_id,
            member_id: args.member,
            asset: args.asset,
            units: serde_json::Value::String(args.units),
        },
    )
    .await?;
    if args.wait {
        let output = run::wait(&handle).await?;
        println!(
            "reserved {} units; sell trade {}",
            output.reserved_units, output.trade_id
        );
    }
    Ok(Outcome::Done)
}
