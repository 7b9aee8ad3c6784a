//! Activity option presets: every process picks one of three shapes instead of inventing its
//! own timeouts and retry policies. Business rejections are non-retryable at the source
//! (see [`crate::failure`]), so these policies only ever retry what can heal.

use std::time::Duration;

use futures::future::LocalBoxFuture;
use temporalio_client::RetryPolicy;
use temporalio_common::ActivityDefinition;
use temporalio_common::data_converters::TemporalDeserializable;
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, LocalActivityOptions, WorkflowContext,
};

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

/// The same short database writes, run as a local activity: in the worker running the workflow,
/// with no round trip through the server's task queue (a per-request process's few steps then
/// cost one workflow task, not one each).
pub fn local_ledger() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(retry_forever(
            Duration::from_millis(200),
            Duration::from_secs(10),
        ))
        .build()
}

/// Runs one short ledger step of a per-request process: as a local activity when `local`, else
/// on the ledger queue with [`ledger`]. `local` comes from a patch (`ctx.patched`), so runs
/// recorded before a process moved to local activities replay down the old path.
pub fn ledger_step<W: 'static, A>(
    ctx: &WorkflowContext<W>,
    local: bool,
    queues: &TaskQueues,
    activity: A,
    input: A::Input,
) -> LocalBoxFuture<'static, Result<A::Output, ActivityExecutionError>>
where
    A: ActivityDefinition + 'static,
    A::Output: TemporalDeserializable,
{
    let ctx = ctx.clone();
    let options = ledger(queues);
    Box::pin(async move {
        if local {
            ctx.execute_local_activity(activity, input, local_ledger())
                .await
        } else {
            ctx.execute_activity(activity, input, options).await
        }
    })
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
