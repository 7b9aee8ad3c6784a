//! Workers as operations see them: several share the queues, one killed mid-flight loses and
//! doubles nothing, and one asked to stop (SIGTERM) stops cleanly.

use std::collections::BTreeSet;
use std::time::Duration;

use acme_workflows::invest_cash::InvestCash;
use rust_decimal::Decimal;
use serde_json::json;
use temporalio_client::{
    Client, WorkflowFetchHistoryOptions, WorkflowGetResultOptions, WorkflowHandle,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::support::{Platform, on_local_set};

fn members(count: usize) -> Vec<(String, Option<&'static str>)> {
    (0..count)
        .map(|n| (format!("m-{n}"), Some("balanced")))
        .collect()
}

async fn platform_with(count: usize) -> Platform {
    let members = members(count);
    let refs: Vec<(&str, Option<&str>)> = members.iter().map(|(id, p)| (id.as_str(), *p)).collect();
    Platform::start(&refs).await
}

/// Starts one investment per member, request `r-<n>` for member `m-<n>`.
async fn start_investments(
    platform: &Platform,
    count: usize,
) -> Vec<WorkflowHandle<Client, InvestCash>> {
    let mut handles = Vec::with_capacity(count);
    for n in 0..count {
        handles.push(
            platform
                .start_invest(
                    &format!("r-{n}"),
                    &format!("m-{n}"),
                    json!(amount(n).to_string()),
                )
                .await,
        );
    }
    handles
}

/// Member n invests £(n + 1).01, so every balance is distinct and checkable.
fn amount(n: usize) -> Decimal {
    Decimal::new(i64::try_from(n).unwrap() * 100 + 101, 2)
}

#[tokio::test]
async fn two_workers_share_two_hundred_investments() {
    on_local_set(async {
        const INVESTMENTS: usize = 200;
        let platform = platform_with(INVESTMENTS).await;
        // Two worker processes, as in production (one process may not poll a queue twice).
        let _a = platform.spawn_worker_process();
        let _b = platform.spawn_worker_process();
        let handles = futures::future::join_all((0..INVESTMENTS).map(|n| {
            let platform = &platform;
            async move {
                platform
                    .start_invest(
                        &format!("r-{n}"),
                        &format!("m-{n}"),
                        json!(amount(n).to_string()),
                    )
                    .await
            }
        }))
        .await;
        for handle in &handles {
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
        }
        for n in [0, 1, 99, 199] {
            assert_eq!(
                platform.cash(&format!("m-{n}"), "reserved").await,
                amount(n)
            );
        }
        assert_eq!(platform.count("journal_entry").await, 2 * 200);
        assert_eq!(platform.count("member_trade").await, 3 * 200);

        // Who did the work: the identities in the histories' task-started events.
        let mut identities = BTreeSet::new();
        for handle in &handles {
            let events = handle
                .fetch_history(WorkflowFetchHistoryOptions::default())
                .into_events()
                .await
                .unwrap();
            for event in events {
                match event.attributes {
                    Some(Attributes::WorkflowTaskStartedEventAttributes(started)) => {
                        identities.insert(started.identity);
                    }
                    Some(Attributes::ActivityTaskStartedEventAttributes(started)) => {
                        identities.insert(started.identity);
                    }
                    _ => {}
                }
            }
        }
        // Each process is "<pid>@<host>" in the history.
        assert_eq!(
            identities.len(),
            2,
            "both workers should have taken tasks: {identities:?}"
        );
        platform.finish().await;
    })
    .await;
}

#[tokio::test]
async fn a_worker_killed_mid_flight_and_restarted_completes_every_run_once() {
    on_local_set(async {
        const INVESTMENTS: usize = 20;
        let platform = platform_with(INVESTMENTS).await;
        let mut worker = platform.spawn_worker_process();
        let handles = start_investments(&platform, INVESTMENTS).await;
        // Kill it once some runs have written and others have not.
        platform
            .wait_for_rows("journal_entry", 6, Duration::from_secs(60))
            .await;
        worker.kill().await.unwrap();
        let written_before_restart = platform.count("journal_entry").await;
        assert!(
            written_before_restart < 2 * 20,
            "the kill came too late to test anything"
        );

        let _restarted = platform.spawn_worker_process();
        for handle in &handles {
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
        }
        assert_eq!(platform.count("journal_entry").await, 2 * 20);
        assert_eq!(platform.count("member_trade").await, 3 * 20);
        for n in 0..INVESTMENTS {
            let member = format!("m-{n}");
            assert_eq!(
                platform.cash(&member, "reserved").await,
                amount(n),
                "{member}"
            );
            assert_eq!(
                platform.cash(&member, "available").await,
                Decimal::ZERO,
                "{member}"
            );
        }
        // The runs that were in flight at the kill have retries in their histories.
        for n in [0, INVESTMENTS - 1] {
            platform
                .record_history(&format!("r-{n}"), &format!("worker-killed-{n}"))
                .await;
        }
        platform.finish().await;
    })
    .await;
}

#[tokio::test]
async fn sigterm_stops_a_worker_cleanly_and_another_finishes_the_work() {
    on_local_set(async {
        const INVESTMENTS: usize = 10;
        let platform = platform_with(INVESTMENTS).await;
        let mut worker = platform.spawn_worker_process();
        let handles = start_investments(&platform, INVESTMENTS).await;
        platform
            .wait_for_rows("journal_entry", 2, Duration::from_secs(60))
            .await;
        let pid = worker.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(
            acme_worker::GRACEFUL_SHUTDOWN + Duration::from_secs(10),
            worker.wait(),
        )
        .await
        .expect("the worker did not stop after SIGTERM")
        .unwrap();
        assert!(
            status.success(),
            "the worker exited with {status} after SIGTERM"
        );

        let _successor = platform.spawn_worker_process();
        for handle in &handles {
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
        }
        assert_eq!(platform.count("journal_entry").await, 2 * 10);
        assert_eq!(platform.count("member_trade").await, 3 * 10);
        platform.finish().await;
    })
    .await;
}
