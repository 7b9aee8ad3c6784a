//! `acme-worker`: runs every catalogued process. Reads Temporal's standard client settings
//! (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, … or a `temporal.toml` profile) and `DATABASE_URL`.
//! Any number can run at once; they share the work through the task queues. SIGTERM or Ctrl-C
//! stops polling, lets in-flight activities finish, then exits.

use acme_ledger::Ledger;
use acme_sdk::TaskQueues;
use acme_worker::Workers;
use anyhow::Context as _;
use sqlx::postgres::PgPoolOptions;
use temporalio_sdk::Runtime;
use tokio::signal::unix::{SignalKind, signal};

/// Database connections per worker process: the ledger activity queue's concurrency follows it.
const DATABASE_POOL_SIZE: u32 = 16;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let database_url = std::env::var("DATABASE_URL")
        .context("DATABASE_URL is not set: `source .acme/env` after `ops/stack up`")?;
    let queues = TaskQueues::new(
        &std::env::var("ACME_TASK_QUEUE")
            .unwrap_or_else(|_| acme_sdk::process::DEFAULT_TASK_QUEUE.to_owned()),
    );
    let pool = PgPoolOptions::new()
        .max_connections(DATABASE_POOL_SIZE)
        .connect(&database_url)
        .await
        .context("cannot connect to PostgreSQL at DATABASE_URL")?;
    let client = acme_sdk::temporal::connect().await?;
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let workers = Workers::build(&runtime, &client, &Ledger::new(pool), &queues, None)?;
    let shutdown = workers.shutdown_handle();
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::task::LocalSet::new()
        .run_until(async move {
            let stop = tokio::task::spawn_local(async move {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                tracing::info!("shutting down: finishing in-flight work");
                shutdown();
            });
            tracing::info!(queues = ?queues, "worker polling");
            let result = workers.run().await;
            stop.abort();
            result
        })
        .await
}
