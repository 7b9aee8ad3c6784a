//! `acme dealing`: run a dealing day, and see where each of its external trades stands.

use acme_activities::dealing::external_trade_workflow_id;
use acme_activities::trade_book::{ExternalTradeStatus, external_trades};
use acme_ledger::audit::OperatorVerb;
use acme_workflows::dealing_cutoff::{self, SCHEDULE_ID};
use acme_workflows::dealing_cycle::{DealingCycle, Input, Status};
use anyhow::Context as _;
use chrono::{NaiveDate, NaiveTime};
use clap::Subcommand;
use rust_decimal::Decimal;
use temporalio_client::schedules::{CreateScheduleOptions, ScheduleError};
use temporalio_client::tonic;
use temporalio_client::{Client, WorkflowHandle, WorkflowQueryOptions};

use crate::Outcome;
use crate::connect::{self, ReadonlyDatabase};
use crate::operator::{Operator, OperatorArgs};
use crate::output::{self, Format};
use crate::progress::Progress;
use crate::{run, temporal};

#[derive(Debug, Subcommand)]
pub enum DealingCommand {
    /// Run (or attach to) the dealing cycle of a date: close, place, price, allocate, settle
    #[command(after_help = "Example: acme dealing run --date 2026-11-23 --wait")]
    Run {
        /// The dealing date, YYYY-MM-DD
        #[arg(long)]
        date: NaiveDate,
        /// Seconds between custodian status polls while waiting for a callback
        #[arg(long)]
        poll_every: Option<u64>,
        /// Seconds an external trade may wait for the custodian before `acme stuck` lists it
        /// (default two days)
        #[arg(long)]
        expect_within: Option<u64>,
        /// Wait for the cycle to finish and print its external trades
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// Create (or replace) the weekday schedule that starts each day's dealing cycle at the cut-off
    #[command(after_help = "Example: acme dealing schedule --at 16:00 --timezone Europe/London")]
    Schedule {
        /// The cut-off, HH:MM
        #[arg(long)]
        at: NaiveTime,
        /// IANA time zone of the cut-off
        #[arg(long, default_value = "Europe/London")]
        timezone: String,
        /// Seconds between custodian status polls while waiting for a callback
        #[arg(long)]
        poll_every: Option<u64>,
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// Per asset and side: the external trade's state, member trades and amounts
    #[command(after_help = "Example: acme dealing status --date 2026-11-23 --output json")]
    Status {
        #[arg(long)]
        date: NaiveDate,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
        #[command(flatten)]
        database: ReadonlyDatabase,
    },
}

/// Waits for a cycle to finish, showing how many of its external trades have (from its status
/// query, asked every second).
async fn wait_showing_progress(
    handle: &WorkflowHandle<Client, DealingCycle>,
) -> anyhow::Result<Status> {
    let progress = Progress::new("external trades finished", 0);
    let result = run::wait(handle);
    tokio::pin!(result);
    loop {
        tokio::select! {
            status = &mut result => {
                progress.finish();
                return status;
            }
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                // A query that fails (no worker yet) only leaves the bar where it was.
                if let Ok(status) = handle
                    .query(DealingCycle::status, (), WorkflowQueryOptions::default())
                    .await
                {
                    let finished = status.trades.iter().filter(|t| t.outcome.is_some()).count();
                    progress.update(finished as u64, status.trades.len() as u64);
                }
            }
        }
    }
}

pub async fn run(command: DealingCommand) -> anyhow::Result<Outcome> {
    match command {
        DealingCommand::Run {
            date,
            poll_every,
            expect_within,
            wait,
            operator,
        } => {
            let operator = Operator::connect(&operator).await?;
            let handle = run::start::<DealingCycle>(
                &operator,
                Input {
                    dealing_date: date.to_string(),
                    poll_every_secs: poll_every,
                    expect_within_secs: expect_within,
                },
            )
            .await?;
            if wait {
                let status = wait_showing_progress(&handle).await?;
                println!("dealing {date}: {} external trades", status.trades.len());
                for result in status.trades {
                    let t = &result.trade;
                    let outcome = match &result.outcome {
                        Some(Ok(outcome)) => format!("{outcome:?}"),
                        Some(Err(error)) => format!("failed: {error}"),
                        None => "unfinished".into(),
                    };
                    println!(
                        "  {} {} {}: {outcome}",
                        t.order_ref,
                        t.side.as_str(),
                        t.ordered_total
                    );
                }
            }
            Ok(Outcome::Done)
        }
        DealingCommand::Schedule {
            at,
            timezone,
            poll_every,
            operator,
        } => {
            let operator = Operator::connect(&operator).await?;
            let input = dealing_cutoff::Input {
                poll_every_secs: poll_every,
            };
            let detail = serde_json::json!({
                "at": at, "timezone": &timezone, "input": &input,
            });
            let schedule = dealing_cutoff::schedule(at, &timezone, &temporal::task_queues(), input);
            let verb = operator
                .act(OperatorVerb::Schedule, SCHEDULE_ID, None, detail, async {
                    put_schedule(operator.client(), SCHEDULE_ID, schedule).await
                })
                .await?;
            println!(
                "schedule {SCHEDULE_ID} {verb}: weekdays at {at} {timezone} starts dealing/<date>"
            );
            Ok(Outcome::Done)
        }
        DealingCommand::Status {
            date,
            output,
            database,
        } => {
            let pool = connect::pool(&database.url, ReadonlyDatabase::SETTING, 1).await?;
            let lines = external_trades::lines(&pool, date).await?;
            let progress = bulk_steps_running(date, &lines).await;
            match output {
                Format::Json => output::json(&lines)?,
                Format::Table => {
                    let mut table = output::table(&[
                        "asset",
                        "side",
                        "status",
                        "order",
                        "members",
                        "ordered",
                        "price",
                        "delivered",
                        "consumed",
                        "residue",
                        "settles",
                        "running",
                    ]);
                    let text =
                        |value: &Option<Decimal>| value.map(|v| v.to_string()).unwrap_or_default();
                    for line in &lines {
                        table.add_row(vec![
                            line.asset_code.clone(),
                            line.side.to_string(),
                            line.status.to_string(),
                            line.order_ref.clone(),
                            line.member_trades.to_string(),
                            text(&line.ordered_total),
                            text(&line.price),
                            text(&line.delivered),
                            text(&line.consumed),
                            text(&line.residue_delivered),
                            line.settlement_date
                                .map(|d| d.to_string())
                                .unwrap_or_default(),
                            progress.get(&line.order_ref).cloned().unwrap_or_default(),
                        ]);
                    }
                    println!("{table}");
                    if lines.is_empty() {
                        println!("no external trades for {date} (has its dealing cycle run?)");
                    }
                }
            }
            Ok(Outcome::Done)
        }
    }
}

/// The bulk step each external trade's workflow is running (allocating, settling), by order
/// reference, as `acme describe` shows it. Empty when Temporal cannot be reached: the books
/// above come from the database and stand on their own.
async fn bulk_steps_running(
    date: NaiveDate,
    lines: &[external_trades::TradeLine],
) -> std::collections::HashMap<String, String> {
    let mut running = std::collections::HashMap::new();
    let Ok(client) = temporal::connect().await else {
        return running;
    };
    let finished = [
        ExternalTradeStatus::Settled,
        ExternalTradeStatus::Rejected,
        ExternalTradeStatus::Failed,
    ];
    for line in lines.iter().filter(|line| !finished.contains(&line.status)) {
        let workflow_id = external_trade_workflow_id(date, &line.asset_code, line.side);
        if let Some(progress) = crate::inspect::running_bulk_step(&client, &workflow_id).await {
            running.insert(line.order_ref.clone(), progress);
        }
    }
    running
}

/// Creates the schedule `id`, or updates the existing one in place (there is never a moment
/// without one); says which, and whether it is paused.
pub async fn put_schedule(
    client: &Client,
    id: &str,
    schedule: CreateScheduleOptions,
) -> anyhow::Result<String> {
    let handle = client.get_schedule_handle(id);
    let paused = match handle.describe(Default::default()).await {
        Err(ScheduleError::Rpc(status)) if status.code() == tonic::Code::NotFound => {
            client
                .create_schedule(id, schedule)
                .await
                .with_context(|| format!("cannot create the schedule {id}"))?;
            return Ok("created".to_owned());
        }
        Err(error) => return Err(error).with_context(|| format!("cannot read the schedule {id}")),
        Ok(existing) => existing
            .raw()
            .schedule
            .as_ref()
            .and_then(|s| s.state.as_ref())
            .is_some_and(|state| state.paused),
    };
    handle
        .update(
            move |update| {
                update
                    .set_spec(schedule.spec)
                    .set_action(schedule.action)
                    .set_overlap_policy(schedule.overlap_policy)
                    .set_note(schedule.note);
            },
            Default::default(),
        )
        .await
        .with_context(|| format!("cannot update the schedule {id}"))?;
    Ok(if paused {
        format!(
            "updated, and still paused (resume it in the Temporal UI, or with `temporal \
             schedule toggle --schedule-id {id} --unpause --reason ...`)"
        )
    } else {
        "updated".to_owned()
    })
}
