//! `acme contributions`: import an employer's contribution schedule (docs/contributions.md),
//! invest it once paid, release it when held, read its rejection report, and get the file back
//! exactly as received.

use std::time::Duration;

use acme_activities::contributions::import::{self, Imported, LIMITS, RejectedRow, Upload};
use acme_ledger::audit::OperatorVerb;
use acme_sdk::EmployerId;
use acme_workflows::invest_contributions::{self, InvestContributions};
use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;
use temporalio_client::{UntypedWorkflow, WorkflowExecutionStatus, WorkflowSignalOptions};
use uuid::Uuid;

use crate::Outcome;
use crate::connect::{self, AppDatabase, ReadonlyDatabase};
use crate::operator::{Operator, OperatorArgs};
use crate::output::{self, Format};
use crate::{run, runs, temporal};

/// Rejections `import` prints; the rest are one `acme contributions rejections` away.
const REJECTIONS_SHOWN: i64 = 20;
/// Rejections one page of the report holds.
const REPORT_PAGE: i64 = 10_000;
/// How long `release` waits to say what the run's re-check found.
const RELEASE_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub enum ContributionsCommand {
    /// Import a schedule file: stored as received, every row checked, committed before it says so
    #[command(
        after_help = "Example: acme contributions import november.csv --employer acme-ltd\n\
                      Exit 1 if any row was rejected (the schedule's good rows are imported)."
    )]
    Import {
        /// The CSV file (format: docs/contributions.md)
        file: std::path::PathBuf,
        /// The employer the schedule is from
        #[arg(long)]
        employer: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
        #[command(flatten)]
        database: AppDatabase,
    },
    /// Invest a schedule once its payment shows on the bank statement (starts
    /// `invest-contributions`, workflow `contributions/<schedule>`)
    #[command(
        after_help = "Example: acme contributions invest 6f9619ff-8b86-5011-b42d-00c04fc964ff --wait"
    )]
    Invest {
        schedule: Uuid,
        /// Wait for the run to finish and print what it invested
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// Release a held schedule (paid short or over) once the employer has settled the
    /// difference: its run re-reads the bank statement now (restarted if it gave up) and invests
    /// the schedule only if the statement shows exactly what is due
    #[command(
        after_help = "Example: acme contributions release 6f9619ff-8b86-5011-b42d-00c04fc964ff \
                      --reason \"employer paid the £10.00 short on 3 Dec (ticket 12)\"\n\
                      Exit 1 if the bank statement still does not show what is due (the schedule\n\
                      stays held); nothing is ever invested that has not arrived."
    )]
    Release {
        schedule: Uuid,
        /// Why: how the employer settled the difference (recorded in the audit log)
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        operator: OperatorArgs,
    },
    /// A schedule's rejection report: line, column, code and reason of every rejected row
    Rejections {
        schedule: Uuid,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
        #[command(flatten)]
        database: ReadonlyDatabase,
    },
    /// Write a schedule's file, exactly as it was received, to standard output
    File {
        schedule: Uuid,
        #[command(flatten)]
        database: ReadonlyDatabase,
    },
}

pub async fn run(command: ContributionsCommand) -> anyhow::Result<Outcome> {
    match command {
        ContributionsCommand::Import {
            file,
            employer,
            output,
            database,
        } => {
            let employer_id = EmployerId::parse(&employer).map_err(|e| anyhow::anyhow!("{e}"))?;
            let file_name = file
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .context("the file has no name")?;
            let reader = tokio::fs::File::open(&file)
                .await
                .with_context(|| format!("cannot open {}", file.display()))?;
            let pool = connect::pool(&database.url, AppDatabase::SETTING, 2).await?;
            let upload = Upload {
                employer_id,
                file_name,
                today: Utc::now().date_naive(),
            };
            let imported = import::import(&pool, &upload, reader, LIMITS)
                .await
                .map_err(|error| match error.code() {
                    Some(code) => anyhow::anyhow!("schedule refused [{code}]: {error}"),
                    None => anyhow::Error::from(error),
                })?;
            let shown =
                import::rejections(&pool, imported.schedule.schedule_id, 0, REJECTIONS_SHOWN)
                    .await?;
            match output {
                Format::Json => output::json(&serde_json::json!({
                    "imported": imported, "first_rejections": shown }))?,
                Format::Table => print_imported(&imported, &shown),
            }
            Ok(if imported.schedule.rejected == 0 {
                Outcome::Done
            } else {
                Outcome::CheckFailed
            })
        }
        ContributionsCommand::Invest {
            schedule,
            wait,
            operator,
        } => {
            let operator = Operator::connect(&operator).await?;
            let handle = run::start::<InvestContributions>(
                &operator,
                invest_contributions::Input {
                    schedule_id: schedule.to_string(),
                    poll_every_secs: None,
                    chunk_rows: None,
                },
            )
            .await?;
            if wait {
                let invested = run::wait(&handle).await?;
                println!(
                    "invested {} rows, £{}, {} buy trades for the next dealing cycle",
                    invested.rows, invested.amount, invested.trades
                );
            }
            Ok(Outcome::Done)
        }
        ContributionsCommand::Release {
            schedule,
            reason,
            operator,
        } => release(schedule, &reason, &operator).await,
        ContributionsCommand::Rejections {
            schedule,
            output,
            database,
        } => {
            let pool = connect::pool(&database.url, ReadonlyDatabase::SETTING, 2).await?;
            if import::find(&pool, schedule).await?.is_none() {
                anyhow::bail!("no schedule {schedule}");
            }
            let mut all = Vec::new();
            let mut after = 0;
            loop {
                let page = import::rejections(&pool, schedule, after, REPORT_PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.line;
                all.extend(page);
            }
            match output {
                Format::Json => output::json(&all)?,
                Format::Table => println!("{}", rejection_table(&all)),
            }
            Ok(Outcome::Done)
        }
        ContributionsCommand::File { schedule, database } => {
            let pool = connect::pool(&database.url, ReadonlyDatabase::SETTING, 2).await?;
            if import::find(&pool, schedule).await?.is_none() {
                anyhow::bail!("no schedule {schedule}");
            }
            let mut out = tokio::io::stdout();
            import::copy_file(&pool, schedule, &mut out).await?;
            Ok(Outcome::Done)
        }
    }
}

/// `acme contributions release`: see the command's help and docs/contributions.md.
async fn release(schedule: Uuid, reason: &str, args: &OperatorArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        !reason.trim().is_empty(),
        "--reason must say how the employer settled the difference; nothing was done"
    );
    let operator = Operator::connect(args).await?;
    let pool = operator.audit().pool();
    let held = import::find(pool, schedule)
        .await?
        .with_context(|| format!("no schedule {schedule}"))?;
    anyhow::ensure!(
        held.status == "held",
        "schedule {schedule} is {}: only a held schedule (paid short or over) is released; \
         nothing was done",
        held.status
    );
    let workflow_id = invest_contributions::workflow_id(&schedule.to_string());
    let handle = operator
        .client()
        .get_workflow_handle::<InvestContributions>(workflow_id.clone());
    let running = handle
        .describe(Default::default())
        .await
        .is_ok_and(|run| run.status() == WorkflowExecutionStatus::Running);
    let checks_before = if running {
        checks(&workflow_id, operator.client()).await
    } else {
        0
    };
    let detail = serde_json::json!({
        "schedule_id": schedule,
        "payment_reference": held.payment_reference,
        // A running run is woken; one that gave up (or never ran) is started again.
        "run": if running { "signalled" } else { "started" },
    });
    operator
        .act(
            OperatorVerb::Release,
            &workflow_id,
            Some(reason),
            detail,
            async {
                if running {
                    handle
                        .signal(
                            InvestContributions::payment_advised,
                            held.payment_reference.clone(),
                            WorkflowSignalOptions::default(),
                        )
                        .await
                        .with_context(|| format!("cannot wake {workflow_id}"))
                } else {
                    acme_sdk::start::<InvestContributions>(
                        operator.client(),
                        &temporal::task_queues(),
                        invest_contributions::Input {
                            schedule_id: schedule.to_string(),
                            poll_every_secs: None,
                            chunk_rows: None,
                        },
                    )
                    .await
                    .map(drop)
                    .with_context(|| format!("cannot start {workflow_id}"))
                }
            },
        )
        .await?;
    println!("released: {workflow_id} re-checks the bank statement now");
    // The run's own check decides; this only waits to say what it found.
    let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
    loop {
        let status = import::find(pool, schedule).await?.map(|s| s.status);
        if matches!(status.as_deref(), Some("funded" | "invested")) {
            println!(
                "the bank statement shows £{} under {}: funded, being invested",
                held.employer_total + held.member_total,
                held.payment_reference
            );
            return Ok(Outcome::Done);
        }
        if checks(&workflow_id, operator.client()).await > checks_before {
            println!(
                "the bank statement still does not show £{} under {}: the schedule stays held \
                 and the run keeps checking (`acme describe {workflow_id}`)",
                held.employer_total + held.member_total,
                held.payment_reference
            );
            return Ok(Outcome::CheckFailed);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{workflow_id} has not checked within {}s (is a worker running?); it will: see \
             `acme describe {workflow_id}`",
            RELEASE_WAIT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How many payment checks the run has made (0 when it cannot be asked yet).
async fn checks(workflow_id: &str, client: &temporalio_client::Client) -> u64 {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id.to_owned());
    runs::query_json(
        &handle,
        acme_sdk::process::STATUS_QUERY,
        Duration::from_secs(5),
    )
    .await
    .ok()
    .and_then(|status| status["checks"].as_u64())
    .unwrap_or(0)
}

fn print_imported(imported: &Imported, shown: &[RejectedRow]) {
    let s = &imported.schedule;
    let what = if imported.new {
        "accepted and stored"
    } else {
        "already imported (the same file); nothing stored"
    };
    println!(
        "schedule {} from {} ({}, {} bytes, sha256 {}): {what}",
        s.schedule_id, s.employer_id, s.file_name, s.byte_count, s.digest
    );
    println!(
        "{} rows accepted (employer £{}, members £{}), {} rejected",
        s.accepted, s.employer_total, s.member_total, s.rejected
    );
    println!(
        "due: £{} under payment reference {} (status {})",
        s.employer_total + s.member_total,
        s.payment_reference,
        s.status
    );
    if !shown.is_empty() {
        println!("{}", rejection_table(shown));
        if s.rejected > i64::try_from(shown.len()).unwrap_or(i64::MAX) {
            println!(
                "… the whole report: acme contributions rejections {}",
                s.schedule_id
            );
        }
    }
}

fn rejection_table(rows: &[RejectedRow]) -> comfy_table::Table {
    let mut table = output::table(&["line", "column", "code", "reason"]);
    for r in rows {
        table.add_row(vec![
            r.line.to_string(),
            r.column.clone().unwrap_or_else(|| "-".into()),
            r.code.clone(),
            r.reason.clone(),
        ]);
    }
    table
}
