//! Funding switches, part of `dealing.allocate` for a sell (ADR 26): once a sell external trade
//! is allocated, each of its member sells that belongs to a switch has its actual proceeds
//! (less than planned after a partial fill or a charge) split by the switch's planned weights
//! into pending buy trades, which the next dealing cycle deals like any other. In one
//! transaction: one entry per sell reserves the buys' cash from the member's unsettled proceeds
//! (`unsettled → reserved`, key `<workflow id>/switch-reserve/<sell trade id>`), the buys are
//! created (origin `<workflow id>/<sell trade id>`) and the sell records what was reserved, so
//! its settlement makes only the rest available. It runs before the external trade can settle
//! (the same workflow settles only after allocate returns), so it never races the settlement of
//! the proceeds it spends; a repeat finds every sell funded and does nothing.

use acme_ledger::{Ledger, LedgerError, OwnerKind, chart, staged};
use temporalio_sdk::activities::ActivityError;

use super::books::asset_code;
use super::{ExternalTrade, PROCESS};
use crate::ledger_failure;
use crate::members::CASH;
use crate::trade_book::{member_trades, switches, trade_book_failure};

/// The step's name: the middle of each reservation's key.
const STEP: &str = "switch-reserve";

/// Funds the switches of a sell external trade's allocated member sells; returns how many sells
/// it funded.
pub(super) async fn fund(ledger: &Ledger, trade: &ExternalTrade) -> Result<u64, ActivityError> {
    let cash = asset_code(CASH)?;
    let workflow_id = trade.workflow_id();
    let mut tx = ledger.pool().begin().await.map_err(LedgerError::from)?;
    let funded = switches::stage_funding(&mut tx, trade.external_trade_id)
        .await
        .map_err(trade_book_failure)?;
    if funded == 0 {
        return Ok(0);
    }
    chart::prepare_owners(&mut tx)
        .await
        .map_err(LedgerError::from)?;
    sqlx::query("insert into staged_owner select distinct member_id from switch_funding")
        .execute(&mut *tx)
        .await
        .map_err(LedgerError::from)?;
    chart::open_for_staged_owners(
        &mut tx,
        OwnerKind::Member,
        &[(cash.clone(), "unsettled"), (cash, "reserved")],
    )
    .await
    .map_err(ledger_failure)?;
    staged::prepare(&mut tx).await.map_err(LedgerError::from)?;
    stage_reservations(&mut tx, trade, &workflow_id)
        .await
        .map_err(LedgerError::from)?;
    member_trades::create_staged_buys(&mut tx, "activity:dealing.allocate", &workflow_id)
        .await
        .map_err(trade_book_failure)?;
    switches::record_switched(&mut tx)
        .await
        .map_err(trade_book_failure)?;
    staged::seal(&mut tx).await.map_err(ledger_failure)?;
    tx.commit().await.map_err(LedgerError::from)?;
    Ok(funded)
}

/// One entry per funded sell with cash to reserve: `unsettled → reserved` of its buys' total.
async fn stage_reservations(
    conn: &mut sqlx::PgConnection,
    trade: &ExternalTrade,
    workflow_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into staged_posting (seq, leg, account_id, amount)
         select f.seq, l.leg, l.account_id, l.amount
         from switch_funding f
         join pot p on p.owner_kind = 'member' and p.owner_ref = f.member_id
         join account unsettled on unsettled.pot_id = p.pot_id and unsettled.asset_code = $1
             and unsettled.purpose = 'unsettled'
         join account reserved on reserved.pot_id = p.pot_id and reserved.asset_code = $1
             and reserved.purpose = 'reserved'
         cross join lateral (values (0::smallint, unsettled.account_id, -f.cash),
                                    (1::smallint, reserved.account_id, f.cash))
             as l (leg, account_id, amount)
         where f.cash > 0",
    )
    .bind(CASH)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into staged_entry (seq, idempotency_key, kind, process, workflow_id,
             effective_date, metadata)
         select seq, $1 || '/' || $2 || '/' || trade_id, 'dealing.switch-reserved', $3, $1, $4,
                jsonb_build_object('member_id', member_id, 'order_ref', $5,
                                   'trade_id', trade_id::text)
         from switch_funding where cash > 0",
    )
    .bind(workflow_id)
    .bind(STEP)
    .bind(PROCESS)
    .bind(trade.dealing_date)
    .bind(&trade.order_ref)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
