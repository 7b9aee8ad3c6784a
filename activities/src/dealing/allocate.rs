//! `dealing.allocate`: a priced external trade's delivered asset goes to its member trades pro
//! rata of what each put in, with any unfilled part refunded the same way (DESIGN.md §3), in
//! chunks; what rounding down left goes to the rounding pot.

use acme_ledger::NewEntry;
use acme_sdk::allocation::pro_rata;
use rust_decimal::Decimal;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use super::books::{
    HouseAccounts, TradeAssets, allocation_failure, entry, member_metadata, non_zero, opened,
    post_house_entry,
};
use super::chunks::{ChunkWork, Pass, for_each_chunk};
use super::{Allocation, DealingActivities, actor};
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
        let pass = Pass {
            transition: MemberTransition::Price,
            amount: Amount::Ordered,
            accounts: &[
                (assets.ordered.clone(), "reserved"),
                (assets.ordered.clone(), "available"),
                (assets.delivered.clone(), "unsettled"),
            ],
        };
        let actor = actor(ctx, &trade);
        for_each_chunk(
            &self.ledger,
            ctx,
            &actor,
            &trade,
            &pass,
            |chunk, accounts| {
                let put_in: Vec<Decimal> = chunk.iter().map(|t| t.amount).collect();
                let shares = pro_rata(
                    delivered,
                    &put_in,
                    trade.ordered_total,
                    assets.delivered_scale,
                )
                .map_err(allocation_failure)?;
                let refunds =
                    pro_rata(unfilled, &put_in, trade.ordered_total, assets.ordered_scale)
                        .map_err(allocation_failure)?;
                let entries: Vec<NewEntry> = chunk
                    .iter()
                    .zip(accounts)
                    .zip(shares.iter().zip(&refunds))
                    .map(|((member_trade, member), (share, refund))| {
                        let [reserved, available, unsettled] = opened(member)?;
                        let q = member_trade.amount;
                        let postings = non_zero(vec![
                            (reserved, -q),
                            (available, *refund),
                            (house.dealing_ordered, q - *refund),
                            (unsettled, *share),
                            (house.dealing_delivered, -*share),
                        ]);
                        Ok(entry(
                            &trade,
                            None,
                            &format!("allocate/{}", member_trade.trade_id),
                            "dealing.allocated",
                            postings,
                            member_metadata(&member_trade.member_id, &member_trade.trade_id),
                        ))
                    })
                    .collect::<Result<_, ActivityError>>()?;
                Ok(ChunkWork {
                    entries,
                    allocation: Some((shares, refunds)),
                })
            },
        )
        .await?;
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
        Ok(Allocation {
            member_trades: trades,
            residue_delivered,
            residue_refunded,
        })
    }
}
