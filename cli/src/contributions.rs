//! `acme contributions`: import an employer's contribution schedule (docs/contributions.md),
//! invest it once paid, read its rejection report, and get the file back exactly as received.

use acme_activities::contributions::import::{self, Imported, LIMITS, RejectedRow, Upload};
use acme_sdk::EmployerId;
use acme_workflows::invest_contributions::{self, InvestContributions};
use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;
use uuid::Uuid;

use crate::Outcome;
use crate::connect::{self, AppDatabase, ReadonlyDatabase};
use crate::operator::{Operator, OperatorArgs};
use crate::output::{self, Format};
use crate::run;

/// Rejections `import` prints; the rest are one `acme contributions rejections` away.
const REJECTIONS_SHOWN: i64 = 20;
/// Rejections one page of the report holds.
const REPORT_PAGE: i64 = 10_000;

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
