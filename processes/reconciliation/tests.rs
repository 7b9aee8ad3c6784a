//! Unit tests of `reconciliation`'s input checks and its declaration; the workflow runs end to
//! end against a real Temporal server, database and custodian simulator in `e2e.rs`.

use chrono::NaiveDate;

use super::{Input, business_date, steps, workflow_id};

fn date(text: &str, workflow: &str) -> Result<NaiveDate, String> {
    let input = Input {
        date: text.to_owned(),
    };
    business_date(&input, workflow).map_err(|error| error.code)
}

#[test]
fn input_validation_refuses_malformed_dates() {
    for bad in ["2025-02-30", "2025-1-2", "02/01/2025", ""] {
        assert_eq!(
            date(bad, &workflow_id(bad)),
            Err("date.invalid".to_owned()),
            "{bad}"
        );
    }
    assert_eq!(
        date("2025-01-02", &workflow_id("2025-01-03")),
        Err("request.workflow_id_mismatch".to_owned())
    );
    assert_eq!(
        date("2025-01-02", &workflow_id("2025-01-02")),
        Ok(NaiveDate::from_ymd_opt(2025, 1, 2).unwrap())
    );
}

#[test]
fn the_steps_are_sound_and_the_imports_are_the_pivot() {
    assert_eq!(acme_sdk::steps::problems(&steps()), Vec::<String>::new());
    assert_eq!(workflow_id("2025-01-02"), "reconciliation/2025-01-02");
}
