//! The replay safety net: every recorded history under `processes/<name>/histories/` (recorded by
//! the end-to-end tests) must replay with the current workflow code. A change that would break
//! runs already in flight, such as reordering activities, fails here, naming the process and the
//! history, before it reaches a worker. The second test proves the net catches such a change.

// A failed unwrap in a test is a failed test, with the error printed.
#![allow(clippy::unwrap_used, missing_debug_implementations)]

use std::path::{Path, PathBuf};

use acme_activities::members::MemberActivities;
use acme_activities::trades::{BuyTrades, TradeActivities};
use acme_sdk::{TaskQueues, activity_options};
use temporalio_client::WorkflowHistory;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

/// The recorded histories of every process folder, or of the one named `process` (its folder).
fn recorded_histories(process: Option<&str>) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../processes");
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&root).unwrap() {
        let folder = folder.unwrap().path();
        if process.is_some_and(|p| folder.file_name().is_some_and(|name| name != p)) {
            continue;
        }
        let Ok(histories) = std::fs::read_dir(folder.join("histories")) else {
            continue;
        };
        for file in histories {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Replays each history with `options`; returns one line per history that no longer replays.
async fn replay(options: WorkflowReplayerOptions, histories: &[PathBuf]) -> Vec<String> {
    let replayer = WorkflowReplayer::new(options).unwrap();
    let mut failures = Vec::new();
    for path in histories {
        let history = WorkflowHistory::from_json(&std::fs::read(path).unwrap()).unwrap();
        if let Err(error) = replayer.replay_workflow(history).await {
            let process = path
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .unwrap_or_default();
            failures.push(format!(
                "process {} history {}: {error}",
                process.to_string_lossy(),
                path.display()
            ));
        }
    }
    failures
}

#[tokio::test]
async fn every_recorded_history_replays_with_the_current_code() {
    let histories = recorded_histories(None);
    assert!(
        !histories.is_empty(),
        "no recorded histories under processes/*/histories"
    );
    let failures = replay(acme_workflows::replayer_options().unwrap(), &histories).await;
    assert!(
        failures.is_empty(),
        "histories that no longer replay:\n{}",
        failures.join("\n")
    );
}

/// `invest-cash` as a careless edit might leave it: the trades are now created before the cash
/// is reserved (the posting step was moved after them).
#[workflow]
#[derive(Default)]
struct ReorderedInvestCash;

#[workflow_methods]
impl ReorderedInvestCash {
    #[run(name = "invest-cash")]
    async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: acme_workflows::invest_cash::Input,
    ) -> WorkflowResult<()> {
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        ctx.execute_activity(
            TradeActivities::create_buy_trades,
            BuyTrades {
                origin_workflow_id: ctx.workflow_id().to_owned(),
                member_id: input.member_id.clone(),
                orders: Vec::new(),
            },
            activity_options::ledger(&queues),
        )
        .await?;
        ctx.execute_activity(
            MemberActivities::plan_investment,
            input.member_id,
            activity_options::ledger(&queues),
        )
        .await?;
        Ok(())
    }
}

#[tokio::test]
async fn the_net_catches_a_reordered_activity_and_names_the_process_and_history() {
    let histories = recorded_histories(Some("invest_cash"));
    let happy_path = histories
        .iter()
        .find(|p| p.ends_with("happy-path.json"))
        .unwrap()
        .clone();
    let mut options = WorkflowReplayerOptions::new().build();
    options.register_workflow::<ReorderedInvestCash>().unwrap();
    let failures = replay(options, &[happy_path]).await;
    assert_eq!(failures.len(), 1, "the reordered workflow replayed cleanly");
    assert!(
        failures[0].contains("process invest_cash")
            && failures[0].contains("happy-path.json")
            && failures[0].to_lowercase().contains("nondetermin"),
        "{}",
        failures[0]
    );
}
