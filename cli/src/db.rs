//! `acme db`: schema migrations, run as the owning role (never the application's).

use clap::{Args, Subcommand};

use crate::{Outcome, connect};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply the ledger's pending migrations (idempotent)
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// PostgreSQL URL of the role that owns the schema
    #[arg(
        long = "migrator-database-url",
        env = "ACME_MIGRATOR_DATABASE_URL",
        default_value = acme_ledger::testkit::DEV_MIGRATOR_DATABASE_URL,
        hide_env_values = true,
        hide_default_value = true
    )]
    url: String,
}

pub async fn run(command: DbCommand) -> anyhow::Result<Outcome> {
    match command {
        DbCommand::Migrate(args) => {
            let pool = connect::pool(&args.url, "ACME_MIGRATOR_DATABASE_URL", 1).await?;
            let before = applied(&pool).await?;
            acme_ledger::MIGRATOR.run(&pool).await?;
            let after = applied(&pool).await?;
            println!(
                "migrations: {} applied now, {} in total",
                after - before,
                after
            );
            Ok(Outcome::Done)
        }
    }
}

async fn applied(pool: &sqlx::PgPool) -> anyhow::Result<i64> {
    let exists: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(0);
    }
    Ok(
        sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
            .fetch_one(pool)
            .await?,
    )
}
