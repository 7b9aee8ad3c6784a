//! Connecting to Temporal the same way everywhere (workers, CLI, tools): Temporal's standard
//! client settings (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_TLS_*` or a
//! `temporal.toml` profile), payloads sealed with the keys of `ACME_PAYLOAD_KEYS` when it is set
//! ([`crate::codec`]; a worker's data converter is its client's), a bounded wait, and an error
//! that says what was tried and what to do: a refused TLS handshake (no client certificate, one
//! the server does not trust, a server certificate we do not trust) is told apart from a server
//! that is not there, because the cure is a different setting.

use std::time::Duration;

use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};

use crate::codec::PayloadKeys;

mod tls_refusal;

/// How long to wait for Temporal before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const HINT: &str =
    "is the stack up? Run `ops/stack up` (or `ops/stack status`) and `source .acme/env`";
const TLS_HINT: &str = "check TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (a \
     certificate the server's CA issued), TEMPORAL_TLS_SERVER_CA_CERT_PATH and \
     TEMPORAL_TLS_SERVER_NAME (the CA and name of the server's certificate)";

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
    #[error(
        "cannot connect to Temporal at {address}: the TLS handshake failed: {reason}; {TLS_HINT}"
    )]
    Tls { address: String, reason: String },
}

impl ConnectError {
    /// Why connecting failed, with every cause in `error`'s chain (tonic's own message is only
    /// "transport error"); a TLS failure found anywhere in the chain is told as such.
    fn refused(address: String, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut reason = error.to_string();
        let mut tls = false;
        let mut cause = Some(error);
        while let Some(current) = cause {
            tls |= is_tls_failure(current);
            let text = current.to_string();
            if !reason.contains(&text) {
                reason = format!("{reason}: {text}");
            }
            cause = current.source();
        }
        if tls {
            Self::Tls { address, reason }
        } else {
            Self::Refused { address, reason }
        }
    }
}

/// rustls's error, alone or carried in an I/O error (as hyper and h2 pass it on).
fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    error.is::<tokio_rustls::rustls::Error>()
        || error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .is_some_and(|inner| inner.is::<tokio_rustls::rustls::Error>())
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
    let target = connection_options.target.clone();
    let tls = connection_options.tls_options.clone();
    let address = target.to_string();
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(connection_options))
        .await
        .map_err(|_| ConnectError::Timeout {
            address: address.clone(),
        })?;
    let connection = match connected {
        Ok(connection) => connection,
        Err(e) => {
            let error = ConnectError::refused(address.clone(), &e);
            return Err(match (&error, &tls) {
                // tonic saw only a closed connection: ask the server why.
                (ConnectError::Refused { reason, .. }, Some(tls)) => {
                    match tls_refusal::tls_refusal(&target, tls).await {
                        Some(refusal) => ConnectError::Tls {
                            address,
                            reason: format!("{refusal} ({reason})"),
                        },
                        None => error,
                    }
                }
                _ => error,
            });
        }
    };
    Client::new(connection, client_options).map_err(|e| ConnectError::refused(address, &e))
}
