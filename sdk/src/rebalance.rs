//! The re-balancing rule (issue 13, ADR 18): when a pot has drifted from its model portfolio,
//! which units to sell on day D and how to share the proceeds among the buys on D+1.
//!
//! - A fund's value is `floor(units × price)` to the penny; the pot's value `V` is its funds'
//!   value (cash waiting in a pot is not part of the model portfolio).
//! - The pot has drifted when any fund's weight is outside its band:
//!   `|value_f − w_f·V| × 10000 > tolerance_bp × V` (exact, no division).
//! - Each overweight fund sells `floor((value_f − w_f·V) / price_f)` units at the fund's unit
//!   scale (all its units when it is not in the model), never more than it holds.
//! - The buys share whatever cash the sells actually brought (which a partial fill or a charge
//!   makes less than planned) pro rata to each underweight fund's shortfall `w_g·V − value_g`,
//!   each share floored to the penny ([`crate::allocation::pro_rata`]), so the buys can never
//!   spend more than arrived; the pennies left stay in the pot as cash.
//!
//! At unchanged prices this brings every fund to its target to within the rounding (pennies and
//! one unit at the unit scale), which is inside any band of a pot worth more than a few pounds:
//! the documented choice is "within the band", not "exactly at target".
//!
//! The arithmetic is exact on integers of minor units, like the allocation rule; the
//! set-based plan in `acme_activities::rebalance` computes the same numbers in SQL with `div`.

use rust_decimal::Decimal;

use crate::allocation::{AllocationError, minor_units, pro_rata};

/// Basis points in a whole.
const BP: i64 = 10_000;
/// Cash (GBP) is dealt in pence.
const CASH_SCALE: u32 = 2;

/// One fund of a pot: what it holds, the day's closing price, and its model weight (zero for a
/// fund the model does not hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub asset: String,
    pub units: Decimal,
    pub price: Decimal,
    pub target_weight: Decimal,
}

/// What re-balancing a drifted pot takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PotPlan {
    /// Units to sell on D, per overweight fund.
    pub sells: Vec<(String, Decimal)>,
    /// Each underweight fund's shortfall in pounds: the weights the proceeds are shared by.
    pub shortfalls: Vec<(String, Decimal)>,
    /// What the sells fetch at the day's prices, floored to the penny.
    pub planned_proceeds: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebalanceError {
    #[error("{asset}: {what} {value} is not allowed")]
    Invalid {
        asset: String,
        what: &'static str,
        value: Decimal,
    },
    #[error("the model weights sum to {0}, not 1")]
    Weights(Decimal),
    #[error("amounts too large to re-balance exactly")]
    Overflow,
    #[error(transparent)]
    Allocation(#[from] AllocationError),
}

/// `floor(units × price)` to the penny.
pub fn value_of(units: Decimal, price: Decimal) -> Result<Decimal, RebalanceError> {
    let product = units.checked_mul(price).ok_or(RebalanceError::Overflow)?;
    Ok(product.round_dp_with_strategy(
        CASH_SCALE,
        rust_decimal::RoundingStrategy::ToNegativeInfinity,
    ))
}

/// `floor(a / b)` at `scale` decimals, exactly (`b > 0`).
fn div_floor(a: Decimal, b: Decimal, scale: u32) -> Result<Decimal, RebalanceError> {
    let overflow = || RebalanceError::Overflow;
    let pow10 = |e: u32| 10_i128.checked_pow(e).ok_or(RebalanceError::Overflow);
    let numerator = a
        .mantissa()
        .checked_mul(pow10(b.scale() + scale)?)
        .ok_or_else(overflow)?;
    let denominator = b
        .mantissa()
        .checked_mul(pow10(a.scale())?)
        .ok_or_else(overflow)?;
    Decimal::try_from_i128_with_scale(numerator.div_euclid(denominator), scale)
        .map_err(|_| RebalanceError::Overflow)
}

fn check(positions: &[Position]) -> Result<(), RebalanceError> {
    let invalid = |p: &Position, what, value| RebalanceError::Invalid {
        asset: p.asset.clone(),
        what,
        value,
    };
    for p in positions {
        if p.units < Decimal::ZERO {
            return Err(invalid(p, "units", p.units));
        }
        if p.price <= Decimal::ZERO {
            return Err(invalid(p, "price", p.price));
        }
        if p.target_weight < Decimal::ZERO || p.target_weight > Decimal::ONE {
            return Err(invalid(p, "weight", p.target_weight));
        }
    }
    let weights = positions
        .iter()
        .try_fold(Decimal::ZERO, |sum, p| sum.checked_add(p.target_weight))
        .ok_or(RebalanceError::Overflow)?;
    if weights != Decimal::ONE {
        return Err(RebalanceError::Weights(weights));
    }
    Ok(())
}

/// The funds' values and their total `V`.
fn values(positions: &[Position]) -> Result<(Vec<Decimal>, Decimal), RebalanceError> {
    let values = positions
        .iter()
        .map(|p| value_of(p.units, p.price))
        .collect::<Result<Vec<_>, _>>()?;
    let total = values
        .iter()
        .try_fold(Decimal::ZERO, |sum, v| sum.checked_add(*v))
        .ok_or(RebalanceError::Overflow)?;
    Ok((values, total))
}

/// `value − w·V` of each fund: positive overweight, negative underweight.
fn gaps(
    positions: &[Position],
    values: &[Decimal],
    total: Decimal,
) -> Result<Vec<Decimal>, RebalanceError> {
    positions
        .iter()
        .zip(values)
        .map(|(p, value)| {
            let target = p
                .target_weight
                .checked_mul(total)
                .ok_or(RebalanceError::Overflow)?;
            value.checked_sub(target).ok_or(RebalanceError::Overflow)
        })
        .collect()
}

/// Whether any fund's weight is outside the band (`tolerance_bp` either side of its target).
/// A pot with no value has nothing to re-balance.
pub fn drifted(positions: &[Position], tolerance_bp: u32) -> Result<bool, RebalanceError> {
    check(positions)?;
    let (values, total) = values(positions)?;
    if total.is_zero() {
        return Ok(false);
    }
    let band = total
        .checked_mul(Decimal::from(tolerance_bp))
        .ok_or(RebalanceError::Overflow)?;
    for gap in gaps(positions, &values, total)? {
        if gap
            .abs()
            .checked_mul(Decimal::from(BP))
            .ok_or(RebalanceError::Overflow)?
            > band
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The sells and the buys' shares that bring a drifted pot back to its model; `None` when the
/// pot is within its band. `unit_scale` is the funds' unit scale.
pub fn plan(
    positions: &[Position],
    tolerance_bp: u32,
    unit_scale: u32,
) -> Result<Option<PotPlan>, RebalanceError> {
    if !drifted(positions, tolerance_bp)? {
        return Ok(None);
    }
    let (values, total) = values(positions)?;
    let mut sells = Vec::new();
    let mut shortfalls = Vec::new();
    let mut planned_proceeds = Decimal::ZERO;
    for (p, gap) in positions.iter().zip(gaps(positions, &values, total)?) {
        if gap > Decimal::ZERO {
            let units = if p.target_weight.is_zero() {
                p.units
            } else {
                div_floor(gap, p.price, unit_scale)?.min(p.units)
            };
            if !units.is_zero() {
                let proceeds = value_of(units, p.price)?;
                planned_proceeds = planned_proceeds
                    .checked_add(proceeds)
                    .ok_or(RebalanceError::Overflow)?;
                sells.push((p.asset.clone(), units));
            }
        } else if gap < Decimal::ZERO {
            shortfalls.push((p.asset.clone(), -gap));
        }
    }
    Ok(Some(PotPlan {
        sells,
        shortfalls,
        planned_proceeds,
    }))
}

/// The cash each underweight fund buys on D+1 out of `proceeds`, the cash the sells actually
/// brought: pro rata to the shortfalls, floored to the penny, so the sum never exceeds it.
pub fn buys(
    proceeds: Decimal,
    shortfalls: &[(String, Decimal)],
) -> Result<Vec<(String, Decimal)>, RebalanceError> {
    if shortfalls.is_empty() || proceeds.is_zero() {
        return Ok(Vec::new());
    }
    let weights: Vec<Decimal> = shortfalls.iter().map(|(_, s)| *s).collect();
    let total = weights
        .iter()
        .try_fold(Decimal::ZERO, |sum, w| sum.checked_add(*w))
        .ok_or(RebalanceError::Overflow)?;
    minor_units(proceeds, CASH_SCALE, "proceeds")?;
    let shares = pro_rata(proceeds, &weights, total, CASH_SCALE)?;
    Ok(shortfalls
        .iter()
        .zip(shares)
        .filter(|(_, cash)| !cash.is_zero())
        .map(|((asset, _), cash)| (asset.clone(), cash))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    fn position(asset: &str, units: &str, price: &str, weight: &str) -> Position {
        Position {
            asset: asset.to_owned(),
            units: dec(units),
            price: dec(price),
            target_weight: dec(weight),
        }
    }

    #[test]
    fn a_pot_on_target_is_left_alone_and_a_drifted_one_sells_the_excess() {
        let on_target = [
            position("A", "50.000000", "1.000000", "0.5"),
            position("B", "25.000000", "2.000000", "0.5"),
        ];
        assert_eq!(plan(&on_target, 500, 6).unwrap(), None);
        // A market move: A doubles. A is now 2/3 of the pot, 16.67 points over 50%.
        let moved = [
            position("A", "50.000000", "2.000000", "0.5"),
            position("B", "25.000000", "2.000000", "0.5"),
        ];
        let plan = plan(&moved, 500, 6).unwrap().unwrap();
        // V = 150, target 75 each: sell 25 of A's 100 in value = 12.5 units, buy 25 of B.
        assert_eq!(plan.sells, vec![("A".to_owned(), dec("12.500000"))]);
        assert_eq!(plan.shortfalls, vec![("B".to_owned(), dec("25.00"))]);
        assert_eq!(plan.planned_proceeds, dec("25.00"));
        // A partial fill brings less: the buys shrink to what came, never more.
        assert_eq!(
            buys(dec("18.75"), &plan.shortfalls).unwrap(),
            vec![("B".to_owned(), dec("18.75"))]
        );
    }

    #[test]
    fn a_fund_outside_the_model_is_sold_whole_and_bad_input_is_refused() {
        let held = [
            position("A", "10.000000", "1.000000", "1"),
            position("X", "3.333333", "3.000000", "0"),
        ];
        let plan = plan(&held, 500, 6).unwrap().unwrap();
        assert_eq!(plan.sells, vec![("X".to_owned(), dec("3.333333"))]);
        assert_eq!(plan.planned_proceeds, dec("9.99"));
        let bad_weights = [
            position("A", "1", "1", "0.6"),
            position("B", "1", "1", "0.3"),
        ];
        assert!(matches!(
            drifted(&bad_weights, 500),
            Err(RebalanceError::Weights(_))
        ));
        let bad_price = [position("A", "1", "0", "1")];
        assert!(drifted(&bad_price, 500).is_err());
    }

    /// Pots of 2 to 5 funds, worth £100 or more, with model weights in whole percent summing to 1.
    fn pot() -> impl Strategy<Value = (Vec<Position>, u32)> {
        (2_usize..=5)
            .prop_flat_map(|n| {
                (
                    prop::collection::vec((1_i64..=5_000_000_000, 1_i64..=1_000_000_000), n),
                    prop::collection::vec(1_u32..=100, n),
                    50_u32..=1_000,
                )
            })
            .prop_map(|(holdings, raw_weights, tolerance_bp)| {
                // Whole percents summing to 100: scale the draws, the last fund takes the rest.
                let sum: u32 = raw_weights.iter().sum();
                let mut percents: Vec<u32> = raw_weights.iter().map(|w| w * 100 / sum).collect();
                let last = percents.len() - 1;
                percents[last] = 100 - percents[..last].iter().sum::<u32>();
                let positions: Vec<Position> = holdings
                    .into_iter()
                    .zip(percents)
                    .enumerate()
                    .map(|(i, ((units, price), percent))| Position {
                        asset: format!("F{i}"),
                        units: Decimal::new(units, 6),
                        price: Decimal::new(price, 6),
                        target_weight: Decimal::new(i64::from(percent), 2),
                    })
                    .collect();
                (positions, tolerance_bp)
            })
            .prop_filter("worth at least £100", |(positions, _)| {
                values(positions).unwrap().1 >= Decimal::from(100)
            })
    }

    /// The pot after selling on D and buying on D+1 at unchanged prices with `fill` of the
    /// planned proceeds, and the cash left over.
    fn rebalanced(
        positions: &[Position],
        plan: &PotPlan,
        proceeds: Decimal,
    ) -> (Vec<Position>, Decimal) {
        let mut after = positions.to_vec();
        for (asset, units) in &plan.sells {
            let p = after.iter_mut().find(|p| p.asset == *asset).unwrap();
            p.units -= *units;
        }
        let mut left = proceeds;
        for (asset, cash) in buys(proceeds, &plan.shortfalls).unwrap() {
            let p = after.iter_mut().find(|p| p.asset == asset).unwrap();
            p.units += div_floor(cash, p.price, 6).unwrap();
            left -= cash;
        }
        (after, left)
    }

    proptest! {
        #[test]
        fn after_a_rebalance_at_unchanged_prices_every_pot_is_within_its_band(
            (positions, tolerance_bp) in pot()
        ) {
            let Some(plan) = plan(&positions, tolerance_bp, 6).unwrap() else {
                return Ok(());
            };
            let (after, left) = rebalanced(&positions, &plan, plan.planned_proceeds);
            prop_assert!(!drifted(&after, tolerance_bp).unwrap(), "{after:?}");
            prop_assert!(left >= Decimal::ZERO);
            // Sells never exceed units held, nothing goes negative, units only move by trades.
            for (before, after) in positions.iter().zip(&after) {
                prop_assert!(after.units >= Decimal::ZERO);
                let sold = plan.sells.iter().find(|(a, _)| *a == before.asset).map(|(_, u)| *u);
                prop_assert!(sold.unwrap_or_default() <= before.units);
            }
        }

        #[test]
        fn the_buys_spend_what_the_sells_brought_and_never_more(
            (positions, tolerance_bp) in pot(), fill_percent in 1_i64..=100,
        ) {
            let Some(plan) = plan(&positions, tolerance_bp, 6).unwrap() else {
                return Ok(());
            };
            // Proceeds of a partial fill: less cash arrives than planned.
            let proceeds = (plan.planned_proceeds * Decimal::new(fill_percent, 2))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
            let bought = buys(proceeds, &plan.shortfalls).unwrap();
            let spent: Decimal = bought.iter().map(|(_, cash)| *cash).sum();
            prop_assert!(spent <= proceeds);
            // Every penny is accounted for: at most one penny per buy stays behind as cash.
            let buys_count = Decimal::from(plan.shortfalls.len());
            prop_assert!(proceeds - spent < Decimal::new(1, 2) * buys_count);
            // Value sold ≤ the excess: the planned proceeds never exceed what was overweight.
            let (values, total) = values(&positions).unwrap();
            let excess: Decimal = gaps(&positions, &values, total)
                .unwrap()
                .into_iter()
                .filter(|gap| *gap > Decimal::ZERO)
                .sum();
            prop_assert!(plan.planned_proceeds <= excess);
        }
    }
}
