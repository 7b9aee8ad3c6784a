//! Unit tests of the deterministic parts: input parsing and the split by weights. The workflow
//! itself is tested end to end against a real Temporal server in `worker/tests/`.

use acme_activities::members::TargetWeight;
use acme_sdk::AssetCode;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;

use super::{Input, Request, split_by_weights, workflow_id};

fn weights(values: &[&str]) -> Vec<TargetWeight> {
    values
        .iter()
        .enumerate()
        .map(|(n, w)| TargetWeight {
            asset: AssetCode::parse(&format!("FUND{n}")).unwrap(),
            weight: Decimal::from_str_exact(w).unwrap(),
        })
        .collect()
}

fn code_for(amount: serde_json::Value) -> Result<Decimal, String> {
    let input = Input {
        request_id: "r-1".into(),
        member_id: "m-1".into(),
        amount,
    };
    Request::parse(&input, &workflow_id("r-1"))
        .map(|request| request.amount.amount())
        .map_err(|error| error.code)
}

#[test]
fn every_bad_amount_has_its_own_code() {
    let twenty_nine = format!("0.{}", "1".repeat(29));
    let cases = [
        (json!("0"), "amount.sign"),
        (json!("0.00"), "amount.sign"),
        (json!("-5.00"), "amount.sign"),
        (json!("1.005"), "amount.too_many_decimals"),
        (json!(twenty_nine), "amount.too_many_decimals"),
        (json!("1e5"), "amount.malformed"),
        (json!("1_000"), "amount.malformed"),
        (json!("+5"), "amount.malformed"),
        (json!("NaN"), "amount.malformed"),
        (json!("99999999999999999999999999999999"), "amount.overflow"),
        (json!("10000000.01"), "amount.over_limit"),
        (json!(100.5), "amount.not_a_string"),
        (json!(null), "amount.not_a_string"),
    ];
    for (amount, code) in cases {
        assert_eq!(code_for(amount.clone()), Err(code.to_owned()), "{amount}");
    }
    assert_eq!(code_for(json!("100.00")), Ok(Decimal::new(10_000, 2)));
}

#[test]
fn ids_are_checked_and_the_workflow_id_must_be_the_business_key() {
    let input = |request_id: &str, member_id: &str| Input {
        request_id: request_id.into(),
        member_id: member_id.into(),
        amount: json!("1.00"),
    };
    let code = |input: Input, wf: &str| Request::parse(&input, wf).map_err(|e| e.code).err();
    assert_eq!(
        code(input("r 1", "m-1"), "invest/r 1"),
        Some("request.invalid_id".into())
    );
    assert_eq!(
        code(input("r-1", "m-1"), "invest/r-2"),
        Some("request.workflow_id_mismatch".into())
    );
    assert_eq!(
        code(input("r-1", "m/1"), "invest/r-1"),
        Some("member.invalid_id".into())
    );
    assert_eq!(code(input("r-1", "m-1"), "invest/r-1"), None);
}

#[test]
fn a_split_gives_rounding_pennies_to_the_heaviest_weight() {
    let orders = split_by_weights(
        Decimal::new(1_000, 2),
        &weights(&["0.3333", "0.3334", "0.3333"]),
    )
    .unwrap();
    let cash: Vec<String> = orders.iter().map(|o| o.cash.to_string()).collect();
    assert_eq!(cash, ["3.33", "3.34", "3.33"]);
    let tiny = split_by_weights(Decimal::new(1, 2), &weights(&["0.5", "0.3", "0.2"])).unwrap();
    assert_eq!(tiny.len(), 1, "zero shares get no trade: {tiny:?}");
    assert_eq!(tiny[0].cash, Decimal::new(1, 2));
}

#[test]
fn weights_that_do_not_sum_to_one_are_refused() {
    let error = split_by_weights(Decimal::ONE, &weights(&["0.5", "0.4"])).unwrap_err();
    assert_eq!(error.code, "portfolio.weights_invalid");
}

proptest! {
    #[test]
    fn a_split_never_creates_or_loses_a_penny(
        pence in 1i64..100_000_000_000,
        raw in prop::collection::vec(1u32..10_000, 1..6),
    ) {
        // Weights in basis points that sum to exactly 10,000.
        let total: u32 = raw.iter().sum();
        let mut bps: Vec<u32> = raw.iter().map(|r| r * 10_000 / total).collect();
        let short = 10_000 - bps.iter().sum::<u32>();
        bps[0] += short;
        let weights: Vec<TargetWeight> = bps
            .iter()
            .enumerate()
            .filter(|(_, b)| **b > 0)
            .map(|(n, b)| TargetWeight {
                asset: AssetCode::parse(&format!("FUND{n}")).unwrap(),
                weight: Decimal::new(i64::from(*b), 4),
            })
            .collect();
        let amount = Decimal::new(pence, 2);
        let orders = split_by_weights(amount, &weights).unwrap();
        let sum: Decimal = orders.iter().map(|o| o.cash).sum();
        prop_assert_eq!(sum, amount);
        prop_assert!(orders.iter().all(|o| o.cash > Decimal::ZERO && o.cash.scale() <= 2));
    }
}
