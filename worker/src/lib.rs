//! The composition root. [`Workers::build`] creates one Temporal worker per bulkhead (task
//! queue): workflows, ledger activities, external calls. Workflows come from the catalog
//! (`acme_workflows::register_workflows`) and activities from `acme_activities`'s own list
//! (`register_ledger_activities`), so adding a process never edits this crate. The same assembly runs in `acme-worker` and in tests.
//! [`ingress`] serves the custodian's callbacks, [`intake`] the clients' HTTP API (ADR 25) and
//! [`metrics`] the worker's `/metrics`; the log and traces are `acme_sdk::telemetry`'s.

use std::sync::Arc;
use std::time::Duration;

pub mod ingress;
pub mod intake;
pub mod metrics;

use acme_activities::custodian::{CustodianActivities, DEFAULT_CUSTODIAN_URL};
use acme_ledger::Ledger;
use acme_sdk::TaskQueues;
use temporalio_client::Client;
use temporalio_sdk::interceptors::{
    ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next,
};
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder, WorkerTuner};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// How long in-flight activities get to finish after a shutdown is asked for; anything still
/// running after that is abandoned and retried elsewhere (every activity is idempotent).
pub const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(20);

/// How much work one worker process takes on at once, per bulkhead. More processes add more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// Workflow tasks processed at once
    #[arg(long, env = "ACME_MAX_WORKFLOW_TASKS", default_value_t = 100)]
    pub workflow_tasks: usize,
    /// Ledger activities run at once; the database pool is sized to match
    #[arg(long, env = "ACME_MAX_LEDGER_ACTIVITIES", default_value_t = 16)]
    pub ledger_activities: usize,
    /// Calls to outside parties (the custodian) run at once
    #[arg(long, env = "ACME_MAX_EXTERNAL_ACTIVITIES", default_value_t = 8)]
    pub external_activities: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            workflow_tasks: 100,
            ledger_activities: 16,
            external_activities: 8,
        }
    }
}

/// What one worker process serves and how.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub queues: TaskQueues,
    /// Names this worker in workflow histories (the SDK's `pid@host` otherwise).
    pub identity: Option<String>,
    pub limits: Limits,
    /// The custodian's base URL, for the external activities.
    pub custodian_url: String,
    /// What every activity of this worker runs through, if anything (the harness injects
    /// faults with it: `acme_sdk::harness`).
    pub activity_interceptor: Option<ActivityInterceptor>,
}

/// An activity interceptor shared by the worker's bulkheads.
#[derive(Clone)]
pub struct ActivityInterceptor(pub Arc<dyn ActivityInboundInterceptor>);

impl std::fmt::Debug for ActivityInterceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActivityInterceptor")
    }
}

impl ActivityInboundInterceptor for ActivityInterceptor {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        self.0.execute_activity(input, next)
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            queues: TaskQueues::default(),
            identity: None,
            limits: Limits::default(),
            custodian_url: DEFAULT_CUSTODIAN_URL.to_owned(),
            activity_interceptor: None,
        }
    }
}

/// A tuner that allows `slots` tasks of every kind at once.
fn fixed_slots(slots: usize) -> WorkerTuner {
    let supplier = FixedSizeSlotSupplier::new(slots.max(1));
    TunerHolder::builder()
        .workflow_task_slot_supplier(supplier)
        .activity_task_slot_supplier(supplier)
        .local_activity_task_slot_supplier(supplier)
        .nexus_task_slot_supplier(supplier)
        .build()
        .into()
}

/// The running set of workers of one process. Not `Send`: run it on a `LocalSet`.
#[allow(missing_debug_implementations)] // temporalio_sdk::Worker is not Debug
pub struct Workers {
    workers: Vec<Worker>,
}

impl Workers {
    pub fn build(
        runtime: &Runtime,
        client: &Client,
        ledger: &Ledger,
        config: &WorkerConfig,
    ) -> anyhow::Result<Self> {
        let queues = &config.queues;
        let options = |queue: &str, slots: usize| {
            WorkerOptions::new(queue.to_owned())
                .graceful_shutdown_period(GRACEFUL_SHUTDOWN)
                .maybe_client_identity_override(config.identity.clone())
                .tuner(fixed_slots(slots))
                .build()
        };
        let mut workflows = options(&queues.workflows, config.limits.workflow_tasks);
        acme_workflows::register_workflows(&mut workflows)?;
        // The ledger activities again, for the per-request processes that run their short steps
        // as local activities in the workflow's own worker (`activity_options::ledger_step`).
        acme_activities::register_ledger_activities(&mut workflows, ledger);
        let mut ledger_activities = options(&queues.ledger, config.limits.ledger_activities);
        acme_activities::register_ledger_activities(&mut ledger_activities, ledger);
        let mut external_activities = options(&queues.external, config.limits.external_activities);
        external_activities.register_activities(CustodianActivities::new(
            &config.custodian_url,
            ledger.clone(),
        )?);
        // Every activity is timed and counted (`acme_activity_*`), around the caller's own
        // interceptor if there is one.
        let interceptor = ActivityInterceptor(Arc::new(metrics::ActivityMetrics::new(
            config.activity_interceptor.clone(),
        )));
        workflows.activity_inbound_interceptor(interceptor.clone());
        ledger_activities.activity_inbound_interceptor(interceptor.clone());
        external_activities.activity_inbound_interceptor(interceptor);
        Ok(Self {
            workers: vec![
                Worker::new(runtime, client.clone(), workflows)?,
                Worker::new(runtime, client.clone(), ledger_activities)?,
                Worker::new(runtime, client.clone(), external_activities)?,
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

/// Serves one of the worker's HTTP routers ([`metrics::router`], [`intake::router`]) on
/// `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
