//! Heartbeats around work that cannot report progress itself: one long SQL statement (a day's
//! invariant check over a million trades, the seal of a day's totals) runs longer than a bulk
//! activity's heartbeat timeout, and without a heartbeat Temporal would start a second attempt
//! while the first one's statement still runs, then a third.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use temporalio_sdk::activities::ActivityContext;

/// How often [`while_working`] heartbeats: well inside the bulk preset's 30 s timeout.
pub const EVERY: Duration = Duration::from_secs(10);

/// Runs `work`, heartbeating every [`EVERY`] until it ends. The heartbeats carry no details, so
/// use this only around work that does not resume from its last heartbeat.
pub async fn while_working<T>(ctx: &ActivityContext, work: impl Future<Output = T>) -> T {
    while_working_with(ctx, &(), work).await
}

/// [`while_working`], each heartbeat carrying `details` (a bulk step's progress so far, so a
/// retry after a lost attempt still resumes where it was).
pub async fn while_working_with<T, D>(
    ctx: &ActivityContext,
    details: &D,
    work: impl Future<Output = T>,
) -> T
where
    D: Serialize + Clone + Send + Sync + 'static,
{
    let beats = async {
        loop {
            tokio::time::sleep(EVERY).await;
            // A heartbeat that cannot be encoded is not worth failing the work for.
            let _ = ctx.record_heartbeat(details.clone()).await;
        }
    };
    tokio::pin!(work);
    tokio::select! {
        output = &mut work => output,
        never = beats => never,
    }
}
