//! Reading runs: `acme describe`, `acme list` (visibility queries over our search attributes,
//! the same ones the Temporal UI's search box takes) and `acme stuck` (runs whose activities
//! keep failing, or that have waited for the outside world past their deadline, with why; and
//! reconciliation breaks left unresolved past their age limit, under their run).

use std::time::{Duration, SystemTime};

use acme_sdk::Waiting;
use acme_sdk::bulk;
use acme_sdk::codec::{self, PayloadKeys};
use acme_sdk::process::STATUS_QUERY;
use acme_sdk::search;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use temporalio_client::{
    Client, UntypedWorkflow, WorkflowDescribeOptions, WorkflowExecutionDescription,
    WorkflowExecutionStatus, WorkflowHandle, WorkflowListOptions,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::enums::v1::PendingActivityState;

use crate::Outcome;
use crate::connect::ReadonlyDatabase;
use crate::output::{self, Format};
use crate::progress::Progress;
use crate::runs::{described_run, query_json};
use crate::temporal;

/// How long `acme stuck` waits for each run's status query.
const STATUS_QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many runs `acme stuck` examines at once (a describe and a query each).
const STUCK_CHECKS_AT_ONCE: usize = 16;
/// From how many runs `acme stuck` shows its progress.
const STUCK_PROGRESS_FROM: usize = 200;

#[derive(Debug, Args)]
#[command(after_help = "Example: acme describe external-trade/2026-11-23/GB00ACMEGLB1/buy")]
pub struct DescribeArgs {
    workflow_id: String,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

/// Which runs to look at; each filter narrows the visibility query.
#[derive(Debug, Args)]
pub struct RunFilter {
    /// Process name, e.g. invest-cash
    #[arg(long)]
    process: Option<String>,
    /// Member id
    #[arg(long)]
    member: Option<String>,
    /// Dealing date, YYYY-MM-DD
    #[arg(long)]
    date: Option<String>,
    /// Asset code (ISIN)
    #[arg(long)]
    asset: Option<String>,
    /// Only runs started longer ago than this, e.g. 30m, 2h, 3days
    #[arg(long, value_parser = humantime::parse_duration)]
    older_than: Option<Duration>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    acme list --process external-trade --status running --date 2026-11-23\n  \
    acme list --member m-1 --output json\n  \
    acme list --status running --older-than 2h")]
pub struct ListArgs {
    #[command(flatten)]
    filter: RunFilter,
    #[arg(long, value_enum)]
    status: Option<RunStatus>,
    /// At most this many runs, newest first
    #[arg(long, default_value_t = 100)]
    limit: usize,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Debug, Args)]
#[command(after_help = "Example: acme stuck --process external-trade --output json")]
pub struct StuckArgs {
    #[command(flatten)]
    filter: RunFilter,
    /// At most this many running runs are examined, the oldest first; if there are more,
    /// `acme stuck` says so and exits 1: narrow it with --older-than or --process
    #[arg(long, default_value_t = 10_000)]
    examine: usize,
    /// Reconciliation breaks unresolved longer than this are listed too, under their run
    /// (timing breaks once the date they were expected to clear by has passed)
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1day")]
    break_age_limit: Duration,
    #[command(flatten)]
    database: ReadonlyDatabase,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunStatus {
    Running,
    Completed,
    Failed,
    Canceled,
    Terminated,
    TimedOut,
}

impl RunStatus {
    /// The name visibility queries use.
    fn visibility_name(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
            Self::Terminated => "Terminated",
            Self::TimedOut => "TimedOut",
        }
    }
}

/// One run, as `acme describe` shows it.
#[derive(Debug, Serialize)]
pub struct Description {
    pub workflow_id: String,
    pub run_id: String,
    pub process: String,
    pub status: String,
    pub summary: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub closed: Option<DateTime<Utc>>,
    pub task_queue: String,
    pub history_events: usize,
    /// The attempt of the workflow task now pending; above 1, the worker keeps failing it.
    pub workflow_task_attempt: Option<i32>,
    pub pending_activities: Vec<PendingActivity>,
    pub pending_children: Vec<String>,
    pub ui: String,
}

#[derive(Debug, Serialize)]
pub struct PendingActivity {
    pub activity: String,
    pub state: String,
    pub attempt: i32,
    /// 0 means no limit.
    pub maximum_attempts: i32,
    pub last_failure: Option<String>,
    pub next_attempt: Option<DateTime<Utc>>,
    /// A bulk step's last heartbeat: done/total, rate and ETA (`acme_sdk::bulk::Progress`).
    pub progress: Option<String>,
}

/// One run in a listing.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub workflow_id: String,
    pub process: String,
    pub status: String,
    pub business_key: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub closed: Option<DateTime<Utc>>,
}

/// What a listing ran, so the same search can be pasted into the Temporal UI.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub query: String,
    pub ui: String,
    pub runs: Vec<Listed>,
}

/// A run that needs an operator, and why.
#[derive(Debug, Serialize)]
pub struct StuckRun {
    pub workflow_id: String,
    pub process: String,
    pub started: Option<DateTime<Utc>>,
    pub reasons: Vec<String>,
    pub ui: String,
}

pub async fn describe(args: DescribeArgs) -> anyhow::Result<Outcome> {
    let client = temporal::connect().await?;
    let (_, description) = described_run(&client, &args.workflow_id).await?;
    let description = Description::of(&args.workflow_id, &description);
    match args.output {
        Format::Json => output::json(&description)?,
        Format::Table => {
            let when = |t: Option<DateTime<Utc>>| t.map(output::when).unwrap_or_default();
            let table = output::pairs([
                ("workflow", description.workflow_id.clone()),
                ("run", description.run_id.clone()),
                ("process", description.process.clone()),
                ("status", description.status.clone()),
                ("summary", description.summary.clone().unwrap_or_default()),
                ("started", when(description.started)),
                ("closed", when(description.closed)),
                ("task queue", description.task_queue.clone()),
                ("history events", description.history_events.to_string()),
                ("children", description.pending_children.join("\n")),
                ("ui", description.ui.clone()),
            ]);
            println!("{table}");
            if !description.pending_activities.is_empty() {
                let mut activities = output::table(&[
                    "pending activity",
                    "state",
                    "attempt",
                    "progress",
                    "last failure",
                    "next attempt",
                ]);
                for a in &description.pending_activities {
                    activities.add_row(vec![
                        a.activity.clone(),
                        a.state.clone(),
                        attempts(a),
                        a.progress.clone().unwrap_or_default(),
                        a.last_failure.clone().unwrap_or_default(),
                        when(a.next_attempt),
                    ]);
                }
                println!("{activities}");
            }
        }
    }
    Ok(Outcome::Done)
}

pub async fn list(args: ListArgs) -> anyhow::Result<Outcome> {
    let client = temporal::connect().await?;
    let query = visibility_query(&args.filter, args.status, PayloadKeys::from_env()?.as_ref());
    let runs = find_runs(&client, &query, Some(args.limit)).await?;
    let listing = Listing {
        ui: temporal::ui_search_link(&query)?,
        query,
        runs,
    };
    match args.output {
        Format::Json => output::json(&listing)?,
        Format::Table => {
            let mut table = output::table(&["workflow", "process", "status", "started"]);
            for run in &listing.runs {
                table.add_row(vec![
                    run.workflow_id.clone(),
                    run.process.clone(),
                    run.status.clone(),
                    run.started.map(output::when).unwrap_or_default(),
                ]);
            }
            println!("{table}");
            println!("{} runs; query: {}", listing.runs.len(), listing.query);
            println!("in the UI: {}", listing.ui);
        }
    }
    Ok(Outcome::Done)
}

pub async fn stuck(args: StuckArgs) -> anyhow::Result<Outcome> {
    let client = temporal::connect().await?;
    let query = visibility_query(
        &args.filter,
        Some(RunStatus::Running),
        PayloadKeys::from_env()?.as_ref(),
    );
    // Visibility lists newest first; the oldest runs are the likeliest to be stuck, so the
    // whole listing is read (ids and times only) and the oldest are examined.
    let mut running = find_runs(&client, &query, None).await?;
    running.sort_by(|a, b| (a.started, &a.workflow_id).cmp(&(b.started, &b.workflow_id)));
    let unexamined = running.len().saturating_sub(args.examine);
    running.truncate(args.examine);
    let examined = running.len();
    // A few runs are examined in a moment; progress is for the long scans.
    let progress = (examined >= STUCK_PROGRESS_FROM)
        .then(|| Progress::new("running runs examined", examined as u64));
    // `buffered` keeps the oldest-first order while examining several at once.
    let stuck: Vec<StuckRun> = futures::stream::iter(running)
        .map(|run| examine(&client, run))
        .buffered(STUCK_CHECKS_AT_ONCE)
        .enumerate()
        .filter_map(|(i, found)| {
            if let Some(progress) = &progress {
                progress.update(i as u64 + 1, examined as u64);
            }
            async move { found }
        })
        .collect()
        .await;
    if let Some(progress) = &progress {
        progress.finish();
    }
    let mut stuck = stuck;
    let reconciliation = acme_workflows::reconciliation::NAME;
    if args
        .filter
        .process
        .as_deref()
        .is_none_or(|p| p == reconciliation)
    {
        stuck.extend(crate::recon::overdue_breaks(&args.database, args.break_age_limit).await?);
    }
    if unexamined > 0 {
        eprintln!(
            "acme stuck: {unexamined} newer running runs were not examined (only the oldest \
             {examined}); narrow the search (--older-than, --process) or raise --examine"
        );
    }
    match args.output {
        Format::Json => output::json(&stuck)?,
        Format::Table => {
            if stuck.is_empty() {
                println!("no stuck runs (looked at: {query})");
            } else {
                let mut table = output::table(&["workflow", "process", "why"]);
                for run in &stuck {
                    table.add_row(vec![
                        run.workflow_id.clone(),
                        run.process.clone(),
                        run.reasons.join("\n"),
                    ]);
                }
                println!("{table}");
            }
        }
    }
    // Finding stuck runs is a check: exit 1 if there are any, or if some were not looked at,
    // for scripts and alerts.
    Ok(if stuck.is_empty() && unexamined == 0 {
        Outcome::Done
    } else {
        Outcome::CheckFailed
    })
}

/// `run`, if it is stuck. A run that cannot be examined is listed, not allowed to hide the
/// rest.
async fn examine(client: &Client, run: Listed) -> Option<StuckRun> {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(run.workflow_id.clone());
    let reasons = why_stuck(&handle, &run.process)
        .await
        .unwrap_or_else(|error| vec![format!("cannot examine it: {error:#}")]);
    (!reasons.is_empty()).then(|| StuckRun {
        ui: temporal::ui_link(&run.workflow_id),
        workflow_id: run.workflow_id,
        process: run.process,
        started: run.started,
        reasons,
    })
}

/// Why a running run needs an operator: activities failing and being retried, or a wait for
/// the outside world past its deadline (from the process's status query, see
/// [`acme_sdk::Waiting`]). Empty if it looks healthy.
async fn why_stuck(
    handle: &WorkflowHandle<Client, UntypedWorkflow>,
    process: &str,
) -> anyhow::Result<Vec<String>> {
    let description = describe_run(handle).await?;
    let mut reasons: Vec<String> = description
        .pending_activities
        .iter()
        .filter(|a| a.attempt > 1)
        .map(|a| {
            format!(
                "activity {} is being retried (attempt {}): {}",
                a.activity,
                attempts(a),
                a.last_failure.as_deref().unwrap_or("no failure recorded")
            )
        })
        .collect();
    // One failed attempt can be a worker that died mid-task; two in a row is a pattern.
    if let Some(attempt) = description.workflow_task_attempt.filter(|&a| a > 2) {
        // Its status query would fail the same way, so it is not asked.
        reasons.push(format!(
            "its workflow task has failed {} times: if this persists, the worker cannot run \
             its code (a non-deterministic change, a signal it cannot decode, or a panic); the \
             history in the UI shows the failure",
            attempt - 1
        ));
        return Ok(reasons);
    }
    let declares_status =
        crate::runs::catalogued(process).is_ok_and(|info| info.queries.contains(&STATUS_QUERY));
    if declares_status {
        match query_json(handle, STATUS_QUERY, STATUS_QUERY_TIMEOUT).await {
            Ok(status) => reasons.extend(overdue_wait(&status, Utc::now())),
            Err(_) => reasons.push(format!(
                "no worker answered its status query within {}s: is a worker polling task queue {}?",
                STATUS_QUERY_TIMEOUT.as_secs(),
                description.task_queue
            )),
        }
    }
    Ok(reasons)
}

/// The reason to list a run whose status says it has waited past its deadline.
fn overdue_wait(status: &serde_json::Value, now: DateTime<Utc>) -> Option<String> {
    let waiting: Waiting = serde_json::from_value(status.get("waiting")?.clone()).ok()?;
    (waiting.deadline < now).then(|| {
        let overdue = (now - waiting.deadline).to_std().unwrap_or_default();
        format!(
            "waiting for {} since {}; expected by {} ({} overdue)",
            waiting.what,
            output::when(waiting.since),
            output::when(waiting.deadline),
            humantime::format_duration(Duration::from_secs(overdue.as_secs()))
        )
    })
}

fn attempts(activity: &PendingActivity) -> String {
    if activity.maximum_attempts > 0 {
        format!("{} of {}", activity.attempt, activity.maximum_attempts)
    } else {
        activity.attempt.to_string()
    }
}

async fn describe_run(
    handle: &WorkflowHandle<Client, UntypedWorkflow>,
) -> anyhow::Result<Description> {
    let workflow_id = &handle.info().workflow_id;
    let description = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .with_context(|| format!("cannot describe {workflow_id}"))?;
    Ok(Description::of(workflow_id, &description))
}

impl Description {
    fn of(workflow_id: &str, description: &WorkflowExecutionDescription) -> Self {
        let raw = description.raw();
        let pending_activities = raw
            .pending_activities
            .iter()
            .map(|a| PendingActivity {
                activity: a
                    .activity_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                state: PendingActivityState::try_from(a.state)
                    .map(|s| {
                        s.as_str_name()
                            .trim_start_matches("PENDING_ACTIVITY_STATE_")
                            .to_lowercase()
                    })
                    .unwrap_or_else(|_| "unknown".into()),
                attempt: a.attempt,
                maximum_attempts: a.maximum_attempts,
                last_failure: a.last_failure.as_ref().map(|f| f.message.clone()),
                next_attempt: a
                    .next_attempt_schedule_time
                    .as_ref()
                    .and_then(|t| timestamp(t.seconds, t.nanos)),
                progress: a
                    .heartbeat_details
                    .as_ref()
                    .and_then(|details| details.payloads.first())
                    .and_then(|payload| bulk_progress(payload, Utc::now())),
            })
            .collect();
        Description {
            run_id: description.run_id().to_owned(),
            process: description.workflow_type().to_owned(),
            status: status_name(description.status()),
            summary: description.static_summary().map(str::to_owned),
            started: description.start_time().map(DateTime::<Utc>::from),
            closed: description.close_time().map(DateTime::<Utc>::from),
            task_queue: description.task_queue().to_owned(),
            history_events: description.history_length(),
            workflow_task_attempt: raw.pending_workflow_task.as_ref().map(|t| t.attempt),
            pending_activities,
            pending_children: raw
                .pending_children
                .iter()
                .map(|c| c.workflow_id.clone())
                .collect(),
            ui: temporal::ui_link(workflow_id),
            workflow_id: workflow_id.to_owned(),
        }
    }
}

/// The progress of the bulk step `workflow_id` is running, if it is running one.
pub async fn running_bulk_step(client: &Client, workflow_id: &str) -> Option<String> {
    let (_, description) = described_run(client, workflow_id).await.ok()?;
    Description::of(workflow_id, &description)
        .pending_activities
        .into_iter()
        .find_map(|activity| activity.progress)
}

/// A bulk step's heartbeat, as one line: `allocate 350000/1000000 (35%), 12000/s, ETA 54s`.
/// `None` for heartbeats that are not a bulk step's progress, or that are sealed with a key
/// this shell does not hold (`ACME_PAYLOAD_KEYS`).
pub fn bulk_progress(heartbeat: &Payload, now: DateTime<Utc>) -> Option<String> {
    let heartbeat = codec::open(PayloadKeys::from_env().ok()?.as_ref(), heartbeat.clone()).ok()?;
    let progress: bulk::Progress<serde_json::Value> =
        serde_json::from_slice(&heartbeat.data).ok()?;
    let percent = (progress.done * 100)
        .checked_div(progress.total)
        .unwrap_or(100);
    let mut line = format!(
        "{} {}/{} ({percent}%)",
        progress.step, progress.done, progress.total
    );
    if let Some(rate) = progress.rate_per_second(now) {
        line.push_str(&format!(", {rate}/s"));
    }
    if let Some(eta) = progress.eta_seconds(now) {
        line.push_str(&format!(", ETA {eta}s"));
    }
    Some(line)
}

fn timestamp(seconds: i64, nanos: i32) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, u32::try_from(nanos).ok()?)
}

pub fn status_name(status: WorkflowExecutionStatus) -> String {
    format!("{status:?}").to_lowercase()
}

/// Runs matching `query`, newest first; all of them without a `limit`.
async fn find_runs(
    client: &Client,
    query: &str,
    limit: Option<usize>,
) -> anyhow::Result<Vec<Listed>> {
    let options = WorkflowListOptions::builder().maybe_limit(limit).build();
    client
        .list_workflows(query.to_owned(), options)
        .map_ok(|run| Listed {
            workflow_id: run.id().to_owned(),
            process: run.workflow_type().to_owned(),
            status: status_name(run.status()),
            business_key: run.search_attributes().get(&search::BUSINESS_KEY),
            started: run.start_time().map(DateTime::<Utc>::from),
            closed: run.close_time().map(DateTime::<Utc>::from),
        })
        .try_collect()
        .await
        .with_context(|| format!("cannot list runs matching {query}"))
}

/// The visibility query for a filter: our search attributes, status and start time, ANDed.
pub fn visibility_query(
    filter: &RunFilter,
    status: Option<RunStatus>,
    keys: Option<&PayloadKeys>,
) -> String {
    let mut clauses = Vec::new();
    for (key, value) in [
        (search::PROCESS, &filter.process),
        (search::DEALING_DATE, &filter.date),
        (search::ASSET, &filter.asset),
    ] {
        if let Some(value) = value {
            clauses.push(format!("{} = {}", key.name(), quoted(value)));
        }
    }
    if let Some(member) = &filter.member {
        // Runs started while payloads are sealed carry the member's pseudonym under the key of
        // the day (`acme_sdk::codec`); runs started before, the id itself.
        let mut values = keys.map_or_else(Vec::new, |keys| keys.member_pseudonyms(member));
        values.push(member.clone());
        let values: Vec<String> = values.iter().map(|v| quoted(v)).collect();
        clauses.push(match values.as_slice() {
            [value] => format!("{} = {value}", search::MEMBER.name()),
            _ => format!("{} IN ({})", search::MEMBER.name(), values.join(", ")),
        });
    }
    if let Some(status) = status {
        clauses.push(format!("ExecutionStatus = '{}'", status.visibility_name()));
    }
    if let Some(older_than) = filter.older_than {
        let before = DateTime::<Utc>::from(SystemTime::now() - older_than);
        clauses.push(format!(
            "StartTime < '{}'",
            before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    // Our own runs only: every process of ours carries its name as a search attribute.
    if filter.process.is_none() {
        clauses.push(format!("{} IS NOT NULL", search::PROCESS.name()));
    }
    clauses.join(" AND ")
}

/// A string literal for a visibility query.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_one_visibility_query() {
        let filter = RunFilter {
            process: Some("external-trade".into()),
            member: None,
            date: Some("2026-11-23".into()),
            asset: Some("O'Brien".into()),
            older_than: None,
        };
        assert_eq!(
            visibility_query(&filter, Some(RunStatus::Running), None),
            "AcmeProcess = 'external-trade' AND AcmeDealingDate = '2026-11-23' \
             AND AcmeAsset = 'O\\'Brien' AND ExecutionStatus = 'Running'"
        );
    }

    #[test]
    fn a_member_is_found_by_its_id_and_its_pseudonym_under_every_key() {
        let keys = PayloadKeys::parse(&format!(
            "{},{}",
            PayloadKeys::generate("new"),
            PayloadKeys::generate("old")
        ))
        .unwrap();
        let filter = RunFilter {
            process: None,
            member: Some("M-7".into()),
            date: None,
            asset: None,
            older_than: None,
        };
        let [new, old] = <[String; 2]>::try_from(keys.member_pseudonyms("M-7")).unwrap();
        assert_eq!(
            visibility_query(&filter, None, Some(&keys)),
            format!("AcmeMemberId IN ('{new}', '{old}', 'M-7') AND AcmeProcess IS NOT NULL")
        );
    }

    #[test]
    fn only_a_wait_past_its_deadline_is_a_reason() {
        let since: DateTime<Utc> = "2026-11-23T16:00:00Z".parse().unwrap();
        let status = serde_json::json!({ "waiting": Waiting {
            what: "the custodian's price for order O-1".into(),
            since,
            deadline: since + chrono::Duration::hours(1),
        }});
        assert_eq!(
            overdue_wait(&status, since + chrono::Duration::minutes(59)),
            None
        );
        let reason = overdue_wait(&status, since + chrono::Duration::minutes(90)).unwrap();
        assert!(reason.contains("price for order O-1"), "{reason}");
        assert!(reason.contains("30m overdue"), "{reason}");
        assert_eq!(
            overdue_wait(&serde_json::json!({ "waiting": null }), since),
            None
        );
    }
}
