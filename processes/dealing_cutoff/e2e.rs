//! `dealing-cutoff` end to end: the weekday schedule starts the day's dealing cycle.

use std::time::Duration;

use acme_sdk::testkit::eventually;
use acme_worker::ActivityInterceptor;
use acme_workflows::dealing_cutoff::{self, DealingCutoff};
use acme_workflows::dealing_cycle::{self, DealingCycle};
use chrono::NaiveTime;
use futures::StreamExt as _;
use temporalio_client::WorkflowGetResultOptions;

use crate::harness::{Running, Scenario};
use crate::support::{Platform, failure_text, on_local_set};

#[tokio::test]
async fn the_weekday_schedule_starts_the_days_dealing_cycle() {
    on_local_set(async {
        let platform = Platform::start(&[]).await;
        let worker = platform.spawn_worker("worker-1");
        let client = platform.temporal.client();
        let cutoff = NaiveTime::from_hms_opt(16, 0, 0).unwrap();
        let input = dealing_cutoff::Input {
            poll_every_secs: Some(1),
        };
        let mut schedule =
            dealing_cutoff::schedule(cutoff, "Europe/London", &platform.temporal.queues, input);
        schedule.trigger_immediately = true;
        client
            .create_schedule(dealing_cutoff::SCHEDULE_ID, schedule)
            .await
            .unwrap();
        // The cut-off names today's date and starts its cycle; with no trades it closes empty
        // and its invariant check passes.
        let today = chrono::Utc::now().date_naive().to_string();
        let cycle = client.get_workflow_handle::<DealingCycle>(dealing_cycle::workflow_id(&today));
        let status = eventually(Duration::from_secs(30), || async {
            cycle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .map_err(|error| format!("no dealing cycle for {today}: {error:?}"))
        })
        .await;
        assert!(status.trades.is_empty());
        assert!(status.violations.is_empty());
        // The schedule names its runs `dealing-cutoff-<time>`: find the one that ran.
        let cutoff_run = client
            .list_workflows("WorkflowType = 'dealing-cutoff'", Default::default())
            .next()
            .await
            .unwrap()
            .unwrap();
        platform
            .record_run::<dealing_cutoff::DealingCutoff>(cutoff_run.id(), "scheduled-firing")
            .await;
        worker.stop().await;
        platform.finish().await;
    })
    .await;
}

/// The harness's scenario: the cut-off fires with nothing booked; the day's cycle it starts runs
/// to its end.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = DealingCutoff;
    type World = Running;

    async fn start(&self, interceptor: ActivityInterceptor) -> Running {
        Running::start(&[], interceptor).await
    }

    async fn run(&self, world: &Running) -> Result<(), String> {
        let input = dealing_cutoff::Input {
            poll_every_secs: Some(1),
        };
        let cycle_id = world
            .platform
            .run::<DealingCutoff>(input)
            .await
            .map_err(|e| failure_text(&e))?;
        world
            .platform
            .temporal
            .client()
            .get_workflow_handle::<DealingCycle>(cycle_id)
            .get_result(WorkflowGetResultOptions::default())
            .await
            .map(drop)
            .map_err(|e| failure_text(&e))
    }
}
