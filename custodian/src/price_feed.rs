//! The simulator's price feed: each fund's closing price per business day, a seeded random walk
//! that moves every business day by at most ±2%, so a scenario repeats exactly under the same
//! seed while prices still drift as a market does. A price set through
//! `PUT /admin/prices/{isin}/{date}` replaces the feed's for that fund and day: that is how a
//! test stages a market move. Orders are filled at, and `GET /prices/closing` publishes, the same
//! [`closing_price`], so what the platform records is what it was dealt at.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::api::{self, ApiError};
use crate::calendar;
use crate::engine::Shared;
use crate::error::Error;
use crate::messages::{self, UNITS_SCALE};
use crate::prices::{ClosingPrice, ClosingPrices, MAX_ISINS_PER_REQUEST};
use crate::store::Store;

/// The walk starts here: every fund's price on this day is its base price.
const EPOCH: (i32, u32, u32) = (2024, 1, 1);
/// The feed prices no day after this, which bounds the walk (about 20,000 steps).
const LAST: (i32, u32, u32) = (2099, 12, 31);
/// The largest move in one business day, in basis points either way.
const MAX_DAILY_MOVE_BP: u64 = 200;
/// Prices are quoted to six decimals and never fall below this many millionths.
const PRICE_SCALE: u32 = UNITS_SCALE;
const MIN_PRICE_MICROS: i128 = 10_000;

/// The closing price of `isin` on `date`: the one set by an operator if any, else the feed's;
/// `None` after the feed's last day.
pub async fn closing_price(
    store: &Store,
    seed: u64,
    isin: &str,
    date: NaiveDate,
) -> Result<Option<Decimal>, Error> {
    if let Some(price) = store.price(isin, date).await? {
        return Ok(Some(price));
    }
    Ok(feed_price(seed, isin, date))
}

/// `GET /prices/closing?date=YYYY-MM-DD&isins=A,B`: the closing prices of a business day that
/// has closed (before the simulator's business date), one per fund asked for. A day not yet
/// closed, or not a business day, is refused (409 `price.not_published`): there is no closing
/// price for it, and the platform must not guess one.
pub async fn published(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<PricesQuery>,
) -> Result<Json<ClosingPrices>, ApiError> {
    let date = api::parse_date(&query.date)?;
    let isins: Vec<&str> = query
        .isins
        .split(',')
        .filter(|isin| !isin.is_empty())
        .collect();
    if isins.is_empty() || isins.len() > MAX_ISINS_PER_REQUEST {
        return Err(ApiError::bad_request(
            "prices.isins",
            format!("ask for 1 to {MAX_ISINS_PER_REQUEST} isins, comma-separated"),
        ));
    }
    for isin in &isins {
        messages::validate_isin(isin)?;
    }
    let business_date = shared.store.business_date().await?;
    if date >= business_date || !calendar::is_business_day(date) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "price.not_published",
            format!(
                "no closing price for {date}: only business days before {business_date} have closed"
            ),
        ));
    }
    let mut prices = Vec::with_capacity(isins.len());
    for isin in isins {
        let price = closing_price(&shared.store, shared.seed, isin, date)
            .await?
            .ok_or_else(|| {
                ApiError::bad_request(
                    "date.out_of_range",
                    format!("the feed ends on {}", last_day()),
                )
            })?;
        prices.push(ClosingPrice {
            isin: isin.to_owned(),
            price,
        });
    }
    Ok(Json(ClosingPrices { date, prices }))
}

#[derive(Debug, Deserialize)]
pub struct PricesQuery {
    date: String,
    isins: String,
}

/// The feed's price of `isin` on `date` under `seed`; `None` after the last day it prices.
/// Base price between 0.500000 and 9.999999; then, for each business day after the epoch up to
/// `date`, `floor(price × (10000 + move_bp) / 10000)` with the move drawn from the seed, fund
/// and day. Integer arithmetic on millionths, so no rounding but the floor.
pub fn feed_price(seed: u64, isin: &str, date: NaiveDate) -> Option<Decimal> {
    if date > last_day() {
        return None;
    }
    let base = 500_000 + i128::from(hash(seed, isin, "base") % 9_500_000);
    let mut micros = base;
    let mut day = epoch();
    while day < date {
        day = day.checked_add_days(Days::new(1))?;
        if calendar::is_business_day(day) {
            let day_text = day.format("%Y-%m-%d").to_string();
            let span = 2 * MAX_DAILY_MOVE_BP + 1;
            let move_bp =
                i128::from(hash(seed, isin, &day_text) % span) - i128::from(MAX_DAILY_MOVE_BP);
            micros = (micros * (10_000 + move_bp))
                .div_euclid(10_000)
                .max(MIN_PRICE_MICROS);
        }
    }
    Decimal::try_from_i128_with_scale(micros, PRICE_SCALE).ok()
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(EPOCH.0, EPOCH.1, EPOCH.2).unwrap_or(NaiveDate::MIN)
}

fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(LAST.0, LAST.1, LAST.2).unwrap_or(NaiveDate::MIN)
}

/// FNV-1a over the seed, the fund and a label: stable across runs and platforms.
fn hash(seed: u64, isin: &str, label: &str) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    seed.to_le_bytes()
        .into_iter()
        .chain(isin.bytes())
        .chain(*b"/")
        .chain(label.bytes())
        .fold(FNV_OFFSET, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_prices_and_another_seed_others() {
        let day = date("2026-11-23");
        let price = feed_price(7, "GB00ACMEGLB1", day).unwrap();
        assert_eq!(Some(price), feed_price(7, "GB00ACMEGLB1", day));
        assert_ne!(Some(price), feed_price(8, "GB00ACMEGLB1", day));
        assert_ne!(Some(price), feed_price(7, "GB00ACMEBND1", day));
        assert_eq!(price.scale(), 6);
    }

    #[test]
    fn prices_move_each_business_day_by_at_most_two_percent_and_rest_at_weekends() {
        let mut previous = feed_price(1, "GB00ACMEGLB1", date("2026-11-02")).unwrap();
        let mut moved = 0;
        for offset in 1..=27_u64 {
            let day = date("2026-11-02")
                .checked_add_days(Days::new(offset))
                .unwrap();
            let price = feed_price(1, "GB00ACMEGLB1", day).unwrap();
            if !calendar::is_business_day(day) {
                assert_eq!(price, previous, "{day} is a weekend: no move");
                continue;
            }
            let limit = previous * Decimal::new(2, 2) + Decimal::new(1, 6);
            assert!(
                (price - previous).abs() <= limit,
                "{day}: {previous} -> {price}"
            );
            moved += usize::from(price != previous);
            previous = price;
        }
        assert!(
            moved >= 15,
            "prices should move on most business days, moved {moved}"
        );
    }

    #[test]
    fn the_feed_ends_on_its_last_day() {
        assert!(feed_price(1, "GB00ACMEGLB1", last_day()).is_some());
        assert!(feed_price(1, "GB00ACMEGLB1", last_day().succ_opt().unwrap()).is_none());
    }
}
