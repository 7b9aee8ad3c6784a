//! `dealing.settle` and `dealing.release_rejected`: the two passes that move each member's
//! amount between two of their own accounts. Settling makes what a trade bought or raised
//! available (and squares the custodian's cash with the bank); releasing gives a rejected
//! trade's reservation back.

use acme_ledger::{Ledger, NewEntry, NewPosting};
use acme_sdk::AssetCode;
use chrono::NaiveDate;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use super::books::{HouseAccounts, TradeAssets, entry, member_metadata, opened, post_house_entry};
use super::chunks::{ChunkWork, Pass, for_each_chunk};
use super::{DealingActivities, ExternalTrade, Rejected, Side, actor};
use crate::trade_book::member_trades::Amount;
use crate::trade_book::trade_book_failure;
use crate::trade_book::{Actor, ExternalTransition, MemberTransition, external_trades};

/// A pass moving each member trade's amount of `asset` from `from_purpose` to `to_purpose`.
struct Move<'a> {
    transition: MemberTransition,
    amount: Amount,
    asset: &'a AssetCode,
    from_purpose: &'static str,
    to_purpose: &'static str,
    /// The entries' effective date, when not the dealing date.
    effective: Option<NaiveDate>,
    step: &'static str,
    kind: &'static str,
}

impl DealingActivities {
    pub(super) async fn settled(
        &self,
        ctx: &ActivityContext,
        external_trade_id: Uuid,
    ) -> Result<i64, ActivityError> {
        let (trade, record) = self.trade(external_trade_id).await?;
        let assets = TradeAssets::of(&self.ledger, &trade).await?;
        let house = HouseAccounts::open(&self.ledger, &assets).await?;
        let actor = actor(ctx, &trade);
        // Settlement entries take effect on the settlement date, so "as of" balances show
        // units and cash as unsettled until then.
        let settles_on = record.settlement_date;
        let pass = Move {
            transition: MemberTransition::Settle,
            amount: Amount::Delivered,
            asset: &assets.delivered,
            from_purpose: "unsettled",
            to_purpose: "available",
            effective: settles_on,
            step: "settle",
            kind: "dealing.settled",
        };
        let done = move_members(&self.ledger, ctx, &actor, &trade, &pass).await?;
        // The cash the custodian took (buy) or paid (sell) now leaves or reaches the bank.
        let owed_by_custodian = match trade.side {
            Side::Buy => record.consumed.unwrap_or_default(),
            Side::Sell => -record.delivered.unwrap_or_default(),
        };
        post_house_entry(
            &self.ledger,
            &trade,
            settles_on,
            "settle-cash",
            "dealing.cash-settled",
            vec![
                (house.custodian_cash, -owed_by_custodian),
                (house.bank_cash, owed_by_custodian),
            ],
        )
        .await?;
        external_trades::advance(
            self.ledger.pool(),
            &actor,
            external_trade_id,
            ExternalTransition::Settle,
        )
        .await
        .map_err(trade_book_failure)?;
        Ok(done)
    }

    pub(super) async fn released(
        &self,
        ctx: &ActivityContext,
        rejected: &Rejected,
    ) -> Result<i64, ActivityError> {
        let (trade, _) = self.trade(rejected.external_trade_id).await?;
        let assets = TradeAssets::of(&self.ledger, &trade).await?;
        let actor = actor(ctx, &trade);
        let pass = Move {
            transition: MemberTransition::Release,
            amount: Amount::Ordered,
            asset: &assets.ordered,
            from_purpose: "reserved",
            to_purpose: "available",
            effective: None,
            step: "release",
            kind: "dealing.released",
        };
        let done = move_members(&self.ledger, ctx, &actor, &trade, &pass).await?;
        external_trades::reject(
            self.ledger.pool(),
            &actor,
            trade.external_trade_id,
            &rejected.reason,
        )
        .await
        .map_err(trade_book_failure)?;
        Ok(done)
    }
}

/// Runs `pass` over the trade's member trades: one entry per trade with a non-zero amount,
/// keyed `<step>/<trade id>`.
async fn move_members(
    ledger: &Ledger,
    ctx: &ActivityContext,
    actor: &Actor,
    trade: &ExternalTrade,
    pass: &Move<'_>,
) -> Result<i64, ActivityError> {
    let accounts = [
        (pass.asset.clone(), pass.from_purpose),
        (pass.asset.clone(), pass.to_purpose),
    ];
    let chunks = Pass {
        transition: pass.transition,
        amount: pass.amount,
        accounts: &accounts,
    };
    for_each_chunk(ledger, ctx, actor, trade, &chunks, |chunk, accounts| {
        let entries: Vec<NewEntry> = chunk
            .iter()
            .zip(accounts)
            .filter(|(member_trade, _)| !member_trade.amount.is_zero())
            .map(|(member_trade, member)| {
                let [from, to] = opened(member)?;
                Ok(entry(
                    trade,
                    pass.effective,
                    &format!("{}/{}", pass.step, member_trade.trade_id),
                    pass.kind,
                    vec![
                        NewPosting {
                            account_id: from,
                            amount: -member_trade.amount,
                        },
                        NewPosting {
                            account_id: to,
                            amount: member_trade.amount,
                        },
                    ],
                    member_metadata(&member_trade.member_id, &member_trade.trade_id),
                ))
            })
            .collect::<Result<_, ActivityError>>()?;
        Ok(ChunkWork {
            entries,
            allocation: None,
        })
    })
    .await
}
