//! Workers as operations see them: several share the queues, one killed mid-flight loses and
//! doubles nothing, two of three killed mid dealing cycle leave the survivor to finish the day
//! (and its metrics show it), and one asked to stop (SIGTERM) stops cleanly.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use acme_sdk::testkit::eventually;
use acme_workflows::dealing_cycle::{self, DealingCycle};
use acme_workflows::external_trade::ExternalTradeWorkflow;
use acme_workflows::invest_cash::InvestCash;
use rust_decimal::Decimal;
use serde_json::json;
use temporalio_client::{
    Client, WorkflowFetchHistoryOptions, WorkflowGetResultOptions, WorkflowHandle,
};
use temporalio_common::protos::temporal::api::enums::v1::PendingActivityState;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::dealing_support::{
    Dealing, FUNDS, assert_allocations_follow_the_rule, book_buys, entries_by_kind, internal_units,
    monday,
};
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

/// A worker process serving `/metrics` on a port of its own.
struct ObservedWorker {
    process: tokio::process::Child,
    metrics: SocketAddr,
}

impl ObservedWorker {
    fn spawn(platform: &Platform) -> Self {
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let process =
            platform.spawn_worker_process_with(&[("ACME_METRICS_LISTEN", &metrics.to_string())]);
        Self { process, metrics }
    }

    fn pid(&self) -> String {
        self.process.id().unwrap().to_string()
    }

    /// `acme_activity_retries_total` by activity: executions this worker ran on attempt 2 or
    /// later, i.e. activities another worker had started and not finished.
    async fn retries(&self) -> BTreeMap<String, u64> {
        let text = reqwest::get(format!("http://{}/metrics", self.metrics))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter_map(|line| line.strip_prefix("acme_activity_retries_total{activity=\""))
            .filter_map(|rest| rest.split_once("\"} "))
            .map(|(activity, count)| (activity.to_owned(), count.parse().unwrap()))
            .collect()
    }
}

/// The activities of the day's runs that a worker has started and not finished, by the
/// worker's pid (a worker process's identity is `<pid>@<host>`).
async fn started_activities(client: &Client, date: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut descriptions = vec![
        client
            .get_workflow_handle::<DealingCycle>(dealing_cycle::workflow_id(date))
            .describe(Default::default())
            .await,
    ];
    for fund in FUNDS {
        descriptions.push(
            client
                .get_workflow_handle::<ExternalTradeWorkflow>(format!(
                    "external-trade/{date}/{fund}/buy"
                ))
                .describe(Default::default())
                .await,
        );
    }
    let mut by_worker: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // A child run not started yet has nothing pending.
    for description in descriptions.into_iter().flatten() {
        for pending in &description.raw().pending_activities {
            if pending.state() == PendingActivityState::Started {
                let pid = pending
                    .last_worker_identity
                    .split('@')
                    .next()
                    .unwrap_or_default();
                by_worker.entry(pid.to_owned()).or_default().insert(
                    pending
                        .activity_type
                        .as_ref()
                        .map(|t| t.name.clone())
                        .unwrap_or_default(),
                );
            }
        }
    }
    by_worker
}

#[tokio::test]
async fn two_of_three_workers_killed_mid_dealing_the_survivor_finishes_the_day() {
    on_local_set(async {
        const MEMBERS: i64 = 2_000;
        let day = monday();
        let dealing = Dealing::start(usize::try_from(MEMBERS).unwrap(), day).await;
        let buys: Vec<(String, &str, Decimal)> = (0..MEMBERS)
            .flat_map(|i| FUNDS.map(|fund| (format!("m-{i}"), fund, Decimal::new(5_000 + i, 2))))
            .collect();
        book_buys(dealing.ledger(), "failover", &buys).await;
        let mut workers: Vec<ObservedWorker> = (0..3)
            .map(|_| ObservedWorker::spawn(&dealing.platform))
            .collect();
        let handle = dealing.start_cycle(day).await;
        dealing.wait_until_none_in(day, "created").await;
        dealing.advance_one_day().await;

        // Mid allocation: find the workers holding started activities of the day.
        let client = dealing.platform.temporal.client();
        let held = eventually(Duration::from_secs(60), || async {
            let held = started_activities(client, &day.to_string()).await;
            if held.is_empty() {
                Err("no worker holds a started activity yet".to_owned())
            } else {
                Ok(held)
            }
        })
        .await;
        // The survivor is one that holds nothing, if there is one: then everything in flight
        // dies with the other two.
        let survivor = workers
            .iter()
            .position(|worker| !held.contains_key(&worker.pid()))
            .unwrap_or(0);
        let survivor = workers.remove(survivor);
        let mut orphaned = BTreeSet::new();
        for mut killed in workers {
            orphaned.extend(held.get(&killed.pid()).cloned().unwrap_or_default());
            // kill_on_drop's SIGKILL: no graceful shutdown, as when a machine dies.
            killed.process.kill().await.unwrap();
        }
        assert!(
            !orphaned.is_empty(),
            "the killed workers held nothing: {held:?}"
        );

        dealing.wait_until_none_in(day, "placed").await;
        dealing.advance_one_day().await;
        tokio::time::timeout(
            Duration::from_secs(180),
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .expect("the survivor did not finish the day")
        .unwrap();

        // The books hold and nothing was done twice.
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), day).await,
            3
        );
        let entries = entries_by_kind(dealing.ledger()).await;
        assert_eq!(entries.get("dealing.allocated"), Some(&(3 * MEMBERS)));
        assert_eq!(
            internal_units(dealing.ledger()).await,
            dealing.holdings().await
        );
        // The survivor's metrics show the failover: it ran again what the killed workers held
        // (any one of them: a short one may have finished between the look and the kill).
        let retries = survivor.retries().await;
        assert!(
            orphaned
                .iter()
                .any(|activity| retries.get(activity).is_some_and(|count| *count > 0)),
            "the survivor shows no retry of {orphaned:?}: {retries:?}"
        );
        drop(survivor);
        dealing.finish().await;
    })
    .await;
}
