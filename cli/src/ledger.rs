//! `acme ledger`: reports and checks over the ledger, read through the read-only role.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use acme_ledger::checkpoint::{Checkpoint, CheckpointKey};
use acme_ledger::query::JournalFilter;
use acme_ledger::{EntryId, Ledger, PotId};
use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use crate::Outcome;
use crate::connect::{self, ReadonlyDatabase};
use crate::output::{self, Format};
use crate::progress::Stages;

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// A self-explaining tour of the ledger: bulk posting, replays, a refused overdraft, checks
    #[command(after_help = "Example: acme ledger tour --members 1000")]
    Tour(crate::ledger_tour::DemoArgs),
    /// Check the journal's hash chain, and the checkpoints taken of it; exit 1 and name the first
    /// bad entry (or every checkpoint that no longer holds) if it was tampered with
    #[command(
        after_help = "Example: acme ledger verify --checkpoints /mnt/worm/acme-checkpoints.jsonl --key-file /run/secrets/checkpoint-key"
    )]
    Verify {
        #[command(flatten)]
        read: ReadArgs,
        /// Also check every checkpoint in this file (`acme ledger checkpoint`, one per line)
        #[arg(long, requires = "key_file")]
        checkpoints: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Sign the journal's head with the checkpoint key and append it to a file kept outside the
    /// database (ADR 31), so that a later rewrite of the journal cannot pass `verify`
    #[command(
        after_help = "Example: acme ledger checkpoint --append-to /mnt/worm/acme-checkpoints.jsonl --key-file /run/secrets/checkpoint-key"
    )]
    Checkpoint {
        /// The append-only file the checkpoint is added to, one JSON line each
        #[arg(long)]
        append_to: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Check invariants 1-3 (entries balance, balances match postings, nothing negative)
    #[command(after_help = "Example: acme ledger invariants")]
    Invariants(ReadArgs),
    /// Balances of one pot's accounts, now or on a date (--as-of, by effective date)
    #[command(after_help = "Example: acme ledger balance --pot 42 --as-of 2026-11-23")]
    Balance {
        #[arg(long)]
        pot: i64,
        /// The balances on this date, YYYY-MM-DD: entries effective on or before it, however
        /// late they were recorded (from the journal); default: now
        #[arg(long)]
        as_of: Option<NaiveDate>,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Postings on one pot's accounts, in journal order, with running balances
    #[command(after_help = "Example: acme ledger statement --pot 42 --after 1000")]
    Statement {
        #[arg(long)]
        pot: i64,
        /// Start after this entry id (for paging)
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Entries written by one workflow or one process
    #[command(after_help = "Example: acme ledger journal --workflow invest/r-123")]
    Journal {
        #[command(flatten)]
        filter: JournalArgs,
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Ask for an entry to be reversed, with a reason; posted only once another operator
    /// approves (four eyes)
    #[command(
        after_help = "Example: acme ledger reverse 1234 --reason \"posted twice by hand\" --as alice"
    )]
    Reverse(crate::reversal::ReverseArgs),
    /// Approve another operator's reversal request: posts the reversing entry
    #[command(after_help = "Example: acme ledger approve 7 --as bob")]
    Approve(crate::reversal::ApproveArgs),
    /// Reversal requests waiting for approval (--all: approved ones too)
    #[command(after_help = "Example: acme ledger reversals")]
    Reversals(crate::reversal::ReversalsArgs),
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    #[arg(long, value_enum, default_value_t)]
    output: Format,
    #[command(flatten)]
    database: ReadonlyDatabase,
}

/// The checkpoint key: a file's bytes (at least 32; `openssl rand 32 > key`), never in the
/// database.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The checkpoint key's file
    #[arg(long, env = "ACME_CHECKPOINT_KEY_FILE")]
    key_file: Option<PathBuf>,
}

impl KeyArgs {
    fn load(&self) -> anyhow::Result<CheckpointKey> {
        let path = self
            .key_file
            .as_ref()
            .context("which key? Pass --key-file PATH or set ACME_CHECKPOINT_KEY_FILE")?;
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the checkpoint key {}", path.display()))?;
        CheckpointKey::new(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct JournalArgs {
    /// Workflow id, e.g. invest/r-123
    #[arg(long)]
    workflow: Option<String>,
    /// Process name, e.g. invest-cash
    #[arg(long)]
    process: Option<String>,
}

pub async fn run(command: LedgerCommand) -> anyhow::Result<Outcome> {
    match command {
        LedgerCommand::Tour(args) => crate::ledger_tour::run(args).await,
        LedgerCommand::Verify {
            read,
            checkpoints,
            key,
        } => verify(&read, checkpoints.as_deref(), &key).await,
        LedgerCommand::Checkpoint {
            append_to,
            key,
            read,
        } => checkpoint(&append_to, &key, &read).await,
        LedgerCommand::Invariants(read) => invariants(&read).await,
        LedgerCommand::Balance { pot, as_of, read } => balance(PotId(pot), as_of, &read).await,
        LedgerCommand::Statement { pot, after, read } => {
            statement(PotId(pot), EntryId(after), &read).await
        }
        LedgerCommand::Journal {
            filter,
            after,
            read,
        } => journal(&filter, EntryId(after), &read).await,
        LedgerCommand::Reverse(args) => crate::reversal::reverse(args).await,
        LedgerCommand::Approve(args) => crate::reversal::approve(args).await,
        LedgerCommand::Reversals(args) => crate::reversal::list(args).await,
    }
}

async fn open(read: &ReadArgs) -> anyhow::Result<Ledger> {
    Ok(Ledger::new(
        connect::pool(&read.database.url, ReadonlyDatabase::SETTING, 1).await?,
    ))
}

async fn verify(
    read: &ReadArgs,
    checkpoints: Option<&Path>,
    key: &KeyArgs,
) -> anyhow::Result<Outcome> {
    // The file and the key are checked before the walk, which may take minutes.
    let checkpoints = match checkpoints {
        Some(path) => Some((read_checkpoints(path)?, key.load()?)),
        None => None,
    };
    let ledger = open(read).await?;
    let started = Instant::now();
    let mut stages = Stages::default();
    let report = ledger
        .verify_with_progress(|progress| stages.update(progress))
        .await;
    stages.finish();
    let report = report?;
    let took = took(started.elapsed(), report.entries_checked, "entries");
    match read.output {
        Format::Json => {
            output::json(&report)?;
            eprintln!("ledger verify: {took}");
        }
        Format::Table => match &report.first_break {
            None => println!(
                "journal chain sound: {} entries checked, head at entry {} ({took})",
                report.entries_checked, report.head_entry_id
            ),
            Some(broken) => println!(
                "JOURNAL CHAIN BROKEN at entry {}: {}\n({} entries checked, {took}; entries after it are unverified)",
                broken.entry_id, broken.problem, report.entries_checked
            ),
        },
    }
    let mut sound = report.is_sound();
    if let Some((checkpoints, key)) = checkpoints {
        let problems = ledger.check_checkpoints(&key, &checkpoints).await?;
        sound &= problems.is_empty();
        match read.output {
            Format::Json => output::json(&problems)?,
            Format::Table if problems.is_empty() => println!(
                "checkpoints hold: all {} of them ({})",
                checkpoints.len(),
                checkpoints.last().map_or_else(
                    || "none yet".to_owned(),
                    |last| format!("the latest at entry {}, {}", last.entry_id, last.taken_at)
                )
            ),
            Format::Table => {
                for problem in &problems {
                    println!(
                        "CHECKPOINT BROKEN: entry {} checkpointed {}: {}",
                        problem.entry_id, problem.taken_at, problem.problem
                    );
                }
            }
        }
    }
    Ok(if sound {
        Outcome::Done
    } else {
        Outcome::CheckFailed
    })
}

/// Every checkpoint of `path`, one JSON object per line; a line that is not one is named.
fn read_checkpoints(path: &Path) -> anyhow::Result<Vec<Checkpoint>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the checkpoints {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not a checkpoint", path.display(), n + 1))
        })
        .collect()
}

async fn checkpoint(append_to: &Path, key: &KeyArgs, read: &ReadArgs) -> anyhow::Result<Outcome> {
    let key = key.load()?;
    let ledger = open(read).await?;
    let checkpoint = ledger.checkpoint(&key).await?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(append_to)
        .with_context(|| format!("opening {} to append", append_to.display()))?;
    let line = serde_json::to_string(&checkpoint)?;
    writeln!(file, "{line}")?;
    // Durable before it is reported taken.
    file.sync_all()?;
    match read.output {
        Format::Json => output::json(&checkpoint)?,
        Format::Table => println!(
            "checkpoint of entry {} ({}) appended to {}",
            checkpoint.entry_id,
            checkpoint.entry_hash,
            append_to.display()
        ),
    }
    Ok(Outcome::Done)
}

async fn invariants(read: &ReadArgs) -> anyhow::Result<Outcome> {
    let ledger = open(read).await?;
    let started = Instant::now();
    let mut stages = Stages::default();
    let report = ledger
        .check_invariants_with_progress(|progress| stages.update(progress))
        .await;
    stages.finish();
    let report = report?;
    let took = format!("took {:.1?}", started.elapsed());
    match read.output {
        Format::Json => {
            output::json(&report)?;
            eprintln!("ledger invariants: {took}");
        }
        Format::Table => {
            let mut table = output::table(&["#", "invariant", "result", "violations (first few)"]);
            for check in &report.checks {
                let result = if check.violation_count == 0 {
                    "ok".to_owned()
                } else {
                    format!("VIOLATED ({})", check.violation_count)
                };
                table.add_row(vec![
                    check.invariant.to_string(),
                    check.name.to_owned(),
                    result,
                    check.violations.join("\n"),
                ]);
            }
            println!("{table}");
            println!("invariants 1-3 checked ({took})");
        }
    }
    Ok(if report.holds() {
        Outcome::Done
    } else {
        Outcome::CheckFailed
    })
}

/// "took 93.1s, 268000 entries/s": the time a check took and its rate, for the record.
fn took(elapsed: Duration, count: u64, what: &str) -> String {
    let rate = u128::from(count) * 1000 / elapsed.as_millis().max(1);
    format!("took {elapsed:.1?}, {rate} {what}/s")
}

async fn balance(pot: PotId, as_of: Option<NaiveDate>, read: &ReadArgs) -> anyhow::Result<Outcome> {
    let ledger = open(read).await?;
    let balances = match as_of {
        Some(date) => ledger.pot_balances_on(pot, date).await?,
        None => ledger.pot_balances(pot).await?,
    };
    if balances.is_empty() {
        anyhow::bail!("pot {pot} has no accounts (or does not exist)");
    }
    match read.output {
        Format::Json => output::json(&balances)?,
        Format::Table => {
            let mut table = output::table(&["account", "asset", "purpose", "balance"]);
            for line in &balances {
                table.add_row(vec![
                    line.account_id.to_string(),
                    line.asset_code.clone(),
                    line.purpose.clone(),
                    line.amount.to_string(),
                ]);
            }
            println!("{table}");
        }
    }
    Ok(Outcome::Done)
}

async fn statement(pot: PotId, after: EntryId, read: &ReadArgs) -> anyhow::Result<Outcome> {
    let ledger = open(read).await?;
    if ledger.pot_balances(pot).await?.is_empty() {
        anyhow::bail!("pot {pot} has no accounts (or does not exist)");
    }
    let lines = ledger.pot_statement(pot, after).await?;
    match read.output {
        Format::Json => output::json(&lines)?,
        Format::Table => {
            let mut table = output::table(&[
                "entry",
                "recorded",
                "effective",
                "kind",
                "account",
                "asset",
                "purpose",
                "amount",
                "balance",
            ]);
            for line in &lines {
                table.add_row(vec![
                    line.entry_id.to_string(),
                    line.recorded_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    line.effective_date.to_string(),
                    line.kind.clone(),
                    line.account_id.to_string(),
                    line.asset_code.clone(),
                    line.purpose.clone(),
                    line.amount.to_string(),
                    line.balance_after.to_string(),
                ]);
            }
            println!("{table}");
        }
    }
    Ok(Outcome::Done)
}

async fn journal(filter: &JournalArgs, after: EntryId, read: &ReadArgs) -> anyhow::Result<Outcome> {
    let filter = match (&filter.workflow, &filter.process) {
        (Some(workflow), _) => JournalFilter::Workflow(workflow),
        (None, Some(process)) => JournalFilter::Process(process),
        (None, None) => anyhow::bail!("give --workflow or --process"),
    };
    let entries = open(read).await?.journal(filter, after).await?;
    match read.output {
        Format::Json => output::json(&entries)?,
        Format::Table => {
            let mut table = output::table(&[
                "entry",
                "recorded",
                "kind",
                "workflow",
                "postings (account: amount)",
            ]);
            for entry in &entries {
                let postings: Vec<String> = entry
                    .postings
                    .iter()
                    .map(|p| format!("{}: {}", p.account_id, p.amount))
                    .collect();
                table.add_row(vec![
                    entry.entry_id.to_string(),
                    entry.recorded_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    entry.kind.clone(),
                    entry.workflow_id.clone(),
                    postings.join("\n"),
                ]);
            }
            println!("{table}");
        }
    }
    Ok(Outcome::Done)
}
