//! Unit tests of `rebalance-day`'s input checks and its declaration; the workflow runs end to
//! end against a real Temporal server, database and custodian simulator in `e2e.rs`.

use chrono::NaiveDate;

use super::{Input, MAX_CHUNK_SIZE, check, steps, workflow_id};

fn checked(
    text: &str,
    workflow: &str,
    chunk_size: Option<i64>,
) -> Result<(NaiveDate, i64), String> {
    let input = Input {
        date: text.to_owned(),
        chunk_size,
    };
    check(&input, workflow).map_err(|error| error.code)
}

#[test]
fn a_run_is_for_one_well_formed_date_under_its_own_id_in_bounded_chunks() {
    for bad in ["2026-02-30", "2026-1-2", " 2026-01-02", ""] {
        assert_eq!(
            checked(bad, &workflow_id(bad), None),
            Err("date.invalid".to_owned()),
            "{bad}"
        );
    }
    assert_eq!(
        checked("2026-01-02", &workflow_id("2026-01-05"), None),
        Err("request.workflow_id_mismatch".to_owned())
    );
    for bad in [0, -1, MAX_CHUNK_SIZE + 1] {
        assert_eq!(
            checked("2026-01-02", &workflow_id("2026-01-02"), Some(bad)),
            Err("chunk_size.out_of_range".to_owned()),
            "{bad}"
        );
    }
    assert_eq!(
        checked("2026-01-02", &workflow_id("2026-01-02"), Some(7)),
        Ok((NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(), 7))
    );
}

#[test]
fn the_steps_are_sound_and_creating_the_sells_is_the_pivot() {
    assert_eq!(acme_sdk::steps::problems(&steps()), Vec::<String>::new());
    assert_eq!(workflow_id("2026-01-02"), "rebalance/2026-01-02");
}
