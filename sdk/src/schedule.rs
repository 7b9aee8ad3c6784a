//! Scheduled processes: the one weekday schedule every scheduled process uses, so that each
//! names its runs after the process, skips a firing while the last is still running and
//! describes itself the same way.

use chrono::{NaiveTime, Timelike};
use temporalio_client::schedules::{
    CreateScheduleOptions, ScheduleAction, ScheduleOverlapPolicy, ScheduleSpec,
};
use temporalio_common::WorkflowDefinition;

use crate::process::{Process, TaskQueues};

/// Starts `P` with `input` on weekdays at `at` (hours and minutes) in `timezone` (IANA, e.g.
/// `Europe/London`), on the workflow queue of `queues`. Create it under the id `P::NAME`; its
/// runs get the workflow id `<P::NAME>-<firing time>`.
pub fn weekdays<P: Process>(
    at: NaiveTime,
    timezone: &str,
    queues: &TaskQueues,
    input: <P as WorkflowDefinition>::Input,
) -> CreateScheduleOptions
where
    <P as WorkflowDefinition>::Input: Sync,
{
    let cron = format!("{} {} * * MON-FRI", at.minute(), at.hour());
    CreateScheduleOptions::builder()
        .action(ScheduleAction::start_workflow(
            P::default(),
            input,
            queues.workflows.clone(),
            P::NAME,
        ))
        .spec(
            ScheduleSpec::builder()
                .cron_strings(vec![cron])
                .timezone_name(timezone)
                .build(),
        )
        // A run still going when the next fires is left alone.
        .overlap_policy(ScheduleOverlapPolicy::Skip)
        .note(format!("{}, weekdays at {at} {timezone}", P::NAME))
        .build()
}
