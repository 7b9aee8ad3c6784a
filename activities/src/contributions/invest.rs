//! Investing a funded schedule, as a bulk step (`acme_sdk::bulk`): each chunk is one
//! transaction over the next accepted rows in line order (keyset on the line number), set-based
//! from end to end. Per row it stages one journal entry, the contribution received from the
//! bank mirror into the member's reserved cash (`<workflow id>/invest/<line>`), creates the
//! member's pending buy trades split by the model portfolio exactly as `invest-cash` splits
//! (each weight's share rounded down to the penny, the pennies left to the heaviest weight),
//! moves the rows to `invested` and seals the entries (`acme_ledger::staged`). A chunk run again
//! takes only rows not yet invested; the trades then go to the next dealing cycle.

use acme_ledger::chunk::ChunkTransaction;
use acme_ledger::{AccountId, Ledger, LedgerError, OwnerKind, staged};
use acme_sdk::bulk::{self, Chunk, Chunks, Extent, Progress};
use acme_sdk::{AssetCode, BusinessError};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use uuid::Uuid;

use crate::ledger_failure;
use crate::members::{BANK_POT, CASH};
use crate::trade_book::{member_trades, trade_book_failure};

/// Rows per chunk unless the request says otherwise.
pub const DEFAULT_CHUNK_ROWS: i64 = 20_000;
/// The most rows one chunk may take (its entries and trades stay a few tens of megabytes).
pub const MAX_CHUNK_ROWS: i64 = 100_000;
/// The step's name: the middle of each entry's key, and of its bulk progress.
pub const STEP: &str = "invest";
/// The process that posts the entries.
const PROCESS: &str = "invest-contributions";

/// What to invest: a schedule, by the run that invests it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invest {
    pub schedule_id: Uuid,
    pub workflow_id: String,
    pub effective_date: NaiveDate,
    pub chunk_rows: i64,
}

/// What investing did, over every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invested {
    pub rows: i64,
    pub amount: Decimal,
    pub trades: i64,
    pub chunks: u64,
}

/// Invests every accepted row of a funded schedule (refused with `schedule.not_funded`
/// otherwise), chunk by chunk, heartbeating progress; then marks the schedule invested.
pub async fn invest(
    ledger: &Ledger,
    ctx: &ActivityContext,
    request: &Invest,
) -> Result<Invested, ActivityError> {
    if !(1..=MAX_CHUNK_ROWS).contains(&request.chunk_rows) {
        return Err(BusinessError::new(
            "chunk_size.out_of_range",
            format!(
                "chunk size {} must be 1 to {MAX_CHUNK_ROWS}",
                request.chunk_rows
            ),
        )
        .into());
    }
    let pool = ledger.pool();
    let schedule: Option<(i64, String, Option<String>)> = sqlx::query_as(
        "select schedule_no, status, payment_reference from contribution_schedule
         where schedule_id = $1",
    )
    .bind(request.schedule_id)
    .fetch_optional(pool)
    .await
    .map_err(LedgerError::from)?;
    let Some((schedule_no, status, payment_reference)) = schedule else {
        return Err(BusinessError::new(
            "schedule.unknown",
            format!("no schedule {}", request.schedule_id),
        )
        .into());
    };
    if status != "funded" && status != "invested" {
        return Err(BusinessError::new(
            "schedule.not_funded",
            format!(
                "schedule {} is {status}: it is invested only once its payment is matched",
                request.schedule_id
            ),
        )
        .into());
    }
    // A stored schedule always has one (the table's check); funded implies stored.
    let payment_reference = payment_reference.ok_or_else(|| {
        BusinessError::new(
            "schedule.unreferenced",
            format!("schedule {} has no payment reference", request.schedule_id),
        )
    })?;
    let cash = AssetCode::parse(CASH).map_err(ActivityError::from)?;
    let bank_pot = ledger
        .open_pot(OwnerKind::External, BANK_POT)
        .await
        .map_err(ledger_failure)?;
    let bank = ledger
        .open_account(bank_pot, &cash, "available", true)
        .await
        .map_err(ledger_failure)?;
    let chunks = InvestChunks {
        ledger,
        request,
        schedule_no,
        payment_reference,
        bank,
    };
    let progress: Progress<i64> = bulk::run(ctx, STEP, chunks).await?;
    let (rows, amount, trades): (i64, Decimal, i64) = sqlx::query_as(
        "with invested as (
             update contribution_schedule set status = 'invested'
             where schedule_no = $1 and status = 'funded'
               and not exists (select 1 from contribution_row
                               where schedule_no = $1 and status = 'accepted'))
         select count(*), coalesce(sum(employer_amount + member_amount), 0),
                (select count(*) from member_trade
                 where starts_with(origin_workflow_id, $2 || '/'))
         from contribution_row where schedule_no = $1 and status = 'invested'",
    )
    .bind(schedule_no)
    .bind(&request.workflow_id)
    .fetch_one(pool)
    .await
    .map_err(LedgerError::from)?;
    Ok(Invested {
        rows,
        amount,
        trades,
        chunks: progress.chunks,
    })
}

struct InvestChunks<'a> {
    ledger: &'a Ledger,
    request: &'a Invest,
    schedule_no: i64,
    /// The reference the employer paid under: each entry carries it, so reconciliation sums a
    /// schedule's entries against its line on the bank's statement.
    payment_reference: String,
    bank: AccountId,
}

impl Chunks for InvestChunks<'_> {
    type Cursor = i64;

    async fn extent(&mut self) -> Result<Extent, ActivityError> {
        let (total, done): (i64, i64) = sqlx::query_as(
            "select count(*), count(*) filter (where status = 'invested')
             from contribution_row where schedule_no = $1",
        )
        .bind(self.schedule_no)
        .fetch_one(self.ledger.pool())
        .await
        .map_err(LedgerError::from)?;
        Ok(Extent {
            total: u64::try_from(total).unwrap_or(0),
            done: u64::try_from(done).unwrap_or(0),
        })
    }

    async fn next(&mut self, after: Option<&i64>) -> Result<Option<Chunk<i64>>, ActivityError> {
        let step_key = format!("{}/{STEP}", self.request.workflow_id);
        let mut tx = ChunkTransaction::begin(self.ledger.pool(), &step_key)
            .await
            .map_err(LedgerError::from)?;
        let conn = tx.conn().map_err(LedgerError::from)?;
        let Some((last, rows)) = self.take(conn, after.copied().unwrap_or(0)).await? else {
            return Ok(None);
        };
        staged::prepare(conn).await.map_err(LedgerError::from)?;
        self.stage(conn).await.map_err(LedgerError::from)?;
        split_buys(conn).await.map_err(LedgerError::from)?;
        member_trades::create_staged_buys(conn, "contributions.invest", &self.request.workflow_id)
            .await
            .map_err(trade_book_failure)?;
        sqlx::query(
            "update contribution_row r set status = 'invested'
             from chunk_contribution c
             where r.schedule_no = $1 and r.line_no = c.line_no and r.status = 'accepted'",
        )
        .bind(self.schedule_no)
        .execute(&mut *conn)
        .await
        .map_err(LedgerError::from)?;
        staged::seal(conn).await.map_err(ledger_failure)?;
        tx.commit().await.map_err(LedgerError::from)?;
        Ok(Some(Chunk {
            last,
            rows: u64::try_from(rows).unwrap_or(0),
        }))
    }
}

impl InvestChunks<'_> {
    /// Takes the next accepted rows after line `after` into `chunk_contribution`, with each
    /// member's portfolio and reserved cash account (read from the trade book's `member` and the
    /// ledger's `account`); returns the last line and the count, `None` when none is left.
    async fn take(
        &self,
        conn: &mut PgConnection,
        after: i64,
    ) -> Result<Option<(i64, i64)>, ActivityError> {
        sqlx::query(
            "create temp table chunk_contribution on commit drop as
             select row_number() over (order by c.line_no) as seq, c.*
             from (select r.line_no, r.member_id, r.employer_amount + r.member_amount as amount,
                          m.portfolio_code, a.account_id as reserved
                   from contribution_row r
                   join member m on m.member_id = r.member_id
                   left join account a on a.pot_id = m.pot_id and a.asset_code = $4
                                      and a.purpose = 'reserved'
                   where r.schedule_no = $1 and r.status = 'accepted' and r.line_no > $2
                   order by r.line_no limit $3) c",
        )
        .bind(self.schedule_no)
        .bind(after)
        .bind(self.request.chunk_rows)
        .bind(CASH)
        .execute(&mut *conn)
        .await
        .map_err(LedgerError::from)?;
        let (rows, last, unready): (i64, Option<i64>, Option<String>) = sqlx::query_as(
            "select count(*), max(line_no),
                    min(member_id) filter (where portfolio_code is null or reserved is null)
             from chunk_contribution",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(LedgerError::from)?;
        if let Some(member_id) = unready {
            // Checked at import; a member whose risk profile was removed since is an operator's
            // call, and the schedule waits (nothing of this chunk is written).
            return Err(BusinessError::new(
                "member.no_risk_profile",
                format!("member {member_id} has no risk profile or cash account to invest into"),
            )
            .into());
        }
        Ok(last.map(|last| (last, rows)))
    }

    /// One entry per row: the contribution from the bank mirror into the member's reserved cash.
    async fn stage(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "insert into staged_posting (seq, leg, account_id, amount)
             select c.seq, l.leg, l.account_id, l.amount
             from chunk_contribution c
             cross join lateral (values (0::smallint, $1::bigint, -c.amount),
                                        (1::smallint, c.reserved, c.amount))
                 as l (leg, account_id, amount)",
        )
        .bind(self.bank.0)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "insert into staged_entry (seq, idempotency_key, kind, process, workflow_id,
                 effective_date, metadata)
             select seq, $1 || '/' || $2 || '/' || line_no, 'contribution.received', $3, $1, $4,
                    jsonb_build_object('member_id', member_id, 'schedule_id', $5::text,
                                       'line', line_no::text, 'payment_ref', $6::text)
             from chunk_contribution",
        )
        .bind(&self.request.workflow_id)
        .bind(STEP)
        .bind(PROCESS)
        .bind(self.request.effective_date)
        .bind(self.request.schedule_id.to_string())
        .bind(&self.payment_reference)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The chunk's buys into `staged_buy`, split by each member's model portfolio as
/// `invest-cash`'s `split_by_weights` does: a weight's share rounded down to the penny, the
/// pennies left over to the heaviest weight (the first asset code among equals), no zero trades.
async fn split_buys(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "create temp table staged_buy on commit drop as
         select line_no::text as trade_key, member_id, asset_code, cash
         from (select s.*, s.share + case when s.rank = 1
                   then s.amount - sum(s.share) over (partition by s.line_no) else 0 end as cash
               from (select c.line_no, c.member_id, c.amount, w.asset_code,
                            trunc(c.amount * w.weight, 2) as share,
                            row_number() over (partition by c.line_no
                                               order by w.weight desc, w.asset_code) as rank
                     from chunk_contribution c
                     join model_weight w on w.portfolio_code = c.portfolio_code) s) t
         where cash > 0",
    )
    .execute(conn)
    .await?;
    Ok(())
}
