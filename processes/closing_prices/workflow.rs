//! `closing-prices`: records a business day's closing prices. Asks the ledger which funds the
//! scheme holds, fetches their closing prices for the day from the custodian
//! (`GET /prices/closing`) and records them append-only with their source (`crate::prices` in
//! `acme-activities`, migration 0012), for valuation and re-balancing to read.
//!
//! - Trigger: `acme prices record --date D` (workflow id `closing-prices/<date>`), after the
//!   custodian has closed D; a start while a run of the date is open attaches to it, a later one
//!   records nothing new.
//! - Outcome: how many prices were new and how many were already recorded, identical.
//! - Failure: a malformed date fails with `date.invalid` before anything runs; a day the
//!   custodian has not closed with `price.not_published`; a price that differs from one already
//!   recorded for the fund and day with `price.conflict`, recording none of the day's prices.
//!   Nothing is compensated: a recorded price is a record of what was published.
//! - Owner: the platform team (operations run it, or a schedule does, after the close).

use acme_activities::closing_prices::{ClosingPricesActivities, RecordPrices};
use acme_activities::custodian::{CustodianActivities, PricesRequest};
use acme_activities::prices::{Quote, Recorded};
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
pub const NAME: &str = "closing-prices";

/// Where the prices recorded by this process come from.
pub const SOURCE: &str = "custodian";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::reads("funds", ClosingPricesActivities::funds),
        Step::reads("fetch", CustodianActivities::closing_prices),
        Step::writes(
            "record",
            ClosingPricesActivities::record,
            "closing_price primary key (asset, date)",
        )
        .pivot("a recorded price is a record of what was published, never undone"),
    ]
}

/// The workflow id of the run for a business date.
pub fn workflow_id(date: &str) -> String {
    format!("closing-prices/{date}")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The business day whose closing prices to record, `YYYY-MM-DD`.
    pub date: String,
}

#[workflow]
#[derive(Default)]
pub struct ClosingPrices;

impl Process for ClosingPrices {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "Records a business day's closing price of every fund, as the custodian published it, append-only with its source";

    /// Recording a day's prices again changes nothing (a different price is refused), so a
    /// day may always be recorded again.
    const ID_REUSE: IdReuse = IdReuse::Always;

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
        format!("record the closing prices of {}", input.date)
    }

    fn example() -> Input {
        Input {
            date: "2025-01-02".to_owned(),
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl ClosingPrices {
    #[run(name = "closing-prices")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Recorded> {
        let date = business_date(&input, ctx.workflow_id())?;
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        let isins = ctx
            .execute_activity(
                ClosingPricesActivities::funds,
                (),
                activity_options::ledger(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        if isins.is_empty() {
            return Err(BusinessError::new("prices.no_funds", "the scheme holds no funds").into());
        }
        let published = ctx
            .execute_activity(
                CustodianActivities::closing_prices,
                PricesRequest { date, isins },
                activity_options::external(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        if published.date != date {
            return Err(BusinessError::new(
                "price.wrong_date",
                format!(
                    "asked for {date}, the custodian answered {}",
                    published.date
                ),
            )
            .into());
        }
        let quotes = published
            .prices
            .into_iter()
            .map(|price| Quote {
                asset_code: price.isin,
                price: price.price.to_string(),
            })
            .collect();
        let recorded = ctx
            .execute_activity(
                ClosingPricesActivities::record,
                RecordPrices {
                    date,
                    source: SOURCE.to_owned(),
                    recorded_by: ctx.workflow_id().to_owned(),
                    quotes,
                },
                activity_options::ledger(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        Ok(recorded)
    }
}

/// The date a run is for, checked to be a real `YYYY-MM-DD` and the run's own.
fn business_date(input: &Input, workflow_id: &str) -> Result<NaiveDate, BusinessError> {
    let date = acme_sdk::business_date(&input.date)?;
    WorkflowId::of_run(self::workflow_id(&input.date), workflow_id, &input.date)?;
    Ok(date)
}
