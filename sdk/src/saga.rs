//! Sagas: a workflow records, as it goes, the activity that undoes each step; when a later step
//! fails for good, [`Saga::compensate`] (or [`Saga::fail`], which then fails the run with the
//! step's error) runs the recorded compensations in reverse order.
//!
//! Record a compensation *before* the step whose effect it undoes when that step may take effect
//! and still report failure (an order placed whose reply was lost): compensations are idempotent
//! activities, so undoing a step that never happened is a no-op. Compensations use retrying
//! presets, so they eventually succeed; one that fails for good is a bug and is reported loudly,
//! never swallowed.

use futures::future::LocalBoxFuture;
use temporalio_common::ActivityDefinition;
use temporalio_sdk::{ActivityExecutionError, ActivityOptions, WorkflowContext};

type Compensation = LocalBoxFuture<'static, Result<(), ActivityExecutionError>>;

/// The compensations a workflow run has recorded so far.
pub struct Saga<W> {
    ctx: WorkflowContext<W>,
    compensations: Vec<(String, Compensation)>,
}

impl<W> std::fmt::Debug for Saga<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.compensations.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Saga")
            .field("compensations", &names)
            .finish()
    }
}

/// A compensation that failed for good; the ones after it in the undo order did not run.
#[derive(Debug, thiserror::Error)]
#[error("compensation {activity} failed: {source}")]
pub struct CompensationFailed {
    pub activity: String,
    #[source]
    pub source: ActivityExecutionError,
}

impl<W: 'static> Saga<W> {
    pub fn new(ctx: &WorkflowContext<W>) -> Self {
        Self {
            ctx: ctx.clone(),
            compensations: Vec::new(),
        }
    }

    /// Records `activity(input)` as the undo of the step about to run or just run.
    pub fn compensate_with<A>(&mut self, activity: A, input: A::Input, options: ActivityOptions)
    where
        A: ActivityDefinition + 'static,
        A::Input: 'static,
    {
        let name = activity.name().to_owned();
        let ctx = self.ctx.clone();
        self.compensations.push((
            name,
            Box::pin(async move {
                ctx.execute_activity(activity, input, options).await?;
                Ok(())
            }),
        ));
    }

    /// How many compensations are recorded.
    pub fn len(&self) -> usize {
        self.compensations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.compensations.is_empty()
    }

    /// Runs every recorded compensation, last recorded first, stopping at the first that fails.
    pub async fn compensate(self) -> Result<(), CompensationFailed> {
        for (activity, compensation) in self.compensations.into_iter().rev() {
            compensation
                .await
                .map_err(|source| CompensationFailed { activity, source })?;
        }
        Ok(())
    }

    /// Ends the run because `error` failed a step for good: undoes what was done, then fails
    /// with the step's own error (or with `saga.compensation_failed` if an undo failed too).
    pub async fn fail(self, error: ActivityExecutionError) -> temporalio_sdk::WorkflowTermination {
        match self.compensate().await {
            Ok(()) => crate::failure::fail_workflow(error),
            Err(undo) => undo.into(),
        }
    }
}

/// A run whose undo failed ends failed with code `saga.compensation_failed`, naming the
/// compensation, so operators see at once that it needs a hand.
impl From<CompensationFailed> for temporalio_sdk::WorkflowTermination {
    fn from(failure: CompensationFailed) -> Self {
        crate::BusinessError::new("saga.compensation_failed", failure.to_string()).into()
    }
}
