//! `sell-units`: a member sells units of one fund.
//!
//! - Trigger: a member's request (`acme sell --member M --asset A --units 12.5`), workflow id
//!   `sell/<request-id>`, so a repeated request attaches to the same run.
//! - Outcome: the units move `available → reserved` (one entry; the ledger refuses it if the
//!   member holds fewer) and a pending sell trade is created. The dealing cycle sells them and
//!   pays the proceeds into the member's pot.
//! - Failure: bad input, an unknown member or fund, or too few units fail the workflow with a
//!   stable code before anything is written. If creating the trade fails for good, the
//!   reservation is reversed (the saga). Once the trade exists it belongs to the dealing cycle.
//! - Owner: the platform team.

use acme_activities::ledger::LedgerActivities;
use acme_activities::members::{MemberActivities, SalePlan, SaleRequest};
use acme_activities::trades::{SellTrade, TradeActivities};
use acme_sdk::failure::fail_workflow;
use acme_sdk::search::{self, SearchAttributeUpdate};
use acme_sdk::{
    BusinessError, IdReuse, MemberRequestIds, Process, Saga, Step, TaskQueues, Units,
    activity_options,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};
use uuid::Uuid;

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "sell-units";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::reads("plan", MemberActivities::plan_sale),
        Step::writes(
            "reserve-units",
            LedgerActivities::post_entries,
            "<workflow id>/reserve-units",
        )
        .undone_by("reverse-units", LedgerActivities::post_entries),
        Step::writes(
            "create-trade",
            TradeActivities::create_sell_trade,
            "trade id uuid5(<workflow id>/sell/<asset>)",
        )
        .pivot("the pending trade belongs to the dealing cycle from here"),
    ]
}

/// The workflow id of a request: its business key.
pub fn workflow_id(request_id: &str) -> String {
    format!("sell/{request_id}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The caller's id for this request: 1-40 letters, digits or '-'.
    pub request_id: String,
    /// The selling member's id.
    pub member_id: String,
    /// The fund's code (ISIN).
    pub asset: String,
    /// Units to sell, a decimal string with at most the fund's decimal places, e.g. "12.5".
    #[schemars(with = "String")]
    pub units: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub reserved_units: Decimal,
    pub trade_id: Uuid,
}

#[workflow]
#[derive(Default)]
pub struct SellUnits {
    trade_id: Option<Uuid>,
}

impl Process for SellUnits {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str =
        "A member sells units of one fund: the units are reserved and a sell trade is created";
    const QUERIES: &'static [&'static str] = &["trade"];

    /// A request id sells once, ever: a repeat attaches to the run that did it.
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
            search::ASSET.value_set(input.asset.clone()),
        ]
    }

    fn summary(input: &Input) -> String {
        let units = input
            .units
            .as_str()
            .map_or_else(|| input.units.to_string(), str::to_owned);
        format!(
            "sell {units} units of {} for member {}",
            input.asset, input.member_id
        )
    }

    fn example() -> Input {
        Input {
            request_id: "r-1".to_owned(),
            member_id: "m-1".to_owned(),
            asset: "GB00ACMEGLB1".to_owned(),
            units: "12.5".into(),
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl SellUnits {
    #[run(name = "sell-units")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Output> {
        let request = parse_ids(&input, ctx.workflow_id())?;
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        let mut saga = Saga::new(ctx);
        let effective_date = ctx
            .workflow_time()
            .map(|time| DateTime::<Utc>::from(time).date_naive())
            .unwrap_or_default();

        let plan: SalePlan = ctx
            .execute_activity(
                MemberActivities::plan_sale,
                SaleRequest {
                    member_id: request.member_id.to_string(),
                    asset: input.asset.clone(),
                },
                activity_options::ledger(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        // The fund's scale is only known from the plan, so the units are parsed here.
        let units = Units::from_json("units", &input.units, plan.scale)?.amount();

        let reserve = plan.reserve_entry(
            request.workflow_id.as_str(),
            NAME,
            "sell.units-reserved",
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
                TradeActivities::create_sell_trade,
                SellTrade {
                    origin_workflow_id: request.workflow_id.to_string(),
                    member_id: plan.member_id,
                    asset: plan.asset,
                    units,
                },
                activity_options::ledger(&queues),
            )
            .await;
        let trade_id = match created {
            Ok(trade_id) => trade_id,
            Err(error) => return Err(saga.fail(error).await),
        };
        ctx.state_mut(|s| s.trade_id = Some(trade_id));
        Ok(Output {
            reserved_units: units,
            trade_id,
        })
    }

    /// The sell trade's id once created.
    #[query]
    pub fn trade(&self, _ctx: &WorkflowContextView) -> Option<Uuid> {
        self.trade_id
    }
}

/// The input's ids, parsed: checked before anything is read or written. The units are parsed
/// once the fund's scale is known.
fn parse_ids(input: &Input, run_workflow_id: &str) -> Result<MemberRequestIds, BusinessError> {
    MemberRequestIds::parse(
        &input.request_id,
        &input.member_id,
        workflow_id,
        run_workflow_id,
    )
}
