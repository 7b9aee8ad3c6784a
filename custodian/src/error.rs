//! The simulator's infrastructure errors, one enum for the service. Refusals of a request are
//! not errors here: they are answers (see `api`), each with a stable code.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(
        "could not connect to the custodian database at {target}: {reason} (set --database-url \
         or CUSTODIAN_DATABASE_URL; `acme-custodian migrate` creates a missing database)"
    )]
    Connect { target: String, reason: String },
    #[error("custodian database query failed")]
    Database(#[from] sqlx::Error),
    #[error("could not migrate the custodian database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// The error and its causes on one line, for logs.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
