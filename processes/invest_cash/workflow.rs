//! `invest-cash`: a member invests cash.
//!
//! - Trigger: a member's request (`acme invest --member M --amount 100.00`), workflow id
//!   `invest/<request-id>`, so a repeated request attaches to the same run.
//! - Outcome: the cash is recorded as received into the member's pot and reserved
//!   (`available → reserved`, one atomic pair of entries), and pending buy trades are created,
//!   split by the member's model portfolio. The daily dealing cycle takes them from there.
//! - Failure: bad input, an unknown member or one without a model portfolio fail the workflow
//!   with a stable code before anything is written. Later steps are idempotent and retried; if
//!   creating the trades fails for good, the cash entries are reversed (the saga), so the money
//!   is back where it was. Once the trades exist they belong to the dealing cycle.
//! - Owner: the platform team.

use std::collections::BTreeMap;

use acme_activities::ledger::LedgerActivities;
use acme_activities::members::{CASH_SCALE, InvestmentPlan, MemberActivities, TargetWeight};
use acme_activities::trades::{BuyOrder, BuyTrades, TradeActivities};
use acme_ledger::{NewEntry, NewPosting};
use acme_sdk::failure::fail_workflow;
use acme_sdk::search::{self, SearchAttributeUpdate};
use acme_sdk::{
    BusinessError, Cash, IdReuse, MemberId, MemberRequestIds, Process, Saga, Step, TaskQueues,
    WorkflowId, activity_options,
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};
use uuid::Uuid;

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "invest-cash";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::reads("plan", MemberActivities::plan_investment),
        Step::writes(
            "reserve-cash",
            LedgerActivities::post_entries,
            "<workflow id>/receive-cash, <workflow id>/reserve-cash",
        )
        .undone_by("reverse-cash", LedgerActivities::post_entries),
        Step::writes(
            "create-trades",
            TradeActivities::create_buy_trades,
            "trade id uuid5(<workflow id>/buy/<asset>)",
        )
        .pivot("the pending trades belong to the dealing cycle from here"),
    ]
}
/// Runs started after this patch take their three short steps as local activities, in the
/// workflow's own worker; runs recorded before it replay down the old path (ADR 14).
const LOCAL_ACTIVITIES: &str = "invest-cash-local-activities";

/// Largest single investment accepted, in pounds.
pub const MAX_AMOUNT_GBP: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 2);

/// The workflow id of a request: its business key.
pub fn workflow_id(request_id: &str) -> String {
    format!("invest/{request_id}")
}

/// What the caller sends. `amount` is raw JSON on purpose: money must arrive as a decimal
/// string, and a number (or anything else) is refused with a clear code rather than failing to
/// decode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The caller's id for this request: 1-40 letters, digits or '-'. The same id never
    /// invests twice.
    pub request_id: String,
    /// The investing member's id.
    pub member_id: String,
    /// Pounds to invest, a decimal string with at most 2 places, e.g. "100.00".
    #[schemars(with = "String")]
    pub amount: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub reserved_gbp: Decimal,
    pub trade_ids: Vec<Uuid>,
}

/// Where a run has got to, for `acme query` and the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    #[default]
    Started,
    CashReserved,
    TradesCreated,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub stage: Stage,
    pub trade_ids: Vec<Uuid>,
}

#[workflow]
#[derive(Default)]
pub struct InvestCash {
    status: Status,
}

impl Process for InvestCash {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "A member invests cash: it is received and reserved, and buy trades are created per the model portfolio";
    const QUERIES: &'static [&'static str] = &[acme_sdk::process::STATUS_QUERY];

    /// A request id invests once, ever: a repeat attaches to the run that did it.
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
        let amount = input
            .amount
            .as_str()
            .map_or_else(|| input.amount.to_string(), str::to_owned);
        format!("invest £{amount} for member {}", input.member_id)
    }

    fn example() -> Input {
        Input {
            request_id: "r-1".to_owned(),
            member_id: "m-1".to_owned(),
            amount: "100.00".into(),
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl InvestCash {
    #[run(name = "invest-cash")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Output> {
        let request = Request::parse(&input, ctx.workflow_id())?;
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        let local = ctx.patched(LOCAL_ACTIVITIES);
        let mut saga = Saga::new(ctx);
        // Workflow time comes from the history, so this is deterministic on replay.
        let effective_date = ctx
            .workflow_time()
            .map(|time| DateTime::<Utc>::from(time).date_naive())
            .unwrap_or_default();

        let plan: InvestmentPlan = activity_options::ledger_step(
            ctx,
            local,
            &queues,
            MemberActivities::plan_investment,
            request.member_id.to_string(),
        )
        .await
        .map_err(fail_workflow)?;
        let orders = split_by_weights(request.amount.amount(), &plan.weights)?;

        let entries = cash_entries(&request.workflow_id, effective_date, &plan, request.amount);
        let reversals = entries.iter().rev().map(NewEntry::reversal).collect();
        activity_options::ledger_step(ctx, local, &queues, LedgerActivities::post_entries, entries)
            .await
            .map_err(fail_workflow)?;
        saga.compensate_with(
            LedgerActivities::post_entries,
            reversals,
            activity_options::ledger(&queues),
        );
        ctx.state_mut(|s| s.status.stage = Stage::CashReserved);

        let created = activity_options::ledger_step(
            ctx,
            local,
            &queues,
            TradeActivities::create_buy_trades,
            BuyTrades {
                origin_workflow_id: request.workflow_id.to_string(),
                member_id: request.member_id.to_string(),
                orders,
            },
        )
        .await;
        let trade_ids = match created {
            Ok(trade_ids) => trade_ids,
            Err(error) => return Err(saga.fail(error).await),
        };
        ctx.state_mut(|s| {
            s.status.stage = Stage::TradesCreated;
            s.status.trade_ids.clone_from(&trade_ids);
        });
        Ok(Output {
            reserved_gbp: request.amount.amount(),
            trade_ids,
        })
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> Status {
        self.status.clone()
    }
}

/// The input, parsed: every field checked before anything is written.
/// Checks a request as the run will, before anything is stored or started: an intake refuses
/// bad input with the run's own codes instead of starting a run that fails.
pub fn check_input(input: &Input) -> Result<(), BusinessError> {
    Request::parse(input, &workflow_id(&input.request_id)).map(drop)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    workflow_id: WorkflowId,
    member_id: MemberId,
    amount: Cash,
}

impl Request {
    fn parse(input: &Input, run_workflow_id: &str) -> Result<Self, BusinessError> {
        let MemberRequestIds {
            workflow_id,
            member_id,
        } = MemberRequestIds::parse(
            &input.request_id,
            &input.member_id,
            workflow_id,
            run_workflow_id,
        )?;
        let amount = Cash::from_json("amount", &input.amount)?;
        if amount.amount() > MAX_AMOUNT_GBP {
            return Err(BusinessError::new(
                "amount.over_limit",
                format!(
                    "amount {} is above the single-investment limit of {MAX_AMOUNT_GBP}",
                    amount.amount()
                ),
            ));
        }
        Ok(Self {
            workflow_id,
            member_id,
            amount,
        })
    }
}

/// Splits a cash amount by target weights, in pence, never creating or losing a penny: each
/// asset gets its weight's share rounded down, and what rounding left goes to the heaviest
/// weight. Assets whose share is zero get no trade.
pub fn split_by_weights(
    amount: Decimal,
    weights: &[TargetWeight],
) -> Result<Vec<BuyOrder>, BusinessError> {
    let overflow = || {
        BusinessError::new(
            "amount.overflow",
            format!("amount {amount} is too large to split"),
        )
    };
    let total_weight = weights
        .iter()
        .try_fold(Decimal::ZERO, |sum, w| sum.checked_add(w.weight))
        .ok_or_else(overflow)?;
    if weights.is_empty() || total_weight != Decimal::ONE {
        return Err(BusinessError::new(
            "portfolio.weights_invalid",
            format!("model portfolio weights sum to {total_weight}, not 1"),
        ));
    }
    let mut orders = Vec::with_capacity(weights.len());
    let mut allocated = Decimal::ZERO;
    for weight in weights {
        let share = amount
            .checked_mul(weight.weight)
            .ok_or_else(overflow)?
            .round_dp_with_strategy(CASH_SCALE, RoundingStrategy::ToZero);
        allocated = allocated.checked_add(share).ok_or_else(overflow)?;
        orders.push(BuyOrder {
            asset: weight.asset.clone(),
            cash: share,
        });
    }
    let heaviest = weights
        .iter()
        .enumerate()
        .max_by(|(ia, a), (ib, b)| a.weight.cmp(&b.weight).then(ib.cmp(ia)))
        .map_or(0, |(index, _)| index);
    orders[heaviest].cash += amount - allocated;
    orders.retain(|order| !order.cash.is_zero());
    Ok(orders)
}

/// The two entries of a reservation: the cash arrives from the bank into the member's pot, then
/// moves from available to reserved. Posted together, so neither is ever seen without the other.
fn cash_entries(
    workflow_id: &WorkflowId,
    effective_date: NaiveDate,
    plan: &InvestmentPlan,
    amount: Cash,
) -> Vec<NewEntry> {
    let amount = amount.amount();
    let entry = |step: &str, kind: &str, postings: Vec<NewPosting>| NewEntry {
        idempotency_key: workflow_id.step_key(step),
        kind: kind.to_owned(),
        process: NAME.to_owned(),
        workflow_id: workflow_id.to_string(),
        effective_date,
        metadata: BTreeMap::from([("member_id".to_owned(), plan.member_id.clone())]),
        postings,
    };
    vec![
        entry(
            "receive-cash",
            "invest.cash-received",
            vec![
                NewPosting {
                    account_id: plan.bank,
                    amount: -amount,
                },
                NewPosting {
                    account_id: plan.cash_available,
                    amount,
                },
            ],
        ),
        entry(
            "reserve-cash",
            "invest.cash-reserved",
            vec![
                NewPosting {
                    account_id: plan.cash_available,
                    amount: -amount,
                },
                NewPosting {
                    account_id: plan.cash_reserved,
                    amount,
                },
            ],
        ),
    ]
}
