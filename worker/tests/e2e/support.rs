//! The platform a test runs against, and helpers to drive and inspect it.

use std::time::Duration;

use acme_activities::custodian::DEFAULT_CUSTODIAN_URL;
use acme_activities::members::{NewMember, ensure_reference_data, onboard_members};
use acme_ledger::testkit::TestDatabase;
use acme_sdk::Process;
use acme_sdk::testkit::{TestTemporal, eventually, record_history};
use acme_worker::{ActivityInterceptor, Limits, WorkerConfig, Workers};
use acme_workflows::invest_cash::{self, Input, InvestCash, Output};
use rust_decimal::Decimal;
use serde_json::Value;
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{
    Client, WorkflowCountOptions, WorkflowFetchHistoryOptions, WorkflowGetResultOptions,
    WorkflowHandle,
};
use temporalio_common::WorkflowDefinition;
use temporalio_common::error::IncomingError;
use temporalio_sdk::Runtime;

/// A database with reference data and members, and a Temporal server. Workers are started by
/// the test, in process or as processes.
pub struct Platform {
    pub db: TestDatabase,
    pub temporal: TestTemporal,
    /// Where workers find the custodian (a test that deals starts a simulator there).
    pub custodian_url: String,
}

/// A worker assembly running on the test's `LocalSet`.
pub struct InProcessWorker {
    stop: Box<dyn Fn()>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InProcessWorker {
    pub async fn stop(self) {
        (self.stop)();
        self.handle.await.unwrap().unwrap();
    }
}

impl Platform {
    /// Members `(id, model portfolio)`.
    pub async fn start(members: &[(&str, Option<&str>)]) -> Platform {
        Self::start_on(members, TestTemporal::start().await.unwrap()).await
    }

    /// The same on a Temporal server of the caller's (the soak's, kept on disk).
    pub async fn start_on(members: &[(&str, Option<&str>)], temporal: TestTemporal) -> Platform {
        let db = TestDatabase::create(16).await.unwrap();
        ensure_reference_data(&db.ledger).await.unwrap();
        let members: Vec<NewMember> = members
            .iter()
            .map(|(id, portfolio)| NewMember {
                member_id: (*id).to_owned(),
                portfolio: portfolio.map(str::to_owned),
            })
            .collect();
        onboard_members(&db.ledger, &members).await.unwrap();
        Platform {
            db,
            temporal,
            custodian_url: DEFAULT_CUSTODIAN_URL.to_owned(),
        }
    }

    /// Starts the production worker assembly in this process (call on a `LocalSet`).
    pub fn spawn_worker(&self, identity: &str) -> InProcessWorker {
        self.spawn_worker_with(identity, None)
    }

    /// The worker assembly with every activity passing through `interceptor` (the harness's
    /// fault injector).
    pub fn spawn_worker_with(
        &self,
        identity: &str,
        interceptor: Option<ActivityInterceptor>,
    ) -> InProcessWorker {
        let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
        let config = WorkerConfig {
            queues: self.temporal.queues.clone(),
            identity: Some(identity.to_owned()),
            limits: Limits::default(),
            custodian_url: self.custodian_url.clone(),
            activity_interceptor: interceptor,
        };
        let workers =
            Workers::build(&runtime, self.temporal.client(), &self.db.ledger, &config).unwrap();
        let stop = Box::new(workers.shutdown_handle());
        let handle = tokio::task::spawn_local(async move {
            let _runtime = runtime;
            workers.run().await
        });
        InProcessWorker { stop, handle }
    }

    /// Starts an `acme-worker` process pointed at this test's server, database and queues.
    // Cargo names the binary to tests only (benchmarks sharing this file run workers in process).
    #[cfg(test)]
    pub fn spawn_worker_process(&self) -> tokio::process::Child {
        self.spawn_worker_process_with(&[])
    }

    /// The same, with more environment settings (e.g. payload keys), which win over these
    /// (e.g. `TEMPORAL_ADDRESS` naming a proxy in front of the server).
    #[cfg(test)]
    pub fn spawn_worker_process_with(&self, settings: &[(&str, &str)]) -> tokio::process::Child {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_acme-worker"))
            .envs(self.worker_environment())
            .env("RUST_LOG", "warn")
            .envs(settings.iter().copied())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    /// What points an `acme-worker` process at this platform's server, database, queues and
    /// custodian.
    pub fn worker_environment(&self) -> [(&'static str, String); 4] {
        [
            ("TEMPORAL_ADDRESS", self.temporal.address()),
            ("DATABASE_URL", self.db.app_url()),
            ("ACME_TASK_QUEUE", self.temporal.queues.workflows.clone()),
            ("ACME_CUSTODIAN_URL", self.custodian_url.clone()),
        ]
    }

    /// Starts (or attaches to) an investment and returns a handle on its workflow.
    pub async fn start_invest(
        &self,
        request_id: &str,
        member_id: &str,
        amount: Value,
    ) -> WorkflowHandle<Client, InvestCash> {
        acme_sdk::start::<InvestCash>(
            self.temporal.client(),
            &self.temporal.queues,
            invest_input(request_id, member_id, amount),
        )
        .await
        .unwrap()
    }

    pub async fn invest(
        &self,
        request_id: &str,
        member_id: &str,
        amount: Value,
    ) -> Result<Output, WorkflowGetResultError> {
        self.run::<InvestCash>(invest_input(request_id, member_id, amount))
            .await
    }

    /// Starts (or attaches to) a run of any process and waits for its result.
    pub async fn run<P: Process>(
        &self,
        input: <P as WorkflowDefinition>::Input,
    ) -> Result<<P as WorkflowDefinition>::Output, WorkflowGetResultError> {
        acme_sdk::start::<P>(self.temporal.client(), &self.temporal.queues, input)
            .await
            .unwrap()
            .get_result(WorkflowGetResultOptions::default())
            .await
    }

    /// Records the history of request `request_id`'s run for the replay safety net.
    /// Records an investment's history for the replay safety net.
    pub async fn record_history(&self, request_id: &str, name: &str) {
        self.record_run::<InvestCash>(&invest_cash::workflow_id(request_id), name)
            .await;
    }

    /// Records the history of any process's run under `tests/histories/<process>/<name>.json`.
    pub async fn record_run<P: Process>(&self, workflow_id: &str, name: &str) {
        let history = self
            .temporal
            .client()
            .get_workflow_handle::<P>(workflow_id.to_owned())
            .fetch_history(WorkflowFetchHistoryOptions::default());
        record_history(history, P::NAME, name).await.unwrap();
    }

    /// How many runs the visibility query the Temporal UI uses finds, waiting up to a few
    /// seconds for it to reach `expected` (visibility is eventually consistent).
    pub async fn runs_found_by(&self, query: &str, expected: usize) -> usize {
        let count = || async {
            self.temporal
                .client()
                .count_workflows(query, WorkflowCountOptions::default())
                .await
                .unwrap()
                .count()
        };
        eventually(Duration::from_secs(5), || async {
            let found = count().await;
            if found == expected {
                Ok(found)
            } else {
                Err(format!("{query} finds {found} runs, not {expected}"))
            }
        })
        .await
    }

    pub async fn cash(&self, member_id: &str, purpose: &str) -> Decimal {
        sqlx::query_scalar(
            "select b.amount from member m
             join account a on a.pot_id = m.pot_id and a.asset_code = 'GBP' and a.purpose = $2
             join balance b on b.account_id = a.account_id
             where m.member_id = $1",
        )
        .bind(member_id)
        .bind(purpose)
        .fetch_one(self.db.ledger.pool())
        .await
        .unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(self.db.ledger.pool())
            .await
            .unwrap()
    }

    /// Waits until `table` has at least `rows` rows.
    pub async fn wait_for_rows(&self, table: &str, rows: i64, deadline: Duration) {
        eventually(deadline, || async {
            let found = self.count(table).await;
            if found >= rows {
                Ok(())
            } else {
                Err(format!("{table} has {found} rows, not {rows}"))
            }
        })
        .await;
    }

    /// Checks the ledger is sound, then tears everything down.
    pub async fn finish(self) {
        assert!(self.db.ledger.check_invariants().await.unwrap().holds());
        assert!(self.db.ledger.verify().await.unwrap().is_sound());
        self.temporal.shutdown().await.unwrap();
        self.db.drop_database().await.unwrap();
    }
}

/// A failed run as the harness reports it: the failure's code, or the whole error.
pub fn failure_text(error: &WorkflowGetResultError) -> String {
    failure_code(error).unwrap_or_else(|| format!("{error:?}"))
}

fn invest_input(request_id: &str, member_id: &str, amount: Value) -> Input {
    Input {
        request_id: request_id.to_owned(),
        member_id: member_id.to_owned(),
        amount,
    }
}

pub fn failure_code(error: &WorkflowGetResultError) -> Option<String> {
    match error {
        WorkflowGetResultError::Failed(failure) => match failure.as_ref() {
            IncomingError::Application(app) => app.type_name().map(str::to_owned),
            _ => None,
        },
        _ => None,
    }
}

pub async fn on_local_set(test: impl std::future::Future<Output = ()>) {
    tokio::task::LocalSet::new().run_until(test).await;
}
