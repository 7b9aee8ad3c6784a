//! Unit tests of `reconciliation-daily`'s declaration; the schedule firing runs end to end in
//! `e2e.rs`.

use acme_sdk::{Process, Runs, Undo};

use super::{Input, ReconciliationDaily, SCHEDULE_ID, steps};

#[test]
fn the_daily_run_only_starts_the_days_reconciliation_and_never_undoes_it() {
    let steps = steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].runs, Runs::Child("reconciliation".to_owned()));
    assert!(matches!(steps[0].undo, Undo::Pivot { .. }));
    assert!(acme_sdk::steps::problems(&steps).is_empty());
}

#[test]
fn runs_are_keyed_by_the_schedule() {
    let input = Input::default();
    assert_eq!(ReconciliationDaily::workflow_id(&input), SCHEDULE_ID);
    assert_eq!(
        ReconciliationDaily::business_key(&input),
        "reconciliation-daily"
    );
}
