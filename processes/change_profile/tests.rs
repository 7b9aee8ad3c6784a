//! Unit tests of `change-profile`'s declaration; the workflow runs end to end against a real
//! Temporal server, database and custodian simulator in `e2e.rs`.

use super::{steps, workflow_id};

#[test]
fn the_steps_are_sound_and_switching_the_pot_is_the_pivot() {
    assert_eq!(acme_sdk::steps::problems(&steps()), Vec::<String>::new());
    assert_eq!(workflow_id("r-1"), "set-profile/r-1");
}
