//! Temporal from the CLI: the shared connection, links into the UI, `acme temporal setup` and
//! `acme temporal codec-server`.

use acme_sdk::TaskQueues;
use anyhow::Context as _;
use clap::Subcommand;

use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum TemporalCommand {
    /// Register ACME's search attributes in the namespace (harmless to repeat). `ops/stack up`
    /// runs it; run it once against any new Temporal cluster or namespace.
    Setup,
    /// Serve Temporal's remote codec protocol with this shell's payload keys
    /// (`ACME_PAYLOAD_KEYS`), so the Temporal UI shows you decrypted payloads
    CodecServer(crate::codec_server::CodecServerArgs),
}

pub async fn run(command: TemporalCommand) -> anyhow::Result<Outcome> {
    match command {
        TemporalCommand::Setup => {
            let client = connect().await?;
            let added = acme_sdk::search::ensure_registered(&client).await?;
            let names = acme_sdk::search::all().map(|(name, _)| name);
            if added.is_empty() {
                println!("search attributes already registered: {}", names.join(", "));
            } else {
                println!("registered search attributes: {}", added.join(", "));
            }
            Ok(Outcome::Done)
        }
        TemporalCommand::CodecServer(args) => crate::codec_server::serve(args).await,
    }
}

/// A client for the configured Temporal server (see `acme_sdk::temporal`).
pub async fn connect() -> anyhow::Result<temporalio_client::Client> {
    Ok(acme_sdk::temporal::connect().await?)
}

/// The Temporal UI page of a workflow.
pub fn ui_link(workflow_id: &str) -> String {
    format!("{}/{}", ui_workflows(), workflow_id.replace('/', "%2F"))
}

/// The Temporal UI's workflow list of our namespace.
fn ui_workflows() -> String {
    let ui = std::env::var("ACME_TEMPORAL_UI").unwrap_or_else(|_| "http://127.0.0.1:8233".into());
    let namespace = std::env::var("TEMPORAL_NAMESPACE").unwrap_or_else(|_| "default".into());
    format!("{ui}/namespaces/{namespace}/workflows")
}

/// The Temporal UI's workflow list, searching with a visibility `query`.
pub fn ui_search_link(query: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse_with_params(&ui_workflows(), &[("query", query)])
        .context("ACME_TEMPORAL_UI is not a valid URL")?;
    Ok(url.to_string())
}

/// The task queues runs are started on: those of the workers `ACME_TASK_QUEUE` names (the
/// worker reads the same setting), else production's.
pub fn task_queues() -> TaskQueues {
    std::env::var("ACME_TASK_QUEUE")
        .map_or_else(|_| TaskQueues::default(), |base| TaskQueues::new(&base))
}
