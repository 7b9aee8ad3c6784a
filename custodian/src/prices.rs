//! The custodian's daily closing-price message (`GET /prices/closing`): one closing price per
//! fund for a business day that has closed. Part of the protocol, like [`crate::messages`], so
//! the platform links it without the simulator; prices travel as decimal strings and are read
//! strictly.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::messages::decimal_string;

/// The most funds one request may ask prices for.
pub const MAX_ISINS_PER_REQUEST: usize = 200;

/// The closing prices of a business day, one per fund asked for, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingPrices {
    pub date: NaiveDate,
    pub prices: Vec<ClosingPrice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingPrice {
    pub isin: String,
    #[serde(with = "decimal_string")]
    pub price: Decimal,
}
