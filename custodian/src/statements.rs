//! The custodian's transaction statement (`semt.017`, one line per settled movement of units and
//! cash) and the knobs that make the custodian's statements disagree with the platform's books
//! ([`ReconFaults`]), so that reconciliation can be shown to find, and classify, each kind of
//! break. Like [`crate::messages`] this is protocol, built without the `server` feature: the
//! platform reads `semt.017` with these types, and tests set the knobs with them.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::messages::{
    CASH_SCALE, MessageError, Side, UNITS_SCALE, decimal_string, validate_isin, validate_reference,
};

pub const TRANSACTION_STATEMENT: &str = "semt.017";

/// `semt.017`: every settled movement on our account up to a date, one line per settlement (an
/// order the custodian settled in parts has several lines, each with its own reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "msg_type", rename = "semt.017")]
pub struct TransactionStatement {
    pub as_of: NaiveDate,
    pub transactions: Vec<Transaction>,
}

/// One settled movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The custodian's own reference of this movement: unique per movement.
    pub transaction_ref: String,
    /// Our order reference, when the custodian quotes it (a netted or block settlement may not).
    pub order_ref: Option<String>,
    pub isin: String,
    pub side: Side,
    /// Units received (buy) or delivered (sell), never negative.
    #[serde(with = "decimal_string")]
    pub units: Decimal,
    /// Cash, signed as `camt.053` signs it: negative taken from us (a buy), positive paid to us.
    #[serde(with = "decimal_string")]
    pub amount: Decimal,
    pub trade_date: NaiveDate,
    pub settlement_date: NaiveDate,
}

/// A deliberate difference of `delta` on one ISIN's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skew {
    pub isin: String,
    #[serde(with = "decimal_string")]
    pub delta: Decimal,
}

/// `GET/PUT /admin/recon-faults`: each knob plants one kind of reconciliation break (or, the
/// last two, a difference that must NOT be a break). A PUT replaces every knob; a knob left out
/// is off. Each names the ISIN it applies to, so several can be set at once on different funds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconFaults {
    /// Missing on our side: a settled buy of one unit of this ISIN for 1.00, which nobody
    /// ordered, appears in every statement (holdings, transactions, cash).
    pub phantom_isin: Option<String>,
    /// Missing on theirs: the transaction statement leaves out this ISIN's movements.
    pub omit_transactions_of: Option<String>,
    /// Quantity mismatch: the custodian's records of this ISIN carry `delta` more units, in its
    /// holdings and on its first movement.
    pub units_off: Option<Skew>,
    /// Amount mismatch: this ISIN's first settlement moved `delta` more cash, in the transaction
    /// and cash statements.
    pub amount_off: Option<Skew>,
    /// Timing: this ISIN's orders settle on their settlement date (so the statements show them),
    /// but the custodian tells us (order status, callback) one business day late.
    pub late_notice_of: Option<String>,
    /// Duplicate: this ISIN's settlements are listed twice in the transaction and cash statements.
    pub duplicate_of: Option<String>,
    /// Not a break: this ISIN's settlements are reported as two partial movements each.
    pub split_of: Option<String>,
    /// Not a break: this ISIN's movements quote no order reference and are dated one business
    /// day early, so they can only be matched by amount and date within the tolerance window.
    pub unreferenced_of: Option<String>,
}

impl ReconFaults {
    /// The largest skew a knob may plant.
    pub fn max_delta() -> Decimal {
        Decimal::new(1_000_000, 0)
    }

    pub fn validate(&self) -> Result<(), MessageError> {
        for isin in [
            &self.phantom_isin,
            &self.omit_transactions_of,
            &self.late_notice_of,
            &self.duplicate_of,
            &self.split_of,
            &self.unreferenced_of,
        ]
        .into_iter()
        .flatten()
        {
            validate_isin(isin)?;
        }
        for (field, skew, scale) in [
            ("units_off.delta", &self.units_off, UNITS_SCALE),
            ("amount_off.delta", &self.amount_off, CASH_SCALE),
        ] {
            let Some(skew) = skew else { continue };
            validate_isin(&skew.isin)?;
            if skew.delta.scale() > scale {
                return Err(MessageError::TooManyDecimals {
                    field,
                    found: skew.delta.scale(),
                    max_scale: scale,
                });
            }
            if skew.delta.is_zero() || skew.delta.abs() > Self::max_delta() {
                return Err(MessageError::OutOfRange {
                    field,
                    reason: format!(
                        "must be non-zero and at most {} either way, got {}",
                        Self::max_delta(),
                        skew.delta
                    ),
                });
            }
        }
        Ok(())
    }

    /// The reference of the phantom movement of `isin` (what the cash statement quotes).
    pub fn phantom_ref(isin: &str) -> String {
        format!("PHANTOM-{isin}")
    }
}

impl Transaction {
    /// Checks the line's references, ISIN and figures (a buy takes cash, a sell pays it).
    pub fn validate(&self) -> Result<(), MessageError> {
        validate_reference("transaction_ref", &self.transaction_ref)?;
        if let Some(order_ref) = &self.order_ref {
            validate_reference("order_ref", order_ref)?;
        }
        validate_isin(&self.isin)?;
        let out_of_range = |field, reason: String| Err(MessageError::OutOfRange { field, reason });
        if self.units.is_sign_negative() || self.units.scale() > UNITS_SCALE {
            return out_of_range(
                "units",
                format!("must be at least zero with at most {UNITS_SCALE} decimals"),
            );
        }
        let wrong_sign = match self.side {
            Side::Buy => self.amount.is_sign_positive() && !self.amount.is_zero(),
            Side::Sell => self.amount.is_sign_negative() && !self.amount.is_zero(),
        };
        if wrong_sign || self.amount.scale() > CASH_SCALE {
            return out_of_range(
                "amount",
                format!(
                    "a {} moves cash {} us, at most {CASH_SCALE} decimals; got {}",
                    self.side.as_str(),
                    if self.side == Side::Buy { "from" } else { "to" },
                    self.amount
                ),
            );
        }
        if self.settlement_date < self.trade_date {
            return out_of_range(
                "settlement_date",
                format!(
                    "{} is before the trade date {}",
                    self.settlement_date, self.trade_date
                ),
            );
        }
        Ok(())
    }

    /// Units with their direction: received positive, delivered negative.
    pub fn signed_units(&self) -> Decimal {
        match self.side {
            Side::Buy => self.units,
            Side::Sell => -self.units,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Transaction {
        Transaction {
            transaction_ref: "TXCNF1".to_owned(),
            order_ref: Some("ET-1".to_owned()),
            isin: "GB00TEST0001".to_owned(),
            side: Side::Buy,
            units: Decimal::new(1_500_000, 6),
            amount: Decimal::new(-1500, 2),
            trade_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            settlement_date: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        }
    }

    #[test]
    fn a_transaction_line_reads_back_unchanged_and_checks_its_figures() {
        let good = line();
        assert!(good.validate().is_ok());
        let json = serde_json::to_string(&TransactionStatement {
            as_of: good.settlement_date,
            transactions: vec![good.clone()],
        })
        .unwrap();
        assert!(json.starts_with(r#"{"msg_type":"semt.017""#), "{json}");
        let back: TransactionStatement = serde_json::from_str(&json).unwrap();
        assert_eq!(back.transactions, vec![good.clone()]);
        assert_eq!(good.signed_units(), Decimal::new(1_500_000, 6));

        let mut paid_for_a_buy = line();
        paid_for_a_buy.amount = Decimal::new(1500, 2);
        assert_eq!(
            paid_for_a_buy.validate().unwrap_err().code(),
            "amount.out_of_range"
        );
        let mut negative = line();
        negative.units = Decimal::new(-1, 0);
        assert!(negative.validate().is_err());
        let mut early = line();
        early.settlement_date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert!(early.validate().is_err());
        let mut long_ref = line();
        long_ref.order_ref = Some("X".repeat(36));
        assert_eq!(
            long_ref.validate().unwrap_err().code(),
            "reference.too_long"
        );
    }

    #[test]
    fn recon_fault_knobs_are_bounded() {
        assert!(ReconFaults::default().validate().is_ok());
        let knobs = |json: &str| serde_json::from_str::<ReconFaults>(json).map(|k| k.validate());
        assert!(matches!(
            knobs(r#"{"units_off":{"isin":"GB00A1","delta":"0.5"}}"#),
            Ok(Ok(()))
        ));
        assert!(matches!(
            knobs(r#"{"amount_off":{"isin":"GB00A1","delta":"0.001"}}"#),
            Ok(Err(_))
        ));
        assert!(matches!(
            knobs(r#"{"amount_off":{"isin":"GB00A1","delta":"0"}}"#),
            Ok(Err(_))
        ));
        assert!(matches!(
            knobs(r#"{"phantom_isin":"bad isin"}"#),
            Ok(Err(_))
        ));
        assert!(knobs(r#"{"phantom":"GB00A1"}"#).is_err());
    }
}
