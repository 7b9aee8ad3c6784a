//! `acme recon`: run a date's reconciliation, see where breaks stand, and work them. Runs are
//! started like any other (recorded in the operator audit log); acknowledging and resolving a
//! break is recorded there too (verbs `acknowledge`, `resolve`, under the break's run id) and in
//! the break's own event history, with who acted and why.

use acme_activities::recon::breaks::{self, BreakFilter, BreakStatus};
use acme_activities::recon::compare::BreakClass;
use acme_activities::recon::report;
use acme_ledger::audit::OperatorVerb;
use acme_workflows::reconciliation::{self, Input, Reconciliation};
use acme_workflows::reconciliation_daily::{self, SCHEDULE_ID};
use anyhow::Context as _;
use chrono::{NaiveDate, NaiveTime, Utc};
use clap::Subcommand;
use uuid::Uuid;

use crate::Outcome;
use crate::connect::{self, ReadonlyDatabase};
use crate::dealing::put_schedule;
use crate::inspect::StuckRun;
use crate::operator::{Operator, OperatorArgs};
use crate::output::{self, Format};
use crate::{run, temporal};

#[derive(Debug, Subcommand)]
pub enum ReconCommand {
    /// Reconcile a business date against the custodian, the bank and the payment provider
    /// (starts `reconciliation/<date>`) and wait
    #[command(after_help = "Example: acme recon run --date 2026-11-25")]
    Run {
        /// The business date, YYYY-MM-DD
        #[arg(long)]
        date: NaiveDate,
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// Open and acknowledged breaks by class, and the latest report
    Status {
        #[arg(long, value_enum, default_value_t)]
        output: Format,
        #[command(flatten)]
        database: ReadonlyDatabase,
    },
    /// Breaks not yet resolved (oldest first), by class and age
    #[command(after_help = "Example: acme recon breaks --class quantity_mismatch --older-than 2d")]
    Breaks {
        /// Only this class: missing_ours, missing_theirs, quantity_mismatch, amount_mismatch,
        /// timing, duplicate
        #[arg(long, value_parser = parse_class)]
        class: Option<BreakClass>,
        /// Only breaks opened longer ago than this (e.g. 90m, 36h, 2d)
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Option<std::time::Duration>,
        /// Resolved breaks too
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
        #[command(flatten)]
        database: ReadonlyDatabase,
    },
    /// Acknowledge a break: someone is on it
    Acknowledge {
        /// The break's id (from `acme recon breaks`)
        break_id: Uuid,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// Resolve a break, saying why; if a correction was needed, name its journal entry (posted
    /// through the ledger like any other: a correction is a new entry, never an edit)
    #[command(after_help = "Examples:\n  \
        acme recon resolve 6f1c… --reason \"custodian re-sent the statement\"\n  \
        acme recon resolve 6f1c… --reason \"unit booked twice\" --correction 4711")]
    Resolve {
        break_id: Uuid,
        #[arg(long)]
        reason: String,
        /// The id of the journal entry that corrected what the break found
        #[arg(long)]
        correction: Option<i64>,
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// Create (or replace) the weekday schedule that reconciles each business date after dealing
    #[command(after_help = "Example: acme recon schedule --at 18:00 --timezone Europe/London")]
    Schedule {
        /// Local time of day, HH:MM: after the dealing cut-off (`acme dealing schedule`)
        #[arg(long)]
        at: NaiveTime,
        /// IANA time zone of --at
        #[arg(long, default_value = "Europe/London")]
        timezone: String,
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// The latest daily report of a date, as text (or JSON)
    Report {
        #[arg(long)]
        date: NaiveDate,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
        #[command(flatten)]
        database: ReadonlyDatabase,
    },
}

fn parse_class(text: &str) -> Result<BreakClass, String> {
    BreakClass::parse(text).ok_or_else(|| {
        let known: Vec<&str> = BreakClass::ALL.iter().map(|c| c.as_str()).collect();
        format!("unknown class {text:?}; one of {}", known.join(", "))
    })
}

async fn readonly(database: &ReadonlyDatabase) -> anyhow::Result<sqlx::PgPool> {
    connect::pool(&database.url, ReadonlyDatabase::SETTING, 2).await
}

pub async fn run(command: ReconCommand) -> anyhow::Result<Outcome> {
    match command {
        ReconCommand::Run { date, operator } => {
            let operator = Operator::connect(&operator).await?;
            let handle = run::start::<Reconciliation>(
                &operator,
                Input {
                    date: date.to_string(),
                },
            )
            .await?;
            let outcome = run::wait(&handle).await?;
            println!(
                "reconciliation {date}: {} matched, {} breaks ({} new), {} timing breaks cleared; \
                 report #{}; journal head entry {} hash {}",
                outcome.matched,
                outcome.breaks,
                outcome.new_breaks,
                outcome.timing_cleared,
                outcome.report_id,
                outcome.journal_head.entry_id,
                outcome.journal_head.hash
            );
            Ok(if outcome.breaks == 0 {
                Outcome::Done
            } else {
                Outcome::CheckFailed
            })
        }
        ReconCommand::Status { output, database } => {
            let pool = readonly(&database).await?;
            let counts = breaks::counts(&pool).await?;
            let latest = report::latest(&pool, None, 1).await?;
            match output {
                Format::Json => output::json(&serde_json::json!({
                    "unresolved": counts.iter().map(|(class, status, n)| serde_json::json!({
                        "class": class, "status": status, "breaks": n })).collect::<Vec<_>>(),
                    "latest_report": latest.first().map(|r| serde_json::json!({
                        "report_id": r.report_id, "date": r.recon_date,
                        "recorded_at": r.recorded_at, "head_entry_id": r.head_entry_id })),
                }))?,
                Format::Table => {
                    let mut table = output::table(&["class", "status", "breaks"]);
                    for (class, status, n) in &counts {
                        table.add_row(vec![class.clone(), status.clone(), n.to_string()]);
                    }
                    println!("{table}");
                    match latest.first() {
                        Some(r) => println!(
                            "latest report #{} of {} at {} (journal head entry {})",
                            r.report_id,
                            r.recon_date,
                            output::when(r.recorded_at),
                            r.head_entry_id
                        ),
                        None => println!("no reconciliation has run yet"),
                    }
                }
            }
            Ok(if counts.is_empty() {
                Outcome::Done
            } else {
                Outcome::CheckFailed
            })
        }
        ReconCommand::Breaks {
            class,
            older_than,
            all,
            limit,
            output,
            database,
        } => {
            let pool = readonly(&database).await?;
            let opened_before = older_than
                .map(|age| chrono::Duration::from_std(age).map(|age| Utc::now() - age))
                .transpose()
                .context("--older-than is too long")?;
            let found = breaks::list(
                &pool,
                &BreakFilter {
                    class,
                    opened_before,
                    include_resolved: all,
                    limit,
                },
            )
            .await?;
            match output {
                Format::Json => output::json(&found)?,
                Format::Table => {
                    let mut table = output::table(&[
                        "break", "date", "class", "subject", "ours", "theirs", "status", "opened",
                    ]);
                    for b in &found {
                        let figure = |v: Option<rust_decimal::Decimal>| {
                            v.map_or_else(|| "-".to_owned(), |v| v.to_string())
                        };
                        table.add_row(vec![
                            b.break_id.to_string(),
                            b.recon_date.to_string(),
                            b.class.clone(),
                            b.subject.clone(),
                            figure(b.ours),
                            figure(b.theirs),
                            b.status.as_str().to_owned(),
                            output::when(b.opened_at),
                        ]);
                    }
                    println!("{table}");
                }
            }
            Ok(Outcome::Done)
        }
        ReconCommand::Acknowledge {
            break_id,
            reason,
            operator,
        } => {
            work(
                break_id,
                BreakStatus::Acknowledged,
                &reason,
                None,
                &operator,
            )
            .await
        }
        ReconCommand::Resolve {
            break_id,
            reason,
            correction,
            operator,
        } => {
            work(
                break_id,
                BreakStatus::Resolved,
                &reason,
                correction,
                &operator,
            )
            .await
        }
        ReconCommand::Schedule {
            at,
            timezone,
            operator,
        } => {
            let operator = Operator::connect(&operator).await?;
            let detail = serde_json::json!({ "at": at, "timezone": &timezone });
            let schedule = reconciliation_daily::schedule(at, &timezone, &temporal::task_queues());
            let verb = operator
                .act(OperatorVerb::Schedule, SCHEDULE_ID, None, detail, async {
                    put_schedule(operator.client(), SCHEDULE_ID, schedule).await
                })
                .await?;
            println!(
                "schedule {SCHEDULE_ID} {verb}: weekdays at {at} {timezone} starts \
                 reconciliation/<date>"
            );
            Ok(Outcome::Done)
        }
        ReconCommand::Report {
            date,
            output,
            database,
        } => {
            let pool = readonly(&database).await?;
            let Some(latest) = report::latest(&pool, Some(date), 1).await?.pop() else {
                anyhow::bail!(
                    "no reconciliation report of {date}: run `acme recon run --date {date}`"
                );
            };
            match output {
                Format::Json => output::json(&latest.report)?,
                Format::Table => print!("{}", latest.report_text),
            }
            Ok(Outcome::Done)
        }
    }
}

/// Moves a break on as the operator, recorded in the audit log before and after.
async fn work(
    break_id: Uuid,
    to: BreakStatus,
    reason: &str,
    correction: Option<i64>,
    operator: &OperatorArgs,
) -> anyhow::Result<Outcome> {
    let operator = Operator::connect(operator).await?;
    let pool = operator.audit().pool().clone();
    let found = breaks::list(
        &pool,
        &BreakFilter {
            include_resolved: true,
            limit: breaks::MAX_LISTED,
            ..BreakFilter::default()
        },
    )
    .await?
    .into_iter()
    .find(|b| b.break_id == break_id);
    let run_id = found.map_or_else(
        || format!("reconciliation/break/{break_id}"),
        |b| reconciliation::workflow_id(&b.recon_date.to_string()),
    );
    let verb = match to {
        BreakStatus::Resolved => OperatorVerb::Resolve,
        BreakStatus::Open | BreakStatus::Acknowledged => OperatorVerb::Acknowledge,
    };
    let detail = serde_json::json!({
        "break_id": break_id, "to": to.as_str(), "correction_entry_id": correction,
    });
    let name = operator.name().to_owned();
    let moved = operator
        .act(verb, &run_id, Some(reason), detail, async {
            breaks::advance_with(&pool, break_id, to, &name, reason, correction)
                .await
                .map_err(anyhow::Error::from)
        })
        .await?;
    println!(
        "break {break_id} ({} {}) is {}",
        moved.class,
        moved.subject,
        moved.status.as_str()
    );
    Ok(Outcome::Done)
}

/// Breaks past their age limit, as `acme stuck` lists them: one entry per reconciliation run
/// (`reconciliation/<date>`), a reason per break (timing breaks once their expected clear date
/// has passed, others once unresolved longer than `age_limit`).
pub async fn overdue_breaks(
    database: &ReadonlyDatabase,
    age_limit: std::time::Duration,
) -> anyhow::Result<Vec<StuckRun>> {
    let pool = readonly(database).await?;
    let overdue = breaks::overdue(&pool, age_limit, Utc::now()).await?;
    let mut runs: Vec<StuckRun> = Vec::new();
    for b in overdue {
        let workflow_id = reconciliation::workflow_id(&b.recon_date.to_string());
        let reason = match b.expected_clear_date {
            Some(clears) if b.class == BreakClass::Timing.as_str() => format!(
                "reconciliation break {} ({} {} {}) was expected to clear by {clears}; it is {}",
                b.break_id,
                b.scope,
                b.class,
                b.subject,
                b.status.as_str()
            ),
            _ => format!(
                "reconciliation break {} ({} {} {}) {} since {}, past the age limit of {}",
                b.break_id,
                b.scope,
                b.class,
                b.subject,
                b.status.as_str(),
                output::when(b.opened_at),
                humantime::format_duration(age_limit)
            ),
        };
        match runs.last_mut().filter(|run| run.workflow_id == workflow_id) {
            Some(run) => run.reasons.push(reason),
            None => runs.push(StuckRun {
                ui: crate::temporal::ui_link(&workflow_id),
                workflow_id,
                process: reconciliation::NAME.to_owned(),
                started: Some(b.opened_at),
                reasons: vec![reason],
            }),
        }
    }
    Ok(runs)
}
