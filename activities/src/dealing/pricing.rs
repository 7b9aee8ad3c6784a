//! `dealing.mark_placed` and `dealing.record_priced`: the custodian has the order, then its
//! confirmation; the confirmation's amounts move between the custodian and the dealing pot.

use acme_sdk::BusinessError;
use rust_decimal::Decimal;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use super::books::{HouseAccounts, TradeAssets, post_house_entry};
use super::{DealingActivities, Priced, actor};
use crate::trade_book::external_trades::{self, Confirmed};
use crate::trade_book::{ExternalTransition, trade_book_failure};

impl DealingActivities {
    pub(super) async fn placed(
        &self,
        ctx: &ActivityContext,
        external_trade_id: Uuid,
    ) -> Result<(), ActivityError> {
        let (trade, _) = self.trade(external_trade_id).await?;
        external_trades::advance(
            self.ledger.pool(),
            &actor(ctx, &trade),
            external_trade_id,
            ExternalTransition::Place,
        )
        .await
        .map_err(trade_book_failure)?;
        Ok(())
    }

    pub(super) async fn priced(
        &self,
        ctx: &ActivityContext,
        priced: &Priced,
    ) -> Result<(), ActivityError> {
        let (trade, record) = self.trade(priced.external_trade_id).await?;
        // Refused before anything is posted: a trade rejected (or settled) takes no price.
        ExternalTransition::Price
            .applied_to(trade.external_trade_id, record.status)
            .map_err(trade_book_failure)?;
        let assets = TradeAssets::of(&self.ledger, &trade).await?;
        if priced.consumed > trade.ordered_total
            || priced.consumed <= Decimal::ZERO
            || priced.delivered < Decimal::ZERO
            || priced.price <= Decimal::ZERO
            || priced.delivered.normalize().scale() > assets.delivered_scale
            || priced.consumed.normalize().scale() > assets.ordered_scale
        {
            return Err(BusinessError::new(
                "custodian.confirmation_mismatch",
                format!(
                    "confirmation for {} (price {}, consumed {}, delivered {}) does not fit the order of {}",
                    trade.order_ref, priced.price, priced.consumed, priced.delivered, trade.ordered_total
                ),
            )
            .into());
        }
        let house = HouseAccounts::open(&self.ledger, &assets).await?;
        post_house_entry(
            &self.ledger,
            &trade,
            None,
            "priced",
            "dealing.priced",
            vec![
                (house.custodian_ordered, priced.consumed),
                (house.dealing_ordered, -priced.consumed),
                (house.custodian_delivered, -priced.delivered),
                (house.dealing_delivered, priced.delivered),
            ],
        )
        .await?;
        let confirmed = Confirmed {
            price: priced.price,
            delivered: priced.delivered,
            consumed: priced.consumed,
            settlement_date: priced.settlement_date,
            confirmation: &priced.confirmation,
        };
        external_trades::price(
            self.ledger.pool(),
            &actor(ctx, &trade),
            trade.external_trade_id,
            &confirmed,
        )
        .await
        .map_err(trade_book_failure)?;
        Ok(())
    }
}
