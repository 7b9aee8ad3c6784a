//! The valuation part of `acme member show`: a pot's holdings, weights against its model
//! portfolio and value as of a date (`acme_activities::valuation`), or why there is none.

use acme_activities::prices::{self, PriceError};
use acme_activities::valuation::{self, PotValuation};
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::PgPool;

use crate::output;

/// A valuation, or the reason it could not be made (no prices yet, or a missing or stale one).
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Valued {
    Valuation(PotValuation),
    Unavailable(String),
}

/// The pot's valuation as of `date`, by default the latest day with recorded prices.
pub async fn of_pot(
    pool: &PgPool,
    pot_id: i64,
    portfolio: Option<&str>,
    date: Option<NaiveDate>,
) -> anyhow::Result<Valued> {
    let date = match date {
        Some(date) => date,
        None => match prices::latest_date(pool).await? {
            Some(date) => date,
            None => return Ok(Valued::Unavailable("no closing prices recorded yet".into())),
        },
    };
    match valuation::of_pot(pool, pot_id, portfolio, date).await {
        Ok(valuation) => Ok(Valued::Valuation(valuation)),
        Err(refused @ PriceError::Refused { .. }) => Ok(Valued::Unavailable(refused.to_string())),
        Err(error) => Err(error.into()),
    }
}

pub fn print(valued: &Valued) {
    let valuation = match valued {
        Valued::Valuation(valuation) => valuation,
        Valued::Unavailable(why) => {
            println!("value: unavailable ({why})");
            return;
        }
    };
    let bp = |bp: Option<i64>| {
        bp.map_or_else(String::new, |bp| {
            format!("{}%", rust_decimal::Decimal::new(bp, 2))
        })
    };
    let mut table = output::table(&["asset", "held", "price", "value", "weight", "target"]);
    for holding in &valuation.holdings {
        table.add_row(vec![
            holding.asset_code.clone(),
            holding.held.to_string(),
            holding.price.map_or_else(String::new, |p| p.to_string()),
            format!("£{}", holding.value),
            bp(holding.weight_bp),
            bp(holding.target_bp),
        ]);
    }
    println!(
        "value as of {}: £{} (funds £{}, cash £{})",
        valuation.date, valuation.total_value, valuation.funds_value, valuation.cash
    );
    println!("{table}");
}
