//! The allocation rule (DESIGN.md §3): what the custodian confirmed is shared pro rata to what
//! each member put in, each share rounded *down* at the asset's scale, so members are never given
//! more than the custodian holds; the residue (≥ 0) goes to ACME's rounding pot.
//!
//! The arithmetic is exact integer arithmetic on the amounts' minor units (i128): dividing
//! `Decimal`s would round the quotient to 28 significant digits first, and a quotient such as
//! 4.99999999999999999999999999999 would then floor to 5, a unit too many.

use rust_decimal::Decimal;

/// Why an allocation could not be computed; each is a bug in the caller or bad confirmed data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    #[error("{what} {value} is negative")]
    Negative { what: &'static str, value: Decimal },
    #[error("the total of all contributions is zero")]
    ZeroDenominator,
    #[error("contribution {contribution} is above the total of all contributions {denominator}")]
    ContributionAboveTotal {
        contribution: Decimal,
        denominator: Decimal,
    },
    #[error("{what} {value} has more than {scale} decimal places")]
    TooPrecise {
        what: &'static str,
        value: Decimal,
        scale: u32,
    },
    #[error("amounts too large to allocate exactly")]
    Overflow,
}

/// Each contributor's share of `confirmed`: `floor(confirmed × contribution_i / denominator)` at
/// `scale` decimal places, where `denominator` is the sum of *all* contributions (a chunk of
/// contributors is allocated on its own with the same denominator and gets the same shares).
pub fn pro_rata(
    confirmed: Decimal,
    contributions: &[Decimal],
    denominator: Decimal,
    scale: u32,
) -> Result<Vec<Decimal>, AllocationError> {
    if confirmed.is_sign_negative() && !confirmed.is_zero() {
        return Err(AllocationError::Negative {
            what: "confirmed amount",
            value: confirmed,
        });
    }
    if denominator <= Decimal::ZERO {
        return Err(AllocationError::ZeroDenominator);
    }
    let confirmed_units = minor_units(confirmed, scale, "confirmed amount")?;
    // Contributions and their total share one scale: the finest among them.
    let weight_scale = contributions
        .iter()
        .map(Decimal::scale)
        .chain([denominator.scale()])
        .max()
        .unwrap_or(0);
    let denominator_units = minor_units(denominator, weight_scale, "denominator")?;
    contributions
        .iter()
        .map(|&contribution| {
            if contribution.is_sign_negative() && !contribution.is_zero() {
                return Err(AllocationError::Negative {
                    what: "contribution",
                    value: contribution,
                });
            }
            if contribution > denominator {
                return Err(AllocationError::ContributionAboveTotal {
                    contribution,
                    denominator,
                });
            }
            let weight = minor_units(contribution, weight_scale, "contribution")?;
            let share = confirmed_units
                .checked_mul(weight)
                .ok_or(AllocationError::Overflow)?
                / denominator_units;
            Decimal::try_from_i128_with_scale(share, scale).map_err(|_| AllocationError::Overflow)
        })
        .collect()
}

/// `value` in minor units of `scale` decimal places (`12.34` at 2 is 1234); refused if it has
/// more decimals than that.
pub fn minor_units(
    value: Decimal,
    scale: u32,
    what: &'static str,
) -> Result<i128, AllocationError> {
    let value = value.normalize();
    if value.scale() > scale {
        return Err(AllocationError::TooPrecise { what, value, scale });
    }
    10_i128
        .checked_pow(scale - value.scale())
        .and_then(|factor| value.mantissa().checked_mul(factor))
        .ok_or(AllocationError::Overflow)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn shares_round_down_and_leave_a_residue() {
        // 10 units over 3 equal contributions: 3.333333 each, 0.000001 left over.
        let shares = pro_rata(dec("10"), &[dec("1"), dec("1"), dec("1")], dec("3"), 6);
        assert_eq!(
            shares,
            Ok(vec![dec("3.333333"), dec("3.333333"), dec("3.333333")])
        );
    }

    #[test]
    fn a_quotient_just_below_a_whole_unit_is_not_rounded_up() {
        // 5 × (10^28 − 1) / 10^28 is 4.9999…, which 28-digit decimal division rounds to 5.
        let denominator = dec("1000000000000000000.0000000000");
        let contribution = dec("999999999999999999.9999999999");
        let shares = pro_rata(dec("5"), &[contribution], denominator, 6);
        assert_eq!(shares, Ok(vec![dec("4.999999")]));
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert_eq!(
            pro_rata(dec("1"), &[dec("1")], Decimal::ZERO, 2),
            Err(AllocationError::ZeroDenominator)
        );
        assert!(matches!(
            pro_rata(dec("1.001"), &[dec("1")], dec("1"), 2),
            Err(AllocationError::TooPrecise { .. })
        ));
        assert!(matches!(
            pro_rata(dec("1"), &[dec("2")], dec("1"), 2),
            Err(AllocationError::ContributionAboveTotal { .. })
        ));
        assert!(matches!(
            pro_rata(dec("-1"), &[dec("1")], dec("1"), 2),
            Err(AllocationError::Negative { .. })
        ));
    }

    fn amount(scale: u32) -> impl Strategy<Value = Decimal> {
        (1_i64..=10_000_000_000).prop_map(move |m| Decimal::new(m, scale))
    }

    proptest! {
        /// No unit is created or lost, nobody gets more than their exact share, nobody loses
        /// a whole unit to rounding, and chunks allocated separately agree with the whole.
        #[test]
        fn allocation_is_exact(
            confirmed in amount(6),
            contributions in prop::collection::vec(amount(2), 1..40),
            split in 0_usize..40,
        ) {
            let denominator: Decimal = contributions.iter().sum();
            let shares = pro_rata(confirmed, &contributions, denominator, 6).unwrap();
            let allocated: Decimal = shares.iter().sum();
            let residue = confirmed - allocated;
            prop_assert!(residue >= Decimal::ZERO);
            // Each share loses less than one unit, so the residue is below one unit each.
            let unit = Decimal::new(1, 6);
            prop_assert!(residue < unit * Decimal::from(contributions.len()));
            for (share, contribution) in shares.iter().zip(&contributions) {
                prop_assert!(*share >= Decimal::ZERO);
                prop_assert_eq!(share.scale().min(6), share.scale());
                // share ≤ exact < share + unit, checked by multiplying out (no division).
                prop_assert!(*share * denominator <= confirmed * *contribution);
                prop_assert!((*share + unit) * denominator > confirmed * *contribution);
            }
            let split = split.min(contributions.len());
            let (head, tail) = contributions.split_at(split);
            let mut chunked = pro_rata(confirmed, head, denominator, 6).unwrap();
            chunked.extend(pro_rata(confirmed, tail, denominator, 6).unwrap());
            prop_assert_eq!(chunked, shares);
        }
    }
}
