//! Strict decimal amounts. Every amount that crosses a boundary (CLI flag, JSON field, file,
//! database) arrives as a string and is parsed here, because the obvious alternatives lose money
//! quietly: `Decimal::from_str` accepts `1e5`, `1_000` and `+5` and turns over-long fractions
//! into 0, a JSON number loses digits, and `+` on `Decimal` panics on overflow.

use rust_decimal::Decimal;

/// Which signs an amount may carry at this boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// Strictly greater than zero: what a member invests, sells or contributes.
    Positive,
    /// Any non-zero value: a ledger posting leg.
    NonZero,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is empty")]
    Empty,
    #[error(
        "amount {text:?} is not a plain decimal: use digits with an optional '.' and fraction, e.g. 100.25"
    )]
    Malformed { text: String },
    #[error("amount {text:?} has {found} decimal places; at most {max_scale} are allowed")]
    TooManyDecimals {
        text: String,
        found: u32,
        max_scale: u32,
    },
    #[error("amount {text:?} is too large")]
    Overflow { text: String },
    #[error("amount {text:?} must be greater than zero")]
    NotPositive { text: String },
    #[error("amount {text:?} must not be zero")]
    Zero { text: String },
}

impl AmountError {
    /// A stable, machine-readable code for this error, for logs, APIs and workflow failures.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty | Self::Malformed { .. } => "amount.malformed",
            Self::TooManyDecimals { .. } => "amount.too_many_decimals",
            Self::Overflow { .. } => "amount.overflow",
            Self::NotPositive { .. } | Self::Zero { .. } => "amount.sign",
        }
    }
}

/// Parses `text` as a decimal with at most `max_scale` decimal places and the given sign.
///
/// Accepted: `-?digits(.digits)?`, no leading `+`, no exponent, no separators, no leading zeros
/// (other than a single `0` before the point), no surrounding spaces. Excess decimals are
/// rejected, never rounded, even when they are zeros: the sender meant a precision we do not hold.
pub fn parse_amount(text: &str, max_scale: u32, sign: Sign) -> Result<Decimal, AmountError> {
    if text.is_empty() {
        return Err(AmountError::Empty);
    }
    let malformed = || AmountError::Malformed {
        text: text.to_owned(),
    };
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err(malformed());
    }
    if whole.len() > 1 && whole.starts_with('0') {
        return Err(malformed());
    }
    let found = fraction.map_or(0, str::len);
    if found > max_scale as usize {
        return Err(AmountError::TooManyDecimals {
            text: text.to_owned(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            max_scale,
        });
    }
    // The format is already proven, so the only failure left is a value Decimal cannot hold.
    let value = Decimal::from_str_exact(text).map_err(|_| AmountError::Overflow {
        text: text.to_owned(),
    })?;
    match sign {
        Sign::Positive if value <= Decimal::ZERO => Err(AmountError::NotPositive {
            text: text.to_owned(),
        }),
        Sign::NonZero if value.is_zero() => Err(AmountError::Zero {
            text: text.to_owned(),
        }),
        _ => Ok(value),
    }
}

/// Adds amounts without panicking: `None` when the sum leaves `Decimal`'s range.
pub fn checked_sum<'a>(amounts: impl IntoIterator<Item = &'a Decimal>) -> Option<Decimal> {
    amounts
        .into_iter()
        .try_fold(Decimal::ZERO, |sum, amount| sum.checked_add(*amount))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).expect("test literal")
    }

    #[test]
    fn accepts_plain_amounts() {
        assert_eq!(parse_amount("100.25", 2, Sign::Positive), Ok(dec("100.25")));
        assert_eq!(parse_amount("0.5", 2, Sign::Positive), Ok(dec("0.5")));
        assert_eq!(parse_amount("7", 0, Sign::Positive), Ok(dec("7")));
        assert_eq!(parse_amount("-3.10", 2, Sign::NonZero), Ok(dec("-3.10")));
    }

    #[test]
    fn rejects_the_known_traps() {
        let twenty_nine_decimals = format!("0.{}", "1".repeat(29));
        for bad in [
            "1e5", "1E5", "1_000", "+5", "NaN", "nan", "inf", " 1", "1 ", "1,000", "1.", ".5",
            "--1", "0x10", "007", "1.2.3", "",
        ] {
            let result = parse_amount(bad, 2, Sign::NonZero);
            assert!(
                matches!(
                    result,
                    Err(AmountError::Malformed { .. } | AmountError::Empty)
                ),
                "{bad:?} gave {result:?}"
            );
        }
        assert!(matches!(
            parse_amount(&twenty_nine_decimals, 2, Sign::Positive),
            Err(AmountError::TooManyDecimals { found: 29, .. })
        ));
    }

    #[test]
    fn rejects_excess_decimals_instead_of_rounding() {
        assert_eq!(
            parse_amount("1.005", 2, Sign::Positive).map_err(|e| e.code()),
            Err("amount.too_many_decimals")
        );
        assert_eq!(
            parse_amount("1.000", 2, Sign::Positive).map_err(|e| e.code()),
            Err("amount.too_many_decimals")
        );
    }

    #[test]
    fn rejects_overflow_and_wrong_sign() {
        let huge = "9".repeat(40);
        assert_eq!(
            parse_amount(&huge, 2, Sign::Positive).map_err(|e| e.code()),
            Err("amount.overflow")
        );
        assert_eq!(
            parse_amount("0.00", 2, Sign::Positive).map_err(|e| e.code()),
            Err("amount.sign")
        );
        assert_eq!(
            parse_amount("-1", 2, Sign::Positive).map_err(|e| e.code()),
            Err("amount.sign")
        );
        assert_eq!(
            parse_amount("0", 2, Sign::NonZero).map_err(|e| e.code()),
            Err("amount.sign")
        );
    }

    #[test]
    fn checked_sum_reports_overflow() {
        assert_eq!(checked_sum(&[dec("1.5"), dec("-0.5")]), Some(dec("1.0")));
        assert_eq!(checked_sum(&[Decimal::MAX, Decimal::ONE]), None);
    }

    proptest! {
        #[test]
        fn round_trips_every_in_range_amount(units in 0i64..1_000_000_000_000, scale in 0u32..=6) {
            let value = Decimal::new(units, scale);
            let text = value.to_string();
            prop_assert_eq!(parse_amount(&text, 6, Sign::NonZero).ok(), (!value.is_zero()).then_some(value));
        }
    }
}
