//! `switch-funds`: a member switches a share of one fund into another.
//!
//! - Trigger: a member's request (`acme switch --member M --from A --to B --percent 50` or
//!   `--all`), workflow id `switch/<request-id>`, so a repeated request attaches to the same run.
//! - Outcome: that percent of the member's available units of A (floored at A's unit scale)
//!   moves `available → reserved` and a pending sell is created, recorded as a switch into B
//!   (ADR 26). The dealing cycle sells it; allocating the sell reserves the proceeds that
//!   actually arrived and creates the buy of B with them, which the next cycle deals.
//! - Failure: bad input, an unknown member or fund, a switch into the same fund, or nothing to
//!   sell fail the workflow with a stable code before anything is written. If creating the sell
//!   fails for good, the reservation is reversed (the saga). Once the sell exists it belongs to
//!   the dealing cycle.
//! - Owner: the platform team.

use acme_activities::ledger::LedgerActivities;
use acme_activities::switch_funds::{SwitchFundsActivities, SwitchPlan, SwitchRequest, SwitchSell};
use acme_sdk::failure::fail_workflow;
use acme_sdk::money::{Sign, parse_amount};
use acme_sdk::search::{self, SearchAttributeUpdate};
use acme_sdk::{
    BusinessError, IdReuse, MemberRequestIds, Process, Saga, Step, TaskQueues, activity_options,
};
use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};
use uuid::Uuid;

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "switch-funds";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::reads("plan", SwitchFundsActivities::plan),
        Step::writes(
            "reserve-units",
            LedgerActivities::post_entries,
            "<workflow id>/reserve-units",
        )
        .undone_by("reverse-units", LedgerActivities::post_entries),
        Step::writes(
            "create-sell",
            SwitchFundsActivities::create_sell,
            "switch target (<workflow id>, to); trade id uuid5(<workflow id>/sell/<from>)",
        )
        .pivot("the pending sell belongs to the dealing cycle from here"),
    ]
}

/// The workflow id of a request: its business key.
pub fn workflow_id(request_id: &str) -> String {
    format!("switch/{request_id}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The caller's id for this request: 1-40 letters, digits or '-'.
    pub request_id: String,
    /// The switching member's id.
    pub member_id: String,
    /// The fund sold (ISIN).
    pub from: String,
    /// The fund bought with the proceeds (ISIN).
    pub to: String,
    /// The percent of the available units of `from` to switch, a decimal string above 0 and at
    /// most 100 with at most 2 places ("100" switches them all).
    pub percent: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub reserved_units: Decimal,
    pub trade_id: Uuid,
}

#[workflow]
#[derive(Default)]
pub struct SwitchFunds;

impl Process for SwitchFunds {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "A member switches a percent of one fund into another: the units are reserved and sold, and the proceeds that arrive buy the other fund";

    /// A request id switches once, ever: a repeat attaches to the run that did it.
    const ID_REUSE: IdReuse = IdReuse::Never;

    fn business_key(input: &Input) -> String {
        input.request_id.clone()
    }

    fn workflow_id(input: &Input) -> String {
        workflow_id(&input.request_id)
    }

    fn search_attributes(input: &Input) -> Vec<SearchAttributeUpdate> {
        vec![
            search::MEMBER.value_set(input.member_id.clone()),
            search::ASSET.value_set(input.from.clone()),
        ]
    }

    fn summary(input: &Input) -> String {
        format!(
            "switch {}% of {} into {} for member {}",
            input.percent, input.from, input.to, input.member_id
        )
    }

    fn example() -> Input {
        Input {
            request_id: "r-1".to_owned(),
            member_id: "m-1".to_owned(),
            from: "GB00ACMEGLB1".to_owned(),
            to: "GB00ACMEBND1".to_owned(),
            percent: "50".to_owned(),
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl SwitchFunds {
    #[run(name = "switch-funds")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Output> {
        let request = MemberRequestIds::parse(
            &input.request_id,
            &input.member_id,
            workflow_id,
            ctx.workflow_id(),
        )?;
        let percent = parse_percent(&input.percent)?;
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        let mut saga = Saga::new(ctx);
        let effective_date = ctx
            .workflow_time()
            .map(|time| DateTime::<Utc>::from(time).date_naive())
            .unwrap_or_default();

        let plan: SwitchPlan = ctx
            .execute_activity(
                SwitchFundsActivities::plan,
                SwitchRequest {
                    member_id: request.member_id.to_string(),
                    from: input.from.clone(),
                    to: input.to.clone(),
                },
                activity_options::ledger(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        let units = units_to_switch(plan.held, percent, plan.sale.scale)?;

        let reserve = plan.sale.reserve_entry(
            request.workflow_id.as_str(),
            NAME,
            "switch.units-reserved",
            effective_date,
            units,
        );
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

        let created = ctx
            .execute_activity(
                SwitchFundsActivities::create_sell,
                SwitchSell {
                    origin_workflow_id: request.workflow_id.to_string(),
                    member_id: plan.sale.member_id,
                    from: plan.sale.asset,
                    to: plan.to,
                    units,
                },
                activity_options::ledger(&queues),
            )
            .await;
        match created {
            Ok(trade_id) => Ok(Output {
                reserved_units: units,
                trade_id,
            }),
            Err(error) => Err(saga.fail(error).await),
        }
    }
}

/// The percent of a request: above 0, at most 100, at most 2 decimals, else
/// `switch.invalid_percent`.
fn parse_percent(text: &str) -> Result<Decimal, BusinessError> {
    parse_amount(text, 2, Sign::Positive)
        .ok()
        .filter(|percent| *percent <= Decimal::ONE_HUNDRED)
        .ok_or_else(|| {
            BusinessError::new(
                "switch.invalid_percent",
                format!("percent {text:?} must be above 0 and at most 100, with at most 2 places"),
            )
        })
}

/// `percent` of `held`, floored at the fund's unit scale; `switch.nothing_to_sell` when that is
/// no unit at all.
fn units_to_switch(held: Decimal, percent: Decimal, scale: u32) -> Result<Decimal, BusinessError> {
    let units = held
        .checked_mul(percent)
        .and_then(|share| share.checked_div(Decimal::ONE_HUNDRED))
        .map(|units| units.round_dp_with_strategy(scale, RoundingStrategy::ToZero))
        .unwrap_or_default();
    if units <= Decimal::ZERO {
        return Err(BusinessError::new(
            "switch.nothing_to_sell",
            format!("{percent}% of the {held} units available is no unit to sell"),
        ));
    }
    Ok(units)
}
