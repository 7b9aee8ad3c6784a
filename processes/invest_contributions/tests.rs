//! Unit tests of `invest-contributions`' input checks and its declaration; the workflow runs end
//! to end against a real Temporal server, database and custodian simulator in `e2e.rs`.

use std::time::Duration;

use super::{Input, Request, steps, workflow_id};

const ID: &str = "6f9619ff-8b86-5011-b42d-00c04fc964ff";

fn input(schedule_id: &str, poll_every_secs: Option<u64>) -> Input {
    Input {
        schedule_id: schedule_id.to_owned(),
        poll_every_secs,
        chunk_rows: None,
    }
}

fn code(input: &Input, workflow: &str) -> String {
    Request::parse(input, workflow).unwrap_err().code
}

#[test]
fn input_validation_refuses_malformed_ids_and_intervals() {
    for bad in [
        "",
        "not-a-uuid",
        "6F9619FF-8B86-5011-B42D-00C04FC964FF",
        "6f9619ff8b865011b42d00c04fc964ff",
    ] {
        assert_eq!(
            code(&input(bad, None), &workflow_id(bad)),
            "schedule.invalid_id",
            "{bad}"
        );
    }
    let other = "7f9619ff-8b86-5011-b42d-00c04fc964ff";
    assert_eq!(
        code(&input(ID, None), &workflow_id(other)),
        "request.workflow_id_mismatch"
    );
    for bad in [0, 86_401] {
        assert_eq!(
            code(&input(ID, Some(bad)), &workflow_id(ID)),
            "poll_every.out_of_range"
        );
    }
    let request = Request::parse(&input(ID, Some(5)), &workflow_id(ID)).unwrap();
    assert_eq!(request.schedule_id.to_string(), ID);
    assert_eq!(request.poll_every, Duration::from_secs(5));
}

#[test]
fn the_declaration_is_sound() {
    assert!(acme_sdk::steps::problems(&steps()).is_empty());
}
