//! `switch_funds.*`: the activities of `switch-funds`, on the ledger queue. The plan checks the
//! two funds and reads what the member holds of the one sold; creating the sell records first
//! that its proceeds buy the other fund (`trade_book::switches`, ADR 26), then the pending sell
//! (origin the switch's workflow id), so allocating the sell creates the buy from the proceeds
//! that actually arrive. Both are idempotent: a repeat reads or creates nothing new.

use std::sync::Arc;

use acme_ledger::Ledger;
use acme_sdk::{AssetCode, BusinessError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::WorkerOptions;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use crate::ledger_failure;
use crate::members::{SalePlan, SaleRequest, sale_plan};
use crate::trade_book::{Actor, member_trades, switches, trade_book_failure};

/// A member's switch from one fund to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchRequest {
    pub member_id: String,
    pub from: String,
    pub to: String,
}

/// The member's accounts for the fund sold, and the units available in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchPlan {
    pub sale: SalePlan,
    pub to: AssetCode,
    pub held: Decimal,
}

/// The sell of a switch, its units already reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchSell {
    pub origin_workflow_id: String,
    pub member_id: String,
    pub from: AssetCode,
    pub to: AssetCode,
    pub units: Decimal,
}

#[derive(Debug, Clone)]
pub struct SwitchFundsActivities {
    ledger: Ledger,
}

/// Registers these activities on the ledger queue; the worker calls it for every process folder
/// with an `activities.rs`.
pub fn register(options: &mut WorkerOptions, ledger: &Ledger) {
    options.register_activities(SwitchFundsActivities {
        ledger: ledger.clone(),
    });
}

#[activities]
impl SwitchFundsActivities {
    /// Refuses a switch into the same fund (`switch.same_fund`) or into anything but a fund
    /// (`asset.unknown`), an unknown member or fund sold (as `members.sale_plan`); returns the
    /// member's accounts and the units available.
    #[activity(name = "switch_funds.plan")]
    pub async fn plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: SwitchRequest,
    ) -> Result<SwitchPlan, ActivityError> {
        if request.from == request.to {
            return Err(BusinessError::new(
                "switch.same_fund",
                format!("a switch from {} into itself changes nothing", request.from),
            )
            .into());
        }
        let target = sale_plan(
            &self.ledger,
            SaleRequest {
                member_id: request.member_id.clone(),
                asset: request.to,
            },
        )
        .await?;
        let sale = sale_plan(
            &self.ledger,
            SaleRequest {
                member_id: request.member_id,
                asset: request.from,
            },
        )
        .await?;
        let held = self
            .ledger
            .balance(sale.units_available)
            .await
            .map_err(ledger_failure)?;
        Ok(SwitchPlan {
            sale,
            to: target.asset,
            held,
        })
    }

    /// Records what the proceeds buy, then creates the pending sell; returns the sell's id.
    #[activity(name = "switch_funds.create_sell")]
    pub async fn create_sell(
        self: Arc<Self>,
        ctx: ActivityContext,
        sell: SwitchSell,
    ) -> Result<Uuid, ActivityError> {
        let pool = self.ledger.pool();
        switches::record_single_target(pool, &sell.origin_workflow_id, sell.to.as_str())
            .await
            .map_err(trade_book_failure)?;
        member_trades::create_sell(
            pool,
            &Actor::activity(&ctx, &sell.origin_workflow_id),
            &sell.origin_workflow_id,
            &sell.member_id,
            &sell.from,
            sell.units,
        )
        .await
        .map_err(trade_book_failure)
    }
}
