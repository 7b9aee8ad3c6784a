//! `dealing-cutoff`: what the weekday schedule starts at the dealing cut-off. It names the
//! dealing date (the date of the schedule's firing in London, from workflow time) and starts that day's
//! `dealing-cycle` (`dealing/<date>`), which outlives it. A second firing on the same date, or a
//! cycle already started by hand with `acme dealing run`, attaches instead of dealing twice.
//!
//! - Trigger: the Temporal schedule `dealing-cutoff` (`acme dealing schedule --at 16:00`).
//! - Outcome: the dealing cycle's workflow id.
//! - Owner: the platform team.

use acme_sdk::process::child_options;
use acme_sdk::{BusinessError, IdReuse, Process, Step, TaskQueues};
use chrono::{DateTime, NaiveTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_client::schedules::CreateScheduleOptions;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ChildWorkflowStartError, StartChildWorkflowExecutionFailedCause, WorkflowContext,
    WorkflowResult,
};

use crate::dealing_cycle::{self, DealingCycle};

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "dealing-cutoff";

/// The schedule's id, and the prefix of the workflow ids of its runs (the process name).
pub const SCHEDULE_ID: &str = NAME;

/// The patch after which the dealing date is the firing's date in London, not in UTC.
const LONDON_DATE: &str = "dealing-cutoff-london-date";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::starts("start-cycle", DealingCycle::run, "dealing/<date>")
            .pivot("the day's cycle runs on its own from here (an abandoned child)"),
    ]
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// Seconds between custodian status polls while the day's trades wait (default 300).
    #[serde(default)]
    pub poll_every_secs: Option<u64>,
}

/// The schedule: weekdays at `cutoff` (hours and minutes) in `timezone` (IANA, e.g.
/// `Europe/London`), starting `dealing-cutoff` on the workflow queue of `queues`.
pub fn schedule(
    cutoff: NaiveTime,
    timezone: &str,
    queues: &TaskQueues,
    input: Input,
) -> CreateScheduleOptions {
    acme_sdk::schedule::weekdays::<DealingCutoff>(cutoff, timezone, queues, input)
}

#[workflow]
#[derive(Default)]
pub struct DealingCutoff;

impl Process for DealingCutoff {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "The scheduled cut-off: starts the day's dealing cycle (weekdays, see `acme dealing schedule`)";

    /// Each firing only starts, or attaches to, the day's dealing/<date>.
    const ID_REUSE: IdReuse = IdReuse::Always;

    fn business_key(_input: &Input) -> String {
        SCHEDULE_ID.to_owned()
    }

    /// Runs started by the schedule get this id with the firing time appended by Temporal.
    fn workflow_id(_input: &Input) -> String {
        SCHEDULE_ID.to_owned()
    }

    fn summary(_input: &Input) -> String {
        "dealing cut-off: start the day's dealing cycle".to_owned()
    }

    fn example() -> Input {
        Input::default()
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl DealingCutoff {
    #[run(name = "dealing-cutoff")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<String> {
        let Some(now) = ctx.workflow_time() else {
            return Err(BusinessError::new("dealing.no_clock", "workflow time is unknown").into());
        };
        let now = DateTime::<Utc>::from(now);
        // The dealing date is the London date of the firing; runs from before the patch took
        // the UTC date (different only for a firing between midnight and 01:00 in summer).
        let dealing_date = if ctx.patched(LONDON_DATE) {
            acme_sdk::cutoff::london_date(now)
        } else {
            now.date_naive()
        };
        let cycle = dealing_cycle::Input {
            dealing_date: dealing_date.to_string(),
            poll_every_secs: input.poll_every_secs,
            expect_within_secs: None,
        };
        let workflow_id = <DealingCycle as Process>::workflow_id(&cycle);
        let options = child_options::<DealingCycle>(&cycle);
        // Started, not awaited: the cycle takes days and is abandoned to run on its own.
        match ctx
            .start_child_workflow(DealingCycle::run, cycle, options)
            .await
        {
            Ok(_) => Ok(workflow_id),
            // Already started for this date (by hand or an earlier firing): nothing to do.
            Err(ChildWorkflowStartError::StartFailed {
                cause: StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
                ..
            }) => Ok(workflow_id),
            Err(error) => Err(error.into()),
        }
    }
}
