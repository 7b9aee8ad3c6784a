//! The error taxonomy of processes. A [`BusinessError`] is a final "no" (bad input, unknown
//! member, insufficient funds): it carries a stable code, is never retried, and fails the
//! workflow with that same code. Anything else an activity returns is treated as transient and
//! retried under its preset's policy; bugs are assertions.

use serde::{Deserialize, Serialize};
use temporalio_common::error::IncomingError;
use temporalio_sdk::activities::ActivityError;
use temporalio_sdk::{ActivityExecutionError, ApplicationFailure, WorkflowTermination};

/// A business rejection with a stable, machine-readable code such as `amount.too_many_decimals`.
///
/// Deliberately not a `std::error::Error`: the SDK turns any such error returned from an
/// activity into a *retryable* failure, and a business "no" must never be retried. Converting
/// with `.into()` (or `?`) goes through the impls below, which mark it non-retryable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for BusinessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The message of a [`BusinessError`] as the source error of an application failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Rejected(String);

impl BusinessError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    fn into_failure(self) -> ApplicationFailure {
        ApplicationFailure::builder(Rejected(self.message))
            .type_name(self.code)
            .non_retryable(true)
            .build()
    }
}

impl From<BusinessError> for ActivityError {
    fn from(error: BusinessError) -> Self {
        ActivityError::application(error.into_failure())
    }
}

impl From<BusinessError> for WorkflowTermination {
    fn from(error: BusinessError) -> Self {
        WorkflowTermination::failed_application(error.into_failure())
    }
}

/// The business code an activity failed with, if its failure was a business rejection.
pub fn rejection_code(error: &ActivityExecutionError) -> Option<&str> {
    match error.cause() {
        Some(IncomingError::Application(failure)) if failure.is_non_retryable() => {
            failure.type_name()
        }
        _ => None,
    }
}

/// Ends a workflow because an activity failed: a business rejection fails the workflow with the
/// same code and message, anything else fails it as the activity failure it was.
pub fn fail_workflow(error: ActivityExecutionError) -> WorkflowTermination {
    match rejection_code(&error) {
        Some(code) => {
            let message = error
                .cause()
                .map(|cause| cause.failure().message.clone())
                .unwrap_or_default();
            BusinessError::new(code, message).into()
        }
        None => error.into(),
    }
}
