//! `dealing-cycle`: one dealing day, from cut-off to every member trade settled.
//!
//! - Trigger: `acme dealing run --date D` (or the weekday schedule); workflow id
//!   `dealing/<date>`, so a day is dealt once however often it is started.
//! - Outcome: the day's pending member trades created up to its cut-off (16:00 London on the
//!   dealing date, or the cycle's start if earlier; `acme_sdk::cutoff`) are closed into one
//!   external trade per asset and side (set-based, chunked), one `external-trade` child runs each to settlement, then
//!   invariants 5 and 8 are checked from the journal and the trade book.
//! - Failure: a violated invariant fails the cycle loudly (`dealing.invariant_violated`) with
//!   the findings in its status query; the trades themselves are never undone here.
//! - Owner: the platform team.

use acme_activities::dealing::{CloseDay, DealingActivities, ExternalTrade, Violation};
use acme_sdk::failure::fail_workflow;
use acme_sdk::process::child_options;
use acme_sdk::search::{self, SearchAttributeUpdate};
use acme_sdk::{BusinessError, IdReuse, Process, Step, TaskQueues, activity_options};
use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};

use crate::external_trade::{self, ExternalTradeWorkflow, Outcome};

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "dealing-cycle";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::writes(
            "close-day",
            DealingActivities::close_day,
            "one external trade per (date, asset, side); each chunk once per trade",
        )
        .pivot("the day's trades are sealed into external trades: they only go forward"),
        Step::starts(
            "trade",
            ExternalTradeWorkflow::run,
            "external-trade/<date>/<asset>/<side>",
        ),
        Step::reads("check", DealingActivities::check_cycle),
    ]
}

/// The patch after which a cycle closes at its date's cut-off rather than at its start.
const CUTOFF_OF_THE_DATE: &str = "dealing-cycle-cutoff-of-the-date";

/// The workflow id of a dealing day.
pub fn workflow_id(dealing_date: &str) -> String {
    format!("dealing/{dealing_date}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The dealing date, `YYYY-MM-DD`.
    pub dealing_date: String,
    /// Seconds between custodian status polls while waiting (default 300).
    #[serde(default)]
    pub poll_every_secs: Option<u64>,
    /// Seconds each external trade may wait for the custodian before it is overdue and listed
    /// by `acme stuck` (default two days).
    #[serde(default)]
    pub expect_within_secs: Option<u64>,
}

/// How one external trade of the day ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeResult {
    pub trade: ExternalTrade,
    /// `None` while running; an error text if the child failed.
    pub outcome: Option<Result<Outcome, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    #[default]
    Closing,
    Trading,
    Checking,
    Done,
    InvariantViolated,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub stage: Stage,
    pub trades: Vec<TradeResult>,
    pub violations: Vec<Violation>,
}

#[workflow]
#[derive(Default)]
pub struct DealingCycle {
    status: Status,
}

impl Process for DealingCycle {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "A dealing day: close pending member trades into external trades and run each to settlement";
    const QUERIES: &'static [&'static str] = &[acme_sdk::process::STATUS_QUERY];

    /// A failed day may be run again once its cause is fixed; a dealt day never.
    const ID_REUSE: IdReuse = IdReuse::AfterFailure;

    fn business_key(input: &Input) -> String {
        input.dealing_date.clone()
    }

    fn workflow_id(input: &Input) -> String {
        workflow_id(&input.dealing_date)
    }

    fn search_attributes(input: &Input) -> Vec<SearchAttributeUpdate> {
        vec![search::DEALING_DATE.value_set(input.dealing_date.clone())]
    }

    fn summary(input: &Input) -> String {
        format!("dealing cycle for {}", input.dealing_date)
    }

    fn example() -> Input {
        Input {
            dealing_date: "2025-01-02".to_owned(),
            poll_every_secs: None,
            expect_within_secs: None,
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl DealingCycle {
    #[run(name = "dealing-cycle")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Status> {
        let dealing_date = parse_date(&input, ctx.workflow_id())?;
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        let started = ctx
            .workflow_time()
            .map(DateTime::<Utc>::from)
            .unwrap_or_default();
        // The date's own cut-off (16:00 London), or the start if earlier: a run started late for
        // a past date deals nothing that came in after that date's cut-off. Runs from before the
        // patch closed at their start and replay so (docs/processes.md, "Versioning").
        let cutoff = if ctx.patched(CUTOFF_OF_THE_DATE) {
            acme_sdk::cutoff::close_at(dealing_date, started)
        } else {
            started
        };
        let trades = ctx
            .execute_activity(
                DealingActivities::close_day,
                CloseDay {
                    dealing_date,
                    cutoff,
                },
                activity_options::bulk(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        ctx.state_mut(|s| {
            s.status.stage = Stage::Trading;
            s.status.trades = trades
                .iter()
                .map(|trade| TradeResult {
                    trade: trade.clone(),
                    outcome: None,
                })
                .collect();
        });

        let poll_every_secs = input
            .poll_every_secs
            .unwrap_or(external_trade::DEFAULT_POLL_EVERY.as_secs());
        let expect_within_secs = input
            .expect_within_secs
            .unwrap_or(external_trade::DEFAULT_EXPECT_WITHIN.as_secs());
        let children = trades.into_iter().enumerate().map(|(index, trade)| {
            let child = external_trade::Input {
                trade,
                poll_every_secs,
                expect_within_secs,
                polls_per_run: None,
                resume: None,
            };
            let options = child_options::<ExternalTradeWorkflow>(&child);
            let ctx = &*ctx;
            async move {
                let outcome = match ctx
                    .start_child_workflow(ExternalTradeWorkflow::run, child, options)
                    .await
                {
                    Ok(started) => started.result().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                ctx.state_mut(|s| s.status.trades[index].outcome = Some(outcome));
            }
        });
        futures::future::join_all(children).await;

        ctx.state_mut(|s| s.status.stage = Stage::Checking);
        let violations = ctx
            .execute_activity(
                DealingActivities::check_cycle,
                dealing_date,
                activity_options::bulk(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        if !violations.is_empty() {
            let summary: Vec<String> = violations
                .iter()
                .map(|v| format!("invariant {}: {}", v.invariant, v.detail))
                .collect();
            ctx.state_mut(|s| {
                s.status.stage = Stage::InvariantViolated;
                s.status.violations = violations;
            });
            return Err(BusinessError::new(
                "dealing.invariant_violated",
                format!("dealing {dealing_date}: {}", summary.join("; ")),
            )
            .into());
        }
        ctx.state_mut(|s| s.status.stage = Stage::Done);
        Ok(ctx.state(|s| s.status.clone()))
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> Status {
        self.status.clone()
    }
}

fn parse_date(input: &Input, workflow_id: &str) -> Result<NaiveDate, BusinessError> {
    let date = NaiveDate::parse_from_str(&input.dealing_date, "%Y-%m-%d")
        .ok()
        .filter(|date| date.format("%Y-%m-%d").to_string() == input.dealing_date)
        .ok_or_else(|| {
            BusinessError::new(
                "dealing.invalid_date",
                format!("dealing date {:?} must be YYYY-MM-DD", input.dealing_date),
            )
        })?;
    if workflow_id != self::workflow_id(&input.dealing_date) {
        return Err(BusinessError::new(
            "dealing.workflow_id_mismatch",
            format!(
                "dealing {} must run as workflow {:?}",
                input.dealing_date,
                self::workflow_id(&input.dealing_date)
            ),
        ));
    }
    Ok(date)
}
