//! `dealing.close_day`: at the cut-off, the day's pending member trades join one external trade
//! per asset and side (created here, with an id derived from its order reference so a repeat
//! finds the same one), in chunks; then each external trade's total is sealed.

use acme_ledger::Ledger;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use super::{CHUNK, CloseDay, ExternalTrade, external_trade_workflow_id, order_ref};
use crate::trade_book::{Actor, external_trades, member_trades, trade_book_failure};

/// Namespace of external trade ids (uuid v5 of the order reference).
const ORDER_NAMESPACE: Uuid = Uuid::from_u128(0x1c9e_52d4_0b7f_4f0e_8f3a_6a2d_9e41_c7b3);

pub(super) async fn close_day(
    ledger: &Ledger,
    ctx: &ActivityContext,
    close: &CloseDay,
) -> Result<Vec<ExternalTrade>, ActivityError> {
    let pool = ledger.pool();
    let groups = member_trades::pending_groups(pool, close.cutoff)
        .await
        .map_err(trade_book_failure)?;
    for (asset, side) in &groups {
        let reference = order_ref(close.dealing_date, asset, *side);
        // Outside a workflow, the history names the external trade's own.
        let actor = Actor::activity(
            ctx,
            &external_trade_workflow_id(close.dealing_date, asset, *side),
        );
        external_trades::create(
            pool,
            &actor,
            Uuid::new_v5(&ORDER_NAMESPACE, reference.as_bytes()),
            close.dealing_date,
            asset,
            *side,
            &reference,
        )
        .await
        .map_err(trade_book_failure)?;
    }
    let actor = Actor::activity(ctx, &format!("dealing/{}", close.dealing_date));
    let mut aggregated = 0_u64;
    loop {
        // Only external trades not yet sealed take more member trades.
        let done =
            member_trades::aggregate_chunk(pool, &actor, close.dealing_date, close.cutoff, CHUNK)
                .await
                .map_err(trade_book_failure)?;
        if done == 0 {
            break;
        }
        aggregated += done;
        ctx.record_heartbeat(aggregated).await?;
    }
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
