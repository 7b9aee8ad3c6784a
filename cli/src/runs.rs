//! Acting on runs of any catalogued process: `acme start`, `signal`, `query`, `cancel` and
//! `terminate`. Everything that changes a run is an operator action (identity and audit row,
//! see `operator`); a query only reads.

use std::time::Duration;

use acme_ledger::audit::OperatorVerb;
use acme_sdk::ProcessInfo;
use anyhow::Context as _;
use clap::Args;
use serde_json::{Map, Value};
use temporalio_client::{
    Client, RpcOptions, UntypedQuery, UntypedSignal, UntypedWorkflow, WorkflowCancelOptions,
    WorkflowDescribeOptions, WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle,
    WorkflowQueryOptions, WorkflowSignalOptions, WorkflowTerminateOptions,
};
use temporalio_common::data_converters::{PayloadConverter, RawValue};

use crate::Outcome;
use crate::inspect::status_name;
use crate::operator::{Operator, OperatorArgs};
use crate::output::{self, Format};
use crate::{run, temporal};

/// How long `acme query` waits for a worker to answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    acme start invest-cash -f request_id=r-1 -f member_id=m-1 -f amount=100.00\n  \
    acme start dealing-cycle --input '{\"dealing_date\": \"2026-11-23\", \"poll_every_secs\": 60}'")]
pub struct StartArgs {
    /// The process, as `acme process list` names it
    process: String,
    /// The input, a JSON object with the fields `acme process list` shows
    #[arg(long, value_name = "JSON")]
    input: Option<String>,
    /// One input field as text (repeatable); overrides the same field of --input
    #[arg(short = 'f', long = "field", value_name = "NAME=VALUE")]
    fields: Vec<String>,
    #[command(flatten)]
    operator: OperatorArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example: acme signal external-trade/2026-11-23/GB00ACMEGLB1/buy settled \
    --input '{\"order_ref\": \"...\", \"settlement_date\": \"2026-11-25\"}'"
)]
pub struct SignalArgs {
    workflow_id: String,
    /// The signal's name, as `acme process list` shows it
    signal: String,
    /// The signal's input as JSON (checked against what the signal takes before it is sent);
    /// for a signal that takes nothing, leave it out
    #[arg(long, value_name = "JSON")]
    input: Option<String>,
    #[command(flatten)]
    operator: OperatorArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "Example: acme query dealing/2026-11-23 status --output json")]
pub struct QueryArgs {
    workflow_id: String,
    /// The query's name, as `acme process list` shows it
    #[arg(default_value = acme_sdk::process::STATUS_QUERY)]
    query: String,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example: acme cancel invest/r-1 --reason \"member withdrew the request (ticket 4711)\""
)]
pub struct StopArgs {
    workflow_id: String,
    /// Why, for the run's history and the audit log (required)
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    operator: OperatorArgs,
}

pub async fn start(args: StartArgs) -> anyhow::Result<Outcome> {
    let process = catalogued(&args.process)?;
    let input = input_object(args.input.as_deref(), &args.fields)?;
    // An input that does not fit is refused before anything is done or recorded.
    let workflow_id = (process.workflow_id_of)(&input)?;
    let operator = Operator::connect(&args.operator).await?;
    let detail = serde_json::json!({ "process": process.name, "input": &input });
    run::start_as_operator(&operator, &workflow_id, detail, async {
        (process.start_json)(operator.client(), &temporal::task_queues(), input.clone()).await
    })
    .await?;
    Ok(Outcome::Done)
}

pub async fn signal(args: SignalArgs) -> anyhow::Result<Outcome> {
    let input: Value = match &args.input {
        Some(text) => serde_json::from_str(text).context("--input is not valid JSON")?,
        None => Value::Null,
    };
    let operator = Operator::connect(&args.operator).await?;
    let (handle, description) = described_run(operator.client(), &args.workflow_id).await?;
    if let Some(process) = process_of(&description) {
        let signal = process
            .signals
            .iter()
            .find(|s| s.name == args.signal)
            .with_context(|| {
                format!(
                    "{} has no signal {:?}; its signals: {}",
                    process.name,
                    args.signal,
                    listed(&process.signal_names())
                )
            })?;
        // A payload the handler cannot decode would wedge the run, so it is never sent.
        signal
            .check_input(&input)
            .with_context(|| match args.input {
                None => format!(
                    "{}'s signal {:?} needs --input (JSON); nothing was sent",
                    process.name, args.signal
                ),
                Some(_) => format!(
                    "--input does not fit {}'s signal {:?}; nothing was sent",
                    process.name, args.signal
                ),
            })?;
    }
    ensure_running(&description, OperatorVerb::Signal)?;
    let detail = serde_json::json!({ "signal": &args.signal, "input": &input });
    operator
        .act(
            OperatorVerb::Signal,
            &args.workflow_id,
            None,
            detail,
            async {
                let payload = RawValue::from_value(&input, &PayloadConverter::default());
                handle
                    .signal(
                        UntypedSignal::new(args.signal.clone()),
                        payload,
                        WorkflowSignalOptions::default(),
                    )
                    .await
                    .with_context(|| format!("cannot signal {}", args.workflow_id))
            },
        )
        .await?;
    println!("signalled {} with {}", args.workflow_id, args.signal);
    Ok(Outcome::Done)
}

pub async fn query(args: QueryArgs) -> anyhow::Result<Outcome> {
    let client = temporal::connect().await?;
    let (handle, description) = described_run(&client, &args.workflow_id).await?;
    if let Some(process) = process_of(&description) {
        anyhow::ensure!(
            process.queries.contains(&args.query.as_str()),
            "{} has no query {:?}; its queries: {}",
            process.name,
            args.query,
            listed(process.queries)
        );
    }
    let answer = query_json(&handle, &args.query, QUERY_TIMEOUT).await?;
    match args.output {
        Format::Json => output::json(&answer)?,
        Format::Table => println!("{}", output::fields(&answer)),
    }
    Ok(Outcome::Done)
}

pub async fn cancel(args: StopArgs) -> anyhow::Result<Outcome> {
    stop(args, OperatorVerb::Cancel).await
}

pub async fn terminate(args: StopArgs) -> anyhow::Result<Outcome> {
    stop(args, OperatorVerb::Terminate).await
}

/// Cancels (the run may clean up, e.g. run its compensations) or terminates (it stops at once,
/// nothing more runs) a run, with the operator's reason.
async fn stop(args: StopArgs, verb: OperatorVerb) -> anyhow::Result<Outcome> {
    let reason = args.reason.trim();
    anyhow::ensure!(
        !reason.is_empty(),
        "--reason must say why (it is kept in the run's history and the audit log)"
    );
    let operator = Operator::connect(&args.operator).await?;
    let (handle, description) = described_run(operator.client(), &args.workflow_id).await?;
    ensure_running(&description, verb)?;
    let detail = serde_json::json!({});
    operator
        .act(verb, &args.workflow_id, Some(reason), detail, async {
            match verb {
                OperatorVerb::Terminate => {
                    let options = WorkflowTerminateOptions::builder().reason(reason).build();
                    handle.terminate(options).await
                }
                _ => {
                    let options = WorkflowCancelOptions::builder().reason(reason).build();
                    handle.cancel(options).await
                }
            }
            .with_context(|| format!("cannot {} {}", verb.as_str(), args.workflow_id))
        })
        .await?;
    println!(
        "{} requested for {}: {reason}",
        verb.as_str(),
        args.workflow_id
    );
    Ok(Outcome::Done)
}

/// The catalogued process called `name`.
pub fn catalogued(name: &str) -> anyhow::Result<ProcessInfo> {
    let processes = acme_workflows::processes();
    let names: Vec<&str> = processes.iter().map(|p| p.name).collect();
    let known = listed(&names);
    processes
        .into_iter()
        .find(|p| p.name == name)
        .with_context(|| format!("no process named {name:?}; the catalog has: {known}"))
}

fn listed(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// `--input` (a JSON object) with each `--field NAME=VALUE` set on it as text.
fn input_object(input: Option<&str>, fields: &[String]) -> anyhow::Result<Value> {
    let mut object = match input {
        None => Map::new(),
        Some(text) => match serde_json::from_str(text).context("--input is not valid JSON")? {
            Value::Object(object) => object,
            other => anyhow::bail!("--input must be a JSON object, not {other}"),
        },
    };
    for field in fields {
        let (name, value) = field
            .split_once('=')
            .with_context(|| format!("--field {field:?} is not NAME=VALUE"))?;
        object.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    Ok(Value::Object(object))
}

/// The run with `workflow_id` and what Temporal says of it, or a clear error if there is none.
pub async fn described_run(
    client: &Client,
    workflow_id: &str,
) -> anyhow::Result<(
    WorkflowHandle<Client, UntypedWorkflow>,
    WorkflowExecutionDescription,
)> {
    let handle = client.get_workflow_handle::<UntypedWorkflow>(workflow_id.to_owned());
    let description = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .with_context(|| format!("no run {workflow_id:?} found (`acme list` shows runs)"))?;
    Ok((handle, description))
}

/// Refuses a closed run by name, before anything is sent or recorded: `verb` would do nothing
/// to it.
fn ensure_running(
    description: &WorkflowExecutionDescription,
    verb: OperatorVerb,
) -> anyhow::Result<()> {
    let status = description.status();
    anyhow::ensure!(
        status == WorkflowExecutionStatus::Running,
        "{} is {}: only a running run can be {}; nothing was done",
        description.id(),
        status_name(status),
        verb.past_tense()
    );
    Ok(())
}

/// The catalogued process a run belongs to (`None` for a workflow type not in the catalog).
fn process_of(description: &WorkflowExecutionDescription) -> Option<ProcessInfo> {
    acme_workflows::processes()
        .into_iter()
        .find(|p| p.name == description.workflow_type())
}

/// Asks a run's query and reads the answer as JSON. Only a worker can answer; without one the
/// query fails after `timeout` instead of hanging.
pub async fn query_json(
    handle: &WorkflowHandle<Client, UntypedWorkflow>,
    query: &str,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let options = WorkflowQueryOptions::builder()
        .rpc_options(RpcOptions::builder().timeout(timeout).build())
        .build();
    let answer = handle
        .query(UntypedQuery::new(query), RawValue::new(Vec::new()), options)
        .await
        .with_context(|| {
            format!(
                "query {query:?} of {} got no answer (is a worker running?)",
                handle.info().workflow_id
            )
        })?;
    let payload = answer.payloads.into_iter().next().unwrap_or_default();
    if payload.data.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&payload.data).context("the query's answer is not JSON")
}
