//! Closing prices: the one owner of `closing_price` (migration 0012). Each fund's closing price
//! per business day, as its source published it, recorded append-only; read back by date range
//! (`acme prices show`) and by the steps that need a day's prices (valuation, re-balancing),
//! which get a clear refusal, and nothing else, when a price is missing or stale.
//!
//! Recording is idempotent: the same price for the same fund and day again changes nothing; a
//! different price for a day already recorded is refused whole (`price.conflict`), because
//! every valuation since was made at the first one.

use std::collections::BTreeMap;

use acme_sdk::BusinessError;
use acme_sdk::money::{Sign, parse_amount};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use temporalio_sdk::activities::ActivityError;

/// The most prices one call records, and the most rows one range read returns.
pub const MAX_PRICES_PER_CALL: usize = 1_000;
pub const MAX_ROWS: i64 = 10_000;
/// Closing prices carry at most this many decimals (the custodian's `MAX_PRICE_SCALE`).
pub const MAX_PRICE_SCALE: u32 = 10;

/// One price to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub asset_code: String,
    /// A decimal string, read strictly by [`parse_price`].
    pub price: String,
}

/// A recorded price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ClosingPrice {
    pub asset_code: String,
    pub price_date: NaiveDate,
    pub price: Decimal,
    pub source: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// What a call to [`record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Prices stored by this call.
    pub new: usize,
    /// Prices that were already stored, identical.
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// A business refusal: nothing was written.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl PriceError {
    fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }

    /// The refusal's code, if this is one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            Self::Database(_) => None,
        }
    }
}

/// A price error as an activity error: refusals are final, faults are retried.
pub fn price_failure(error: PriceError) -> ActivityError {
    match error {
        PriceError::Refused { code, message } => BusinessError::new(code, message).into(),
        PriceError::Database(error) => ActivityError::from(anyhow::Error::from(error)),
    }
}

/// Parses a price strictly (`acme_sdk::money::parse_amount`): a plain positive decimal string
/// of at most [`MAX_PRICE_SCALE`] decimals; anything else is refused, never rounded.
pub fn parse_price(asset_code: &str, text: &str) -> Result<Decimal, PriceError> {
    parse_amount(text, MAX_PRICE_SCALE, Sign::Positive).map_err(|error| {
        PriceError::refused("price.invalid", format!("price of {asset_code}: {error}"))
    })
}

/// Records the closing prices of `date` from `source`, all or nothing: every asset must be a
/// fund, every price valid; a price already recorded for the fund and day must be the same.
pub async fn record(
    pool: &PgPool,
    date: NaiveDate,
    source: &str,
    recorded_by: &str,
    quotes: &[Quote],
) -> Result<Recorded, PriceError> {
    if quotes.is_empty() || quotes.len() > MAX_PRICES_PER_CALL {
        return Err(PriceError::refused(
            "prices.count",
            format!("record 1 to {MAX_PRICES_PER_CALL} prices at a time"),
        ));
    }
    let mut assets = Vec::with_capacity(quotes.len());
    let mut prices = Vec::with_capacity(quotes.len());
    for quote in quotes {
        if assets.contains(&quote.asset_code) {
            return Err(PriceError::refused(
                "price.duplicate",
                format!("{} is priced twice for {date}", quote.asset_code),
            ));
        }
        prices.push(parse_price(&quote.asset_code, &quote.price)?);
        assets.push(quote.asset_code.clone());
    }
    let mut tx = pool.begin().await?;
    let unknown: Vec<String> = sqlx::query_scalar(
        "select q.asset_code from unnest($1::text[]) as q (asset_code)
         where not exists (select 1 from asset a
                           where a.asset_code = q.asset_code and a.kind = 'fund')
         order by 1",
    )
    .bind(&assets)
    .fetch_all(&mut *tx)
    .await?;
    if !unknown.is_empty() {
        return Err(PriceError::refused(
            "price.unknown_fund",
            format!("not funds of the scheme: {}", unknown.join(", ")),
        ));
    }
    let new = sqlx::query(
        "insert into closing_price (asset_code, price_date, price, source, recorded_by)
         select q.asset_code, $3, q.price, $4, $5
         from unnest($1::text[], $2::numeric[]) as q (asset_code, price)
         on conflict (asset_code, price_date) do nothing",
    )
    .bind(&assets)
    .bind(&prices)
    .bind(date)
    .bind(source)
    .bind(recorded_by)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Numeric equality ignores trailing zeros, so 1.50 and 1.5 are the same price.
    let conflicts: Vec<(String, Decimal, Decimal)> = sqlx::query_as(
        "select q.asset_code, c.price, q.price
         from unnest($1::text[], $2::numeric[]) as q (asset_code, price)
         join closing_price c on c.asset_code = q.asset_code and c.price_date = $3
         where c.price <> q.price order by 1",
    )
    .bind(&assets)
    .bind(&prices)
    .bind(date)
    .fetch_all(&mut *tx)
    .await?;
    if let Some((asset, recorded, offered)) = conflicts.first() {
        return Err(PriceError::refused(
            "price.conflict",
            format!(
                "{asset} on {date} was recorded at {recorded}, now offered at {offered}; a recorded \
                 price is never changed ({} conflicting)",
                conflicts.len()
            ),
        ));
    }
    tx.commit().await?;
    let new = usize::try_from(new).unwrap_or(usize::MAX);
    Ok(Recorded {
        new,
        unchanged: quotes.len().saturating_sub(new),
    })
}

/// The recorded prices of `asset_code` from `from` to `to` (inclusive), oldest first, at most
/// [`MAX_ROWS`].
pub async fn range(
    pool: &PgPool,
    asset_code: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ClosingPrice>, PriceError> {
    if from > to {
        return Err(PriceError::refused(
            "prices.range",
            format!("from {from} is after to {to}"),
        ));
    }
    Ok(sqlx::query_as(
        "select asset_code, price_date, price, source, recorded_by, recorded_at
         from closing_price where asset_code = $1 and price_date between $2 and $3
         order by price_date limit $4",
    )
    .bind(asset_code)
    .bind(from)
    .bind(to)
    .bind(MAX_ROWS)
    .fetch_all(pool)
    .await?)
}

/// The latest date with a recorded closing price, if any.
pub async fn latest_date(pool: &PgPool) -> Result<Option<NaiveDate>, PriceError> {
    Ok(
        sqlx::query_scalar("select max(price_date) from closing_price")
            .fetch_one(pool)
            .await?,
    )
}

/// The funds of the scheme, whose prices a day needs.
pub async fn funds(pool: &PgPool) -> Result<Vec<String>, PriceError> {
    Ok(
        sqlx::query_scalar("select asset_code from asset where kind = 'fund' order by asset_code")
            .fetch_all(pool)
            .await?,
    )
}

/// The closing price of every fund of the scheme on `date`. Refused when any is missing:
/// `price.stale` names the funds whose latest price is older than `date` (with that date),
/// `price.missing` those never priced. Whatever needs the prices stops here, before it trades.
pub async fn of_date(
    pool: &PgPool,
    date: NaiveDate,
) -> Result<BTreeMap<String, Decimal>, PriceError> {
    let rows: Vec<(String, Option<Decimal>, Option<NaiveDate>)> = sqlx::query_as(
        "select a.asset_code, today.price,
                (select max(c.price_date) from closing_price c
                 where c.asset_code = a.asset_code and c.price_date < $1)
         from asset a
         left join closing_price today on today.asset_code = a.asset_code and today.price_date = $1
         where a.kind = 'fund' order by a.asset_code",
    )
    .bind(date)
    .fetch_all(pool)
    .await?;
    let mut prices = BTreeMap::new();
    let mut stale = Vec::new();
    let mut missing = Vec::new();
    for (asset, price, latest) in rows {
        match (price, latest) {
            (Some(price), _) => {
                prices.insert(asset, price);
            }
            (None, Some(latest)) => stale.push(format!("{asset} (latest {latest})")),
            (None, None) => missing.push(asset),
        }
    }
    if !stale.is_empty() {
        return Err(PriceError::refused(
            "price.stale",
            format!(
                "no closing price for {date}; stale: {}{}",
                stale.join(", "),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!("; never priced: {}", missing.join(", "))
                }
            ),
        ));
    }
    if !missing.is_empty() {
        return Err(PriceError::refused(
            "price.missing",
            format!(
                "no closing price for {date}; never priced: {}",
                missing.join(", ")
            ),
        ));
    }
    Ok(prices)
}
