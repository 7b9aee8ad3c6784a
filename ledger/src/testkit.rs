//! A fresh, migrated ledger database for each test, so tests never see each other's rows.
//!
//! Connects as the owning role (`ACME_MIGRATOR_DATABASE_URL`) to create `acme_test_<uuid>` and
//! migrate it, then hands out a pool connected as the application role (`DATABASE_URL`), exactly
//! as production connects. `ops/test` drops databases left behind by interrupted runs.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use crate::environment::DEV_MARK;
use crate::{Ledger, MIGRATOR};

/// The dev stack's defaults (see `ops/stack`), used when the environment sets nothing.
pub const DEV_DATABASE_URL: &str = "postgres://acme_app:acme_app@127.0.0.1:5432/acme";
pub const DEV_MIGRATOR_DATABASE_URL: &str = "postgres://acme_owner:acme_owner@127.0.0.1:5432/acme";
/// Prefix of every test database's name.
pub const TEST_DATABASE_PREFIX: &str = "acme_test_";

#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub ledger: Ledger,
    owner_options: PgConnectOptions,
}

impl TestDatabase {
    /// Creates and migrates a new database; `pool_size` caps the application pool.
    pub async fn create(pool_size: u32) -> Result<Self, sqlx::Error> {
        let owner_options: PgConnectOptions =
            env_or("ACME_MIGRATOR_DATABASE_URL", DEV_MIGRATOR_DATABASE_URL).parse()?;
        let app_options: PgConnectOptions = env_or("DATABASE_URL", DEV_DATABASE_URL).parse()?;
        let name = format!("{TEST_DATABASE_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let mut owner = PgConnection::connect_with(&owner_options).await?;
        sqlx::query(&format!("create database {name}"))
            .execute(&mut owner)
            .await?;
        // A test database is a dev database: demo commands may write to it (ADR 20).
        sqlx::query(&format!("comment on database {name} is '{DEV_MARK}'"))
            .execute(&mut owner)
            .await?;
        owner.close().await?;
        let owner_options = owner_options.database(&name);
        let mut owner = PgConnection::connect_with(&owner_options).await?;
        MIGRATOR.run(&mut owner).await?;
        owner.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .connect_with(app_options.database(&name))
            .await?;
        Ok(Self {
            name,
            ledger: Ledger::new(pool),
            owner_options,
        })
    }

    /// The application role's URL of this database, for processes a test starts.
    pub fn app_url(&self) -> String {
        let url = env_or("DATABASE_URL", DEV_DATABASE_URL);
        let (base, query) = url
            .split_once('?')
            .map_or((url.as_str(), ""), |(b, q)| (b, q));
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("{server}/{}{query}", self.name)
    }

    /// A connection as the owning role, for tests that act behind the application's back.
    pub async fn owner_connection(&self) -> Result<PgConnection, sqlx::Error> {
        PgConnection::connect_with(&self.owner_options).await
    }

    /// Closes the pool and drops the database, ending any session still connected to it.
    pub async fn drop_database(self) -> Result<(), sqlx::Error> {
        self.ledger.pool().close().await;
        let mut owner =
            PgConnection::connect_with(&self.owner_options.clone().database("postgres")).await?;
        sqlx::query(&format!(
            "drop database if exists {} with (force)",
            self.name
        ))
        .execute(&mut owner)
        .await?;
        owner.close().await
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
