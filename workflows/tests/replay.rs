//! The replay safety net: every recorded history under `tests/histories/<process>/` (recorded by
//! the end-to-end tests) must replay with the current workflow code. A change that would break
//! runs already in flight, such as reordering activities, fails here, naming the process and the
//! history, before it reaches a worker.

// A failed unwrap in a test is a failed test, with the error printed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::WorkflowReplayer;

fn recorded_histories() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/histories");
    let mut files = Vec::new();
    for process in std::fs::read_dir(&root).unwrap() {
        for file in std::fs::read_dir(process.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[tokio::test]
async fn every_recorded_history_replays_with_the_current_code() {
    let histories = recorded_histories();
    assert!(
        !histories.is_empty(),
        "no recorded histories under tests/histories"
    );
    let replayer = WorkflowReplayer::new(acme_workflows::replayer_options().unwrap()).unwrap();
    let mut failures = Vec::new();
    for path in &histories {
        let history = WorkflowHistory::from_json(&std::fs::read(path).unwrap()).unwrap();
        if let Err(error) = replayer.replay_workflow(history).await {
            let process = path.parent().and_then(Path::file_name).unwrap_or_default();
            failures.push(format!(
                "process {} history {}: {error}",
                process.to_string_lossy(),
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "histories that no longer replay:\n{}",
        failures.join("\n")
    );
}
