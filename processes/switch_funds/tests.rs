//! Unit tests of `switch-funds`'s percent and units rules and its declaration; the workflow runs
//! end to end against a real Temporal server, database and custodian simulator in `e2e.rs`.

use rust_decimal::Decimal;

use super::{parse_percent, steps, units_to_switch, workflow_id};

fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap()
}

#[test]
fn a_percent_is_above_zero_at_most_a_hundred_and_never_rounded() {
    for bad in ["0", "-5", "100.01", "12.345", "1e2", "+5", "", "all"] {
        assert_eq!(
            parse_percent(bad).map_err(|e| e.code),
            Err("switch.invalid_percent".to_owned()),
            "{bad}"
        );
    }
    assert_eq!(parse_percent("100"), Ok(dec("100")));
    assert_eq!(parse_percent("12.5"), Ok(dec("12.5")));
}

#[test]
fn the_units_are_floored_at_the_funds_scale_and_all_means_all() {
    assert_eq!(
        units_to_switch(dec("10.000001"), dec("100"), 6),
        Ok(dec("10.000001"))
    );
    assert_eq!(
        units_to_switch(dec("10.000001"), dec("50"), 6),
        Ok(dec("5.000000"))
    );
    assert_eq!(
        units_to_switch(dec("0.000001"), dec("50"), 6).map_err(|e| e.code),
        Err("switch.nothing_to_sell".to_owned())
    );
}

#[test]
fn the_steps_are_sound_and_creating_the_sell_is_the_pivot() {
    assert_eq!(acme_sdk::steps::problems(&steps()), Vec::<String>::new());
    assert_eq!(workflow_id("r-1"), "switch/r-1");
}
