//! Connecting to Temporal from the CLI: Temporal's standard client settings (`TEMPORAL_ADDRESS`,
//! `TEMPORAL_NAMESPACE` or a `temporal.toml` profile), a bounded wait, and links into the UI.

use std::time::Duration;

use anyhow::Context as _;
use temporalio_client::envconfig::LoadClientConfigProfileOptions;
use temporalio_client::{Client, ClientOptions, Connection};

/// How long to wait for Temporal before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn connect() -> anyhow::Result<Client> {
    let (connection_options, client_options) = ClientOptions::load_from_config(
        LoadClientConfigProfileOptions::default(),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot read Temporal client settings (TEMPORAL_ADDRESS, temporal.toml): {e}"
        )
    })?;
    let address = std::env::var("TEMPORAL_ADDRESS").unwrap_or_else(|_| "localhost:7233".into());
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(connection_options))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {}s", CONNECT_TIMEOUT.as_secs()))
        .and_then(|connected| connected.map_err(anyhow::Error::from))
        .with_context(|| {
            format!(
                "cannot connect to Temporal at {address}; is the stack up? \
                 Run `ops/stack up` (or `ops/stack status`) and `source .acme/env`"
            )
        })?;
    Ok(Client::new(connection, client_options)?)
}

/// The Temporal UI page of a workflow.
pub fn ui_link(workflow_id: &str) -> String {
    let ui = std::env::var("ACME_TEMPORAL_UI").unwrap_or_else(|_| "http://127.0.0.1:8233".into());
    let namespace = std::env::var("TEMPORAL_NAMESPACE").unwrap_or_else(|_| "default".into());
    format!(
        "{ui}/namespaces/{namespace}/workflows/{}",
        workflow_id.replace('/', "%2F")
    )
}
