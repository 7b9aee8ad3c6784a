//! `dealing.allocate`: a priced external trade's delivered asset goes to its member trades pro
//! rata of what each put in, with any unfilled part refunded the same way (DESIGN.md §3), in
//! chunks; what rounding down left goes to the rounding pot. A sell's proceeds that fund a switch
//! then buy its planned funds (`switch`, ADR 26).

use acme_sdk::allocation::minor_units;
use rust_decimal::Decimal;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use super::books::{HouseAccounts, TradeAssets, allocation_failure, post_house_entry};
use super::chunks::{self, Allocating, Pass};
use super::{Allocation, DealingActivities, Side, actor, switch};
use crate::trade_book::member_trades::{self, Amount};
use crate::trade_book::{MemberTransition, external_trades, trade_book_failure};
use acme_sdk::BusinessError;

impl DealingActivities {
    pub(super) async fn allocated(
        &self,
        ctx: &ActivityContext,
        external_trade_id: Uuid,
    ) -> Result<Allocation, ActivityError> {
        let pool = self.ledger.pool();
        let (trade, record) = self.trade(external_trade_id).await?;
        let assets = TradeAssets::of(&self.ledger, &trade).await?;
        let house = HouseAccounts::open(&self.ledger, &assets).await?;
        let (Some(delivered), Some(consumed)) = (record.delivered, record.consumed) else {
            return Err(anyhow::anyhow!("{} is not priced yet", trade.order_ref).into());
        };
        // The order the custodian filled must be exactly these member trades: allocating to a
        // trade that joined after the total was sealed would give out more than was delivered.
        let (booked, count) = member_trades::ordered(pool, external_trade_id)
            .await
            .map_err(trade_book_failure)?;
        if booked != Some(trade.ordered_total) || count != i64::from(trade.member_trades) {
            return Err(BusinessError::new(
                "dealing.order_mismatch",
                format!(
                    "{} was placed for {} over {} member trades but now holds {booked:?} over {count}",
                    trade.order_ref, trade.ordered_total, trade.member_trades
                ),
            )
            .into());
        }
        let unfilled = trade.ordered_total - consumed;
        let minor = |value, scale, what| {
            minor_units(value, scale, what)
                .map(|units| Decimal::from_i128_with_scale(units, 0))
                .map_err(allocation_failure)
        };
        let pass = Pass {
            step: "allocate",
            kind: "dealing.allocated",
            transition: MemberTransition::Price,
            amount: Amount::Ordered,
            effective: trade.dealing_date,
            accounts: &[
                (assets.ordered.clone(), "reserved"),
                (assets.ordered.clone(), "available"),
                (assets.delivered.clone(), "unsettled"),
            ],
            // q = what the member put in: reserved[O] -= q, available[O] += refund,
            // dealing[O] += q - refund; unsettled[V] += share, dealing[V] -= share.
            legs: "(0::smallint, m0.account_id, -c.amount), (1, m1.account_id, c.refund),
                   (2, house.h[1], c.amount - c.refund), (3, m2.account_id, c.share),
                   (4, house.h[2], -c.share)",
            house: vec![house.dealing_ordered, house.dealing_delivered],
            allocation: Some(Allocating {
                delivered_minor: minor(delivered, assets.delivered_scale, "delivered")?,
                delivered_scale: assets.delivered_scale,
                unfilled_minor: minor(unfilled, assets.ordered_scale, "unfilled")?,
                ordered_scale: assets.ordered_scale,
                ordered_total: trade.ordered_total,
            }),
        };
        let actor = actor(ctx, &trade);
        chunks::run(&self.ledger, ctx, &actor, &trade, &pass).await?;
        let (allocated, refunded, trades) = member_trades::allocated(pool, external_trade_id)
            .await
            .map_err(trade_book_failure)?;
        let residue_delivered = delivered - allocated.unwrap_or_default();
        let residue_refunded = unfilled - refunded.unwrap_or_default();
        post_house_entry(
            &self.ledger,
            &trade,
            None,
            "residue",
            "dealing.residue",
            vec![
                (house.dealing_delivered, -residue_delivered),
                (house.rounding_delivered, residue_delivered),
                (house.dealing_ordered, -residue_refunded),
                (house.rounding_ordered, residue_refunded),
            ],
        )
        .await?;
        external_trades::record_residue(
            pool,
            external_trade_id,
            residue_delivered,
            residue_refunded,
        )
        .await
        .map_err(trade_book_failure)?;
        if trade.side == Side::Sell {
            switch::fund(&self.ledger, &trade).await?;
        }
        Ok(Allocation {
            member_trades: trades,
            residue_delivered,
            residue_refunded,
        })
    }
}
