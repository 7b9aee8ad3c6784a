//! `reconciliation-daily` end to end: the weekday schedule starts the day's reconciliation,
//! against a real Temporal server, a fresh database and the custodian simulator.

use std::time::Duration;

use acme_sdk::testkit::eventually;
use acme_worker::ActivityInterceptor;
use acme_workflows::reconciliation::{self, Reconciliation};
use acme_workflows::reconciliation_daily::{self, ReconciliationDaily};
use chrono::NaiveTime;
use futures::StreamExt as _;
use temporalio_client::WorkflowGetResultOptions;

use crate::dealing_support::Dealing;
use crate::harness::Scenario;
use crate::reconciliation::ReconWorld;
use crate::support::{failure_text, on_local_set};

#[tokio::test]
async fn the_weekday_schedule_starts_the_days_reconciliation() {
    on_local_set(async {
        let today = chrono::Utc::now().date_naive();
        let dealing = Dealing::start(1, today).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let client = dealing.platform.temporal.client();
        let at = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
        let mut schedule =
            reconciliation_daily::schedule(at, "Europe/London", &dealing.platform.temporal.queues);
        schedule.trigger_immediately = true;
        client
            .create_schedule(reconciliation_daily::SCHEDULE_ID, schedule)
            .await
            .unwrap();
        // The firing names today's date and starts its reconciliation; nothing was dealt, so
        // nothing breaks.
        let run = client
            .get_workflow_handle::<Reconciliation>(reconciliation::workflow_id(&today.to_string()));
        let outcome = eventually(Duration::from_secs(60), || async {
            run.get_result(WorkflowGetResultOptions::default())
                .await
                .map_err(|error| format!("no reconciliation of {today}: {error:?}"))
        })
        .await;
        assert_eq!((outcome.date, outcome.breaks), (today, 0), "{outcome:?}");
        // The schedule names its runs `reconciliation-daily-<time>`: find the one that ran.
        let firing = client
            .list_workflows("WorkflowType = 'reconciliation-daily'", Default::default())
            .next()
            .await
            .unwrap()
            .unwrap();
        dealing
            .platform
            .record_run::<ReconciliationDaily>(firing.id(), "scheduled-firing")
            .await;
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// The harness's scenario: the daily run fires on an empty day; the reconciliation it starts
/// runs to its end with nothing broken.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = ReconciliationDaily;
    type World = ReconWorld;

    async fn start(&self, interceptor: ActivityInterceptor) -> ReconWorld {
        ReconWorld::start(interceptor).await
    }

    async fn run(&self, world: &ReconWorld) -> Result<(), String> {
        let platform = &world.dealing.platform;
        let run_id = platform
            .run::<ReconciliationDaily>(reconciliation_daily::Input::default())
            .await
            .map_err(|e| failure_text(&e))?;
        let outcome = platform
            .temporal
            .client()
            .get_workflow_handle::<Reconciliation>(run_id)
            .get_result(WorkflowGetResultOptions::default())
            .await
            .map_err(|e| failure_text(&e))?;
        if outcome.breaks == 0 {
            Ok(())
        } else {
            Err(format!("an empty day broke: {outcome:?}"))
        }
    }
}
