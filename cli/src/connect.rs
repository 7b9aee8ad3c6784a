//! Connecting to PostgreSQL with a bounded wait and an error that says what was tried and what
//! to do, instead of a hang or a bare driver message.

use std::time::Duration;

use acme_ledger::Ledger;
use acme_ledger::environment::DEV_MARK;
use anyhow::Context as _;
use clap::Args;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool};

/// How long to wait for PostgreSQL before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The application role's connection (writes through the ledger API).
#[derive(Debug, Clone, Args)]
pub struct AppDatabase {
    /// PostgreSQL URL of the application role
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        default_value = acme_ledger::testkit::DEV_DATABASE_URL,
        hide_env_values = true,
        hide_default_value = true
    )]
    pub url: String,
}

impl AppDatabase {
    /// Where the URL comes from, for error messages.
    pub const SETTING: &str = "DATABASE_URL (or --database-url)";
}

/// The read-only reporting role's connection.
#[derive(Debug, Clone, Args)]
pub struct ReadonlyDatabase {
    /// PostgreSQL URL of the read-only reporting role
    #[arg(
        long = "readonly-database-url",
        env = "ACME_READONLY_DATABASE_URL",
        default_value = "postgres://acme_readonly:acme_readonly@127.0.0.1:5432/acme",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub url: String,
}

impl ReadonlyDatabase {
    pub const SETTING: &str = "ACME_READONLY_DATABASE_URL (or --readonly-database-url)";
}

/// Connects with a small pool. One connection is tried first, with a bounded wait, so that a
/// failure says what was tried (server, database, user, and which setting named them) and why.
pub async fn pool(url: &str, setting: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url
        .parse()
        .with_context(|| format!("{setting} is not a valid postgres:// URL"))?;
    let target = format!(
        "PostgreSQL at {}:{} (database {:?}, user {:?}, from {setting})",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("<default>"),
        options.get_username()
    );
    let hint = "is the stack up? Run `ops/stack up` (or `ops/stack status`) and `source .acme/env`";
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
        Err(_) => anyhow::bail!(
            "cannot connect to {target}: no answer within {}s; {hint}",
            CONNECT_TIMEOUT.as_secs()
        ),
        Ok(Err(error)) => {
            return Err(error).with_context(|| format!("cannot connect to {target}; {hint}"));
        }
        Ok(Ok(connection)) => connection.close().await?,
    }
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(options))
}

/// The ledger of a dev database, for commands that write demo entries; any other database is
/// refused before anything is written (ADR 20).
pub async fn dev_ledger(database: &AppDatabase, command: &str) -> anyhow::Result<Ledger> {
    let ledger = Ledger::new(pool(&database.url, AppDatabase::SETTING, 4).await?);
    if !ledger.is_dev_database().await? {
        anyhow::bail!(
            "`{command}` writes demo entries, and this database is not marked as a dev one \
             (the comment {DEV_MARK:?}, which `ops/stack up` puts on the databases it makes): \
             refused, nothing was written"
        );
    }
    Ok(ledger)
}
