//! The one chunked pass over an external trade's member trades, shared by allocate, settle and
//! release, as a bulk step (`acme_sdk::bulk`). Each chunk is one transaction, set-based from
//! end to end: the trade book takes the next trades still where the pass's transition starts
//! (keyset on trade id), the chunk stages one journal entry per trade with an `INSERT … SELECT`
//! (amounts computed in the database, exactly; the members' accounts were opened for the whole
//! trade before the first chunk), the trade book moves the trades on with their history, and
//! the ledger seals the entries (`acme_ledger::staged`). A chunk repeated after a crash takes only trades not moved yet; an entry key
//! already posted with the same content is a replay.

use acme_ledger::chunk::ChunkTransaction;
use acme_ledger::{AccountId, Ledger, LedgerError, OwnerKind, chart, staged};
use acme_sdk::AssetCode;
use acme_sdk::bulk::{self, Chunk, Chunks, Extent};
use acme_sdk::heartbeat;
use chrono::NaiveDate;
use sqlx::PgConnection;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use super::{CHUNK, ExternalTrade, PROCESS};
use crate::ledger_failure;
use crate::trade_book::member_trades::{self, Amount};
use crate::trade_book::{Actor, MemberTransition, trade_book_failure};

/// How many times a chunk that lost a race (a deadlock with another external trade's chunk on
/// a shared account) is run again before the attempt fails.
const CHUNK_ATTEMPTS: u32 = 5;

/// A pass: which trades it takes, the entry it posts for each, and where it moves them.
pub(super) struct Pass<'a> {
    /// The step's name: the middle of each entry's key `<workflow id>/<step>/<trade id>`.
    pub step: &'static str,
    pub kind: &'static str,
    /// The trades taken are those in the transition's `from` status.
    pub transition: MemberTransition,
    pub amount: Amount,
    pub effective: NaiveDate,
    /// Each member's accounts the legs post to, `m0`, `m1`, … in [`Pass::legs`].
    pub accounts: &'a [(AssetCode, &'static str)],
    /// A trade's postings as SQL `values` rows `(leg, account_id, amount)` over `c` (the chunk
    /// trade: `amount`, `share`, `refund`), the member accounts `m0.account_id`, … and the
    /// house accounts `h[1]`, …; zero legs are left out. A fixed text, never input.
    pub legs: &'static str,
    pub house: Vec<AccountId>,
    /// For allocation: the SQL that sets each chunk trade's `share` and `refund` first.
    pub allocation: Option<Allocating>,
}

/// The exact pro-rata rule of `acme_sdk::allocation::pro_rata`, as integer arithmetic on minor
/// units in the database: `share = floor(delivered × amount / ordered)` at the delivered
/// asset's scale, the refund likewise at the ordered asset's scale.
pub(super) struct Allocating {
    pub delivered_minor: rust_decimal::Decimal,
    pub delivered_scale: u32,
    pub unfilled_minor: rust_decimal::Decimal,
    pub ordered_scale: u32,
    pub ordered_total: rust_decimal::Decimal,
}

/// Runs `pass` over `trade`'s member trades as a bulk step; returns how many trades it moved in
/// all (this attempt and earlier ones).
pub(super) async fn run(
    ledger: &Ledger,
    ctx: &ActivityContext,
    actor: &Actor,
    trade: &ExternalTrade,
    pass: &Pass<'_>,
) -> Result<i64, ActivityError> {
    let chunks = PassChunks {
        ledger,
        actor,
        trade,
        pass,
        workflow_id: trade.workflow_id(),
    };
    heartbeat::while_working(ctx, open_accounts(ledger, trade, pass)).await?;
    let progress = bulk::run(ctx, pass.step, chunks).await?;
    Ok(i64::try_from(progress.done).unwrap_or(i64::MAX))
}

/// Opens the accounts the pass posts to for every member of the trade that lacks them, in one
/// set-based pass before the first chunk (chunks then only look accounts up). Planner
/// statistics are refreshed after opening many, so the chunks' look-ups are planned for the
/// table as it now is.
async fn open_accounts(
    ledger: &Ledger,
    trade: &ExternalTrade,
    pass: &Pass<'_>,
) -> Result<(), ActivityError> {
    /// Opening more accounts than this changes the tables enough to refresh the statistics.
    const MANY: u64 = 50_000;
    let mut tx = ledger.pool().begin().await.map_err(LedgerError::from)?;
    chart::prepare_owners(&mut tx)
        .await
        .map_err(LedgerError::from)?;
    member_trades::stage_members(&mut tx, trade.external_trade_id)
        .await
        .map_err(trade_book_failure)?;
    let opened = chart::open_for_staged_owners(&mut tx, OwnerKind::Member, pass.accounts)
        .await
        .map_err(ledger_failure)?;
    tx.commit().await.map_err(LedgerError::from)?;
    if opened >= MANY {
        ledger
            .refresh_planner_statistics()
            .await
            .map_err(ledger_failure)?;
    }
    Ok(())
}

struct PassChunks<'a> {
    ledger: &'a Ledger,
    actor: &'a Actor,
    trade: &'a ExternalTrade,
    pass: &'a Pass<'a>,
    workflow_id: String,
}

impl Chunks for PassChunks<'_> {
    type Cursor = Uuid;

    async fn extent(&mut self) -> Result<Extent, ActivityError> {
        let waiting = member_trades::count_in(
            self.ledger.pool(),
            self.trade.external_trade_id,
            self.pass.transition.from(),
        )
        .await
        .map_err(trade_book_failure)?;
        let total = u64::try_from(self.trade.member_trades).unwrap_or(0);
        Ok(Extent {
            total,
            done: total.saturating_sub(waiting),
        })
    }

    fn next(
        &mut self,
        after: Option<&Uuid>,
    ) -> impl Future<Output = Result<Option<Chunk<Uuid>>, ActivityError>> + Send {
        let after = after.copied();
        async move {
            let mut attempt = 1;
            loop {
                match self.chunk(after).await {
                    Err(error) if attempt < CHUNK_ATTEMPTS && error.lost_race() => attempt += 1,
                    result => return result.map_err(ChunkError::into_activity),
                }
            }
        }
    }
}

impl PassChunks<'_> {
    async fn chunk(&self, after: Option<Uuid>) -> Result<Option<Chunk<Uuid>>, ChunkError> {
        let step_key = format!("{}/{}", self.workflow_id, self.pass.step);
        let mut tx = ChunkTransaction::begin(self.ledger.pool(), &step_key)
            .await
            .map_err(LedgerError::from)?;
        let conn = tx.conn().map_err(LedgerError::from)?;
        let taken = member_trades::take_chunk(
            conn,
            self.trade.external_trade_id,
            self.pass.transition.from(),
            self.pass.amount,
            after,
            CHUNK,
        )
        .await?;
        let Some(taken) = taken else {
            return Ok(None);
        };
        if let Some(rule) = &self.pass.allocation {
            allocate(conn, rule).await.map_err(LedgerError::from)?;
        }
        staged::prepare(conn).await.map_err(LedgerError::from)?;
        self.stage(conn).await.map_err(LedgerError::from)?;
        // The trades move before the entries are sealed: sealing holds the chain head, which
        // every writer waits for, until the commit.
        member_trades::move_chunk(conn, self.actor, self.pass.transition).await?;
        staged::seal(conn).await?;
        tx.commit().await.map_err(LedgerError::from)?;
        Ok(Some(Chunk {
            last: taken.last,
            rows: taken.rows,
        }))
    }

    /// Stages one entry per chunk trade with a non-zero leg, keyed by trade.
    async fn stage(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let member_accounts: String = (0..self.pass.accounts.len())
            .map(|i| {
                format!(
                    " left join account m{i} on m{i}.pot_id = p.pot_id
                         and m{i}.asset_code = ($1::text[])[{n}]
                         and m{i}.purpose = ($2::text[])[{n}]",
                    n = i + 1
                )
            })
            .collect();
        // A member account that is missing leaves a null account id, which the staging table
        // refuses: a trade never moves without its entry.
        sqlx::query(&format!(
            "insert into staged_posting (seq, leg, account_id, amount)
             select c.seq, l.leg, l.account_id, l.amount
             from chunk_trade c
             left join pot p on p.owner_kind = 'member' and p.owner_ref = c.member_id
             {member_accounts}
             cross join (select $3::bigint[] as h) house
             cross join lateral (values {}) as l (leg, account_id, amount)
             where l.amount <> 0",
            self.pass.legs
        ))
        .bind(
            self.pass
                .accounts
                .iter()
                .map(|(asset, _)| asset.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            self.pass
                .accounts
                .iter()
                .map(|(_, purpose)| *purpose)
                .collect::<Vec<_>>(),
        )
        .bind(self.pass.house.iter().map(|a| a.0).collect::<Vec<i64>>())
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "insert into staged_entry (seq, idempotency_key, kind, process, workflow_id,
                 effective_date, metadata)
             select c.seq, $1 || '/' || $2 || '/' || c.trade_id, $3, $4, $1, $5,
                    jsonb_build_object('member_id', c.member_id, 'order_ref', $6,
                                       'trade_id', c.trade_id::text)
             from chunk_trade c
             where exists (select 1 from staged_posting s where s.seq = c.seq)",
        )
        .bind(&self.workflow_id)
        .bind(self.pass.step)
        .bind(self.pass.kind)
        .bind(PROCESS)
        .bind(self.pass.effective)
        .bind(&self.trade.order_ref)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Sets each chunk trade's share and refund by [`Allocating`]'s rule. `div` is PostgreSQL's
/// exact integer quotient (truncating, and every operand is non-negative: a floor).
async fn allocate(conn: &mut PgConnection, rule: &Allocating) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update chunk_trade set
             share = round(div($1 * amount, $5) / (10::numeric ^ $2), $2),
             refund = round(div($3 * amount, $5) / (10::numeric ^ $4), $4)",
    )
    .bind(rule.delivered_minor)
    .bind(i32::try_from(rule.delivered_scale).unwrap_or(0))
    .bind(rule.unfilled_minor)
    .bind(i32::try_from(rule.ordered_scale).unwrap_or(0))
    .bind(rule.ordered_total)
    .execute(conn)
    .await?;
    Ok(())
}

/// A chunk's failure: the ledger's (a rejection, or a race worth running again) or the trade
/// book's (a refused move).
enum ChunkError {
    Ledger(LedgerError),
    TradeBook(crate::trade_book::TradeBookError),
}

impl ChunkError {
    fn lost_race(&self) -> bool {
        match self {
            Self::Ledger(error) => error.lost_race(),
            Self::TradeBook(crate::trade_book::TradeBookError::Database(error)) => {
                acme_ledger::posting::lost_race(error)
            }
            Self::TradeBook(_) => false,
        }
    }

    fn into_activity(self) -> ActivityError {
        match self {
            Self::Ledger(error) => ledger_failure(error),
            Self::TradeBook(error) => trade_book_failure(error),
        }
    }
}

impl From<LedgerError> for ChunkError {
    fn from(error: LedgerError) -> Self {
        Self::Ledger(error)
    }
}

impl From<crate::trade_book::TradeBookError> for ChunkError {
    fn from(error: crate::trade_book::TradeBookError) -> Self {
        Self::TradeBook(error)
    }
}
