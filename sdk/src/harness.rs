//! The fault injector of the idempotency-and-unwind harness (omicron's
//! `actions_succeed_idempotently` and `action_failure_can_unwind_idempotently` are the model). A
//! worker whose activities pass through an [`Injector`] runs them as its [`Plan`] says:
//!
//! - [`Plan::Record`]: as they are, noting each one run;
//! - [`Plan::Twice`]: every activity's first attempt succeeds, then is reported as a transient
//!   failure, so Temporal runs it again with the same input: the same idempotency keys, a second
//!   time;
//! - [`Plan::FailAfter`]: once `n` activities of the process under test have succeeded, its next
//!   one fails for good without running (as omicron injects an action's failure), so the process
//!   must undo the `n` before it; every activity after that (the undo) runs twice.
//!
//! The harness itself (`worker/tests/e2e/harness.rs`) runs every catalogued process under each
//! plan and compares the books.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::interceptors::{
    ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next,
};

/// The failure type an injected final failure carries.
pub const INJECTED_FAILURE: &str = "harness.injected_failure";

/// How the activities of a harness run are to be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Record,
    Twice,
    /// Once `succeeded` activities of workflows of type `workflow_type` have succeeded, fail that
    /// type's next one for good, without running it.
    FailAfter {
        succeeded: usize,
        workflow_type: &'static str,
    },
}

/// One activity attempt that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    pub workflow_type: String,
    pub workflow_id: String,
    /// The activity's id within its run: the same for every attempt of one execution.
    pub activity_id: String,
    pub activity: String,
    pub attempt: u32,
}

#[derive(Debug, Default)]
struct State {
    executed: Vec<Executed>,
    /// The attempt that was failed on purpose.
    injected: Option<Executed>,
}

/// An activity interceptor that carries out a [`Plan`]; clones share what they saw.
#[derive(Debug, Clone)]
pub struct Injector {
    plan: Plan,
    state: Arc<Mutex<State>>,
}

impl Injector {
    pub fn new(plan: Plan) -> Self {
        Self {
            plan,
            state: Arc::default(),
        }
    }

    /// Every successful attempt so far, in the order they finished.
    pub fn executed(&self) -> Vec<Executed> {
        self.lock().executed.clone()
    }

    /// The activity the planned final failure was injected into, once it has been.
    pub fn injected_into(&self) -> Option<Executed> {
        self.lock().injected.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; the notes are still good.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The injected failure, if `attempt` is the one the plan fails (it then does not run).
    fn failure_before(&self, attempt: &Executed) -> Option<ActivityError> {
        let mut state = self.lock();
        let Plan::FailAfter {
            succeeded,
            workflow_type,
        } = self.plan
        else {
            return None;
        };
        let of_type = |e: &Executed| e.workflow_type == workflow_type;
        if state.injected.is_some()
            || !of_type(attempt)
            || state.executed.iter().filter(|e| of_type(e)).count() != succeeded
        {
            return None;
        }
        state.injected = Some(attempt.clone());
        let failure = ApplicationFailure::builder(Injected(attempt.activity.clone()))
            .type_name(INJECTED_FAILURE.to_owned())
            .non_retryable(true)
            .build();
        Some(ActivityError::application(failure))
    }

    /// What to report for an attempt that succeeded, after noting it.
    fn verdict(&self, executed: Executed) -> Option<ActivityError> {
        let mut state = self.lock();
        let first_attempt = executed.attempt == 1;
        let activity = executed.activity.clone();
        state.executed.push(executed);
        let twice = match self.plan {
            Plan::Record => false,
            Plan::Twice => true,
            Plan::FailAfter { .. } => state.injected.is_some(),
        };
        (twice && first_attempt).then(|| {
            let failure = ApplicationFailure::builder(RunAgain(activity))
                .next_retry_delay(Duration::from_millis(10))
                .build();
            ActivityError::application(failure)
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("harness: {0} succeeded; reported as a transient failure so it runs again")]
struct RunAgain(String);

#[derive(Debug, thiserror::Error)]
#[error("harness: {0} failed for good without running, to test the unwind")]
struct Injected(String);

impl ActivityInboundInterceptor for Injector {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        let info = input.activity_info();
        let executed = Executed {
            workflow_type: info.workflow_type.clone().unwrap_or_default(),
            workflow_id: info.workflow_id.clone().unwrap_or_default(),
            activity_id: info.activity_id.clone(),
            activity: info.activity_type.clone(),
            attempt: info.attempt,
        };
        Box::pin(async move {
            if let Some(injected) = self.failure_before(&executed) {
                return Err(injected);
            }
            let output = next.run(input).await?;
            match self.verdict(executed) {
                Some(error) => Err(error),
                None => Ok(output),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(activity: &str, attempt: u32) -> Executed {
        Executed {
            workflow_type: "p".to_owned(),
            workflow_id: "w".to_owned(),
            activity_id: activity.to_owned(),
            activity: activity.to_owned(),
            attempt,
        }
    }

    #[test]
    fn twice_asks_again_after_each_first_attempt_only() {
        let injector = Injector::new(Plan::Twice);
        assert!(injector.verdict(attempt("a", 1)).is_some());
        assert!(injector.verdict(attempt("a", 2)).is_none());
        assert_eq!(injector.executed().len(), 2);
    }

    #[test]
    fn fail_after_fails_the_next_for_good_then_runs_the_rest_twice() {
        let injector = Injector::new(Plan::FailAfter {
            succeeded: 1,
            workflow_type: "p",
        });
        assert!(injector.failure_before(&attempt("a", 1)).is_none());
        assert!(injector.verdict(attempt("a", 1)).is_none());
        assert_eq!(injector.injected_into(), None);
        let mut other_type = attempt("b", 1);
        other_type.workflow_type = "child".to_owned();
        assert!(injector.failure_before(&other_type).is_none());
        assert!(injector.failure_before(&attempt("b", 1)).is_some());
        assert_eq!(injector.injected_into(), Some(attempt("b", 1)));
        assert!(injector.failure_before(&attempt("undo", 1)).is_none());
        assert!(injector.verdict(attempt("undo", 1)).is_some());
        assert!(injector.verdict(attempt("undo", 2)).is_none());
        assert!(
            Injector::new(Plan::Record)
                .failure_before(&attempt("a", 1))
                .is_none()
        );
        assert!(
            Injector::new(Plan::Record)
                .verdict(attempt("a", 1))
                .is_none()
        );
    }
}
