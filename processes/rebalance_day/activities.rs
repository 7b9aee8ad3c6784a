//! `rebalance_day.create_sells`: the bulk step of `rebalance-day`. For a business date D it
//! walks every member pot with a model portfolio in chunks (keyset on the pot id), and in each
//! chunk, set-based from end to end: values the pots at D's closing prices and finds the drifted
//! ones with the plan's own SQL (`crate::rebalance::POSITIONS` and `TRADES`, the rule of ADR 18),
//! reserves the units each sells (`available → reserved`, one entry per pot keyed
//! `<workflow id>/reserve-units/<member>`), creates the pending sell trades (origin
//! `<workflow id>/<member>`, id the md5 uuid of `<origin>/sell/<asset>`), records the buys their
//! proceeds will fund (each underweight fund, weighted by its shortfall; `trade_book::switches`,
//! ADR 26) and seals the entries, in one transaction.
//!
//! Idempotent per (date, pot): a pot that already has a trade of this run's origin is done and
//! taken no further, so a chunk or a whole run repeated creates nothing new. A drifted pot with
//! a member trade in flight (pending, aggregated or priced) is skipped and reported, never
//! traded twice. Prices must all be recorded for D (`crate::prices::of_date`), else the step is
//! refused (`price.stale` / `price.missing`) before any chunk runs.

use std::sync::Arc;

use acme_ledger::chunk::ChunkTransaction;
use acme_ledger::{Ledger, LedgerError, OwnerKind, chart, staged};
use acme_sdk::AssetCode;
use acme_sdk::bulk::{self, Chunk, Chunks, Extent};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use temporalio_macros::activities;
use temporalio_sdk::WorkerOptions;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::ledger_failure;
use crate::members::CASH;
use crate::prices::{self, price_failure};
use crate::rebalance::{POSITIONS, TRADES};
use crate::trade_book::{member_trades, switches, trade_book_failure};

/// The step's name: the middle of each reservation's key, and of its bulk progress.
pub const STEP: &str = "reserve-units";
/// The process that posts the entries.
const PROCESS: &str = "rebalance-day";
/// Skipped members named in the result, at most (the count is always whole).
pub const MAX_SKIPPED_NAMED: usize = 20;

/// One run: the date whose closing prices value the pots, by the run that re-balances them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rebalance {
    pub date: NaiveDate,
    pub workflow_id: String,
    /// Pots per chunk.
    pub chunk_size: i64,
}

/// What a run did, over every attempt; also the bulk step's cursor, so a retry's totals are
/// still the whole run's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rebalanced {
    /// The last pot of the last committed chunk (pots go in id order).
    pub last_pot_id: i64,
    /// Drifted pots whose sells this run created.
    pub pots_selling: u64,
    /// Sell trades created.
    pub sell_trades: u64,
    /// Drifted pots skipped because a member trade of theirs was in flight, and the first few
    /// of their members.
    pub skipped_in_flight: u64,
    pub skipped_members: Vec<String>,
    /// Pots this run had already re-balanced (an earlier attempt or run): nothing new.
    pub already_done: u64,
}

#[derive(Debug, Clone)]
pub struct RebalanceDayActivities {
    ledger: Ledger,
}

/// Registers these activities on the ledger queue; the worker calls it for every process folder
/// with an `activities.rs`.
pub fn register(options: &mut WorkerOptions, ledger: &Ledger) {
    options.register_activities(RebalanceDayActivities {
        ledger: ledger.clone(),
    });
}

#[activities]
impl RebalanceDayActivities {
    /// Creates the day's sells of every drifted pot, chunk by chunk, heartbeating progress.
    #[activity(name = "rebalance_day.create_sells")]
    pub async fn create_sells(
        self: Arc<Self>,
        ctx: ActivityContext,
        run: Rebalance,
    ) -> Result<Rebalanced, ActivityError> {
        // Nothing is valued or traded at another day's price.
        prices::of_date(self.ledger.pool(), run.date)
            .await
            .map_err(price_failure)?;
        let walk = PotWalk {
            ledger: &self.ledger,
            run: &run,
        };
        let progress = bulk::run(&ctx, STEP, walk).await?;
        Ok(progress.cursor.unwrap_or_default())
    }
}

struct PotWalk<'a> {
    ledger: &'a Ledger,
    run: &'a Rebalance,
}

impl Chunks for PotWalk<'_> {
    type Cursor = Rebalanced;

    async fn extent(&mut self) -> Result<Extent, ActivityError> {
        let pots: i64 =
            sqlx::query_scalar("select count(*) from member where portfolio_code is not null")
                .fetch_one(self.ledger.pool())
                .await
                .map_err(LedgerError::from)?;
        Ok(Extent {
            total: u64::try_from(pots).unwrap_or(0),
            done: 0,
        })
    }

    async fn next(
        &mut self,
        after: Option<&Rebalanced>,
    ) -> Result<Option<Chunk<Rebalanced>>, ActivityError> {
        let so_far = after.cloned().unwrap_or_default();
        let step_key = format!("{}/{STEP}", self.run.workflow_id);
        let mut tx = ChunkTransaction::begin(self.ledger.pool(), &step_key)
            .await
            .map_err(LedgerError::from)?;
        let conn = tx.conn().map_err(LedgerError::from)?;
        let (pots, last): (Option<Vec<i64>>, Option<i64>) = sqlx::query_as(
            "select array_agg(pot_id order by pot_id), max(pot_id)
             from (select pot_id from member
                   where portfolio_code is not null and pot_id > $1
                   order by pot_id limit $2) chunk",
        )
        .bind(so_far.last_pot_id)
        .bind(self.run.chunk_size)
        .fetch_one(&mut *conn)
        .await
        .map_err(LedgerError::from)?;
        let (Some(pots), Some(last)) = (pots, last) else {
            return Ok(None);
        };
        let chunk = self.position(conn, &pots).await?;
        let (pots_selling, sell_trades) = self.sell(conn).await?;
        tx.commit().await.map_err(LedgerError::from)?;
        let mut skipped_members = so_far.skipped_members;
        let room = MAX_SKIPPED_NAMED.saturating_sub(skipped_members.len());
        skipped_members.extend(chunk.skipped_members.into_iter().take(room));
        Ok(Some(Chunk {
            last: Rebalanced {
                last_pot_id: last,
                pots_selling: so_far.pots_selling + pots_selling,
                sell_trades: so_far.sell_trades + sell_trades,
                skipped_in_flight: so_far.skipped_in_flight + chunk.skipped_in_flight,
                skipped_members,
                already_done: so_far.already_done + chunk.already_done,
            },
            rows: u64::try_from(pots.len()).unwrap_or(0),
        }))
    }
}

/// What valuing a chunk's pots found besides the sells.
struct ChunkPositions {
    skipped_in_flight: u64,
    skipped_members: Vec<String>,
    already_done: u64,
}

impl PotWalk<'_> {
    /// Values the chunk's pots into `chunk_position` (the plan's positions, and `done` for a
    /// pot this run has already re-balanced) and counts the skipped and the done.
    async fn position(
        &self,
        conn: &mut PgConnection,
        pots: &[i64],
    ) -> Result<ChunkPositions, ActivityError> {
        sqlx::query(&format!(
            "create temp table chunk_position on commit drop as
             select q.*, exists (select 1 from member_trade t
                                 where t.origin_workflow_id = $4 || '/' || q.member_id) as done
             from ({POSITIONS}) q"
        ))
        .bind(self.run.date)
        .bind(pots)
        .bind(CASH)
        .bind(&self.run.workflow_id)
        .execute(&mut *conn)
        .await
        .map_err(LedgerError::from)?;
        let (skipped, skipped_members, done): (i64, Vec<String>, i64) = sqlx::query_as(
            "select count(distinct pot_id) filter (where drifted and in_flight and not done),
                    coalesce((array_agg(distinct member_id)
                                  filter (where drifted and in_flight and not done))[1:$1],
                             '{}'),
                    count(distinct pot_id) filter (where done)
             from chunk_position",
        )
        .bind(i32::try_from(MAX_SKIPPED_NAMED).unwrap_or(i32::MAX))
        .fetch_one(&mut *conn)
        .await
        .map_err(LedgerError::from)?;
        Ok(ChunkPositions {
            skipped_in_flight: u64::try_from(skipped).unwrap_or(0),
            skipped_members,
            already_done: u64::try_from(done).unwrap_or(0),
        })
    }

    /// The sells of the chunk's drifted pots that are neither in flight nor done: reserves
    /// their units and creates their trades. Returns the pots and the trades created. The units
    /// are held at the fund's scale (the plan's `div` leaves trailing zeros, which the custodian
    /// refuses as excess decimals; rounding them off is exact).
    async fn sell(&self, conn: &mut PgConnection) -> Result<(u64, u64), ActivityError> {
        sqlx::query(&format!(
            "create temp table staged_sell on commit drop as
             with p as (select * from chunk_position where not done), {TRADES}
             select dense_rank() over (order by pot_id) as seq,
                    row_number() over (partition by pot_id order by asset_code) as pair,
                    pot_id, member_id, member_id as trade_key, asset_code,
                    round(sell_units, a.scale) as units
             from proceeds join asset a using (asset_code) where sell_units > 0"
        ))
        .execute(&mut *conn)
        .await
        .map_err(LedgerError::from)?;
        let (pots, funds): (i64, Vec<String>) = sqlx::query_as(
            "select count(distinct pot_id), coalesce(array_agg(distinct asset_code), '{}')
             from staged_sell",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(LedgerError::from)?;
        if pots == 0 {
            return Ok((0, 0));
        }
        let reserved = funds
            .iter()
            .map(|fund| AssetCode::parse(fund).map(|code| (code, "reserved")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("bad asset code {:?}", e.text))?;
        chart::prepare_owners(conn)
            .await
            .map_err(LedgerError::from)?;
        sqlx::query("insert into staged_owner select distinct member_id from staged_sell")
            .execute(&mut *conn)
            .await
            .map_err(LedgerError::from)?;
        chart::open_for_staged_owners(conn, OwnerKind::Member, &reserved)
            .await
            .map_err(ledger_failure)?;
        staged::prepare(conn).await.map_err(LedgerError::from)?;
        self.stage_reservations(conn)
            .await
            .map_err(LedgerError::from)?;
        let trades = member_trades::create_staged_sells(
            conn,
            "activity:rebalance_day.create_sells",
            &self.run.workflow_id,
        )
        .await
        .map_err(trade_book_failure)?;
        // The buys the proceeds will fund once they are known: each underweight fund, weighted
        // by its shortfall (ADR 26).
        sqlx::query(
            "create temp table staged_target on commit drop as
             select member_id as trade_key, asset_code, -gap as weight from chunk_position
             where gap < 0 and pot_id in (select pot_id from staged_sell)",
        )
        .execute(&mut *conn)
        .await
        .map_err(LedgerError::from)?;
        switches::record_targets(conn, &self.run.workflow_id)
            .await
            .map_err(trade_book_failure)?;
        staged::seal(conn).await.map_err(ledger_failure)?;
        Ok((u64::try_from(pots).unwrap_or(0), trades))
    }

    /// One entry per pot: each fund it sells, `available → reserved`.
    async fn stage_reservations(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into staged_posting (seq, leg, account_id, amount)
             select s.seq, l.leg, l.account_id, l.amount
             from staged_sell s
             join account available on available.pot_id = s.pot_id
                 and available.asset_code = s.asset_code and available.purpose = 'available'
             join account reserved on reserved.pot_id = s.pot_id
                 and reserved.asset_code = s.asset_code and reserved.purpose = 'reserved'
             cross join lateral (values ((2 * s.pair - 2)::smallint, available.account_id,
                                         -s.units),
                                        ((2 * s.pair - 1)::smallint, reserved.account_id,
                                         s.units))
                 as l (leg, account_id, amount)",
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "insert into staged_entry (seq, idempotency_key, kind, process, workflow_id,
                 effective_date, metadata)
             select distinct seq, $1 || '/' || $2 || '/' || member_id, 'rebalance.units-reserved',
                    $3, $1, $4, jsonb_build_object('member_id', member_id)
             from staged_sell",
        )
        .bind(&self.run.workflow_id)
        .bind(STEP)
        .bind(PROCESS)
        .bind(self.run.date)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
