//! Members: the reference data every member needs (cash, funds, model portfolios), onboarding
//! (one member or a million, set-based and idempotent), `members.cash_accounts` (where a
//! member's cash is) and `members.investment_plan`, what investing for one member needs to know.

use std::sync::Arc;

use acme_ledger::chart::Asset;
use acme_ledger::{AccountId, AssetKind, Ledger, LedgerError, NewEntry, NewPosting, OwnerKind};
use acme_sdk::{AssetCode, BusinessError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::trade_book::{self, members::MemberCash, trade_book_failure};

/// The cash asset every pot holds.
pub const CASH: &str = "GBP";
/// Decimal places of GBP.
pub const CASH_SCALE: u32 = 2;
/// The external pot mirroring ACME's bank account: incoming contributions are posted from it.
pub const BANK_POT: &str = "bank";

/// The funds on the platform (code, name); units are held to 6 decimal places.
pub const FUNDS: [(&str, &str); 3] = [
    ("GB00ACMEGLB1", "ACME Global Equity"),
    ("GB00ACMEBND1", "ACME Sterling Bond"),
    ("GB00ACMEPRP1", "ACME UK Property"),
];
/// Model portfolios (code, weights in fund order); each sums to 1.
pub const MODEL_PORTFOLIOS: [(&str, [&str; 3]); 3] = [
    ("cautious", ["0.20", "0.70", "0.10"]),
    ("balanced", ["0.50", "0.40", "0.10"]),
    ("adventurous", ["0.80", "0.10", "0.10"]),
];

/// One member to onboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMember {
    pub member_id: String,
    /// The model portfolio; `None` leaves the member unable to invest until one is chosen.
    pub portfolio: Option<String>,
}

/// A target weight of a model portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetWeight {
    pub asset: AssetCode,
    pub weight: Decimal,
}

/// A member's cash accounts and the bank mirror cash comes in from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashAccounts {
    pub member_id: String,
    pub bank: AccountId,
    pub cash_available: AccountId,
    pub cash_reserved: AccountId,
}

/// What investing cash for a member needs: where the cash goes and how it is split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvestmentPlan {
    pub member_id: String,
    pub bank: AccountId,
    pub cash_available: AccountId,
    pub cash_reserved: AccountId,
    pub weights: Vec<TargetWeight>,
}

/// Registers the assets, the bank mirror and the model portfolios. Idempotent.
pub async fn ensure_reference_data(ledger: &Ledger) -> Result<(), LedgerError> {
    let cash = AssetCode::parse(CASH).map_err(|e| LedgerError::NotFound {
        what: "asset",
        name: e.text,
    })?;
    ledger
        .register_asset(&Asset {
            code: cash.clone(),
            kind: AssetKind::Cash,
            scale: CASH_SCALE,
            description: "Pound sterling".into(),
        })
        .await?;
    for (code, name) in FUNDS {
        let code = AssetCode::parse(code).map_err(|e| LedgerError::NotFound {
            what: "asset",
            name: e.text,
        })?;
        ledger
            .register_asset(&Asset {
                code,
                kind: AssetKind::Fund,
                scale: 6,
                description: name.into(),
            })
            .await?;
    }
    let bank = ledger.open_pot(OwnerKind::External, BANK_POT).await?;
    ledger.open_account(bank, &cash, "available", true).await?;
    let funds: Vec<&str> = FUNDS.iter().map(|(code, _)| *code).collect();
    for (portfolio, weights) in MODEL_PORTFOLIOS {
        sqlx::query(
            "insert into model_portfolio (portfolio_code) values ($1) on conflict do nothing",
        )
        .bind(portfolio)
        .execute(ledger.pool())
        .await?;
        sqlx::query(
            "insert into model_weight (portfolio_code, asset_code, weight)
             select $1, asset_code, weight::numeric
             from unnest($2::text[], $3::text[]) as w (asset_code, weight)
             on conflict do nothing",
        )
        .bind(portfolio)
        .bind(&funds)
        .bind(weights.as_slice())
        .execute(ledger.pool())
        .await?;
    }
    Ok(())
}

/// Onboards members in a few set-based statements: each gets a pot with GBP `available` and
/// `reserved` accounts and, if given, a model portfolio. Members that exist are left as they
/// are. Returns how many were new.
pub async fn onboard_members(ledger: &Ledger, members: &[NewMember]) -> Result<u64, LedgerError> {
    let cash = AssetCode::parse(CASH).map_err(|e| LedgerError::NotFound {
        what: "asset",
        name: e.text,
    })?;
    let ids: Vec<String> = members.iter().map(|m| m.member_id.clone()).collect();
    let portfolios: Vec<Option<String>> = members.iter().map(|m| m.portfolio.clone()).collect();
    ledger
        .open_pots_in_bulk(
            OwnerKind::Member,
            &ids,
            &[(cash.clone(), "available"), (cash, "reserved")],
        )
        .await?;
    trade_book::members::insert(ledger.pool(), &ids, &portfolios)
        .await
        .map_err(|error| match error {
            trade_book::TradeBookError::Database(error) => LedgerError::Database(error),
            other => LedgerError::Database(sqlx::Error::Protocol(other.to_string())),
        })
}

/// What selling units of one fund for a member needs: where the units are reserved from and to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalePlan {
    pub member_id: String,
    pub asset: AssetCode,
    /// Decimal places of the fund's units.
    pub scale: u32,
    pub units_available: AccountId,
    pub units_reserved: AccountId,
}

impl SalePlan {
    /// The entry of a sale that reserves `units` of the fund (`available → reserved`), keyed
    /// `<workflow id>/reserve-units`: the ledger refuses it if the member holds fewer.
    pub fn reserve_entry(
        &self,
        workflow_id: &str,
        process: &str,
        kind: &str,
        effective_date: chrono::NaiveDate,
        units: Decimal,
    ) -> NewEntry {
        NewEntry {
            idempotency_key: acme_sdk::step_key(workflow_id, "reserve-units"),
            kind: kind.to_owned(),
            process: process.to_owned(),
            workflow_id: workflow_id.to_owned(),
            effective_date,
            metadata: std::collections::BTreeMap::from([(
                "member_id".to_owned(),
                self.member_id.clone(),
            )]),
            postings: vec![
                NewPosting {
                    account_id: self.units_available,
                    amount: -units,
                },
                NewPosting {
                    account_id: self.units_reserved,
                    amount: units,
                },
            ],
        }
    }
}

/// A member and a fund, for [`MemberActivities::plan_sale`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleRequest {
    pub member_id: String,
    pub asset: String,
}

#[derive(Debug, Clone)]
pub struct MemberActivities {
    ledger: Ledger,
}

impl MemberActivities {
    pub fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }

    /// The member's model portfolio (if chosen) and cash accounts; `member.unknown` if none.
    async fn member_cash(
        &self,
        member_id: String,
    ) -> Result<(Option<String>, CashAccounts), ActivityError> {
        let member = trade_book::members::cash(self.ledger.pool(), &member_id, CASH, BANK_POT)
            .await
            .map_err(trade_book_failure)?;
        let Some(MemberCash {
            portfolio_code: portfolio,
            cash_available: available,
            cash_reserved: reserved,
            bank,
        }) = member
        else {
            // Failure messages reach Temporal unsealed (ADR 23): they never name the member,
            // whom the run's sealed input names.
            return Err(BusinessError::new("member.unknown", "the member does not exist").into());
        };
        let accounts = CashAccounts {
            member_id,
            bank: AccountId(bank),
            cash_available: AccountId(available),
            cash_reserved: AccountId(reserved),
        };
        Ok((portfolio, accounts))
    }
}

#[activities]
impl MemberActivities {
    /// Reads only, so it is idempotent by nature. An unknown member is a business error
    /// (`member.unknown`). For any process that moves a member's cash.
    #[activity(name = "members.cash_accounts")]
    pub async fn cash_accounts(
        self: Arc<Self>,
        _ctx: ActivityContext,
        member_id: String,
    ) -> Result<CashAccounts, ActivityError> {
        Ok(self.member_cash(member_id).await?.1)
    }

    /// Reads only, so it is idempotent by nature. Unknown member and member without a model
    /// portfolio are business errors (`member.unknown`, `member.no_model_portfolio`).
    #[activity(name = "members.investment_plan")]
    pub async fn plan_investment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        member_id: String,
    ) -> Result<InvestmentPlan, ActivityError> {
        let (portfolio, accounts) = self.member_cash(member_id.clone()).await?;
        let Some(portfolio) = portfolio else {
            return Err(BusinessError::new(
                "member.no_model_portfolio",
                "the member has no model portfolio to invest by",
            )
            .into());
        };
        let weights: Vec<(String, Decimal)> = sqlx::query_as(
            "select asset_code, weight from model_weight
             where portfolio_code = $1 order by asset_code",
        )
        .bind(&portfolio)
        .fetch_all(self.ledger.pool())
        .await?;
        let weights = weights
            .into_iter()
            .map(|(asset, weight)| {
                AssetCode::parse(&asset)
                    .map(|asset| TargetWeight { asset, weight })
                    .map_err(ActivityError::from)
            })
            .collect::<Result<_, _>>()?;
        Ok(InvestmentPlan {
            member_id,
            bank: accounts.bank,
            cash_available: accounts.cash_available,
            cash_reserved: accounts.cash_reserved,
            weights,
        })
    }

    /// Opens (if needed) the member's accounts for the fund and returns them. Unknown member
    /// and unknown or non-fund asset are business errors (`member.unknown`, `asset.unknown`).
    #[activity(name = "members.sale_plan")]
    pub async fn plan_sale(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: SaleRequest,
    ) -> Result<SalePlan, ActivityError> {
        sale_plan(&self.ledger, request).await
    }
}

/// What [`MemberActivities::plan_sale`] returns, for any process that sells a member's units:
/// the member's accounts for the fund, opened if needed.
pub async fn sale_plan(ledger: &Ledger, request: SaleRequest) -> Result<SalePlan, ActivityError> {
    let known = trade_book::members::exists(ledger.pool(), &request.member_id)
        .await
        .map_err(trade_book_failure)?;
    if !known {
        return Err(BusinessError::new("member.unknown", "the member does not exist").into());
    }
    let fund: Option<(String, i16)> = sqlx::query_as(
        "select asset_code, scale from asset where asset_code = $1 and kind = 'fund'",
    )
    .bind(&request.asset)
    .fetch_optional(ledger.pool())
    .await?;
    let (Some((code, scale)), Ok(asset)) = (fund, AssetCode::parse(&request.asset)) else {
        return Err(BusinessError::new(
            "asset.unknown",
            format!("{:?} is not a fund on the platform", request.asset),
        )
        .into());
    };
    let accounts = ledger
        .open_pots_in_bulk(
            OwnerKind::Member,
            std::slice::from_ref(&request.member_id),
            &[(asset.clone(), "available"), (asset.clone(), "reserved")],
        )
        .await
        .map_err(crate::ledger_failure)?;
    let Some(&[units_available, units_reserved]) = accounts.first().map(Vec::as_slice) else {
        return Err(anyhow::anyhow!(
            "the ledger did not open {code} accounts for {}",
            request.member_id
        )
        .into());
    };
    Ok(SalePlan {
        member_id: request.member_id,
        asset,
        scale: u32::try_from(scale).unwrap_or_default(),
        units_available,
        units_reserved,
    })
}
