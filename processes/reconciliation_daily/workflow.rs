//! `reconciliation-daily`: what the weekday schedule starts after each dealing day. It names the
//! business date (the date of the schedule's firing, from workflow time) and starts that date's
//! `reconciliation` (`reconciliation/<date>`), which runs on its own. A firing while the date's
//! run is still open attaches to it instead of reconciling twice; a later one reconciles again
//! and stores nothing new if nothing changed.
//!
//! - Trigger: the Temporal schedule `reconciliation-daily` (`acme recon schedule --at 18:00`),
//!   set after the dealing cut-off (`acme dealing schedule`) so the custodian's statements of
//!   the day are in.
//! - Outcome: the reconciliation's workflow id.
//! - Owner: the platform team.

use acme_sdk::process::child_options;
use acme_sdk::{BusinessError, IdReuse, Process, Step, TaskQueues};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_client::schedules::CreateScheduleOptions;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ChildWorkflowStartError, StartChildWorkflowExecutionFailedCause, WorkflowContext,
    WorkflowResult,
};

use crate::reconciliation::{self, Reconciliation};

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "reconciliation-daily";

/// The schedule's id, and the prefix of the workflow ids of its runs (the process name).
pub const SCHEDULE_ID: &str = NAME;

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::starts(
            "start-reconciliation",
            Reconciliation::run,
            "reconciliation/<date>",
        )
        .pivot("the day's reconciliation runs on its own from here (an abandoned child)"),
    ]
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The business date to reconcile, `YYYY-MM-DD`; left out by the schedule, which
    /// reconciles the date it fires on.
    #[serde(default)]
    pub date: Option<String>,
}

/// The schedule: weekdays at `at` (hours and minutes) in `timezone` (IANA, e.g.
/// `Europe/London`), starting `reconciliation-daily` on the workflow queue of `queues`.
pub fn schedule(at: NaiveTime, timezone: &str, queues: &TaskQueues) -> CreateScheduleOptions {
    acme_sdk::schedule::weekdays::<ReconciliationDaily>(at, timezone, queues, Input::default())
}

#[workflow]
#[derive(Default)]
pub struct ReconciliationDaily;

impl Process for ReconciliationDaily {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "The scheduled daily reconciliation: starts the day's reconciliation after dealing (weekdays, see `acme recon schedule`)";

    /// Each firing only starts, or attaches to, the day's reconciliation/<date>.
    const ID_REUSE: IdReuse = IdReuse::Always;

    fn business_key(_input: &Input) -> String {
        SCHEDULE_ID.to_owned()
    }

    /// Runs started by the schedule get this id with the firing time appended by Temporal.
    fn workflow_id(_input: &Input) -> String {
        SCHEDULE_ID.to_owned()
    }

    fn summary(_input: &Input) -> String {
        "daily reconciliation: start the day's reconciliation".to_owned()
    }

    fn example() -> Input {
        Input::default()
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl ReconciliationDaily {
    #[run(name = "reconciliation-daily")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<String> {
        let date = match input.date {
            Some(text) => NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .ok()
                .filter(|date| date.to_string() == text)
                .ok_or_else(|| {
                    BusinessError::new("date.invalid", format!("date {text:?} must be YYYY-MM-DD"))
                })?,
            None => {
                let Some(now) = ctx.workflow_time() else {
                    return Err(
                        BusinessError::new("clock.unknown", "workflow time is unknown").into(),
                    );
                };
                DateTime::<Utc>::from(now).date_naive()
            }
        };
        let day = reconciliation::Input {
            date: date.to_string(),
        };
        let workflow_id = reconciliation::workflow_id(&day.date);
        let options = child_options::<Reconciliation>(&day);
        match ctx
            .start_child_workflow(Reconciliation::run, day, options)
            .await
        {
            Ok(_) => Ok(workflow_id),
            // The date's run is open already (started by hand, or an earlier firing).
            Err(ChildWorkflowStartError::StartFailed {
                cause: StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
                ..
            }) => Ok(workflow_id),
            Err(error) => Err(error.into()),
        }
    }
}
