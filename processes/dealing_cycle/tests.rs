//! Unit tests of `dealing-cycle`'s input parsing; the cycle itself runs end to end in `e2e.rs`.

use super::{Input, parse_date, workflow_id};

fn parse(date: &str, run_workflow_id: &str) -> Result<String, String> {
    let input = Input {
        dealing_date: date.to_owned(),
        poll_every_secs: None,
        expect_within_secs: None,
    };
    parse_date(&input, run_workflow_id)
        .map(|date| date.to_string())
        .map_err(|error| error.code)
}

#[test]
fn a_dealing_date_is_a_real_day_written_yyyy_mm_dd() {
    assert_eq!(
        parse("2026-11-23", &workflow_id("2026-11-23")),
        Ok("2026-11-23".to_owned())
    );
    for bad in ["2026-11-31", "2026-1-2", "23/11/2026", ""] {
        assert_eq!(
            parse(bad, &workflow_id(bad)),
            Err("dealing.invalid_date".to_owned()),
            "{bad}"
        );
    }
}

#[test]
fn a_day_is_dealt_only_under_its_own_workflow_id() {
    assert_eq!(workflow_id("2026-11-23"), "dealing/2026-11-23");
    assert_eq!(
        parse("2026-11-23", &workflow_id("2026-11-24")),
        Err("dealing.workflow_id_mismatch".to_owned())
    );
}
