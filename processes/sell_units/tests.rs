//! Unit tests of the deterministic parts: parsing the request. The workflow itself runs end to
//! end in `e2e.rs`.

use super::{Input, parse_ids, workflow_id};

fn input(request_id: &str, member_id: &str) -> Input {
    Input {
        request_id: request_id.into(),
        member_id: member_id.into(),
        asset: "GB00ACMEGLB1".into(),
        units: "1.5".into(),
    }
}

#[test]
fn ids_are_parsed_and_the_workflow_id_must_be_the_business_key() {
    let code = |input: Input, wf: &str| parse_ids(&input, wf).map_err(|e| e.code).err();
    assert_eq!(
        code(input("r 1", "m-1"), "sell/r 1"),
        Some("request.invalid_id".into())
    );
    assert_eq!(
        code(input("r-1", "m-1"), "sell/r-2"),
        Some("request.workflow_id_mismatch".into())
    );
    assert_eq!(
        code(input("r-1", "m/1"), "sell/r-1"),
        Some("member.invalid_id".into())
    );
    let request = parse_ids(&input("r-1", "m-1"), &workflow_id("r-1")).unwrap();
    assert_eq!(
        request.workflow_id.step_key("reserve-units"),
        "sell/r-1/reserve-units"
    );
}
