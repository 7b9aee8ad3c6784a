//! Starting a process from the command line: every `acme` command that starts one goes through
//! here, so each start is taken as an operator action (identity and audit row), prints the
//! workflow id and UI link the same way and, with `--wait`, reports a failure with its business
//! code.

use std::future::Future;

use acme_ledger::audit::OperatorVerb;
use acme_sdk::Process;
use anyhow::Context as _;
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{
    Client, WorkflowExecutionStatus, WorkflowGetResultOptions, WorkflowHandle,
};
use temporalio_common::WorkflowDefinition;
use temporalio_common::error::IncomingError;

use crate::operator::Operator;
use crate::runs::described_run;
use crate::temporal;

/// Starts `P` (or attaches to the run with the same business key) and says where to watch it.
pub async fn start<P: Process>(
    operator: &Operator,
    input: <P as WorkflowDefinition>::Input,
) -> anyhow::Result<WorkflowHandle<Client, P>> {
    let workflow_id = P::workflow_id(&input);
    let detail = serde_json::json!({ "process": P::NAME, "input": &input });
    start_as_operator(operator, &workflow_id, detail, async {
        acme_sdk::start::<P>(operator.client(), &temporal::task_queues(), input).await
    })
    .await
}

/// Takes a start as an operator action and says where to watch the run. A start under the
/// workflow id of a running run attaches to it (the work is done once): the output says so, and
/// the audit row names the run that was running when the start was asked for
/// (`running_before_start`), so nobody reads it as a second run.
pub async fn start_as_operator<T, E>(
    operator: &Operator,
    workflow_id: &str,
    mut detail: serde_json::Value,
    start: impl Future<Output = Result<T, E>>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let before = running_run(operator.client(), workflow_id).await;
    if let (Some(run_id), Some(detail)) = (&before, detail.as_object_mut()) {
        detail.insert("running_before_start".to_owned(), run_id.clone().into());
    }
    let started = operator
        .act(OperatorVerb::Start, workflow_id, None, detail, async {
            start
                .await
                .with_context(|| format!("cannot start {workflow_id}"))
        })
        .await?;
    // Asked again after the start: the run seen before may have ended in between.
    if let Some(run_id) = before
        && running_run(operator.client(), workflow_id).await.as_ref() == Some(&run_id)
    {
        println!("already running (run {run_id}): attached to it; nothing new was started");
    }
    println!("workflow {workflow_id}");
    println!("watch it: {}", temporal::ui_link(workflow_id));
    Ok(started)
}

/// The run id of the running run under `workflow_id`, if there is one.
async fn running_run(client: &Client, workflow_id: &str) -> Option<String> {
    let (_, description) = described_run(client, workflow_id).await.ok()?;
    (description.status() == WorkflowExecutionStatus::Running)
        .then(|| description.run_id().to_owned())
}

/// Waits for a run's result; a failed run becomes an error naming its code.
pub async fn wait<P: Process>(
    handle: &WorkflowHandle<Client, P>,
) -> anyhow::Result<<P as WorkflowDefinition>::Output> {
    let workflow_id = handle.info().workflow_id.clone();
    match handle.get_result(WorkflowGetResultOptions::default()).await {
        Ok(output) => Ok(output),
        Err(WorkflowGetResultError::Failed(failure)) => {
            let code = match failure.as_ref() {
                IncomingError::Application(app) => app.type_name().unwrap_or("error"),
                _ => "error",
            };
            anyhow::bail!(
                "{workflow_id} failed [{code}]: {}",
                failure.failure().message
            )
        }
        Err(other) => Err(other).with_context(|| format!("{workflow_id} did not complete")),
    }
}
