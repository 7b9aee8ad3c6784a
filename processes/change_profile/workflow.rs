//! `change-profile`: a member changes risk profile, and the whole pot follows.
//!
//! - Trigger: `acme member set-profile M --portfolio P --request-id R` (workflow id
//!   `set-profile/<request-id>`), recorded in the operator audit log like every start.
//! - Outcome: every fund the member holds available moves `available → reserved` (one entry),
//!   the member gets the new model portfolio, and one pending sell per fund is created whose
//!   proceeds, once priced, buy the new model's funds by its weights (ADR 26): the dealing cycle
//!   sells, the next one buys.
//! - Failure: bad ids, an unknown member or portfolio fail the workflow with a stable code before
//!   anything is written. If the switch fails for good, the reservation is reversed (the saga).
//!   Once the sells exist they belong to the dealing cycle.
//! - Owner: the platform team.

use acme_activities::change_profile::{
    ChangeProfileActivities, PotSwitch, ProfilePlan, ProfileRequest,
};
use acme_activities::ledger::LedgerActivities;
use acme_ledger::{NewEntry, NewPosting};
use acme_sdk::failure::fail_workflow;
use acme_sdk::search::{self, SearchAttributeUpdate};
use acme_sdk::{IdReuse, MemberRequestIds, Process, Saga, Step, TaskQueues, activity_options};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};
use uuid::Uuid;

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "change-profile";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::reads("plan", ChangeProfileActivities::plan),
        Step::writes(
            "reserve-units",
            LedgerActivities::post_entries,
            "<workflow id>/reserve-units",
        )
        .undone_by("reverse-units", LedgerActivities::post_entries),
        Step::writes(
            "switch-pot",
            ChangeProfileActivities::switch_pot,
            "member's portfolio; switch targets (<workflow id>, fund); trade ids uuid5(<workflow id>/sell/<fund>)",
        )
        .pivot("the pending sells belong to the dealing cycle from here"),
    ]
}

/// The workflow id of a request: its business key.
pub fn workflow_id(request_id: &str) -> String {
    format!("set-profile/{request_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The caller's id for this request: 1-40 letters, digits or '-'.
    pub request_id: String,
    /// The member whose risk profile changes.
    pub member_id: String,
    /// The new model portfolio's code, e.g. "cautious".
    pub portfolio: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The portfolio the member had before.
    pub previous: Option<String>,
    /// The sells created, one per fund held.
    pub sell_trades: Vec<Uuid>,
}

#[workflow]
#[derive(Default)]
pub struct ChangeProfile;

impl Process for ChangeProfile {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "A member changes risk profile: the new model portfolio is set and the whole pot is sold and bought again by its weights";

    /// A request id changes the profile once, ever: a repeat attaches to the run that did it.
    const ID_REUSE: IdReuse = IdReuse::Never;

    fn business_key(input: &Input) -> String {
        input.request_id.clone()
    }

    fn workflow_id(input: &Input) -> String {
        workflow_id(&input.request_id)
    }

    fn search_attributes(input: &Input) -> Vec<SearchAttributeUpdate> {
        vec![search::MEMBER.value_set(input.member_id.clone())]
    }

    fn summary(input: &Input) -> String {
        format!(
            "change member {}'s risk profile to {}",
            input.member_id, input.portfolio
        )
    }

    fn example() -> Input {
        Input {
            request_id: "r-1".to_owned(),
            member_id: "m-1".to_owned(),
            portfolio: "cautious".to_owned(),
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl ChangeProfile {
    #[run(name = "change-profile")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Output> {
        let request = MemberRequestIds::parse(
            &input.request_id,
            &input.member_id,
            workflow_id,
            ctx.workflow_id(),
        )?;
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        let mut saga = Saga::new(ctx);
        let effective_date = ctx
            .workflow_time()
            .map(|time| DateTime::<Utc>::from(time).date_naive())
            .unwrap_or_default();

        let plan: ProfilePlan = ctx
            .execute_activity(
                ChangeProfileActivities::plan,
                ProfileRequest {
                    member_id: request.member_id.to_string(),
                    portfolio: input.portfolio.clone(),
                },
                activity_options::ledger(&queues),
            )
            .await
            .map_err(fail_workflow)?;

        // A pot holding nothing only changes its portfolio.
        if !plan.holdings.is_empty() {
            let reserve = NewEntry {
                idempotency_key: request.workflow_id.step_key("reserve-units"),
                kind: "profile.units-reserved".to_owned(),
                process: NAME.to_owned(),
                workflow_id: request.workflow_id.to_string(),
                effective_date,
                metadata: [("member_id".to_owned(), request.member_id.to_string())].into(),
                postings: plan
                    .holdings
                    .iter()
                    .flat_map(|holding| {
                        [
                            NewPosting {
                                account_id: holding.available,
                                amount: -holding.units,
                            },
                            NewPosting {
                                account_id: holding.reserved,
                                amount: holding.units,
                            },
                        ]
                    })
                    .collect(),
            };
            let reversal = reserve.reversal();
            ctx.execute_activity(
                LedgerActivities::post_entries,
                vec![reserve],
                activity_options::ledger(&queues),
            )
            .await
            .map_err(fail_workflow)?;
            saga.compensate_with(
                LedgerActivities::post_entries,
                vec![reversal],
                activity_options::ledger(&queues),
            );
        }

        let switched = ctx
            .execute_activity(
                ChangeProfileActivities::switch_pot,
                PotSwitch {
                    origin_workflow_id: request.workflow_id.to_string(),
                    member_id: request.member_id.to_string(),
                    portfolio: input.portfolio.clone(),
                    sells: plan
                        .holdings
                        .iter()
                        .map(|holding| (holding.asset.clone(), holding.units))
                        .collect(),
                },
                activity_options::ledger(&queues),
            )
            .await;
        match switched {
            Ok(sell_trades) => Ok(Output {
                previous: plan.previous,
                sell_trades,
            }),
            Err(error) => Err(saga.fail(error).await),
        }
    }
}
