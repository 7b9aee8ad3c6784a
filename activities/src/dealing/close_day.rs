//! `dealing.close_day`: at the cut-off, the day's pending member trades join one external trade
//! per asset and side (created here, with an id derived from its order reference so a repeat
//! finds the same one), in chunks; then each external trade's total is sealed. One attempt at a
//! time closes a date (the trade book's close lock): a retry waits, heartbeating, until the
//! attempt it replaced has stopped.

use std::time::Duration;

use acme_ledger::Ledger;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use super::{CHUNK, CloseDay, ExternalTrade, order_ref};
use crate::trade_book::{Actor, external_trades, member_trades, trade_book_failure};

/// Namespace of external trade ids (uuid v5 of the order reference).
const ORDER_NAMESPACE: Uuid = Uuid::from_u128(0x1c9e_52d4_0b7f_4f0e_8f3a_6a2d_9e41_c7b3);

/// How often a waiting attempt asks for the close lock again.
const LOCK_RETRY: Duration = Duration::from_millis(250);

/// The id of the external trade with order reference `reference`: the same every attempt.
pub fn external_trade_id(reference: &str) -> Uuid {
    Uuid::new_v5(&ORDER_NAMESPACE, reference.as_bytes())
}

pub(super) async fn close_day(
    ledger: &Ledger,
    ctx: &ActivityContext,
    close: &CloseDay,
) -> Result<Vec<ExternalTrade>, ActivityError> {
    let actor = Actor::activity(ctx, &format!("dealing/{}", close.dealing_date));
    // Chunks heartbeat as they go; the statements around them (the day's groups, the seal) may
    // each outlast the heartbeat timeout at a million trades.
    acme_sdk::heartbeat::while_working(
        ctx,
        close_day_reporting(ledger, &actor, close, |aggregated| async move {
            ctx.record_heartbeat(aggregated)
                .await
                .map_err(ActivityError::from)
        }),
    )
    .await
}

/// [`close_day`] by `actor`, telling `progress` how many member trades it has aggregated: while
/// it waits for the close lock (0), and after each chunk.
pub async fn close_day_reporting<F>(
    ledger: &Ledger,
    actor: &Actor,
    close: &CloseDay,
    mut progress: impl FnMut(u64) -> F,
) -> Result<Vec<ExternalTrade>, ActivityError>
where
    F: Future<Output = Result<(), ActivityError>>,
{
    let pool = ledger.pool();
    let _lock = loop {
        match external_trades::try_lock_close(pool, close.dealing_date).await {
            Ok(Some(lock)) => break lock,
            Ok(None) => {
                progress(0).await?;
                tokio::time::sleep(LOCK_RETRY).await;
            }
            Err(error) => return Err(trade_book_failure(error)),
        }
    };
    let groups = member_trades::pending_groups(pool, close.cutoff)
        .await
        .map_err(trade_book_failure)?;
    for (asset, side) in &groups {
        let reference = order_ref(close.dealing_date, asset, *side);
        external_trades::create(
            pool,
            actor,
            external_trade_id(&reference),
            close.dealing_date,
            asset,
            *side,
            &reference,
        )
        .await
        .map_err(trade_book_failure)?;
    }
    // The day's trades arrived by the thousand since the tables were last analyzed; the
    // chunks below plan on them.
    ledger
        .refresh_planner_statistics()
        .await
        .map_err(crate::ledger_failure)?;
    let mut aggregated = 0_u64;
    let mut after = Uuid::nil();
    loop {
        // Only external trades not yet sealed take more member trades.
        match member_trades::aggregate_chunk(
            pool,
            actor,
            close.dealing_date,
            close.cutoff,
            after,
            CHUNK,
        )
        .await
        .map_err(trade_book_failure)?
        {
            Some(chunk) => {
                aggregated += chunk.moved;
                after = chunk.last;
                progress(aggregated).await?;
            }
            // A trade another transaction held when its chunk passed was skipped: one more
            // sweep from the start takes it, and the close ends when a sweep finds nothing.
            None if after != Uuid::nil() => after = Uuid::nil(),
            None => break,
        }
    }
    // The day's trades just changed state by the thousand; allocation plans on these tables.
    ledger
        .refresh_planner_statistics()
        .await
        .map_err(crate::ledger_failure)?;
    external_trades::seal(pool, close.dealing_date)
        .await
        .map_err(trade_book_failure)?;
    external_trades::sealed(pool, close.dealing_date)
        .await
        .map_err(trade_book_failure)?
        .iter()
        .map(ExternalTrade::sealed)
        .collect()
}
