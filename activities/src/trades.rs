//! The member trade activities: `trades.create_buy_trades` records the buy trades of one request,
//! `trades.create_sell_trade` the sell; trade ids are derived from the workflow id and asset, so
//! a retry creates nothing new. The rows themselves are the trade book's ([`crate::trade_book`]).

use std::sync::Arc;

use acme_ledger::Ledger;
use acme_sdk::AssetCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use crate::trade_book::{Actor, member_trades, trade_book_failure};

pub use crate::trade_book::member_trades::trade_id;

/// One buy: a cash amount of one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyOrder {
    pub asset: AssetCode,
    pub cash: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyTrades {
    pub origin_workflow_id: String,
    pub member_id: String,
    pub orders: Vec<BuyOrder>,
}

/// One sell: a number of units of one fund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellTrade {
    pub origin_workflow_id: String,
    pub member_id: String,
    pub asset: AssetCode,
    pub units: Decimal,
}

#[derive(Debug, Clone)]
pub struct TradeActivities {
    ledger: Ledger,
}

impl TradeActivities {
    pub fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }
}

#[activities]
impl TradeActivities {
    /// Creates the pending buy trades (all or none) and returns their ids in order.
    #[activity(name = "trades.create_buy_trades")]
    pub async fn create_buy_trades(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: BuyTrades,
    ) -> Result<Vec<Uuid>, ActivityError> {
        let assets: Vec<&AssetCode> = request.orders.iter().map(|o| &o.asset).collect();
        let cash: Vec<Decimal> = request.orders.iter().map(|o| o.cash).collect();
        member_trades::create_buys(
            self.ledger.pool(),
            &Actor::activity(&ctx, &request.origin_workflow_id),
            &request.origin_workflow_id,
            &request.member_id,
            &assets,
            &cash,
        )
        .await
        .map_err(trade_book_failure)
    }

    /// Creates the pending sell trade of one request and returns its id.
    #[activity(name = "trades.create_sell_trade")]
    pub async fn create_sell_trade(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: SellTrade,
    ) -> Result<Uuid, ActivityError> {
        member_trades::create_sell(
            self.ledger.pool(),
            &Actor::activity(&ctx, &request.origin_workflow_id),
            &request.origin_workflow_id,
            &request.member_id,
            &request.asset,
            request.units,
        )
        .await
        .map_err(trade_book_failure)
    }
}
