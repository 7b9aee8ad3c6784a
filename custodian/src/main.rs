//! `acme-custodian`: runs the custodian simulator as its own service (`serve`), or only prepares
//! its database (`migrate`). Every flag has an environment fallback for the dev stack.

use std::net::SocketAddr;
use std::time::Duration;

use acme_custodian::messages::CallbackSecret;
use acme_custodian::{Config, DEV_DATABASE_URL};
use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "acme-custodian",
    version,
    about = "The asset-custodian simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database and serve the HTTP API until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Create the database if it is missing, migrate it and exit.
    Migrate(DatabaseArgs),
}

#[derive(Debug, Args)]
struct DatabaseArgs {
    /// The simulator's own database, as a role that owns it (never the ledger's database).
    #[arg(long, env = "CUSTODIAN_DATABASE_URL", default_value = DEV_DATABASE_URL, hide_env_values = true)]
    database_url: String,
    /// Give up connecting to the database after this long.
    #[arg(long, env = "CUSTODIAN_CONNECT_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    connect_timeout: Duration,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[arg(long, env = "CUSTODIAN_LISTEN", default_value = "127.0.0.1:7400")]
    listen: SocketAddr,
    /// Where to POST callbacks, e.g. http://127.0.0.1:7300/custodian/callbacks. Without it,
    /// the platform must poll.
    #[arg(long, env = "CUSTODIAN_CALLBACK_URL", requires = "callback_secret")]
    callback_url: Option<String>,
    /// The secret callbacks are signed with (HMAC-SHA256); the platform's ingress must have
    /// the same one
    #[arg(long, env = "ACME_CALLBACK_SECRET", hide_env_values = true)]
    callback_secret: Option<String>,
    /// Automatic clock: one business day per this much time (e.g. 5s). Default: manual, moved
    /// by POST /admin/clock/advance.
    #[arg(long, env = "CUSTODIAN_DAY_LENGTH", value_parser = humantime::parse_duration)]
    day_length: Option<Duration>,
    /// The business date on first start (default today, moved to a weekday).
    #[arg(long, env = "CUSTODIAN_START_DATE")]
    start_date: Option<NaiveDate>,
    /// Settlement date = trade date + this many business days.
    #[arg(long, env = "CUSTODIAN_SETTLEMENT_LAG", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=30))]
    settlement_lag: u32,
    #[arg(long, env = "CUSTODIAN_POOL_SIZE", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pool_size: u32,
    /// Seed for the error_rate fault's random draws.
    #[arg(long, env = "CUSTODIAN_SEED", default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Migrate(args) => {
            let created = acme_custodian::create_database_if_missing(
                &args.database_url,
                args.connect_timeout,
            )
            .await
            .context("preparing the custodian database")?;
            if created {
                tracing::info!("created the custodian database");
            }
            acme_custodian::migrate(&args.database_url, args.connect_timeout)
                .await
                .context("migrating the custodian database")?;
            tracing::info!("custodian database is up to date");
        }
        Command::Serve(args) => {
            let config = Config {
                listen: args.listen,
                database_url: args.database.database_url,
                callback_url: args.callback_url,
                // Checked here, not by clap, whose error would print the refused secret.
                callback_secret: args.callback_secret.map(CallbackSecret::new).transpose()?,
                day_length: args.day_length,
                start_date: args.start_date,
                settlement_lag_days: args.settlement_lag,
                pool_size: args.pool_size,
                connect_timeout: args.database.connect_timeout,
                seed: args.seed,
            };
            acme_custodian::serve(config, shutdown_signal())
                .await
                .context("running the custodian simulator")?;
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
