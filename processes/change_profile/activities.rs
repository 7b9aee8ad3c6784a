//! `change_profile.*`: the activities of `change-profile`, on the ledger queue. The plan checks
//! the member and the new model portfolio and reads every fund the member holds available; the
//! switch gives the member the new portfolio, records its weights as the targets of the sells'
//! proceeds (`trade_book::switches`, ADR 26) and creates one pending sell per fund held, origin
//! the run's workflow id. Both are idempotent: a repeat reads or creates nothing new.

use std::sync::Arc;

use acme_ledger::{AccountId, Ledger};
use acme_sdk::{AssetCode, BusinessError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::WorkerOptions;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use crate::members::CASH;
use crate::trade_book::{Actor, member_trades, members, switches, trade_book_failure};

/// A member and the model portfolio they choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRequest {
    pub member_id: String,
    pub portfolio: String,
}

/// One fund the member holds available, with its two accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub asset: AssetCode,
    pub units: Decimal,
    pub available: AccountId,
    pub reserved: AccountId,
}

/// What changing the profile sells, and the weights its proceeds buy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfilePlan {
    pub previous: Option<String>,
    pub holdings: Vec<Holding>,
}

/// The switch of the whole pot, its units already reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PotSwitch {
    pub origin_workflow_id: String,
    pub member_id: String,
    pub portfolio: String,
    pub sells: Vec<(AssetCode, Decimal)>,
}

#[derive(Debug, Clone)]
pub struct ChangeProfileActivities {
    ledger: Ledger,
}

/// Registers these activities on the ledger queue; the worker calls it for every process folder
/// with an `activities.rs`.
pub fn register(options: &mut WorkerOptions, ledger: &Ledger) {
    options.register_activities(ChangeProfileActivities {
        ledger: ledger.clone(),
    });
}

#[activities]
impl ChangeProfileActivities {
    /// Refuses an unknown member (`member.unknown`) or portfolio (`portfolio.unknown`); returns
    /// the member's current portfolio and every fund they hold available.
    #[activity(name = "change_profile.plan")]
    pub async fn plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ProfileRequest,
    ) -> Result<ProfilePlan, ActivityError> {
        let pool = self.ledger.pool();
        let member = members::find(pool, &request.member_id)
            .await
            .map_err(trade_book_failure)?
            .ok_or_else(|| BusinessError::new("member.unknown", "the member does not exist"))?;
        let known: Option<bool> =
            sqlx::query_scalar("select true from model_portfolio where portfolio_code = $1")
                .bind(&request.portfolio)
                .fetch_optional(pool)
                .await?;
        if known.is_none() {
            return Err(BusinessError::new(
                "portfolio.unknown",
                format!("{:?} is not a model portfolio", request.portfolio),
            )
            .into());
        }
        let held: Vec<(String, Decimal, i64)> = sqlx::query_as(
            "select a.asset_code, b.amount, a.account_id from account a
             join balance b using (account_id)
             where a.pot_id = $1 and a.purpose = 'available' and a.asset_code <> $2
               and b.amount > 0
             order by a.asset_code",
        )
        .bind(member.pot_id)
        .bind(CASH)
        .fetch_all(pool)
        .await?;
        let mut holdings = Vec::with_capacity(held.len());
        for (asset, units, available) in held {
            let asset = AssetCode::parse(&asset).map_err(ActivityError::from)?;
            let reserved = self
                .ledger
                .open_account(acme_ledger::PotId(member.pot_id), &asset, "reserved", false)
                .await
                .map_err(crate::ledger_failure)?;
            holdings.push(Holding {
                asset,
                units,
                available: AccountId(available),
                reserved,
            });
        }
        Ok(ProfilePlan {
            previous: member.portfolio_code,
            holdings,
        })
    }

    /// Gives the member the new portfolio, records its weights as what the sells' proceeds buy,
    /// then creates the sells; returns their ids.
    #[activity(name = "change_profile.switch_pot")]
    pub async fn switch_pot(
        self: Arc<Self>,
        ctx: ActivityContext,
        switch: PotSwitch,
    ) -> Result<Vec<Uuid>, ActivityError> {
        let pool = self.ledger.pool();
        members::set_portfolio(pool, &switch.member_id, &switch.portfolio)
            .await
            .map_err(trade_book_failure)?;
        switches::record_portfolio_targets(pool, &switch.origin_workflow_id, &switch.portfolio)
            .await
            .map_err(trade_book_failure)?;
        let actor = Actor::activity(&ctx, &switch.origin_workflow_id);
        let mut ids = Vec::with_capacity(switch.sells.len());
        for (asset, units) in &switch.sells {
            let id = member_trades::create_sell(
                pool,
                &actor,
                &switch.origin_workflow_id,
                &switch.member_id,
                asset,
                *units,
            )
            .await
            .map_err(trade_book_failure)?;
            ids.push(id);
        }
        Ok(ids)
    }
}
