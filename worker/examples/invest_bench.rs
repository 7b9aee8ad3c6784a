//! End-to-end benchmark of `invest-cash` on the local dev server with one worker.
//!
//! ```text
//! ops/stack up && source .acme/env
//! cargo run --release -p acme-worker --example invest_bench -- [REQUESTS] [IN_FLIGHT]
//! ```
//!
//! In one run, on the same Temporal server and with the same client, it measures completed
//! investments per second (REQUESTS, default 500, at most IN_FLIGHT, default 50, at a time) and,
//! as the baseline, a trivial workflow running one trivial activity.

// Rates and ratios of timings are measurements, not money.
#![allow(clippy::float_arithmetic, missing_debug_implementations)]

use std::time::{Duration, Instant};

use acme_activities::members::{NewMember, ensure_reference_data, onboard_members};
use acme_ledger::testkit::TestDatabase;
use acme_sdk::TaskQueues;
use acme_worker::{WorkerConfig, Workers};
use acme_workflows::invest_cash::{Input, InvestCash};
use anyhow::Context as _;
use futures::StreamExt as _;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};

#[workflow]
#[derive(Default)]
pub struct Ping;

#[workflow_methods]
impl Ping {
    #[run(name = "bench-ping")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: u64) -> WorkflowResult<u64> {
        Ok(ctx
            .execute_activity(
                PingActivities::pong,
                n,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?)
    }
}

pub struct PingActivities;

#[activities]
impl PingActivities {
    #[activity(name = "bench.pong")]
    pub async fn pong(_ctx: ActivityContext, n: u64) -> Result<u64, ActivityError> {
        Ok(n)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let requests = args.next().transpose()?.unwrap_or(500);
    let in_flight = args.next().transpose()?.unwrap_or(50);
    let db = TestDatabase::create(16)
        .await
        .context("create the benchmark database (is the stack up? ops/stack up)")?;
    let result = tokio::task::LocalSet::new()
        .run_until(run(&db, requests, in_flight))
        .await;
    db.drop_database().await?;
    result
}

async fn run(db: &TestDatabase, requests: usize, in_flight: usize) -> anyhow::Result<()> {
    ensure_reference_data(&db.ledger).await?;
    let members: Vec<NewMember> = (0..requests)
        .map(|n| NewMember {
            member_id: format!("m-{n}"),
            portfolio: Some("balanced".into()),
        })
        .collect();
    onboard_members(&db.ledger, &members).await?;

    let client = acme_sdk::temporal::connect().await?;
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let base = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let queues = TaskQueues::new(&base);

    let config = WorkerConfig {
        queues: queues.clone(),
        ..WorkerConfig::default()
    };
    let workers = Workers::build(&runtime, &client, &db.ledger, &config)?;
    let stop_workers = workers.shutdown_handle();
    let workers = tokio::task::spawn_local(workers.run());
    let ping_queue = format!("{base}.ping");
    let mut ping_options = WorkerOptions::new(ping_queue.clone()).build();
    ping_options.register_workflow::<Ping>()?;
    ping_options.register_activities(PingActivities);
    let mut ping_worker = Worker::new(&runtime, client.clone(), ping_options)?;
    let stop_ping = ping_worker.shutdown_handle();
    let ping_worker = tokio::task::spawn_local(async move { ping_worker.run().await });

    let ping_rate = completed_per_second(requests, in_flight, |n| {
        let client = &client;
        let queue = ping_queue.clone();
        async move {
            let id = format!("ping/{queue}/{n}");
            let handle = client
                .start_workflow(
                    Ping::run,
                    n as u64,
                    WorkflowStartOptions::new(queue, id).build(),
                )
                .await?;
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await?;
            anyhow::Ok(())
        }
    })
    .await?;
    let invest_rate = completed_per_second(requests, in_flight, |n| {
        let client = &client;
        let queues = &queues;
        // Request ids are at most 40 characters: a short run tag and the number.
        let request_id = format!("{}-{n}", &base[..14]);
        async move {
            let handle = acme_sdk::start::<InvestCash>(
                client,
                queues,
                Input {
                    request_id,
                    member_id: format!("m-{n}"),
                    amount: serde_json::Value::String("100.00".into()),
                },
            )
            .await?;
            handle
                .get_result(WorkflowGetResultOptions::default())
                .await?;
            anyhow::Ok(())
        }
    })
    .await?;

    stop_workers();
    stop_ping();
    workers.await??;
    ping_worker.await??;
    anyhow::ensure!(
        db.ledger.check_invariants().await?.holds(),
        "invariants violated"
    );
    println!(
        "baseline (one-activity workflow): {requests} at {ping_rate:.1}/s, {in_flight} in flight"
    );
    println!(
        "invest-cash (3 local activities, 2 entries, 3 trades): {requests} at {invest_rate:.1}/s"
    );
    println!(
        "invest-cash / baseline = {:.0}%",
        100.0 * invest_rate / ping_rate
    );
    Ok(())
}

/// Runs `run(0..requests)` with at most `in_flight` at a time; returns completions per second.
async fn completed_per_second<F>(
    requests: usize,
    in_flight: usize,
    run: impl FnMut(usize) -> F,
) -> anyhow::Result<f64>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let started = Instant::now();
    futures::stream::iter(0..requests)
        .map(run)
        .buffer_unordered(in_flight)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(requests as f64 / started.elapsed().as_secs_f64())
}
