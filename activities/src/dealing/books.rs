//! The ledger side of an external trade: which assets and house accounts it moves money
//! through, and the journal entries it posts (keys `<workflow id>/<step>[/<trade id>]`).

use std::collections::BTreeMap;

use acme_ledger::{AccountId, Ledger, LedgerError, NewEntry, NewPosting, OwnerKind};
use acme_sdk::{AssetCode, BusinessError, step_key};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use temporalio_sdk::activities::ActivityError;

use super::{CUSTODIAN_POT, DEALING_POT, ExternalTrade, PROCESS, ROUNDING_POT, Side};
use crate::ledger_failure;
use crate::members::{BANK_POT, CASH, CASH_SCALE};

/// The two assets of an external trade and their scales.
pub(super) struct TradeAssets {
    pub side: Side,
    pub ordered: AssetCode,
    pub ordered_scale: u32,
    pub delivered: AssetCode,
    pub delivered_scale: u32,
}

impl TradeAssets {
    pub async fn of(ledger: &Ledger, trade: &ExternalTrade) -> Result<Self, ActivityError> {
        let cash = asset_code(CASH)?;
        let fund = asset_code(&trade.asset)?;
        let fund_scale = ledger.asset_scale(&fund).await.map_err(ledger_failure)?;
        Ok(match trade.side {
            Side::Buy => Self {
                side: trade.side,
                ordered: cash,
                ordered_scale: CASH_SCALE,
                delivered: fund,
                delivered_scale: fund_scale,
            },
            Side::Sell => Self {
                side: trade.side,
                ordered: fund,
                ordered_scale: fund_scale,
                delivered: cash,
                delivered_scale: CASH_SCALE,
            },
        })
    }
}

/// The house and external accounts an external trade moves money through.
pub(super) struct HouseAccounts {
    pub dealing_ordered: AccountId,
    pub dealing_delivered: AccountId,
    pub rounding_ordered: AccountId,
    pub rounding_delivered: AccountId,
    pub custodian_ordered: AccountId,
    pub custodian_delivered: AccountId,
    pub custodian_cash: AccountId,
    pub bank_cash: AccountId,
}

impl HouseAccounts {
    pub async fn open(ledger: &Ledger, assets: &TradeAssets) -> Result<Self, ActivityError> {
        let cash = asset_code(CASH)?;
        let open = |owner, name: &'static str, asset: &AssetCode, negative| {
            let asset = asset.clone();
            async move {
                let pot = ledger.open_pot(owner, name).await?;
                ledger
                    .open_account(pot, &asset, "available", negative)
                    .await
            }
        };
        let house = async {
            let custodian_ordered =
                open(OwnerKind::External, CUSTODIAN_POT, &assets.ordered, true).await?;
            let custodian_delivered =
                open(OwnerKind::External, CUSTODIAN_POT, &assets.delivered, true).await?;
            Ok::<_, LedgerError>(Self {
                dealing_ordered: open(OwnerKind::House, DEALING_POT, &assets.ordered, true).await?,
                dealing_delivered: open(OwnerKind::House, DEALING_POT, &assets.delivered, true)
                    .await?,
                rounding_ordered: open(OwnerKind::House, ROUNDING_POT, &assets.ordered, false)
                    .await?,
                rounding_delivered: open(OwnerKind::House, ROUNDING_POT, &assets.delivered, false)
                    .await?,
                custodian_ordered,
                custodian_delivered,
                custodian_cash: match assets.side {
                    Side::Buy => custodian_ordered,
                    Side::Sell => custodian_delivered,
                },
                bank_cash: open(OwnerKind::External, BANK_POT, &cash, true).await?,
            })
        };
        house.await.map_err(ledger_failure)
    }
}

/// An entry of `trade`, effective on the dealing date (`on`: another date, e.g. settlement).
pub(super) fn entry(
    trade: &ExternalTrade,
    on: Option<NaiveDate>,
    step: &str,
    kind: &str,
    postings: Vec<NewPosting>,
    mut metadata: BTreeMap<String, String>,
) -> NewEntry {
    let workflow_id = trade.workflow_id();
    metadata.insert("order_ref".into(), trade.order_ref.clone());
    NewEntry {
        idempotency_key: step_key(&workflow_id, step),
        kind: kind.to_owned(),
        process: PROCESS.to_owned(),
        workflow_id,
        effective_date: on.unwrap_or(trade.dealing_date),
        metadata,
        postings,
    }
}

/// Posts one entry between ACME's own accounts for a trade; zero legs are left out, and
/// nothing is posted if every leg is zero.
pub(super) async fn post_house_entry(
    ledger: &Ledger,
    trade: &ExternalTrade,
    on: Option<NaiveDate>,
    step: &str,
    kind: &str,
    legs: Vec<(AccountId, Decimal)>,
) -> Result<(), ActivityError> {
    let postings = non_zero(legs);
    if postings.is_empty() {
        return Ok(());
    }
    let entry = entry(trade, on, step, kind, postings, BTreeMap::new());
    ledger.post_batch(&[entry]).await.map_err(ledger_failure)?;
    Ok(())
}

/// Postings with their zero legs left out (the ledger refuses zero legs).
pub(super) fn non_zero(legs: Vec<(AccountId, Decimal)>) -> Vec<NewPosting> {
    legs.into_iter()
        .filter(|(_, amount)| !amount.is_zero())
        .map(|(account_id, amount)| NewPosting { account_id, amount })
        .collect()
}

pub(super) fn asset_code(code: &str) -> Result<AssetCode, ActivityError> {
    AssetCode::parse(code).map_err(|e| anyhow::anyhow!("bad asset code {:?}", e.text).into())
}

pub(super) fn allocation_failure(error: acme_sdk::allocation::AllocationError) -> ActivityError {
    BusinessError::new("dealing.allocation_impossible", error.to_string()).into()
}
