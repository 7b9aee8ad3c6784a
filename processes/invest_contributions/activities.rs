//! `contributions.*`: the activities of `invest-contributions`, on the ledger queue, each
//! through the one owner of the contribution tables (`acme_activities::contributions`) and
//! idempotent: a payment finding is recorded once per amount paid, and a schedule row is invested
//! once (its entry keyed `<workflow id>/invest/<line>`, its trades by id, its status moved in the
//! same transaction).

use std::sync::Arc;

use acme_ledger::Ledger;
use temporalio_macros::activities;
use temporalio_sdk::WorkerOptions;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use crate::contributions::funding::{self, PaymentCheck};
use crate::contributions::invest::{self, Invest, Invested};

#[derive(Debug, Clone)]
pub struct ContributionActivities {
    ledger: Ledger,
}

impl ContributionActivities {
    pub fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }
}

/// Registers these activities on the ledger queue; the worker calls it for every process folder
/// with an `activities.rs`.
pub fn register(options: &mut WorkerOptions, ledger: &Ledger) {
    options.register_activities(ContributionActivities::new(ledger.clone()));
}

#[activities]
impl ContributionActivities {
    /// What the bank statements show under the schedule's payment reference against what is
    /// due; records the finding and holds or funds the schedule.
    #[activity(name = "contributions.check_payment")]
    pub async fn check_payment(
        self: Arc<Self>,
        _ctx: ActivityContext,
        schedule_id: Uuid,
    ) -> Result<PaymentCheck, ActivityError> {
        funding::check_payment(self.ledger.pool(), schedule_id)
            .await
            .map_err(|error| error.into_activity())
    }

    /// Invests a funded schedule's accepted rows as a bulk step (chunks, heartbeats, resumes).
    #[activity(name = "contributions.invest")]
    pub async fn invest(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: Invest,
    ) -> Result<Invested, ActivityError> {
        invest::invest(&self.ledger, &ctx, &request).await
    }
}
