//! Valuation: what a member's pot holds and is worth as of a business date, from the journal and
//! that date's closing prices (`crate::prices`), and how its funds weigh against its model
//! portfolio. Reads only.
//!
//! Holdings as of D are the current balances less every posting of an entry effective after D
//! (migration 0012 indexes entries by effective date, so a recent D reads few entries), summed
//! over an asset's purposes (available, reserved, unsettled: units bought but not settled are
//! the member's, as are units reserved for a sale not yet dealt). A fund's value is
//! `floor(units × price)` to the penny (never rounded up); cash counts at face value. Weights are
//! of the funds' value only: cash waiting in a pot is not part of the model portfolio. Every
//! fund of the scheme must have its closing price of D, else the valuation is refused
//! (`price.stale` / `price.missing`) rather than made at another day's price.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

use crate::prices::{self, PriceError};

/// Basis points in a whole.
pub const BP_PER_WHOLE: i64 = 10_000;

/// The SQL of every member pot's holdings as of `$1`: `(pot_id, asset_code, held)`, one row per
/// pot and asset with a non-zero holding, for the pots `$2` (all when null). Re-balancing plans
/// from the same rows.
pub const HOLDINGS_AS_OF: &str = "
    select a.pot_id, a.asset_code, sum(b.amount - coalesce(l.amount, 0)) as held
    from account a
    join pot on pot.pot_id = a.pot_id and pot.owner_kind = 'member'
    join balance b on b.account_id = a.account_id
    left join (
        select p.account_id, sum(p.amount) as amount
        from journal_entry e join posting p on p.entry_id = e.entry_id
        where e.effective_date > $1
        group by p.account_id
    ) l on l.account_id = a.account_id
    where ($2::bigint[] is null or a.pot_id = any ($2))
    group by a.pot_id, a.asset_code
    having sum(b.amount - coalesce(l.amount, 0)) <> 0";

/// One asset of a pot as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    pub asset_code: String,
    /// Units of a fund, or pounds of cash.
    pub held: Decimal,
    /// The closing price of the date (none for cash).
    pub price: Option<Decimal>,
    /// In pounds, floored to the penny.
    pub value: Decimal,
    /// The fund's share of the funds' value, in basis points (floored), and its model weight.
    pub weight_bp: Option<i64>,
    pub target_bp: Option<i64>,
}

/// A pot's valuation as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PotValuation {
    pub date: NaiveDate,
    pub pot_id: i64,
    /// Funds first (by asset code), then cash; a fund of the model portfolio the pot does not
    /// hold is listed with nothing held, so its weight shows as 0.
    pub holdings: Vec<Holding>,
    pub funds_value: Decimal,
    pub cash: Decimal,
    pub total_value: Decimal,
}

/// Every member pot's value as of a date, in total and per fund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub date: NaiveDate,
    pub pots: i64,
    pub total_value: Decimal,
    /// `(asset, units or cash held, value)`.
    pub per_asset: Vec<(String, Decimal, Decimal)>,
}

/// `floor(units × price)` to the penny.
pub fn value_of(units: Decimal, price: Decimal) -> Option<Decimal> {
    let product = units.checked_mul(price)?;
    Some(product.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToNegativeInfinity))
}

/// `floor(part × 10000 / whole)`, or `None` when the whole is zero.
pub fn share_bp(part: Decimal, whole: Decimal) -> Option<i64> {
    if whole.is_zero() {
        return None;
    }
    let bp = part
        .checked_mul(Decimal::from(BP_PER_WHOLE))?
        .checked_div(whole)?;
    i64::try_from(bp.floor()).ok()
}

/// A pot's holdings, value and weights as of `date`, against `portfolio` (if it has one).
pub async fn of_pot(
    pool: &PgPool,
    pot_id: i64,
    portfolio: Option<&str>,
    date: NaiveDate,
) -> Result<PotValuation, PriceError> {
    let prices = prices::of_date(pool, date).await?;
    let rows: Vec<(i64, String, Decimal)> = sqlx::query_as(HOLDINGS_AS_OF)
        .bind(date)
        .bind(vec![pot_id])
        .fetch_all(pool)
        .await?;
    let targets: Vec<(String, Decimal)> =
        sqlx::query_as("select asset_code, weight from model_weight where portfolio_code = $1")
            .bind(portfolio)
            .fetch_all(pool)
            .await?;
    let mut held: BTreeMap<String, Decimal> = rows.into_iter().map(|(_, a, h)| (a, h)).collect();
    for (asset, _) in &targets {
        held.entry(asset.clone()).or_default();
    }
    let overflow = || PriceError::Refused {
        code: "valuation.overflow",
        message: format!("pot {pot_id} is worth more than can be computed exactly"),
    };
    let mut holdings = Vec::with_capacity(held.len());
    let mut cash = Decimal::ZERO;
    let mut funds_value = Decimal::ZERO;
    for (asset, units) in held {
        match prices.get(&asset) {
            Some(&price) => {
                let value = value_of(units, price).ok_or_else(overflow)?;
                funds_value = funds_value.checked_add(value).ok_or_else(overflow)?;
                holdings.push(Holding {
                    asset_code: asset,
                    held: units,
                    price: Some(price),
                    value,
                    weight_bp: None,
                    target_bp: None,
                });
            }
            None => cash = cash.checked_add(units).ok_or_else(overflow)?,
        }
    }
    for holding in &mut holdings {
        holding.weight_bp = share_bp(holding.value, funds_value);
        holding.target_bp = targets
            .iter()
            .find(|(asset, _)| *asset == holding.asset_code)
            .and_then(|(_, weight)| share_bp(*weight, Decimal::ONE));
    }
    if !cash.is_zero() {
        holdings.push(Holding {
            asset_code: crate::members::CASH.to_owned(),
            held: cash,
            price: None,
            value: cash,
            weight_bp: None,
            target_bp: None,
        });
    }
    Ok(PotValuation {
        date,
        pot_id,
        holdings,
        funds_value,
        cash,
        total_value: funds_value.checked_add(cash).ok_or_else(overflow)?,
    })
}

/// Every member pot's value as of `date`, in one set-based statement: how many pots hold
/// anything, their total value, and units and value per asset.
pub async fn totals(pool: &PgPool, date: NaiveDate) -> Result<Totals, PriceError> {
    prices::of_date(pool, date).await?;
    let per_asset: Vec<(String, i64, Decimal, Decimal)> = sqlx::query_as(&format!(
        "with held as ({HOLDINGS_AS_OF})
         select h.asset_code, count(distinct h.pot_id), sum(h.held),
                sum(case when x.kind = 'cash' then h.held
                         else floor(h.held * c.price * 100) * 0.01 end)
         from held h
         join asset x on x.asset_code = h.asset_code
         left join closing_price c on c.asset_code = h.asset_code and c.price_date = $1
         group by h.asset_code order by h.asset_code"
    ))
    .bind(date)
    .bind(None::<Vec<i64>>)
    .fetch_all(pool)
    .await?;
    let pots: i64 = sqlx::query_scalar(&format!(
        "select count(distinct pot_id) from ({HOLDINGS_AS_OF}) held"
    ))
    .bind(date)
    .bind(None::<Vec<i64>>)
    .fetch_one(pool)
    .await?;
    let total_value = per_asset
        .iter()
        .try_fold(Decimal::ZERO, |sum, row| sum.checked_add(row.3))
        .ok_or(PriceError::Refused {
            code: "valuation.overflow",
            message: "the scheme is worth more than can be computed exactly".to_owned(),
        })?;
    Ok(Totals {
        date,
        pots,
        total_value,
        per_asset: per_asset
            .into_iter()
            .map(|(asset, _, held, value)| (asset, held, value))
            .collect(),
    })
}
