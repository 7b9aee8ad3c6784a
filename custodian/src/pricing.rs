//! How the custodian fills an order at a closing price: pure functions, so the rules can be
//! tested exhaustively and the platform's allocation tests can reason about the same numbers.
//!
//! Every step rounds towards zero (never up), so the custodian never hands out more units or
//! cash than was paid for. The maths is done on exact integers (a decimal's mantissa in `i128`)
//! rather than `Decimal` multiplication, which silently rounds once a product has more than
//! 28 significant digits.

use rust_decimal::Decimal;

use crate::messages::{CASH_SCALE, UNITS_SCALE};

/// The fault knobs that shape a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// Fraction of the order that is filled, in `(0, 1]`.
    pub fill_fraction: Decimal,
    /// Dealing charge on the gross amount, in basis points (at most 10000).
    pub charge_bps: u32,
}

impl Default for Terms {
    fn default() -> Self {
        Self {
            fill_fraction: Decimal::ONE,
            charge_bps: 0,
        }
    }
}

/// The numbers of a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    pub units: Decimal,
    pub gross_amount: Decimal,
    pub charges: Decimal,
    pub net_amount: Decimal,
    pub settlement_amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("price must be greater than zero, got {0}")]
    NonPositivePrice(Decimal),
    #[error("order amount must not be negative, got {0}")]
    NegativeAmount(Decimal),
    #[error("fill fraction must be in (0, 1], got {0}")]
    FillFraction(Decimal),
    #[error("dealing charge must be at most 10000 bps, got {0}")]
    ChargeBps(u32),
    #[error("amounts are too large to price exactly")]
    Overflow,
}

/// A buy of `cash` (GBP): the gross is what is filled, charges come out of it, and the rest
/// buys units. The cash taken from us at settlement is the gross.
pub fn fill_buy(cash: Decimal, price: Decimal, terms: Terms) -> Result<Fill, PricingError> {
    check(cash, price, terms)?;
    let gross_amount = mul_floor(cash, terms.fill_fraction, CASH_SCALE)?;
    let charges = charge(gross_amount, terms.charge_bps)?;
    let net_amount = sub(gross_amount, charges, CASH_SCALE)?;
    let units = div_floor(net_amount, price, UNITS_SCALE)?;
    Ok(Fill {
        units,
        gross_amount,
        charges,
        net_amount,
        settlement_amount: gross_amount,
    })
}

/// A sell of `units`: the filled units are sold at the price, charges come out of the proceeds,
/// and the cash paid to us at settlement is the net.
pub fn fill_sell(units: Decimal, price: Decimal, terms: Terms) -> Result<Fill, PricingError> {
    check(units, price, terms)?;
    let units = mul_floor(units, terms.fill_fraction, UNITS_SCALE)?;
    let gross_amount = mul_floor(units, price, CASH_SCALE)?;
    let charges = charge(gross_amount, terms.charge_bps)?;
    let net_amount = sub(gross_amount, charges, CASH_SCALE)?;
    Ok(Fill {
        units,
        gross_amount,
        charges,
        net_amount,
        settlement_amount: net_amount,
    })
}

fn check(amount: Decimal, price: Decimal, terms: Terms) -> Result<(), PricingError> {
    if price <= Decimal::ZERO {
        return Err(PricingError::NonPositivePrice(price));
    }
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(PricingError::NegativeAmount(amount));
    }
    if terms.fill_fraction <= Decimal::ZERO || terms.fill_fraction > Decimal::ONE {
        return Err(PricingError::FillFraction(terms.fill_fraction));
    }
    if terms.charge_bps > 10_000 {
        return Err(PricingError::ChargeBps(terms.charge_bps));
    }
    Ok(())
}

fn charge(gross: Decimal, bps: u32) -> Result<Decimal, PricingError> {
    mul_floor(gross, Decimal::new(i64::from(bps), 4), CASH_SCALE)
}

fn sub(a: Decimal, b: Decimal, scale: u32) -> Result<Decimal, PricingError> {
    let mut difference = a.checked_sub(b).ok_or(PricingError::Overflow)?;
    difference.rescale(scale);
    Ok(difference)
}

/// `floor(a × b)` at `scale` decimals, exactly.
fn mul_floor(a: Decimal, b: Decimal, scale: u32) -> Result<Decimal, PricingError> {
    let product = a
        .mantissa()
        .checked_mul(b.mantissa())
        .ok_or(PricingError::Overflow)?;
    rescale_floor(product, a.scale() + b.scale(), scale)
}

/// `floor(a ÷ b)` at `scale` decimals, exactly: `a·10^scale / b` on integers.
fn div_floor(a: Decimal, b: Decimal, scale: u32) -> Result<Decimal, PricingError> {
    if b.mantissa() <= 0 {
        return Err(PricingError::NonPositivePrice(b));
    }
    // a_m·10^-sa / (b_m·10^-sb) = (a_m·10^(sb+scale) / (b_m·10^sa)) · 10^-scale
    let numerator = a
        .mantissa()
        .checked_mul(pow10(b.scale() + scale)?)
        .ok_or(PricingError::Overflow)?;
    let denominator = b
        .mantissa()
        .checked_mul(pow10(a.scale())?)
        .ok_or(PricingError::Overflow)?;
    to_decimal(numerator.div_euclid(denominator), scale)
}

/// Turns `mantissa·10^-from` into `floor(…)` at `to` decimals.
fn rescale_floor(mantissa: i128, from: u32, to: u32) -> Result<Decimal, PricingError> {
    let mantissa = if from >= to {
        mantissa.div_euclid(pow10(from - to)?)
    } else {
        mantissa
            .checked_mul(pow10(to - from)?)
            .ok_or(PricingError::Overflow)?
    };
    to_decimal(mantissa, to)
}

fn to_decimal(mantissa: i128, scale: u32) -> Result<Decimal, PricingError> {
    Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| PricingError::Overflow)
}

fn pow10(exponent: u32) -> Result<i128, PricingError> {
    10_i128.checked_pow(exponent).ok_or(PricingError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    fn terms(fill: &str, bps: u32) -> Terms {
        Terms {
            fill_fraction: dec(fill),
            charge_bps: bps,
        }
    }

    #[test]
    fn a_partial_buy_with_a_charge_rounds_every_step_down() {
        let fill = fill_buy(dec("1000.00"), dec("1.2345678"), terms("0.75", 25)).unwrap();
        assert_eq!(fill.gross_amount.to_string(), "750.00");
        assert_eq!(fill.charges.to_string(), "1.87"); // 1.875
        assert_eq!(fill.net_amount.to_string(), "748.13");
        assert_eq!(fill.units.to_string(), "605.985349"); // 605.98534969…
        assert_eq!(fill.settlement_amount, fill.gross_amount);
    }

    #[test]
    fn a_partial_sell_with_a_charge_pays_the_net() {
        let fill = fill_sell(dec("100.000000"), dec("1.2345678"), terms("0.75", 25)).unwrap();
        assert_eq!(fill.units.to_string(), "75.000000");
        assert_eq!(fill.gross_amount.to_string(), "92.59"); // 92.592585
        assert_eq!(fill.charges.to_string(), "0.23"); // 0.231475
        assert_eq!(fill.net_amount.to_string(), "92.36");
        assert_eq!(fill.settlement_amount, fill.net_amount);
    }

    #[test]
    fn a_full_fill_without_charges_keeps_whole_amounts() {
        let fill = fill_buy(dec("10"), dec("2"), Terms::default()).unwrap();
        assert_eq!(fill.gross_amount.to_string(), "10.00");
        assert_eq!(fill.charges.to_string(), "0.00");
        assert_eq!(fill.units.to_string(), "5.000000");
    }

    #[test]
    fn bad_terms_are_refused_not_guessed() {
        let one = Decimal::ONE;
        assert!(fill_buy(one, Decimal::ZERO, Terms::default()).is_err());
        assert!(fill_buy(one, one, terms("0", 0)).is_err());
        assert!(fill_buy(one, one, terms("1.01", 0)).is_err());
        assert!(fill_sell(one, one, terms("1", 10_001)).is_err());
        assert!(fill_sell(dec("-1"), one, Terms::default()).is_err());
    }

    /// Compares `a × b` with `c` exactly (Decimal's own `*` rounds past 28 digits).
    fn cmp_product(a: Decimal, b: Decimal, c: Decimal) -> std::cmp::Ordering {
        let scale = (a.scale() + b.scale()).max(c.scale());
        let left = a.mantissa() * b.mantissa() * 10_i128.pow(scale - a.scale() - b.scale());
        left.cmp(&(c.mantissa() * 10_i128.pow(scale - c.scale())))
    }

    /// Up to the largest order the messages accept.
    fn amount(scale: u32) -> impl Strategy<Value = Decimal> {
        (1_i64..=10_i64.pow(12 + scale)).prop_map(move |m| Decimal::new(m, scale))
    }

    /// Any positive price up to a million, with up to 10 decimals.
    fn price() -> impl Strategy<Value = Decimal> {
        (0_u32..=10)
            .prop_flat_map(|s| (1_i64..=10_i64.pow(6 + s)).prop_map(move |m| Decimal::new(m, s)))
    }

    fn any_terms() -> impl Strategy<Value = Terms> {
        (1_i64..=1_000_000, 0_u32..=10_000).prop_map(|(f, bps)| Terms {
            fill_fraction: Decimal::new(f, 6),
            charge_bps: bps,
        })
    }

    proptest! {
        #[test]
        fn a_buy_never_gives_more_than_was_paid_for(
            cash in amount(2), price in price(), terms in any_terms(),
        ) {
            use std::cmp::Ordering::Greater;
            let fill = fill_buy(cash, price, terms).unwrap();
            prop_assert!(fill.gross_amount <= cash);
            prop_assert!(fill.charges >= Decimal::ZERO && fill.units >= Decimal::ZERO);
            prop_assert_eq!(fill.net_amount + fill.charges, fill.gross_amount);
            prop_assert_eq!(fill.settlement_amount, fill.gross_amount);
            prop_assert_eq!((fill.units.scale(), fill.gross_amount.scale()), (6, 2));
            // The units cost at most the net, and one more micro-unit would cost more.
            prop_assert!(cmp_product(fill.units, price, fill.net_amount) != Greater);
            let one_more = fill.units + Decimal::new(1, 6);
            prop_assert_eq!(cmp_product(one_more, price, fill.net_amount), Greater);
        }

        #[test]
        fn a_sell_never_pays_more_than_the_units_fetch(
            units in amount(6), price in price(), terms in any_terms(),
        ) {
            use std::cmp::Ordering::Less;
            let fill = fill_sell(units, price, terms).unwrap();
            prop_assert!(fill.units <= units && fill.units >= Decimal::ZERO);
            prop_assert!(cmp_product(fill.units, price, fill.gross_amount) != Less);
            let one_more = fill.gross_amount + Decimal::new(1, 2);
            prop_assert_eq!(cmp_product(fill.units, price, one_more), Less);
            prop_assert!(fill.charges >= Decimal::ZERO && fill.net_amount >= Decimal::ZERO);
            prop_assert_eq!(fill.net_amount + fill.charges, fill.gross_amount);
            prop_assert_eq!(fill.settlement_amount, fill.net_amount);
            prop_assert_eq!((fill.units.scale(), fill.net_amount.scale()), (6, 2));
        }
    }
}
