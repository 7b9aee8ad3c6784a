//! The member trade book. `trades.create_buy_trades` records the buy trades of one request;
//! trade ids are derived from the workflow id and asset, so a retry creates nothing new.

use std::sync::Arc;

use acme_ledger::Ledger;
use acme_sdk::AssetCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

/// Namespace of member trade ids (uuid v5 of `<workflow id>/<side>/<asset>`).
const TRADE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d0c_1f7e_4b1a_4c55_9a3e_2f51_7a0d_b8c4);

/// The id a member trade gets from the workflow that creates it: the same inputs always give the
/// same id, which is what makes creating trades idempotent.
pub fn trade_id(workflow_id: &str, side: &str, asset: &AssetCode) -> Uuid {
    Uuid::new_v5(
        &TRADE_ID_NAMESPACE,
        format!("{workflow_id}/{side}/{asset}").as_bytes(),
    )
}

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
        _ctx: ActivityContext,
        request: BuyTrades,
    ) -> Result<Vec<Uuid>, ActivityError> {
        let ids: Vec<Uuid> = request
            .orders
            .iter()
            .map(|order| trade_id(&request.origin_workflow_id, "buy", &order.asset))
            .collect();
        let assets: Vec<&str> = request.orders.iter().map(|o| o.asset.as_str()).collect();
        let amounts: Vec<Decimal> = request.orders.iter().map(|o| o.cash).collect();
        sqlx::query(
            "insert into member_trade
                 (trade_id, origin_workflow_id, member_id, asset_code, side, cash_amount)
             select trade_id, $2, $3, asset_code, 'buy', cash_amount
             from unnest($1::uuid[], $4::text[], $5::numeric[])
                 as t (trade_id, asset_code, cash_amount)
             on conflict (trade_id) do nothing",
        )
        .bind(&ids)
        .bind(&request.origin_workflow_id)
        .bind(&request.member_id)
        .bind(&assets)
        .bind(&amounts)
        .execute(self.ledger.pool())
        .await?;
        Ok(ids)
    }

    /// Creates the pending sell trade of one request and returns its id.
    #[activity(name = "trades.create_sell_trade")]
    pub async fn create_sell_trade(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: SellTrade,
    ) -> Result<Uuid, ActivityError> {
        let id = trade_id(&request.origin_workflow_id, "sell", &request.asset);
        sqlx::query(
            "insert into member_trade
                 (trade_id, origin_workflow_id, member_id, asset_code, side, units)
             values ($1, $2, $3, $4, 'sell', $5)
             on conflict (trade_id) do nothing",
        )
        .bind(id)
        .bind(&request.origin_workflow_id)
        .bind(&request.member_id)
        .bind(request.asset.as_str())
        .bind(request.units)
        .execute(self.ledger.pool())
        .await?;
        Ok(id)
    }
}
