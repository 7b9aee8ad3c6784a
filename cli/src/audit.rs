//! `acme audit`: the operator audit log, newest first: who started, signalled, cancelled or
//! terminated which run, when, why, and whether Temporal accepted it.

use acme_ledger::Ledger;
use acme_ledger::audit::AuditFilter;
use clap::Args;

use crate::Outcome;
use crate::connect::{self, ReadonlyDatabase};
use crate::output::{self, Format};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  acme audit --workflow invest/r-1\n  acme audit --operator alice --output json"
)]
pub struct AuditArgs {
    /// Only actions on this workflow id
    #[arg(long)]
    workflow: Option<String>,
    /// Only actions by this operator
    #[arg(long)]
    operator: Option<String>,
    /// At most this many actions
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
    #[command(flatten)]
    database: ReadonlyDatabase,
}

pub async fn run(args: AuditArgs) -> anyhow::Result<Outcome> {
    let ledger =
        Ledger::new(connect::pool(&args.database.url, ReadonlyDatabase::SETTING, 1).await?);
    let actions = ledger
        .operator_actions(&AuditFilter {
            workflow_id: args.workflow,
            operator: args.operator,
            limit: args.limit,
        })
        .await?;
    match args.output {
        Format::Json => output::json(&actions)?,
        Format::Table => {
            let mut table = output::table(&[
                "#", "when", "operator", "action", "workflow", "reason", "result",
            ]);
            for action in &actions {
                table.add_row(vec![
                    action.action_id.to_string(),
                    action.recorded_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    action.operator.clone(),
                    action.action.clone(),
                    action.workflow_id.clone(),
                    action.reason.clone().unwrap_or_default(),
                    match (action.accepted, &action.error) {
                        (Some(true), _) => "accepted".to_owned(),
                        (Some(false), error) => {
                            format!("refused: {}", error.as_deref().unwrap_or_default())
                        }
                        (None, _) => {
                            "unknown: no answer recorded (see the run's history)".to_owned()
                        }
                    },
                ]);
            }
            println!("{table}");
        }
    }
    Ok(Outcome::Done)
}
