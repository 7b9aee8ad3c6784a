//! `dealing.settle` and `dealing.release_rejected`: the two passes that move each member's
//! amount between two of their own accounts. Settling makes what a trade bought or raised
//! available (and squares the custodian's cash with the bank); releasing gives a rejected
//! trade's reservation back.

use acme_sdk::AssetCode;
use chrono::NaiveDate;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use super::books::{HouseAccounts, TradeAssets, post_house_entry};
use super::chunks::{self, Pass};
use super::{DealingActivities, Rejected, Side, actor};
use crate::trade_book::member_trades::Amount;
use crate::trade_book::trade_book_failure;
use crate::trade_book::{ExternalTransition, MemberTransition, external_trades};

/// A pass moving each member trade's amount of `asset` from `from_purpose` to `to_purpose`,
/// one entry `<step>/<trade id>` per trade with a non-zero amount.
fn move_pass<'a>(
    step: &'static str,
    kind: &'static str,
    transition: MemberTransition,
    amount: Amount,
    effective: NaiveDate,
    accounts: &'a [(AssetCode, &'static str)],
) -> Pass<'a> {
    Pass {
        step,
        kind,
        transition,
        amount,
        effective,
        accounts,
        legs: "(0::smallint, m0.account_id, -c.amount), (1, m1.account_id, c.amount)",
        house: Vec::new(),
        allocation: None,
    }
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
        let accounts = [
            (assets.delivered.clone(), "unsettled"),
            (assets.delivered.clone(), "available"),
        ];
        let pass = move_pass(
            "settle",
            "dealing.settled",
            MemberTransition::Settle,
            Amount::Delivered,
            settles_on.unwrap_or(trade.dealing_date),
            &accounts,
        );
        let done = chunks::run(&self.ledger, ctx, &actor, &trade, &pass).await?;
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
        let accounts = [
            (assets.ordered.clone(), "reserved"),
            (assets.ordered.clone(), "available"),
        ];
        let pass = move_pass(
            "release",
            "dealing.released",
            MemberTransition::Release,
            Amount::Ordered,
            trade.dealing_date,
            &accounts,
        );
        let done = chunks::run(&self.ledger, ctx, &actor, &trade, &pass).await?;
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
