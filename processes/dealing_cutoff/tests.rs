//! Unit tests of `dealing-cutoff`'s declaration; the schedule firing runs end to end in
//! `e2e.rs`.

use acme_sdk::{Process, Runs, Undo};

use super::{DealingCutoff, Input, SCHEDULE_ID, steps};

#[test]
fn the_cutoff_only_starts_the_days_cycle_and_never_undoes_it() {
    let steps = steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].runs, Runs::Child("dealing-cycle".to_owned()));
    assert!(matches!(steps[0].undo, Undo::Pivot { .. }));
    assert!(acme_sdk::steps::problems(&steps).is_empty());
}

#[test]
fn runs_are_keyed_by_the_schedule() {
    let input = Input::default();
    assert_eq!(DealingCutoff::workflow_id(&input), SCHEDULE_ID);
    assert_eq!(DealingCutoff::business_key(&input), "dealing-cutoff");
}
