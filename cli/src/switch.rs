//! `acme switch`: starts the `switch-funds` process for a member (a percent of one fund, or all
//! of it, sold and the proceeds bought into another; ADR 26), or attaches to the run already
//! handling the same request id.

use acme_workflows::switch_funds::{Input, SwitchFunds};
use clap::Args;

use crate::Outcome;
use crate::operator::{Operator, OperatorArgs};
use crate::run;

#[derive(Debug, Args)]
#[command(
    after_help = "Example: acme switch --member m-1 --from GB00ACMEGLB1 --to GB00ACMEBND1 --percent 50 --request-id sw-2026-11-22-001 --wait"
)]
pub struct SwitchArgs {
    /// The member's id
    #[arg(long)]
    member: String,
    /// The fund to sell (ISIN)
    #[arg(long)]
    from: String,
    /// The fund the proceeds buy (ISIN)
    #[arg(long)]
    to: String,
    /// The percent of the available units to switch, above 0 and at most 100, at most 2 places
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    percent: Option<String>,
    /// Switch every available unit
    #[arg(long)]
    all: bool,
    /// The request's id, chosen by the caller and reused on a retry: the same id never switches
    /// twice (there is no default, ADR 20)
    #[arg(long)]
    request_id: String,
    /// Wait for the run to finish and print the sell trade
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    operator: OperatorArgs,
}

pub async fn run(args: SwitchArgs) -> anyhow::Result<Outcome> {
    let operator = Operator::connect(&args.operator).await?;
    let percent = match args.percent {
        Some(percent) => percent,
        None => "100".to_owned(),
    };
    let handle = run::start::<SwitchFunds>(
        &operator,
        Input {
            request_id: args.request_id,
            member_id: args.member,
            from: args.from,
            to: args.to,
            percent,
        },
    )
    .await?;
    if args.wait {
        let output = run::wait(&handle).await?;
        println!(
            "reserved {} units; sell trade {} (its proceeds buy the other fund once priced)",
            output.reserved_units, output.trade_id
        );
    }
    Ok(Outcome::Done)
}
