//! What every process shares: the [`Process`] description (name, business-key workflow id,
//! search attributes, summary, input schema), how a run is started ([`start`]), its task queues
//! (bulkheads) and the idempotency keys of its steps.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::future::LocalBoxFuture;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{
    Client, WorkflowHandle, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
};
use temporalio_common::search_attributes::{SearchAttributeUpdate, SearchAttributes};
use temporalio_common::{HasWorkflowDefinition, SignalDefinition, WorkflowDefinition};
use temporalio_sdk::{
    ChildWorkflowOptions, ParentClosePolicy, WorkflowIdReusePolicy as ChildIdReusePolicy,
};

use crate::codec::PayloadKeys;
use crate::search;
use crate::steps::Step;

/// A business process as the catalog, the worker, the CLI and the Temporal UI see it. The
/// workflow struct implements it next to its `#[workflow_methods]`.
pub trait Process:
    HasWorkflowDefinition<Input: JsonSchema + Serialize + DeserializeOwned + Send> + Default + 'static
{
    /// The stable name, equal to the workflow type name. Never change it once deployed.
    const NAME: &'static str;
    /// One line on what the process does, for `acme process list`.
    const DESCRIPTION: &'static str;
    /// Its `#[signal]`s, each made with [`Signal::of`] from the signal's definition, for
    /// `acme process list` and `acme signal`.
    fn signals() -> Vec<Signal> {
        Vec::new()
    }
    /// The names of its `#[query]`s. A query named [`STATUS_QUERY`] whose answer has a
    /// `waiting` field ([`Waiting`]) is read by `acme stuck`.
    const QUERIES: &'static [&'static str] = &[];

    /// What a start under the workflow id of a closed run does: declared by every process, so
    /// nobody relies on the server's default (ADR 20).
    const ID_REUSE: IdReuse;

    /// The business key the run is identified by (a request id, a date, ...).
    fn business_key(input: &Self::Input) -> String;

    /// The workflow id: derived from the business key only, so a repeated request attaches
    /// to the run already doing the work instead of doing it twice.
    fn workflow_id(input: &Self::Input) -> String;

    /// Search attributes beyond the process name and business key (member, date, asset).
    fn search_attributes(_input: &Self::Input) -> Vec<SearchAttributeUpdate> {
        Vec::new()
    }

    /// One line for a human in the Temporal UI, e.g. "invest £100.00 for member m-1".
    fn summary(input: &Self::Input) -> String;

    /// A valid input, shown by `acme process list` and used by the conformance checks.
    fn example() -> Self::Input;

    /// Its steps in order, declared at the top of its file (see [`crate::steps`]).
    fn steps() -> Vec<Step>;
}

/// Whether a workflow id may run again once its run has closed (Temporal's id reuse policy). A
/// start under the id of a *running* run always attaches to it ([`start`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdReuse {
    /// Never: the business key names one piece of work, done once (a member's request). A start
    /// under a closed run's id attaches to that run and its result; nothing runs again.
    Never,
    /// Only after the run failed, was cancelled or terminated (a dealing day that failed may be
    /// run again once the cause is fixed); a completed run is never repeated.
    AfterFailure,
    /// Always: every start after the last run closed is a new run (each one's effects are keyed
    /// by something else, such as the day it is for).
    Always,
}

impl IdReuse {
    fn for_client(self) -> WorkflowIdReusePolicy {
        match self {
            Self::Never => WorkflowIdReusePolicy::RejectDuplicate,
            Self::AfterFailure => WorkflowIdReusePolicy::AllowDuplicateFailedOnly,
            Self::Always => WorkflowIdReusePolicy::AllowDuplicate,
        }
    }

    fn for_child(self) -> ChildIdReusePolicy {
        match self {
            Self::Never => ChildIdReusePolicy::RejectDuplicate,
            Self::AfterFailure => ChildIdReusePolicy::AllowDuplicateFailedOnly,
            Self::Always => ChildIdReusePolicy::AllowDuplicate,
        }
    }
}

/// The query `acme stuck` asks every running process that declares it.
pub const STATUS_QUERY: &str = "status";

/// What a run is waiting for from outside, and until when that is normal. A process that
/// waits for an external event puts this in its status query's `waiting` field; once
/// `deadline` has passed, `acme stuck` lists the run with `what`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// e.g. "the custodian's price for order O-1"
    pub what: String,
    pub since: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

/// One signal a process accepts, and a check that an input decodes into the handler's type.
/// `acme signal` runs the check before sending: a payload the handler cannot decode would fail
/// the run's workflow task on every attempt, with the bad signal fixed in its history.
#[derive(Debug, Clone)]
pub struct Signal {
    pub name: String,
    check_input: fn(&serde_json::Value) -> Result<(), serde_json::Error>,
}

impl Signal {
    /// The signal `definition` (e.g. `ExternalTradeWorkflow::priced`), so its name and input
    /// type are the handler's own.
    pub fn of<D>(definition: D) -> Self
    where
        D: SignalDefinition<Input: DeserializeOwned>,
    {
        Self {
            name: definition.name().to_owned(),
            check_input: |input| serde_json::from_value::<D::Input>(input.clone()).map(drop),
        }
    }

    /// Whether `input` decodes into what the handler takes; the error says which field does not.
    pub fn check_input(&self, input: &serde_json::Value) -> Result<(), serde_json::Error> {
        (self.check_input)(input)
    }
}

/// Listings show a signal by its name.
impl Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

/// What the catalog says of one process, for listings, `acme start` and conformance checks.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub signals: Vec<Signal>,
    pub queries: &'static [&'static str],
    pub id_reuse: IdReuse,
    /// The workflow struct's path, e.g. `acme_workflows::sell_units::SellUnits`.
    pub type_name: &'static str,
    pub input_schema: schemars::Schema,
    pub example: Example,
    pub steps: Vec<Step>,
    /// The workflow id a JSON input would run under; an input that does not fit is refused.
    #[serde(skip)]
    pub workflow_id_of: fn(&serde_json::Value) -> Result<String, StartJsonError>,
    /// Starts a run from JSON input (for `acme start`), returning its workflow id.
    #[serde(skip)]
    pub start_json: StartJson,
}

/// What a run started with [`Process::example`] would look like.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub input: serde_json::Value,
    pub business_key: String,
    pub workflow_id: String,
    /// Every keyword search attribute the run would carry, by name.
    pub search_attributes: BTreeMap<&'static str, String>,
}

/// Starts a run of one process from JSON input; see [`ProcessInfo::start_json`].
pub type StartJson = for<'a> fn(
    &'a Client,
    &'a TaskQueues,
    serde_json::Value,
) -> LocalBoxFuture<'a, Result<String, StartJsonError>>;

#[derive(Debug, thiserror::Error)]
pub enum StartJsonError {
    #[error("the input does not fit {process}'s input schema: {reason}")]
    Input {
        process: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Start(#[from] WorkflowStartError),
}

impl ProcessInfo {
    /// The names of its signals, for listings and messages.
    pub fn signal_names(&self) -> Vec<&str> {
        self.signals.iter().map(|s| s.name.as_str()).collect()
    }

    pub fn of<P: Process>() -> Self {
        let input = P::example();
        let attributes = search_attributes::<P>(&input);
        Self {
            name: P::NAME,
            description: P::DESCRIPTION,
            signals: P::signals(),
            queries: P::QUERIES,
            id_reuse: P::ID_REUSE,
            type_name: std::any::type_name::<P>(),
            input_schema: schemars::schema_for!(P::Input),
            example: Example {
                input: serde_json::to_value(&input).unwrap_or_default(),
                business_key: P::business_key(&input),
                workflow_id: P::workflow_id(&input),
                search_attributes: search::KEYWORDS
                    .iter()
                    .filter_map(|key| Some((key.name(), attributes.get(key)?)))
                    .collect(),
            },
            steps: P::steps(),
            workflow_id_of: |input| Ok(P::workflow_id(&parse_input::<P>(input)?)),
            start_json: start_json::<P>,
        }
    }
}

fn parse_input<P: Process>(
    input: &serde_json::Value,
) -> Result<<P as WorkflowDefinition>::Input, StartJsonError> {
    <P as WorkflowDefinition>::Input::deserialize(input).map_err(|e| StartJsonError::Input {
        process: P::NAME,
        reason: e.to_string(),
    })
}

fn start_json<'a, P: Process>(
    client: &'a Client,
    queues: &'a TaskQueues,
    input: serde_json::Value,
) -> LocalBoxFuture<'a, Result<String, StartJsonError>> {
    Box::pin(async move {
        let input = parse_input::<P>(&input)?;
        let handle = start::<P>(client, queues, input).await?;
        Ok(handle.info().workflow_id.clone())
    })
}

/// Every run's search attributes: the process, its business key, and the process's own.
fn search_attributes<P: Process>(input: &<P as WorkflowDefinition>::Input) -> SearchAttributes {
    SearchAttributes::new(
        [
            search::PROCESS.value_set(P::NAME.to_owned()),
            search::BUSINESS_KEY.value_set(P::business_key(input)),
        ]
        .into_iter()
        .chain(P::search_attributes(input)),
    )
}

/// Options to run `P` as a child of another workflow, with the same workflow id, search
/// attributes and summary as if started on its own. The child outlives its parent if the parent
/// is cancelled or terminated: a trade half-way through must finish, not stop.
pub fn child_options<P: Process>(input: &<P as WorkflowDefinition>::Input) -> ChildWorkflowOptions {
    ChildWorkflowOptions::builder()
        .workflow_id(P::workflow_id(input))
        .search_attributes(search_attributes::<P>(input))
        .static_summary(P::summary(input))
        .parent_close_policy(ParentClosePolicy::Abandon)
        .id_reuse_policy(P::ID_REUSE.for_child())
        .build()
}

/// Starts a run of `P` on the workflow queue of `queues`, or attaches to the run already
/// under the same workflow id: the running one, or, when `P::ID_REUSE` refuses a new run, the
/// closed one (whose result is the answer). Every start goes through here, so every run
/// carries its search attributes and summary.
pub async fn start<P: Process>(
    client: &Client,
    queues: &TaskQueues,
    input: <P as WorkflowDefinition>::Input,
) -> Result<WorkflowHandle<Client, P>, WorkflowStartError> {
    // The keys were read and checked when the client was made (`temporal::connect`).
    let keys = PayloadKeys::from_env().ok().flatten();
    let attributes = search_attributes::<P>(&input);
    let workflow_id = P::workflow_id(&input);
    let options = WorkflowStartOptions::new(queues.workflows.clone(), workflow_id.clone())
        .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
        .id_reuse_policy(P::ID_REUSE.for_client());
    let options = match &keys {
        // Search attributes and the summary are not payloads the codec seals (Temporal indexes
        // and shows them as they are): the member becomes a pseudonym and the summary, which
        // names members and amounts, is left out.
        Some(keys) => options
            .search_attributes(with_member_pseudonym(&attributes, keys))
            .build(),
        None => options
            .search_attributes(attributes)
            .static_summary(P::summary(&input))
            .build(),
    };
    match client.start_workflow(P::default(), input, options).await {
        // Only a closed run is refused (a running one is attached to by the conflict policy).
        Err(WorkflowStartError::AlreadyStarted { .. }) => {
            Ok(client.get_workflow_handle::<P>(workflow_id))
        }
        started => started,
    }
}

/// `attributes` with the member's id replaced by its pseudonym under `keys`.
fn with_member_pseudonym(attributes: &SearchAttributes, keys: &PayloadKeys) -> SearchAttributes {
    SearchAttributes::new(search::KEYWORDS.iter().filter_map(|key| {
        let value = attributes.get(key)?;
        Some(if key.name() == search::MEMBER.name() {
            key.value_set(keys.member_pseudonym(&value))
        } else {
            key.value_set(value)
        })
    }))
}

/// The production base name of the task queues.
pub const DEFAULT_TASK_QUEUE: &str = "acme";

/// The three bulkheads: workflows, ledger activities (sized to the database pool) and calls
/// to outside parties. Derived from one base name so a test can run on its own set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskQueues {
    pub workflows: String,
    pub ledger: String,
    pub external: String,
}

impl TaskQueues {
    pub fn new(base: &str) -> Self {
        Self {
            workflows: base.to_owned(),
            ledger: format!("{base}.ledger"),
            external: format!("{base}.external"),
        }
    }

    /// The queues of the worker that is running a workflow on `workflow_queue`: activities go to
    /// the same set, which keeps workflow code free of configuration reads.
    pub fn of_workflow_queue(workflow_queue: &str) -> Self {
        Self::new(workflow_queue)
    }
}

impl Default for TaskQueues {
    fn default() -> Self {
        Self::new(DEFAULT_TASK_QUEUE)
    }
}

/// The idempotency key of one step of a workflow: `<workflow id>/<step>`. The ledger insists on
/// this shape, so retries of a step always reuse the key and a workflow's entries are findable.
pub fn step_key(workflow_id: &str, step: &str) -> String {
    format!("{workflow_id}/{step}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_derive_from_one_base() {
        let queues = TaskQueues::new("acme");
        assert_eq!(queues.ledger, "acme.ledger");
        assert_eq!(queues.external, "acme.external");
        assert_eq!(TaskQueues::of_workflow_queue("acme"), queues);
    }

    #[test]
    fn step_keys_extend_the_workflow_id() {
        assert_eq!(step_key("invest/r-1", "reserve"), "invest/r-1/reserve");
    }
}
