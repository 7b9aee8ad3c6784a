//! The messages exchanged with the custodian, as JSON shaped on ISO 20022 (`setr.010` buy and
//! `setr.004` sell orders, `setr.016` status, `setr.012`/`setr.006` confirmations, `semt.002`
//! holdings, `camt.053` cash), plus the simulator's own admin bodies.
//!
//! This module is the whole crate when the `server` feature is off: the platform depends on it
//! so both sides share one definition of every message and one strict reading of amounts.
//! Amounts travel as decimal strings and are read strictly (see [`decimal_string`]), because
//! `Decimal::from_str` accepts `1e5` and `+5` and a JSON number loses digits.
//!
//! It is one file (about 770 lines, a sixth of them tests) because it is the protocol: every
//! message and its strict reading side by side, as a counterparty's specification lists them.

use std::fmt;

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// ISO 20022 references (`Max35Text`) are at most 35 characters.
pub const MAX_REFERENCE_LEN: usize = 35;
/// GBP is dealt in pence.
pub const CASH_SCALE: u32 = 2;
/// Fund units are held to six decimal places.
pub const UNITS_SCALE: u32 = 6;
/// Closing prices may carry more decimals than units do, but not without limit.
pub const MAX_PRICE_SCALE: u32 = 10;
/// Fractions in the fault knobs (error rate, partial fill) are given to at most six decimals.
pub const MAX_FRACTION_SCALE: u32 = 6;
/// The currency of every cash amount.
pub const CURRENCY: &str = "GBP";

pub const SUBSCRIPTION_ORDER: &str = "setr.010";
pub const REDEMPTION_ORDER: &str = "setr.004";

/// The largest cash amount or number of units one order may carry: far above any dealing day,
/// and small enough that pricing arithmetic can never overflow.
pub fn max_order_amount() -> Decimal {
    Decimal::new(1_000_000_000_000, 0)
}

/// Why a message was refused; every variant has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    Malformed {
        reason: String,
    },
    UnknownMessageType {
        msg_type: String,
    },
    ReferenceTooLong {
        field: &'static str,
        length: usize,
    },
    InvalidReference {
        field: &'static str,
        reason: &'static str,
    },
    InvalidIsin {
        isin: String,
    },
    TooManyDecimals {
        field: &'static str,
        found: u32,
        max_scale: u32,
    },
    OutOfRange {
        field: &'static str,
        reason: String,
    },
}

impl MessageError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "message.malformed",
            Self::UnknownMessageType { .. } => "message.unknown_type",
            Self::ReferenceTooLong { .. } => "reference.too_long",
            Self::InvalidReference { .. } => "reference.invalid",
            Self::InvalidIsin { .. } => "isin.invalid",
            Self::TooManyDecimals { .. } => "amount.too_many_decimals",
            Self::OutOfRange { .. } => "amount.out_of_range",
        }
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { reason } => write!(f, "malformed message: {reason}"),
            Self::UnknownMessageType { msg_type } => write!(
                f,
                "unknown msg_type {msg_type:?}: expected {SUBSCRIPTION_ORDER:?} or {REDEMPTION_ORDER:?}"
            ),
            Self::ReferenceTooLong { field, length } => write!(
                f,
                "{field} has {length} characters; at most {MAX_REFERENCE_LEN} are allowed"
            ),
            Self::InvalidReference { field, reason } => write!(f, "{field} is invalid: {reason}"),
            Self::InvalidIsin { isin } => write!(
                f,
                "isin {isin:?} is invalid: expected 1 to 12 uppercase letters and digits"
            ),
            Self::TooManyDecimals {
                field,
                found,
                max_scale,
            } => write!(
                f,
                "{field} has {found} decimal places; at most {max_scale} are allowed"
            ),
            Self::OutOfRange { field, reason } => write!(f, "{field} {reason}"),
        }
    }
}

impl std::error::Error for MessageError {}

/// Checks an ISO 20022 reference: 1 to 35 characters from `A-Z a-z 0-9 - . _ :`. The character
/// set is narrower than `Max35Text` because references appear in URL paths (`/orders/{ref}`).
pub fn validate_reference(field: &'static str, reference: &str) -> Result<(), MessageError> {
    let length = reference.chars().count();
    if length > MAX_REFERENCE_LEN {
        return Err(MessageError::ReferenceTooLong { field, length });
    }
    if length == 0 {
        return Err(MessageError::InvalidReference {
            field,
            reason: "it is empty",
        });
    }
    if !reference
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'))
    {
        return Err(MessageError::InvalidReference {
            field,
            reason: "use only letters, digits and - . _ :",
        });
    }
    Ok(())
}

/// Checks an ISIN's shape: up to 12 uppercase letters and digits. The check digit is not
/// verified, so test assets may use readable codes.
pub fn validate_isin(isin: &str) -> Result<(), MessageError> {
    if isin.is_empty()
        || isin.len() > 12
        || !isin
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(MessageError::InvalidIsin {
            isin: isin.to_owned(),
        });
    }
    Ok(())
}

/// Checks that `value` is in `(0, max_order_amount]` with at most `max_scale` decimals.
pub fn validate_amount(
    field: &'static str,
    value: Decimal,
    max_scale: u32,
) -> Result<(), MessageError> {
    if value.scale() > max_scale {
        return Err(MessageError::TooManyDecimals {
            field,
            found: value.scale(),
            max_scale,
        });
    }
    if value <= Decimal::ZERO {
        return Err(MessageError::OutOfRange {
            field,
            reason: format!("must be greater than zero, got {value}"),
        });
    }
    if value > max_order_amount() {
        return Err(MessageError::OutOfRange {
            field,
            reason: format!("must be at most {}, got {value}", max_order_amount()),
        });
    }
    Ok(())
}

/// Reads an order from a request body, telling an unknown `msg_type` apart from a malformed
/// body, and validates it.
pub fn parse_order_request(body: &[u8]) -> Result<OrderRequest, MessageError> {
    let malformed = |e: serde_json::Error| MessageError::Malformed {
        reason: e.to_string(),
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(malformed)?;
    let msg_type = value
        .get("msg_type")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| MessageError::Malformed {
            reason: "msg_type is missing or not a string".to_owned(),
        })?;
    if msg_type != SUBSCRIPTION_ORDER && msg_type != REDEMPTION_ORDER {
        return Err(MessageError::UnknownMessageType {
            msg_type: msg_type.to_owned(),
        });
    }
    let order: OrderRequest = serde_json::from_value(value).map_err(malformed)?;
    order.validate()?;
    Ok(order)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

/// An order placed with the custodian. Buys are cash amounts, sells are units: the price is only
/// known after the dealing cut-off (forward pricing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "msg_type")]
pub enum OrderRequest {
    #[serde(rename = "setr.010")]
    Subscription {
        order_ref: String,
        isin: String,
        trade_date: NaiveDate,
        /// GBP to invest, at most 2 decimals.
        #[serde(with = "decimal_string")]
        cash_amount: Decimal,
    },
    #[serde(rename = "setr.004")]
    Redemption {
        order_ref: String,
        isin: String,
        trade_date: NaiveDate,
        /// Units to sell, at most 6 decimals.
        #[serde(with = "decimal_string")]
        units: Decimal,
    },
}

impl OrderRequest {
    pub fn order_ref(&self) -> &str {
        match self {
            Self::Subscription { order_ref, .. } | Self::Redemption { order_ref, .. } => order_ref,
        }
    }

    pub fn isin(&self) -> &str {
        match self {
            Self::Subscription { isin, .. } | Self::Redemption { isin, .. } => isin,
        }
    }

    pub fn trade_date(&self) -> NaiveDate {
        match self {
            Self::Subscription { trade_date, .. } | Self::Redemption { trade_date, .. } => {
                *trade_date
            }
        }
    }

    pub fn side(&self) -> Side {
        match self {
            Self::Subscription { .. } => Side::Buy,
            Self::Redemption { .. } => Side::Sell,
        }
    }

    pub fn validate(&self) -> Result<(), MessageError> {
        validate_reference("order_ref", self.order_ref())?;
        validate_isin(self.isin())?;
        match self {
            Self::Subscription { cash_amount, .. } => {
                validate_amount("cash_amount", *cash_amount, CASH_SCALE)
            }
            Self::Redemption { units, .. } => validate_amount("units", *units, UNITS_SCALE),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    Received,
    Priced,
    Settled,
    Rejected,
}

/// `setr.016`: where an order stands. The platform polls it when a callback does not come.
/// (Like every single-type message here, the `msg_type` tag is written, but serde does not check
/// it on reading: the endpoint already says what the body is.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "msg_type", rename = "setr.016")]
pub struct OrderStatus {
    pub order_ref: String,
    pub status: OrderState,
    pub reason: Option<String>,
    pub confirmation: Option<Confirmation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfirmationType {
    /// Confirms a buy.
    #[serde(rename = "setr.012")]
    Subscription,
    /// Confirms a sell.
    #[serde(rename = "setr.006")]
    Redemption,
}

/// What the custodian actually did at the closing price. Partial fills and charges are already
/// in the numbers, so the platform allocates pro rata of these without special cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub msg_type: ConfirmationType,
    pub order_ref: String,
    pub confirmation_ref: String,
    pub isin: String,
    pub trade_date: NaiveDate,
    #[serde(with = "decimal_string")]
    pub price: Decimal,
    /// Units actually bought or sold, 6 decimals.
    #[serde(with = "decimal_string")]
    pub units: Decimal,
    #[serde(with = "decimal_string")]
    pub gross_amount: Decimal,
    #[serde(with = "decimal_string")]
    pub charges: Decimal,
    /// `gross_amount - charges`.
    #[serde(with = "decimal_string")]
    pub net_amount: Decimal,
    /// The cash that moves at settlement: taken from us for a buy (`gross_amount`), paid to us
    /// for a sell (`net_amount`).
    #[serde(with = "decimal_string")]
    pub settlement_amount: Decimal,
    pub settlement_date: NaiveDate,
}

/// What the simulator POSTs to the platform after each transition. It may arrive twice or not
/// at all; `GET /orders/{order_ref}` is the source of truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Callback {
    Priced {
        confirmation: Confirmation,
    },
    Settled {
        order_ref: String,
        settlement_date: NaiveDate,
    },
}

impl Callback {
    pub fn order_ref(&self) -> &str {
        match self {
            Self::Priced { confirmation } => &confirmation.order_ref,
            Self::Settled { order_ref, .. } => order_ref,
        }
    }

    pub fn event(&self) -> &'static str {
        match self {
            Self::Priced { .. } => "priced",
            Self::Settled { .. } => "settled",
        }
    }
}

/// `semt.002`: settled units held for us, per ISIN, as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "msg_type", rename = "semt.002")]
pub struct HoldingsStatement {
    pub as_of: NaiveDate,
    pub holdings: Vec<Holding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub isin: String,
    #[serde(with = "decimal_string")]
    pub units: Decimal,
}

/// `camt.053`: settled cash movements on our account, booked on the settlement date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "msg_type", rename = "camt.053")]
pub struct CashStatement {
    pub as_of: NaiveDate,
    pub currency: String,
    pub entries: Vec<CashEntry>,
    #[serde(with = "decimal_string")]
    pub closing_balance: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashEntry {
    pub order_ref: String,
    pub booking_date: NaiveDate,
    /// Positive: paid to us (a sell); negative: taken from us (a buy).
    #[serde(with = "decimal_string")]
    pub amount: Decimal,
}

/// The body of every error response: a stable code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// `GET/PUT /admin/faults`. A PUT replaces every knob; a knob left out takes its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction (0..1) of `POST /orders` and `GET /orders/{ref}` answered 503 before doing anything.
    #[serde(with = "decimal_string")]
    pub error_rate: Decimal,
    /// The next N such requests answer 503: deterministic, for tests.
    pub error_burst: u32,
    /// Every callback is sent twice.
    pub duplicate_callbacks: bool,
    /// No callback is sent: the platform must poll.
    pub drop_callbacks: bool,
    /// Orders for these ISINs are rejected on receipt.
    pub reject_isins: Vec<String>,
    /// Fraction (0..1] of each order that is filled.
    #[serde(with = "decimal_string")]
    pub partial_fill: Decimal,
    /// Dealing charge taken from the gross amount, in basis points.
    pub dealing_charge_bps: u32,
    /// How long after the business date moves confirmations are held back.
    pub price_delay_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_rate: Decimal::ZERO,
            error_burst: 0,
            duplicate_callbacks: false,
            drop_callbacks: false,
            reject_isins: Vec::new(),
            partial_fill: Decimal::ONE,
            dealing_charge_bps: 0,
            price_delay_ms: 0,
        }
    }
}

impl Faults {
    pub const MAX_REJECT_ISINS: usize = 100;
    pub const MAX_ERROR_BURST: u32 = 1_000_000;
    pub const MAX_PRICE_DELAY_MS: u64 = 600_000;

    pub fn validate(&self) -> Result<(), MessageError> {
        let fraction = |field, value: Decimal, zero_allowed: bool| {
            if value.scale() > MAX_FRACTION_SCALE {
                return Err(MessageError::TooManyDecimals {
                    field,
                    found: value.scale(),
                    max_scale: MAX_FRACTION_SCALE,
                });
            }
            let low_ok = value > Decimal::ZERO || (zero_allowed && value.is_zero());
            if !low_ok || value > Decimal::ONE {
                return Err(MessageError::OutOfRange {
                    field,
                    reason: format!("must be a fraction between 0 and 1, got {value}"),
                });
            }
            Ok(())
        };
        fraction("error_rate", self.error_rate, true)?;
        fraction("partial_fill", self.partial_fill, false)?;
        let limit = |field, ok: bool, reason: String| {
            if ok {
                Ok(())
            } else {
                Err(MessageError::OutOfRange { field, reason })
            }
        };
        limit(
            "dealing_charge_bps",
            self.dealing_charge_bps <= 10_000,
            "must be at most 10000".to_owned(),
        )?;
        limit(
            "error_burst",
            self.error_burst <= Self::MAX_ERROR_BURST,
            format!("must be at most {}", Self::MAX_ERROR_BURST),
        )?;
        limit(
            "price_delay_ms",
            self.price_delay_ms <= Self::MAX_PRICE_DELAY_MS,
            format!("must be at most {}", Self::MAX_PRICE_DELAY_MS),
        )?;
        limit(
            "reject_isins",
            self.reject_isins.len() <= Self::MAX_REJECT_ISINS,
            format!("may list at most {} isins", Self::MAX_REJECT_ISINS),
        )?;
        self.reject_isins
            .iter()
            .try_for_each(|isin| validate_isin(isin))
    }
}

/// `PUT /admin/prices/{isin}/{date}`: a closing price, positive, at most 10 decimals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceQuote {
    #[serde(with = "decimal_string")]
    pub price: Decimal,
}

/// `GET /admin/clock` and the answer to `POST /admin/clock/advance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockState {
    pub business_date: NaiveDate,
    /// `"manual"` or `"automatic"`.
    pub mode: String,
    /// Wall-clock length of a business day in automatic mode.
    pub day_length_ms: Option<u64>,
}

/// `POST /admin/clock/advance`: move on this many business days (1 to 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvanceClock {
    pub days: u32,
}

/// `POST /admin/orders/{order_ref}/reject`: the custodian refuses an order it had accepted,
/// before pricing it (found by the platform only by polling the order's status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectOrder {
    pub reason: String,
}

/// One row of `GET /admin/callbacks`: a callback and how its delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRecord {
    pub callback_id: i64,
    pub order_ref: String,
    pub event: String,
    /// `pending`, `delivered`, `failed` (gave up after retries) or `dropped` (never sent).
    pub state: String,
    /// How many times it is to be delivered: 0 (dropped), 1, or 2 (duplicated).
    pub copies: i16,
    pub attempts: i64,
}

/// The header that carries a callback's signature, `sha256=<hex HMAC-SHA256 of the body>`, keyed
/// by a secret the custodian and the platform share. The platform acts only on callbacks whose
/// signature holds, so nobody else can price or settle our orders.
pub const SIGNATURE_HEADER: &str = "x-custodian-signature";

/// The shared secret callbacks are signed with: at least [`CallbackSecret::MIN_BYTES`] bytes
/// (an empty or guessable one would let anybody post "priced"). Never shown: its `Debug` is
/// redacted and a refused secret's error gives only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackSecret(std::sync::Arc<[u8]>);

/// A refused callback secret: how long it was, never what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackSecretTooShort(pub usize);

impl fmt::Display for CallbackSecretTooShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the callback secret must be at least {} bytes, got {} (make one with: openssl rand \
             -hex 32)",
            CallbackSecret::MIN_BYTES,
            self.0
        )
    }
}

impl std::error::Error for CallbackSecretTooShort {}

impl CallbackSecret {
    /// The strength of the HMAC-SHA256 key.
    pub const MIN_BYTES: usize = 32;

    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, CallbackSecretTooShort> {
        let secret = secret.as_ref();
        if secret.len() < Self::MIN_BYTES {
            return Err(CallbackSecretTooShort(secret.len()));
        }
        Ok(Self(secret.into()))
    }
}

impl fmt::Debug for CallbackSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackSecret(<redacted>)")
    }
}

/// The signature of a callback `body` under `secret`, as [`SIGNATURE_HEADER`] carries it.
pub fn sign_callback(secret: &CallbackSecret, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

/// Whether `signature` is `body`'s under `secret` (compared in constant time).
pub fn callback_signature_holds(secret: &CallbackSecret, body: &[u8], signature: &str) -> bool {
    signature
        .strip_prefix("sha256=")
        .and_then(|digest| hex::decode(digest).ok())
        .is_some_and(|digest| mac(secret, body).verify_slice(&digest).is_ok())
}

fn mac(secret: &CallbackSecret, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so this never fails.
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC accepts any key length");
    mac.update(body);
    mac
}

/// Serde for decimals as JSON strings, read strictly: `-?digits(.digits)?`, no exponent, sign
/// `+`, separators, spaces or superfluous leading zeros, and never a JSON number. The scale
/// written is the scale read, so `"1.000"` can be told apart from `"1"` and refused.
pub mod decimal_string {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// Parses a plain decimal string, keeping its scale.
    pub fn parse(text: &str) -> Result<Decimal, String> {
        let unsigned = text.strip_prefix('-').unwrap_or(text);
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (unsigned, None),
        };
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let leading_zero = whole.len() > 1 && whole.starts_with('0');
        if !digits(whole) || fraction.is_some_and(|f| !digits(f)) || leading_zero {
            return Err(format!(
                "{text:?} is not a plain decimal string such as \"100.25\""
            ));
        }
        Decimal::from_str_exact(text).map_err(|_| format!("{text:?} is too large or too precise"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_signature_holds_only_for_its_body_and_secret() {
        let secret = CallbackSecret::new("a-secret-of-at-least-thirty-two-bytes").unwrap();
        let other = CallbackSecret::new("another-secret-of-thirty-two-bytes!").unwrap();
        let body = br#"{"event":"settled","order_ref":"ET-1"}"#;
        let signature = sign_callback(&secret, body);
        assert!(signature.starts_with("sha256="));
        assert!(callback_signature_holds(&secret, body, &signature));
        assert!(!callback_signature_holds(&other, body, &signature));
        assert!(!callback_signature_holds(&secret, b"{}", &signature));
        assert!(!callback_signature_holds(&secret, body, "sha256=zz"));
        assert!(!callback_signature_holds(&secret, body, &signature[7..]));
    }

    #[test]
    fn a_short_callback_secret_is_refused_without_being_shown() {
        let refused = CallbackSecret::new("hunter2").unwrap_err();
        assert_eq!(refused, CallbackSecretTooShort(7));
        assert!(!refused.to_string().contains("hunter2"));
        let secret = CallbackSecret::new("x".repeat(CallbackSecret::MIN_BYTES)).unwrap();
        assert_eq!(format!("{secret:?}"), "CallbackSecret(<redacted>)");
    }

    fn buy_json(cash: &str) -> String {
        format!(
            r#"{{"msg_type":"setr.010","order_ref":"B-1","isin":"GB00TEST0001","trade_date":"2026-11-20","cash_amount":{cash}}}"#
        )
    }

    #[test]
    fn reads_a_buy_order_and_writes_it_back_unchanged() {
        let body = buy_json(r#""1000.50""#);
        let order = parse_order_request(body.as_bytes()).unwrap();
        assert_eq!(order.side(), Side::Buy);
        assert_eq!(serde_json::to_string(&order).unwrap(), body);
    }

    #[test]
    fn refuses_the_known_amount_traps_with_specific_codes() {
        for (cash, code) in [
            (r#""1e5""#, "message.malformed"),
            (r#""+5""#, "message.malformed"),
            (r#""1_000""#, "message.malformed"),
            ("100.5", "message.malformed"),
            (r#""10.005""#, "amount.too_many_decimals"),
            (r#""1.000""#, "amount.too_many_decimals"),
            (r#""0""#, "amount.out_of_range"),
            (r#""-1.00""#, "amount.out_of_range"),
            (r#""1000000000000.01""#, "amount.out_of_range"),
        ] {
            let error = parse_order_request(buy_json(cash).as_bytes()).unwrap_err();
            assert_eq!(error.code(), code, "cash {cash}: {error}");
        }
    }

    #[test]
    fn references_are_short_and_url_safe() {
        assert!(validate_reference("r", &"A".repeat(35)).is_ok());
        assert_eq!(
            validate_reference("r", &"A".repeat(36)).unwrap_err().code(),
            "reference.too_long"
        );
        for bad in ["", "a/b", "a b", "é"] {
            assert_eq!(
                validate_reference("r", bad).unwrap_err().code(),
                "reference.invalid"
            );
        }
    }

    #[test]
    fn tagged_structs_carry_their_message_type() {
        let status = OrderStatus {
            order_ref: "B-1".to_owned(),
            status: OrderState::Received,
            reason: None,
            confirmation: None,
        };
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(
            json,
            r#"{"msg_type":"setr.016","order_ref":"B-1","status":"RECEIVED","reason":null,"confirmation":null}"#
        );
        assert_eq!(serde_json::from_str::<OrderStatus>(&json).unwrap(), status);
    }

    #[test]
    fn fault_knobs_are_bounded() {
        assert!(Faults::default().validate().is_ok());
        let faults = |json: &str| serde_json::from_str::<Faults>(json).unwrap().validate();
        assert!(faults(r#"{"partial_fill":"0.75","error_rate":"1"}"#).is_ok());
        assert!(faults(r#"{"partial_fill":"0"}"#).is_err());
        assert!(faults(r#"{"error_rate":"1.5"}"#).is_err());
        assert!(faults(r#"{"dealing_charge_bps":10001}"#).is_err());
        assert!(faults(r#"{"reject_isins":["bad isin"]}"#).is_err());
        assert!(serde_json::from_str::<Faults>(r#"{"partial_fil":"0.5"}"#).is_err());
    }
}
