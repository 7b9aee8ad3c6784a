//! Starting a process from the command line: every `acme` command that starts one goes through
//! here, so each start is taken as an operator action (identity and audit row), prints the
//! workflow id and UI link the same way and, with `--wait`, reports a failure with its business
//! code.

use acme_ledger::audit::OperatorVerb;
use acme_sdk::Process;
use anyhow::Context as _;
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowHandle};
use temporalio_common::WorkflowDefinition;
use temporalio_common::error::IncomingError;

use crate::operator::Operator;
use crate::temporal;

/// Starts `P` (or attaches to the run with the same business key) and says where to watch it.
pub async fn start<P: Process>(
    operator: &Operator,
    input: <P as WorkflowDefinition>::Input,
) -> anyhow::Result<WorkflowHandle<Client, P>> {
    let workflow_id = P::workflow_id(&input);
    let detail = serde_json::json!({ "process": P::NAME, "input": &input });
    let handle = operator
        .act(OperatorVerb::Start, &workflow_id, None, detail, async {
            acme_sdk::start::<P>(operator.client(), &temporal::task_queues(), input)
                .await
                .with_context(|| format!("cannot start {workflow_id}"))
        })
        .await?;
    say_started(&workflow_id);
    Ok(handle)
}

/// Where to watch a run that was just started.
pub fn say_started(workflow_id: &str) {
    println!("workflow {workflow_id}");
    println!("watch it: {}", temporal::ui_link(workflow_id));
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
