//! Unit tests of `closing-prices`'s input checks and its declaration; the workflow runs end to
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
fn a_run_is_for_one_well_formed_date_under_its_own_id() {
    for bad in ["2026-02-30", "2026-1-2", "02/01/2026", " 2026-01-02", ""] {
        assert_eq!(
            date(bad, &workflow_id(bad)),
            Err("date.invalid".to_owned()),
            "{bad}"
        );
    }
    assert_eq!(
        date("2026-01-02", &workflow_id("2026-01-05")),
        Err("request.workflow_id_mismatch".to_owned())
    );
    assert_eq!(
        date("2026-01-02", &workflow_id("2026-01-02")),
        Ok(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap())
    );
}

#[test]
fn the_steps_are_sound_and_recording_is_the_pivot() {
    assert_eq!(acme_sdk::steps::problems(&steps()), Vec::<String>::new());
    assert_eq!(workflow_id("2026-01-02"), "closing-prices/2026-01-02");
}
