//! A fresh database for each test, so tests never see each other's orders, clock or faults.
//!
//! Connects as the owning role (`CUSTODIAN_TEST_DATABASE_URL`, else
//! `ACME_MIGRATOR_DATABASE_URL`, else the dev stack's `acme_owner`) to create an empty
//! `custodian_test_<uuid>`; the simulator migrates it when it starts, as in production.
//! Databases left behind by interrupted runs carry the prefix [`TEST_DATABASE_PREFIX`].

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::Config;

pub const DEV_OWNER_DATABASE_URL: &str = "postgres://acme_owner:acme_owner@127.0.0.1:5432/acme";
pub const TEST_DATABASE_PREFIX: &str = "custodian_test_";

#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    /// The URL of this database, as the owning role.
    pub url: String,
    owner_options: PgConnectOptions,
}

impl TestDatabase {
    pub async fn create() -> Result<Self, sqlx::Error> {
        let base = ["CUSTODIAN_TEST_DATABASE_URL", "ACME_MIGRATOR_DATABASE_URL"]
            .into_iter()
            .find_map(|name| std::env::var(name).ok())
            .unwrap_or_else(|| DEV_OWNER_DATABASE_URL.to_owned());
        let owner_options: PgConnectOptions = base.parse()?;
        let name = format!("{TEST_DATABASE_PREFIX}{}", uuid::Uuid::new_v4().simple());
        let mut owner = PgConnection::connect_with(&owner_options).await?;
        sqlx::query(&format!("create database {name}"))
            .execute(&mut owner)
            .await?;
        owner.close().await?;
        Ok(Self {
            url: with_database(&base, &name),
            name,
            owner_options,
        })
    }

    /// A simulator configuration on this database: a free port, manual clock, T+2.
    pub fn config(&self) -> Config {
        Config::new(self.url.clone())
    }

    /// Drops the database, ending any session still connected to it.
    pub async fn drop_database(self) -> Result<(), sqlx::Error> {
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

/// `url` with its database replaced by `name`, keeping any `?query`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let server = match base.rsplit_once('/') {
        // Only strip a path segment, not the `//` of the scheme.
        Some((server, _)) if !server.ends_with('/') => server,
        _ => base,
    };
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/acme?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
