//! Temporal from the CLI: the shared connection and links into the UI.

/// A client for the configured Temporal server (see `acme_sdk::temporal`).
pub async fn connect() -> anyhow::Result<temporalio_client::Client> {
    Ok(acme_sdk::temporal::connect().await?)
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
