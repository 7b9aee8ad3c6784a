//! The one chunked pass over an external trade's member trades, shared by allocate, settle and
//! release: read a chunk of trades still where the pass's transition starts, open their
//! members' accounts, post the chunk's entries (one per trade, keyed by trade), then move the
//! chunk's trades on, set-based, with their history. A retry after a crash resumes with the
//! trades not moved yet, and re-posting an entry is a no-op by its key.

use acme_ledger::{AccountId, Ledger, NewEntry, OwnerKind};
use acme_sdk::AssetCode;
use rust_decimal::Decimal;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use super::{CHUNK, ExternalTrade};
use crate::ledger_failure;
use crate::trade_book::member_trades::{self, Amount, MemberLine};
use crate::trade_book::{Actor, MemberTransition, trade_book_failure};

/// Which member trades a pass reads, what of them, and where it moves them.
pub(super) struct Pass<'a> {
    /// The trades read are those in the transition's `from` status.
    pub transition: MemberTransition,
    pub amount: Amount,
    /// Each member's accounts to open, in the order the entries expect them.
    pub accounts: &'a [(AssetCode, &'static str)],
}

/// A chunk's entries and how its trades move once they are posted.
pub(super) struct ChunkWork {
    pub entries: Vec<NewEntry>,
    /// The allocation of each trade in the chunk, in order, for [`MemberTransition::Price`].
    pub allocation: Option<(Vec<Decimal>, Vec<Decimal>)>,
}

/// Runs `pass` over `trade`'s member trades, `work` making each chunk's entries from its trades
/// and their accounts. Returns how many trades it moved (heartbeating the count).
pub(super) async fn for_each_chunk<F>(
    ledger: &Ledger,
    ctx: &ActivityContext,
    actor: &Actor,
    trade: &ExternalTrade,
    pass: &Pass<'_>,
    mut work: F,
) -> Result<i64, ActivityError>
where
    F: FnMut(&[MemberLine], &[Vec<AccountId>]) -> Result<ChunkWork, ActivityError>,
{
    let pool = ledger.pool();
    let mut done = 0_i64;
    loop {
        let chunk = member_trades::chunk(
            pool,
            trade.external_trade_id,
            pass.transition.from(),
            pass.amount,
            CHUNK,
        )
        .await
        .map_err(trade_book_failure)?;
        if chunk.is_empty() {
            break;
        }
        let members: Vec<String> = chunk.iter().map(|t| t.member_id.clone()).collect();
        let accounts = ledger
            .open_pots_in_bulk(OwnerKind::Member, &members, pass.accounts)
            .await
            .map_err(ledger_failure)?;
        let ChunkWork {
            entries,
            allocation,
        } = work(&chunk, &accounts)?;
        ledger.post_batch(&entries).await.map_err(ledger_failure)?;
        let ids: Vec<Uuid> = chunk.iter().map(|t| t.trade_id).collect();
        match (allocation, pass.transition) {
            (Some((shares, refunds)), MemberTransition::Price) => {
                member_trades::price(pool, actor, &ids, &shares, &refunds).await
            }
            (None, transition) => member_trades::transition(pool, actor, &ids, transition).await,
            (Some(_), transition) => {
                return Err(anyhow::anyhow!("a {transition} pass has no allocation").into());
            }
        }
        .map_err(trade_book_failure)?;
        done += i64::try_from(chunk.len()).unwrap_or(i64::MAX);
        ctx.record_heartbeat(done).await?;
    }
    Ok(done)
}
