//! The process test kit: a real local Temporal server (the `temporal` CLI that `ops/stack`
//! installed, never a download), a fresh set of task queues, and helpers to run a worker for the
//! length of a test. Each test gets its own in-memory server: it starts in well under a second
//! and dies with the test, so no test sees another's workflows.

use std::path::PathBuf;

use temporalio_client::Client;
use temporalio_sdk::testing::{
    DevServerLogLevel, EphemeralExe, LocalServer, LocalWorkflowEnvironmentOptions,
    WorkflowEnvironment,
};

use crate::process::TaskQueues;

/// Where the `temporal` binary is: `ACME_TEMPORAL_BIN` (set by `.acme/env`), else the one
/// `ops/stack up` installs under the repository's `.acme/`.
pub fn temporal_binary() -> Result<PathBuf, String> {
    let path = std::env::var_os("ACME_TEMPORAL_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.acme/venv/bin/temporal"),
        PathBuf::from,
    );
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no temporal binary at {}: run `ops/stack up` (it installs one) or set ACME_TEMPORAL_BIN",
            path.display()
        ))
    }
}

/// A local Temporal server for one test, with its own task queues.
#[derive(Debug)]
pub struct TestTemporal {
    env: WorkflowEnvironment<LocalServer>,
    port: u16,
    pub queues: TaskQueues,
}

impl TestTemporal {
    pub async fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let binary = temporal_binary()?;
        // A known port, so that worker processes a test starts can be pointed at the server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let options = LocalWorkflowEnvironmentOptions::builder()
            .server_executable(EphemeralExe::ExistingPath(binary.display().to_string()))
            .port(port)
            // Warnings about the throwaway server (cluster ids, cancelled tasks at shutdown)
            // are noise in test output.
            .log_level(DevServerLogLevel::Error)
            .build();
        let env = WorkflowEnvironment::start_local(options).await?;
        let queues = TaskQueues::new(&format!("test-{}", uuid::Uuid::new_v4().simple()));
        Ok(Self { env, port, queues })
    }

    /// The server's gRPC address, for `TEMPORAL_ADDRESS`.
    pub fn address(&self) -> String {
        format!("localhost:{}", self.port)
    }

    pub fn client(&self) -> &Client {
        self.env.client()
    }

    pub async fn shutdown(self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.env.shutdown().await?)
    }
}
