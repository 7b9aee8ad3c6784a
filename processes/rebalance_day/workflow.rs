//! `rebalance-day`: re-balances every member pot that has drifted outside its model
//! portfolio's band at a business day's closing prices, by selling its overweight funds.
//!
//! - Trigger: `acme rebalance run --date D` (workflow id `rebalance/<date>`), once D's closing
//!   prices are recorded (`acme prices record --date D`); a start while a run of the date is
//!   open attaches to it, and one after it completed attaches to the completed run.
//! - Outcome: one bulk step, `rebalance_day.create_sells`, walks the pots in chunks and, per
//!   drifted pot, reserves the units it sells and creates the pending sell trades (origin
//!   `rebalance/<date>/<member>`) with the buys their proceeds will fund (the pot's shortfalls,
//!   ADR 26), which the next dealing cycle deals like any other. The result
//!   counts the pots selling, the trades created, the pots skipped because they had trades in
//!   flight (naming the first few members) and those already done by this run.
//! - Failure: a malformed date or chunk size fails with `date.invalid` /
//!   `chunk_size.out_of_range`, and a missing or stale price with `price.missing` /
//!   `price.stale`, before anything is written. A chunk commits whole or not at all; a failed
//!   run may be started again and creates nothing twice (idempotent per date and pot).
//! - Owner: the platform team (operations run it after the day's prices are recorded).

use acme_activities::rebalance_day::{Rebalance, RebalanceDayActivities, Rebalanced};
use acme_sdk::failure::fail_workflow;
use acme_sdk::search::{self, SearchAttributeUpdate};
use acme_sdk::{BusinessError, IdReuse, Process, Step, TaskQueues, WorkflowId, activity_options};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "rebalance-day";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::writes(
            "create-sells",
            RebalanceDayActivities::create_sells,
            "<workflow id>/reserve-units/<member>; trade id md5(<workflow id>/<member>/sell/<asset>)",
        )
        .pivot("the pending sells belong to the dealing cycle from here"),
    ]
}

/// Pots per chunk unless the input says otherwise.
pub const DEFAULT_CHUNK_SIZE: i64 = 5_000;
/// The largest chunk one transaction may take.
pub const MAX_CHUNK_SIZE: i64 = 50_000;

/// The workflow id of the run for a business date.
pub fn workflow_id(date: &str) -> String {
    format!("rebalance/{date}")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The business day whose closing prices value the pots, `YYYY-MM-DD`.
    pub date: String,
    /// Pots per chunk, 1 to 50,000 (default 5,000).
    #[serde(default)]
    pub chunk_size: Option<i64>,
}

#[workflow]
#[derive(Default)]
pub struct RebalanceDay;

impl Process for RebalanceDay {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "Re-balances the pots that drifted from their model portfolio at a day's closing prices: reserves and sells their overweight units";

    /// A failed run may run again (it creates nothing twice); a completed day never.
    const ID_REUSE: IdReuse = IdReuse::AfterFailure;

    fn business_key(input: &Input) -> String {
        input.date.clone()
    }

    fn workflow_id(input: &Input) -> String {
        workflow_id(&input.date)
    }

    fn search_attributes(input: &Input) -> Vec<SearchAttributeUpdate> {
        vec![search::DEALING_DATE.value_set(input.date.clone())]
    }

    fn summary(input: &Input) -> String {
        format!(
            "re-balance the drifted pots at the prices of {}",
            input.date
        )
    }

    fn example() -> Input {
        Input {
            date: "2025-01-02".to_owned(),
            chunk_size: None,
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl RebalanceDay {
    #[run(name = "rebalance-day")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Rebalanced> {
        let (date, chunk_size) = check(&input, ctx.workflow_id())?;
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        let rebalanced = ctx
            .execute_activity(
                RebalanceDayActivities::create_sells,
                Rebalance {
                    date,
                    workflow_id: ctx.workflow_id().to_owned(),
                    chunk_size,
                },
                activity_options::bulk(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        Ok(rebalanced)
    }
}

/// The date a run is for (a real `YYYY-MM-DD`, the run's own) and its chunk size.
fn check(input: &Input, workflow_id: &str) -> Result<(NaiveDate, i64), BusinessError> {
    let date = acme_sdk::business_date(&input.date)?;
    WorkflowId::of_run(self::workflow_id(&input.date), workflow_id, &input.date)?;
    let chunk_size = input.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE);
    if !(1..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(BusinessError::new(
            "chunk_size.out_of_range",
            format!("chunk size {chunk_size} must be 1 to {MAX_CHUNK_SIZE}"),
        ));
    }
    Ok((date, chunk_size))
}
