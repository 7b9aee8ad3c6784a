//! The bulk step: the one way a process works through millions of rows (a dealing day's
//! allocation, a re-balancing, a reconciliation, a contribution file).
//!
//! A step is a [`Chunks`]: keyset chunks of set-based SQL, each committed once in its own
//! transaction (`acme_ledger::chunk::ChunkTransaction`: one chunk of a step at a time, and an
//! abandoned attempt's SQL cancelled) and idempotent by its rows' state, so a chunk run twice
//! changes nothing the second time. [`run`] drives it inside one activity:
//! - after every chunk it heartbeats a [`Progress`] (done/total, rate, ETA, and the cursor);
//!   between chunks it keeps heartbeating, so a long chunk never loses the attempt;
//! - a retry (after a crash, a lost heartbeat or a failed chunk) starts after the cursor of the
//!   last chunk the previous attempt reported committed;
//! - memory is one chunk, whatever the number of rows;
//! - cancellation (or a lost heartbeat, which Temporal turns into one) drops the chunk in
//!   flight, whose transaction then cancels its statement and rolls back.
//!
//! The workflow's history holds one activity per step however many rows it works through, so
//! a step never needs continue-as-new; a process that runs one activity per *item* (a child
//! per file, say) does, and says so where it loops.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::heartbeat;

/// What a chunk did: the cursor of its last row, and how many rows it moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk<C> {
    pub last: C,
    pub rows: u64,
}

/// How far a step is before its first chunk: its rows in all, and those already done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub total: u64,
    pub done: u64,
}

/// A bulk step, in chunks.
pub trait Chunks {
    /// Where a chunk ends (a keyset position, e.g. the last trade id): serialisable, so it can
    /// travel in a heartbeat.
    type Cursor: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// The step's extent, read once per attempt, for progress.
    fn extent(&mut self) -> impl Future<Output = Result<Extent, ActivityError>> + Send;

    /// Commits the next chunk after `after` (from the start if `None`), or says there is
    /// nothing left. Rows already done (by an earlier attempt) must be skipped, not repeated.
    fn next(
        &mut self,
        after: Option<&Self::Cursor>,
    ) -> impl Future<Output = Result<Option<Chunk<Self::Cursor>>, ActivityError>> + Send;
}

/// Where a bulk step stands: carried in its heartbeats, shown by `acme describe` and
/// `acme dealing status`, and the point a retry resumes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress<C> {
    pub step: String,
    pub done: u64,
    pub total: u64,
    pub chunks: u64,
    /// The last committed chunk's cursor; `None` before the first.
    pub cursor: Option<C>,
    /// When this attempt started and what was done by then, so the rate is this attempt's own.
    pub attempt_started_at: DateTime<Utc>,
    pub done_at_attempt_start: u64,
}

impl<C> Progress<C> {
    /// Rows per second in this attempt so far; `None` before a second has passed.
    pub fn rate_per_second(&self, now: DateTime<Utc>) -> Option<u64> {
        let seconds = u64::try_from((now - self.attempt_started_at).num_seconds()).ok()?;
        (seconds > 0).then(|| self.done.saturating_sub(self.done_at_attempt_start) / seconds)
    }

    /// Seconds to go at this attempt's rate; `None` while there is no rate to go by.
    pub fn eta_seconds(&self, now: DateTime<Utc>) -> Option<u64> {
        let rate = self.rate_per_second(now).filter(|rate| *rate > 0)?;
        Some(self.total.saturating_sub(self.done).div_ceil(rate))
    }
}

/// Runs `chunks` to the end inside the current activity, resuming after the cursor the
/// previous attempt last heartbeat. Returns the final progress.
pub async fn run<S: Chunks>(
    ctx: &ActivityContext,
    step: &str,
    mut chunks: S,
) -> Result<Progress<S::Cursor>, ActivityError> {
    // Details that do not decode (another step's, an older shape) mean starting from the top,
    // which is safe: chunks skip rows already done.
    let resumed: Option<Progress<S::Cursor>> = ctx
        .heartbeat_details()
        .deserialize()
        .ok()
        .flatten()
        .filter(|previous: &Progress<S::Cursor>| previous.step == step);
    let extent = chunks.extent().await?;
    // The step's own count of rows done where it can tell (rows in their "after" state), else
    // what the previous attempt reported.
    let done = extent.done.max(resumed.as_ref().map_or(0, |p| p.done));
    let mut progress = Progress {
        step: step.to_owned(),
        done,
        total: extent.total,
        chunks: resumed.as_ref().map_or(0, |p| p.chunks),
        cursor: resumed.and_then(|p| p.cursor),
        attempt_started_at: Utc::now(),
        done_at_attempt_start: done,
    };
    loop {
        let next = chunks.next(progress.cursor.as_ref());
        let chunk = tokio::select! {
            biased;
            () = ctx.cancelled() => return Err(ActivityError::cancelled()),
            chunk = heartbeat::while_working_with(ctx, &progress, next) => chunk?,
        };
        let Some(chunk) = chunk else {
            return Ok(progress);
        };
        progress.done += chunk.rows;
        progress.chunks += 1;
        progress.cursor = Some(chunk.last);
        // A heartbeat that cannot be encoded only costs resumption; the chunk is committed.
        let _ = ctx.record_heartbeat(progress.clone()).await;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn rate_and_eta_count_only_this_attempt() {
        let start = Utc::now();
        let progress = Progress::<u64> {
            step: "allocate".into(),
            done: 700,
            total: 1_000,
            chunks: 7,
            cursor: Some(7),
            attempt_started_at: start,
            done_at_attempt_start: 500,
        };
        assert_eq!(progress.rate_per_second(start), None);
        let later = start + TimeDelta::seconds(10);
        assert_eq!(progress.rate_per_second(later), Some(20));
        assert_eq!(progress.eta_seconds(later), Some(15));
    }
}
