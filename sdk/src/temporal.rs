//! Connecting to Temporal the same way everywhere (workers, CLI, tools): Temporal's standard
//! client settings (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_TLS_*` or a
//! `temporal.toml` profile), payloads sealed with the keys of `ACME_PAYLOAD_KEYS` when it is set
//! ([`crate::codec`]; a worker's data converter is its client's), a bounded wait, and an error
//! that says what was tried and what to do.

use std::time::Duration;

use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};

use crate::codec::PayloadKeys;

/// How long to wait for Temporal before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const HINT: &str =
    "is the stack up? Run `ops/stack up` (or `ops/stack status`) and `source .acme/env`";

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read Temporal client settings (TEMPORAL_ADDRESS, temporal.toml): {0}")]
    Settings(String),
    #[error("cannot read the payload keys: {0}")]
    Keys(#[from] crate::codec::CodecError),
    #[error("cannot connect to Temporal at {address}: no answer within {}s; {HINT}", CONNECT_TIMEOUT.as_secs())]
    Timeout { address: String },
    #[error("cannot connect to Temporal at {address}: {reason}; {HINT}")]
    Refused { address: String, reason: String },
}

/// A client for the configured Temporal server and namespace.
pub async fn connect() -> Result<Client, ConnectError> {
    connect_as(None).await
}

/// A client whose requests carry `identity` (e.g. "alice via acme"), so the run's history
/// records who started, signalled, cancelled or terminated it.
pub async fn connect_as(identity: Option<&str>) -> Result<Client, ConnectError> {
    let (mut connection_options, mut client_options) =
        ClientOptions::load_from_config(LoadClientConfigProfileOptions::default())
            .map_err(|e| ConnectError::Settings(e.to_string()))?;
    client_options.data_converter = crate::codec::data_converter(PayloadKeys::from_env()?);
    if let Some(identity) = identity {
        identity.clone_into(&mut connection_options.identity);
    }
    let address = connection_options.target.to_string();
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(connection_options))
        .await
        .map_err(|_| ConnectError::Timeout {
            address: address.clone(),
        })?
        .map_err(|e| ConnectError::Refused {
            address: address.clone(),
            reason: e.to_string(),
        })?;
    Client::new(connection, client_options).map_err(|e| ConnectError::Refused {
        address,
        reason: e.to_string(),
    })
}
