//! The composition root. [`Workers::build`] creates one Temporal worker per bulkhead (task
//! queue): workflows, ledger activities, external calls. Workflows come from the catalog
//! (`acme_workflows::register_workflows`) and activities from `acme_activities`, so adding a
//! process never edits this crate. The same assembly runs in `acme-worker` and in tests.

use std::time::Duration;

use acme_activities::ledger::LedgerActivities;
use acme_activities::members::MemberActivities;
use acme_activities::trades::TradeActivities;
use acme_ledger::Ledger;
use acme_sdk::TaskQueues;
use temporalio_client::Client;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// How long in-flight activities get to finish after a shutdown is asked for; anything still
/// running after that is abandoned and retried elsewhere (every activity is idempotent).
pub const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(20);

/// The running set of workers of one process. Not `Send`: run it on a `LocalSet`.
#[allow(missing_debug_implementations)] // temporalio_sdk::Worker is not Debug
pub struct Workers {
    workers: Vec<Worker>,
}

impl Workers {
    /// `identity` names this worker in workflow histories (the SDK's default otherwise).
    pub fn build(
        runtime: &Runtime,
        client: &Client,
        ledger: &Ledger,
        queues: &TaskQueues,
        identity: Option<&str>,
    ) -> anyhow::Result<Self> {
        let options = |queue: &str| {
            WorkerOptions::new(queue.to_owned())
                .graceful_shutdown_period(GRACEFUL_SHUTDOWN)
                .maybe_client_identity_override(identity.map(str::to_owned))
                .build()
        };
        let mut workflows = options(&queues.workflows);
        acme_workflows::register_workflows(&mut workflows)?;
        let mut ledger_activities = options(&queues.ledger);
        ledger_activities
            .register_activities(LedgerActivities::new(ledger.clone()))
            .register_activities(MemberActivities::new(ledger.clone()))
            .register_activities(TradeActivities::new(ledger.clone()));
        Ok(Self {
            workers: vec![
                Worker::new(runtime, client.clone(), workflows)?,
                Worker::new(runtime, client.clone(), ledger_activities)?,
            ],
        })
    }

    /// A function that asks every worker to stop (finish in-flight work, take no more).
    pub fn shutdown_handle(&self) -> impl Fn() + use<> {
        let handles: Vec<_> = self.workers.iter().map(Worker::shutdown_handle).collect();
        move || handles.iter().for_each(|shutdown| shutdown())
    }

    /// Polls until shut down; returns the first worker error.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let runs = self.workers.iter_mut().map(Worker::run);
        for result in futures::future::join_all(runs).await {
            result?;
        }
        Ok(())
    }
}
