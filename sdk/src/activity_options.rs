//! Activity option presets: every process picks one of three shapes instead of inventing its
//! own timeouts and retry policies. Business rejections are non-retryable at the source
//! (see [`crate::failure`]), so these policies only ever retry what can heal.

use std::time::Duration;

use temporalio_client::RetryPolicy;
use temporalio_sdk::ActivityOptions;

use crate::process::TaskQueues;

/// Short database writes: seconds each, many quick retries (a restart of PostgreSQL or a lost
/// race heals in moments).
pub fn ledger(queues: &TaskQueues) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .task_queue(queues.ledger.clone())
        .retry_policy(retry_forever(
            Duration::from_millis(200),
            Duration::from_secs(10),
        ))
        .build()
}

/// Calls to an outside party (the custodian): longer timeouts, slower backoff, a heartbeat so a
/// hung call is noticed, and their own task queue so a slow party cannot starve the ledger.
pub fn external(queues: &TaskQueues) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
        .task_queue(queues.external.clone())
        .heartbeat_timeout(Duration::from_secs(30))
        .retry_policy(retry_forever(
            Duration::from_secs(1),
            Duration::from_secs(120),
        ))
        .build()
}

/// Long set-based chunks (aggregation, allocation): minutes each, heartbeating progress.
pub fn bulk(queues: &TaskQueues) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30 * 60))
        .task_queue(queues.ledger.clone())
        .heartbeat_timeout(Duration::from_secs(30))
        .retry_policy(retry_forever(
            Duration::from_secs(1),
            Duration::from_secs(60),
        ))
        .build()
}

/// Exponential backoff (doubling) with no attempt limit: only transient failures are retried,
/// because business rejections are non-retryable at their source.
fn retry_forever(initial: Duration, maximum: Duration) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(initial)
        .backoff_coefficient(2.0)
        .maximum_interval(maximum)
        .maximum_attempts(0)
        .build()
}
