//! `acme-worker`: runs every catalogued process. Reads Temporal's standard client settings
//! (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, … or a `temporal.toml` profile) and `DATABASE_URL`.
//! Any number can run at once; they share the work through the task queues. SIGTERM or Ctrl-C
//! stops polling, lets in-flight activities finish, then exits. Logs to stdout (`RUST_LOG`,
//! default `info`); sends traces over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
//! (`acme_sdk::telemetry`).

use acme_custodian::messages::CallbackSecret;
use acme_ledger::Ledger;
use acme_sdk::TaskQueues;
use acme_sdk::telemetry::{LogFormat, LogOutput, Settings};
use acme_worker::intake::{ApiKeys, IntakeConfig};
use acme_worker::metrics::TemporalExporter;
use acme_worker::{Limits, WorkerConfig, Workers};
use anyhow::Context as _;
use clap::Parser;
use sqlx::postgres::PgPoolOptions;
use temporalio_common::telemetry::TelemetryOptions;
use temporalio_sdk::Runtime;
use temporalio_sdk::runtime::RuntimeOptions;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Parser)]
#[command(
    name = "acme-worker",
    version,
    about = "Runs ACME's processes: polls the workflow, ledger and external task queues"
)]
struct Args {
    /// Base name of the task queues (workflows; `.ledger` and `.external` are derived)
    #[arg(long, env = "ACME_TASK_QUEUE", default_value = acme_sdk::process::DEFAULT_TASK_QUEUE)]
    task_queue: String,
    /// The ledger database, as the application role
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The custodian's base URL
    #[arg(long, env = "ACME_CUSTODIAN_URL", default_value = acme_activities::custodian::DEFAULT_CUSTODIAN_URL)]
    custodian_url: String,
    /// Also serve the custodian callback ingress on this address (e.g. 127.0.0.1:7300)
    #[arg(long, env = "ACME_CALLBACK_LISTEN", requires = "callback_secret")]
    callback_listen: Option<std::net::SocketAddr>,
    /// The secret the custodian signs its callbacks with; unsigned or mis-signed callbacks
    /// are refused
    #[arg(long, env = "ACME_CALLBACK_SECRET", hide_env_values = true)]
    callback_secret: Option<String>,
    /// Also serve the HTTP intake (contribution schedules, investments; ADR 25) on this address,
    /// e.g. 127.0.0.1:7500
    #[arg(long, env = "ACME_INTAKE_LISTEN", requires = "api_keys")]
    intake_listen: Option<std::net::SocketAddr>,
    /// The intake's clients: `CLIENT:SHA256,CLIENT:SHA256`, each the SHA-256 (hex) of the
    /// client's API key (`printf %s "$KEY" | sha256sum`), never the key itself
    #[arg(long, env = "ACME_API_KEYS", hide_env_values = true)]
    api_keys: Option<String>,
    /// The largest schedule file the intake accepts, in bytes (larger: 413)
    #[arg(long, env = "ACME_INTAKE_MAX_SCHEDULE_BYTES", default_value_t = acme_worker::intake::DEFAULT_MAX_SCHEDULE_BYTES)]
    intake_max_schedule_bytes: u64,
    /// Connections the intake keeps to the ledger database, apart from the activities' pool
    #[arg(long, env = "ACME_INTAKE_DB_CONNECTIONS", default_value_t = 8)]
    intake_db_connections: u32,
    /// Serve Prometheus metrics (`/metrics`: the platform's `acme_*` and the Temporal SDK's
    /// `temporal_*`) on this address, e.g. 0.0.0.0:9464; off when unset
    #[arg(long, env = "ACME_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// How the log is written: text lines, or one JSON object per line for a log collector
    #[arg(long, env = "ACME_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(flatten)]
    limits: Limits,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = acme_sdk::telemetry::init(Settings {
        format: args.log_format,
        default_filter: "info",
        output: LogOutput::Stdout,
        service_name: "acme-worker",
    })?;
    // Checked here, not by clap, whose error would print the refused secret.
    let callback_secret = args
        .callback_secret
        .as_deref()
        .map(CallbackSecret::new)
        .transpose()?;
    // One connection per ledger activity slot, and one spare.
    let pool_size =
        u32::try_from(args.limits.ledger_activities.saturating_add(1)).unwrap_or(u32::MAX);
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(&args.database_url)
        .await
        .context("cannot connect to PostgreSQL at DATABASE_URL")?;
    let client = acme_sdk::temporal::connect().await?;
    // The SDK's metrics go to its exporter only when metrics are served at all.
    let exporter = match args.metrics_listen {
        Some(_) => Some(TemporalExporter::start()?),
        None => None,
    };
    let telemetry = TelemetryOptions::builder()
        .maybe_metrics(exporter.as_ref().map(|e| e.meter.clone()))
        .build();
    let runtime_options = RuntimeOptions::builder()
        .telemetry_options(telemetry)
        .build()
        .map_err(|e| anyhow::anyhow!("invalid Temporal runtime options: {e}"))?;
    let runtime = Runtime::from_current_tokio(runtime_options)?;
    let config = WorkerConfig {
        queues: TaskQueues::new(&args.task_queue),
        identity: None,
        limits: args.limits,
        custodian_url: args.custodian_url,
        activity_interceptor: None,
    };
    let ledger = Ledger::new(pool);
    if let (Some(address), Some(secret)) = (args.callback_listen, callback_secret) {
        let listener = acme_worker::ingress::bind(address).await?;
        tracing::info!(%address, "serving custodian callbacks");
        let (client, ledger) = (client.clone(), ledger.clone());
        tokio::spawn(async move {
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let served = acme_worker::ingress::serve(listener, client, ledger, secret, stop);
            if let Err(e) = served.await {
                tracing::error!("callback ingress stopped: {e}");
            }
        });
    }
    if let Some(address) = args.intake_listen {
        let keys = ApiKeys::parse(args.api_keys.as_deref().unwrap_or_default())
            .context("ACME_API_KEYS")?;
        // Entries written before employers were listed lose schedules: say so at start.
        for client in keys.without_employers() {
            tracing::warn!(
                client,
                "intake client lists no employers: its schedules are refused (403); \
                 append :EMPLOYER|EMPLOYER (or :*) to its ACME_API_KEYS entry"
            );
        }
        // A pool of its own: a burst of uploads cannot take the activities' connections.
        let intake_pool = PgPoolOptions::new()
            .max_connections(args.intake_db_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(&args.database_url)
            .await
            .context("cannot connect the intake to PostgreSQL at DATABASE_URL")?;
        let listener = acme_worker::intake::bind(address).await?;
        tracing::info!(%address, "serving the HTTP intake");
        let router = acme_worker::intake::router(
            client.clone(),
            intake_pool,
            IntakeConfig {
                keys,
                queues: config.queues.clone(),
                max_schedule_bytes: args.intake_max_schedule_bytes,
            },
        );
        tokio::spawn(async move {
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            if let Err(e) = acme_worker::serve(listener, router, stop).await {
                tracing::error!("HTTP intake stopped: {e}");
            }
        });
    }
    if let Some(address) = args.metrics_listen {
        let listener = acme_worker::metrics::bind(address).await?;
        tracing::info!(%address, "serving metrics on /metrics");
        let router = acme_worker::metrics::router(exporter.as_ref(), Some(ledger.clone()));
        tokio::spawn(async move {
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            if let Err(e) = acme_worker::serve(listener, router, stop).await {
                tracing::error!("metrics endpoint stopped: {e}");
            }
        });
    }
    let queues = config.queues.clone();
    let workers = Workers::build(&runtime, &client, &ledger, &config)?;
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
