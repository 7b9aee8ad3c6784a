//! The process test kit: a real local Temporal server (the `temporal` CLI that `ops/stack`
//! installed, never a download), a fresh set of task queues, and helpers to run a worker for the
//! length of a test. Each test gets its own in-memory server: it starts in well under a second
//! and dies with the test, so no test sees another's workflows. The soak's server keeps its
//! state in a file instead, so that it can be restarted mid-day.

use std::path::{Path, PathBuf};

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

/// How many times a test tries to start its Temporal server.
const SERVER_START_ATTEMPTS: u32 = 3;

/// A local Temporal server for one test, with its own task queues.
#[derive(Debug)]
pub struct TestTemporal {
    /// Always set; empty only while [`Self::restart`] swaps the server.
    env: Option<WorkflowEnvironment<LocalServer>>,
    port: u16,
    /// The server's SQLite file, when it keeps its state on disk and so can be restarted.
    database: Option<PathBuf>,
    pub queues: TaskQueues,
}

type TestkitError = Box<dyn std::error::Error + Send + Sync>;

impl TestTemporal {
    /// A server keeping everything in memory: the tests' default.
    pub async fn start() -> Result<Self, TestkitError> {
        Self::start_with(None).await
    }

    /// A server keeping its state in the SQLite file `database`, so that [`Self::restart`]
    /// brings it back with every workflow (the soak restarts one mid-day).
    pub async fn start_on_disk(database: PathBuf) -> Result<Self, TestkitError> {
        Self::start_with(Some(database)).await
    }

    async fn start_with(database: Option<PathBuf>) -> Result<Self, TestkitError> {
        let binary = temporal_binary()?;
        // The SDK gives a server 5 s to answer, which a busy 2-core machine (tests starting
        // servers side by side) sometimes misses: a server that did not come up is tried again
        // on a fresh port, a bounded number of times.
        let mut attempt = 1;
        let (env, port) = loop {
            // A known port, so that worker processes a test starts can be pointed at the server.
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            match launch(&binary, port, database.as_deref()).await {
                Ok(env) => break (env, port),
                Err(error) if attempt < SERVER_START_ATTEMPTS => {
                    eprintln!(
                        "testkit: Temporal dev server attempt {attempt} failed ({error}); trying again"
                    );
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        };
        crate::search::ensure_registered(env.client()).await?;
        let queues = TaskQueues::new(&format!("test-{}", uuid::Uuid::new_v4().simple()));
        Ok(Self {
            env: Some(env),
            port,
            database,
            queues,
        })
    }

    /// Stops the server and starts it again on the same port and file, as a production cluster
    /// restarts: workflows, histories and task queues survive; clients and workers reconnect.
    /// Only a server started with [`Self::start_on_disk`] can: one in memory would lose all.
    pub async fn restart(&mut self) -> Result<(), TestkitError> {
        let database = self.database.clone().ok_or(
            "a Temporal server in memory would lose every workflow: start it with start_on_disk",
        )?;
        let binary = temporal_binary()?;
        if let Some(env) = self.env.take() {
            env.shutdown().await?;
        }
        let mut attempt = 1;
        let env = loop {
            match launch(&binary, self.port, Some(&database)).await {
                Ok(env) => break env,
                // The old server may still hold the port for a moment.
                Err(error) if attempt < SERVER_START_ATTEMPTS => {
                    eprintln!("testkit: Temporal restart attempt {attempt} failed ({error})");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    attempt += 1;
                }
                Err(error) => return Err(error.into()),
            }
        };
        self.env = Some(env);
        Ok(())
    }

    fn env(&self) -> &WorkflowEnvironment<LocalServer> {
        // Absent only inside `restart`, or after one that failed (its error was returned).
        self.env
            .as_ref()
            .expect("the Temporal server did not come back after a restart")
    }

    /// The server's gRPC address, for `TEMPORAL_ADDRESS`.
    pub fn address(&self) -> String {
        format!("localhost:{}", self.port)
    }

    pub fn client(&self) -> &Client {
        self.env().client()
    }

    pub async fn shutdown(self) -> Result<(), TestkitError> {
        match self.env {
            Some(env) => Ok(env.shutdown().await?),
            None => Ok(()),
        }
    }
}

/// Starts the dev server at `binary` on `port`, in memory or on the SQLite file `database`.
async fn launch(
    binary: &Path,
    port: u16,
    database: Option<&Path>,
) -> Result<WorkflowEnvironment<LocalServer>, temporalio_sdk::testing::WorkflowEnvironmentError> {
    let options = LocalWorkflowEnvironmentOptions::builder()
        .server_executable(EphemeralExe::ExistingPath(binary.display().to_string()))
        .port(port)
        .maybe_database_filename(database.map(Path::to_path_buf))
        // Warnings about the throwaway server (cluster ids, cancelled tasks at shutdown) are
        // noise in test output.
        .log_level(DevServerLogLevel::Error)
        .build();
    WorkflowEnvironment::start_local(options).await
}

/// Where recorded workflow histories live: in the process's own folder,
/// `processes/<process_name>/histories/<name>.json` (the folder is the process name in
/// snake_case). `workflows/tests/replay.rs` replays every one with the current code.
pub fn history_path(process: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../processes")
        .join(process.replace('-', "_"))
        .join("histories")
        .join(format!("{name}.json"))
}

/// Records a finished run's history for the replay safety net. An existing recording is kept
/// (it is the reference the current code must still replay) unless `ACME_RECORD_HISTORIES=1`
/// asks for it to be refreshed.
pub async fn record_history(
    history: temporalio_client::WorkflowHistory,
    process: &str,
    name: &str,
) -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let path = history_path(process, name);
    let refresh = std::env::var("ACME_RECORD_HISTORIES").is_ok_and(|v| v == "1");
    if path.exists() && !refresh {
        return Ok(path);
    }
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    std::fs::write(&path, history.to_json().await?)?;
    Ok(path)
}

/// Waits on a condition instead of sleeping: asks `probe` until it returns `Ok`, every 50 ms,
/// and panics with its last "not yet" reason once `deadline` has passed. Every test that waits
/// for something waits through here.
pub async fn eventually<T, F>(deadline: std::time::Duration, mut probe: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Result<T, String>>,
{
    let started = std::time::Instant::now();
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(why) if started.elapsed() >= deadline => {
                panic!("still not so after {deadline:?}: {why}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}
