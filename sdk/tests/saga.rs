//! The saga helper against a real local Temporal server: compensations run in reverse order
//! when a step fails for good, and not at all when every step succeeds.
#![allow(clippy::unwrap_used, missing_debug_implementations)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use acme_sdk::testkit::TestTemporal;
use acme_sdk::{BusinessError, Saga};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, Worker, WorkerOptions, WorkflowContext, WorkflowResult};

/// What the activities did, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

struct Steps {
    log: Log,
}

#[activities]
impl Steps {
    #[activity]
    async fn step(
        self: Arc<Self>,
        _ctx: ActivityContext,
        name: String,
    ) -> Result<(), ActivityError> {
        if name == "fails" {
            return Err(BusinessError::new("test.refused", "this step always fails").into());
        }
        self.log.0.lock().unwrap().push(format!("do {name}"));
        Ok(())
    }

    #[activity]
    async fn undo(
        self: Arc<Self>,
        _ctx: ActivityContext,
        name: String,
    ) -> Result<(), ActivityError> {
        self.log.0.lock().unwrap().push(format!("undo {name}"));
        Ok(())
    }
}

fn options() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10)).build()
}

#[workflow]
#[derive(Default)]
struct ThreeSteps;

#[workflow_methods]
impl ThreeSteps {
    /// Runs the named steps in order, each recording its undo first; compensates on failure.
    #[run(name = "three-steps")]
    async fn run(ctx: &mut WorkflowContext<Self>, names: Vec<String>) -> WorkflowResult<usize> {
        let mut saga = Saga::new(ctx);
        for name in names {
            saga.compensate_with(Steps::undo, name.clone(), options());
            if let Err(failure) = ctx.execute_activity(Steps::step, name, options()).await {
                saga.compensate().await?;
                return Err(failure.into());
            }
        }
        Ok(saga.len())
    }
}

async fn run_steps(names: &[&str]) -> (bool, Vec<String>) {
    let temporal = TestTemporal::start().await.unwrap();
    let log = Log::default();
    let mut options = WorkerOptions::new(temporal.queues.workflows.clone()).build();
    options
        .register_workflow::<ThreeSteps>()
        .unwrap()
        .register_activities(Steps { log: log.clone() });
    let runtime = temporalio_sdk::Runtime::from_current_tokio(Default::default()).unwrap();
    let mut worker = Worker::new(&runtime, temporal.client().clone(), options).unwrap();
    let shutdown = worker.shutdown_handle();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let client = temporal.client().clone();
    let queue = temporal.queues.workflows.clone();
    let outcome = tokio::task::LocalSet::new()
        .run_until(async move {
            let running = tokio::task::spawn_local(async move { worker.run().await });
            let handle = client
                .start_workflow(
                    ThreeSteps::run,
                    names,
                    WorkflowStartOptions::new(queue, "saga-test".to_owned()).build(),
                )
                .await
                .unwrap();
            let outcome = handle.get_result(WorkflowGetResultOptions::default()).await;
            shutdown();
            running.await.unwrap().unwrap();
            outcome.is_ok()
        })
        .await;
    temporal.shutdown().await.unwrap();
    let entries = log.0.lock().unwrap().clone();
    (outcome, entries)
}

#[tokio::test]
async fn a_failed_step_undoes_the_earlier_ones_in_reverse_order() {
    let (succeeded, log) = run_steps(&["a", "b", "fails", "c"]).await;
    assert!(!succeeded);
    assert_eq!(log, ["do a", "do b", "undo fails", "undo b", "undo a"]);
}

#[tokio::test]
async fn a_saga_that_succeeds_compensates_nothing() {
    let (succeeded, log) = run_steps(&["a", "b"]).await;
    assert!(succeeded);
    assert_eq!(log, ["do a", "do b"]);
}
