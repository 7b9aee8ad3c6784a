//! Member trades: created pending by the invest and sell processes, aggregated into external
//! trades at the cut-off, then priced, settled or released by their external trade's workflow.
//! Status changes are set-based (a dealing day moves thousands of trades per statement) and so
//! is their history: each statement's `returning` feeds one `insert … select` into
//! `trade_transition`.

use acme_sdk::AssetCode;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::transition::{CREATE, record_transitions};
use super::{Actor, MemberTradeStatus, MemberTransition, Side, TradeBookError, TradeKind};

/// Namespace of member trade ids (uuid v5 of `<workflow id>/<side>/<asset>`).
const TRADE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d0c_1f7e_4b1a_4c55_9a3e_2f51_7a0d_b8c4);

/// The id a member trade gets from the workflow that creates it: the same inputs always give the
/// same id, which is what makes creating trades idempotent.
pub fn trade_id(workflow_id: &str, side: Side, asset: &AssetCode) -> Uuid {
    Uuid::new_v5(
        &TRADE_ID_NAMESPACE,
        format!("{workflow_id}/{side}/{asset}").as_bytes(),
    )
}

/// Creates pending buy trades of one member (`assets[i]` for `cash[i]`), all or none, with ids
/// from [`trade_id`] of `origin` (the workflow the request belongs to); trades that exist are
/// left as they are. Returns the ids in order.
pub async fn create_buys(
    pool: &PgPool,
    actor: &Actor,
    origin: &str,
    member_id: &str,
    assets: &[&AssetCode],
    cash: &[Decimal],
) -> Result<Vec<Uuid>, TradeBookError> {
    create(pool, actor, origin, member_id, Side::Buy, assets, cash).await
}

/// Creates the pending sell trade of `units` of `asset` for a member, with its id from
/// [`trade_id`] of `origin`; a repeat changes nothing.
pub async fn create_sell(
    pool: &PgPool,
    actor: &Actor,
    origin: &str,
    member_id: &str,
    asset: &AssetCode,
    units: Decimal,
) -> Result<Uuid, TradeBookError> {
    let ids = create(
        pool,
        actor,
        origin,
        member_id,
        Side::Sell,
        &[asset],
        &[units],
    )
    .await?;
    ids.first()
        .copied()
        .ok_or_else(|| TradeBookError::Unreadable {
            what: "created trade ids",
            value: "none".to_owned(),
        })
}

/// Creates pending trades of one side in bulk, row `i` being `amounts[i]` of `assets[i]` for
/// `member_ids[i]`, created by the workflow `origins[i]` (its id is [`trade_id`] of that origin,
/// and the history records the creation under it, done by `who`), all in one statement; trades
/// that exist are left as they are. Returns how many were new. The path for seeding and
/// booking by the million (`acme member seed --buys`); a member process creates its own trades
/// with [`create_buys`] or [`create_sell`], which leave the same rows.
pub async fn create_in_bulk(
    pool: &PgPool,
    who: &str,
    side: Side,
    origins: &[String],
    member_ids: &[String],
    assets: &[&str],
    amounts: &[Decimal],
) -> Result<u64, TradeBookError> {
    let ids: Vec<Uuid> = origins
        .iter()
        .zip(assets)
        .map(|(origin, asset)| {
            Uuid::new_v5(
                &TRADE_ID_NAMESPACE,
                format!("{origin}/{side}/{asset}").as_bytes(),
            )
        })
        .collect();
    let created: i64 = sqlx::query_scalar(concat!(
        "with created as (
             insert into member_trade
                 (trade_id, origin_workflow_id, member_id, asset_code, side, cash_amount, units)
             select trade_id, origin, member_id, asset_code, $6,
                    case when $6 = 'buy' then amount end, case when $6 = 'sell' then amount end
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::numeric[])
                 as t (trade_id, origin, member_id, asset_code, amount)
             on conflict (trade_id) do nothing
             returning trade_id, origin_workflow_id),
         recorded as (",
        record_transitions!(),
        "select 'member', trade_id, null, 'pending', $7, origin_workflow_id, $8 from created)
         select count(*) from created"
    ))
    .bind(&ids)
    .bind(origins)
    .bind(member_ids)
    .bind(assets)
    .bind(amounts)
    .bind(side)
    .bind(CREATE)
    .bind(who)
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(created).unwrap_or(0))
}

/// Creates pending buy trades from the caller's temporary table
/// `staged_buy (trade_key text, member_id text, asset_code text, cash numeric)`, in the
/// caller's transaction (a bulk step's chunk): one trade per row, its origin
/// `<workflow id>/<trade_key>` (one request of the bulk run, e.g. a schedule's line), recorded
/// by `who`. The id is the md5 uuid of `<origin>/buy/<asset>`, computed in the database (the
/// name [`trade_id`] hashes with uuid5 for a single request), so a chunk run again creates
/// nothing twice. Returns how many were new.
pub async fn create_staged_buys(
    conn: &mut PgConnection,
    who: &str,
    workflow_id: &str,
) -> Result<u64, TradeBookError> {
    create_staged(conn, who, workflow_id, Side::Buy).await
}

/// [`create_staged_buys`] for sells: pending sell trades from the caller's temporary table
/// `staged_sell (trade_key text, member_id text, asset_code text, units numeric)`, the units
/// already reserved by the caller in the same transaction. Returns how many were new.
pub async fn create_staged_sells(
    conn: &mut PgConnection,
    who: &str,
    workflow_id: &str,
) -> Result<u64, TradeBookError> {
    create_staged(conn, who, workflow_id, Side::Sell).await
}

/// The one statement behind [`create_staged_buys`] and [`create_staged_sells`]: the staged
/// table, and the column its amount goes to, follow from the side (fixed texts, never input).
async fn create_staged(
    conn: &mut PgConnection,
    who: &str,
    workflow_id: &str,
    side: Side,
) -> Result<u64, TradeBookError> {
    let (table, column, amount) = match side {
        Side::Buy => ("staged_buy", "cash_amount", "cash"),
        Side::Sell => ("staged_sell", "units", "units"),
    };
    let created: i64 = sqlx::query_scalar(&format!(
        "with created as (
             insert into member_trade
                 (trade_id, origin_workflow_id, member_id, asset_code, side, {column})
             select md5(origin || '/{side}/' || asset_code)::uuid, origin, member_id,
                    asset_code, '{side}', {amount}
             from (select $1 || '/' || trade_key as origin, * from {table}) b
             on conflict (trade_id) do nothing
             returning trade_id, origin_workflow_id),
         recorded as ({}
             select 'member', trade_id, null, 'pending', $2, origin_workflow_id, $3 from created)
         select count(*) from created",
        record_transitions!()
    ))
    .bind(workflow_id)
    .bind(CREATE)
    .bind(who)
    .fetch_one(conn)
    .await?;
    Ok(u64::try_from(created).unwrap_or(0))
}

/// How many of these trades exist (by id), so a bulk booking can skip a chunk it has done.
pub async fn count_existing(pool: &PgPool, trade_ids: &[Uuid]) -> Result<u64, TradeBookError> {
    let count: i64 =
        sqlx::query_scalar("select count(*) from member_trade where trade_id = any($1)")
            .bind(trade_ids)
            .fetch_one(pool)
            .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Creates the trades of one side and records their creation, in one statement: `amounts` are
/// cash for a buy and units for a sell (DESIGN.md §3). A trade that exists with the same content
/// is a repeat and left as it is; one that exists with other content (another member, asset or
/// amount under the same key) is refused and nothing is created, as the ledger refuses a reused
/// key ([`TradeBookError::KeyReused`]).
async fn create(
    pool: &PgPool,
    actor: &Actor,
    origin: &str,
    member_id: &str,
    side: Side,
    assets: &[&AssetCode],
    amounts: &[Decimal],
) -> Result<Vec<Uuid>, TradeBookError> {
    let ids: Vec<Uuid> = assets
        .iter()
        .map(|asset| trade_id(origin, side, asset))
        .collect();
    let codes: Vec<&str> = assets.iter().map(|a| a.as_str()).collect();
    let mut tx = pool.begin().await?;
    // The final select reads the table as it was before this statement: only trades that
    // existed already are compared with what was asked.
    let reused: Vec<Uuid> = sqlx::query_scalar(concat!(
        "with asked as (
             select * from unnest($1::uuid[], $4::text[], $5::numeric[])
                 as t (trade_id, asset_code, amount)),
         created as (
             insert into member_trade
                 (trade_id, origin_workflow_id, member_id, asset_code, side, cash_amount, units)
             select trade_id, $2, $3, asset_code, $6,
                    case when $6 = 'buy' then amount end, case when $6 = 'sell' then amount end
             from asked
             on conflict (trade_id) do nothing
             returning trade_id),
         recorded as (",
        record_transitions!(),
        "select 'member', trade_id, null, 'pending', $7, $8, $9 from created)
         select existing.trade_id from member_trade existing join asked using (trade_id)
         where (existing.origin_workflow_id, existing.member_id, existing.asset_code,
                existing.side)
               is distinct from ($2, $3, asked.asset_code, $6)
            or case when $6 = 'buy' then existing.cash_amount else existing.units end
               is distinct from asked.amount"
    ))
    .bind(&ids)
    .bind(origin)
    .bind(member_id)
    .bind(&codes)
    .bind(amounts)
    .bind(side)
    .bind(CREATE)
    .bind(&actor.workflow_id)
    .bind(&actor.who)
    .fetch_all(&mut *tx)
    .await?;
    if let Some(trade_id) = reused.first() {
        tx.rollback().await?;
        return Err(TradeBookError::KeyReused {
            trade_id: *trade_id,
            origin: origin.to_owned(),
        });
    }
    tx.commit().await?;
    Ok(ids)
}

/// The (asset, side) pairs with pending trades created up to `cutoff`.
pub async fn pending_groups(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(String, Side)>, TradeBookError> {
    Ok(sqlx::query_as(
        "select distinct asset_code, side from member_trade
         where status = 'pending' and created_at <= $1",
    )
    .bind(cutoff)
    .fetch_all(pool)
    .await?)
}

/// One chunk of [`aggregate_chunk`]: how many trades it moved and the highest trade id among
/// them, where the next chunk starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregated {
    pub moved: u64,
    pub last: Uuid,
}

/// [`MemberTransition::Aggregate`] for up to `limit` pending trades created up to `cutoff`,
/// with trade ids above `after` ([`Uuid::nil`] for the first chunk): each joins the external
/// trade of `dealing_date`, its asset and side, if that one is still open (created, total not
/// sealed). Returns `None` when none is left above `after`.
///
/// The keyset matters at scale: ordered by trade id alone, every chunk would sort (or walk past)
/// all the trades already aggregated, and the close slows with the day's size.
pub async fn aggregate_chunk(
    pool: &PgPool,
    actor: &Actor,
    dealing_date: NaiveDate,
    cutoff: DateTime<Utc>,
    after: Uuid,
    limit: i64,
) -> Result<Option<Aggregated>, TradeBookError> {
    let transition = MemberTransition::Aggregate;
    let query = sqlx::query_as(concat!(
        "with chunk as (
             select t.trade_id, e.external_trade_id
             from member_trade t
             join external_trade e on e.dealing_date = $1 and e.asset_code = t.asset_code
                 and e.side = t.side and e.status = 'created' and e.ordered_total is null
             where t.status = $4 and t.created_at <= $2 and t.trade_id > $9
             order by t.trade_id
             limit $3
             for update of t skip locked for share of e),
         moved as (
             update member_trade t
             set status = $5, dealing_date = $1, external_trade_id = chunk.external_trade_id
             from chunk where t.trade_id = chunk.trade_id
             returning t.trade_id),
         recorded as (",
        record_transitions!(),
        "select 'member', trade_id, $4, $5, $6, $7, $8 from moved)
         select count(*), (array_agg(trade_id order by trade_id desc))[1] from moved"
    ))
    .bind(dealing_date)
    .bind(cutoff)
    .bind(limit);
    let (moved, last): (i64, Option<Uuid>) = query
        .bind(transition.from())
        .bind(transition.to())
        .bind(transition.name())
        .bind(&actor.workflow_id)
        .bind(&actor.who)
        .bind(after)
        .fetch_one(pool)
        .await?;
    let moved = u64::try_from(moved).unwrap_or(0);
    acme_sdk::metrics::dealing_rows(transition.name(), moved);
    Ok(last.map(|last| Aggregated { moved, last }))
}

/// Which amount of a member trade a pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// What the member put in: cash for a buy, units for a sell.
    Ordered,
    /// What the member was allocated of the delivered asset, less what a switch reserved of it
    /// for its buys (ADR 26).
    Delivered,
}

impl Amount {
    /// The SQL expression (a fixed column expression, never input).
    fn column(self) -> &'static str {
        match self {
            Self::Ordered => "coalesce(cash_amount, units)",
            // A sell's proceeds reserved for its switch's buys are already spoken for.
            Self::Delivered => "delivered - coalesce(switched, 0)",
        }
    }
}

/// The chunk of member trades a dealing pass works on, in its transaction's `chunk_trade`
/// table: `seq` (chunk order), `trade_id`, `member_id`, `amount` (per [`Amount`]) and the
/// `share` and `refund` an allocation sets before [`move_chunk`] records them. The table is
/// the connection's own and empties at commit.
pub async fn take_chunk(
    conn: &mut PgConnection,
    external_trade_id: Uuid,
    status: MemberTradeStatus,
    amount: Amount,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Option<TakenChunk>, TradeBookError> {
    let exists: bool = sqlx::query_scalar("select to_regclass('pg_temp.chunk_trade') is not null")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        sqlx::query(
            "create temp table chunk_trade (
                 seq bigint primary key,
                 trade_id uuid not null unique,
                 member_id text not null,
                 amount numeric not null,
                 share numeric,
                 refund numeric
             ) on commit delete rows",
        )
        .execute(&mut *conn)
        .await?;
    }
    // Keyset on (external trade, trade id), the index member_trade_external_trade; rows the
    // status says are done are skipped, so a chunk repeated after a crash takes nothing twice.
    let taken: (i64, Option<Uuid>) = sqlx::query_as(&format!(
        "with taken as (
             insert into chunk_trade (seq, trade_id, member_id, amount)
             select row_number() over (order by trade_id), trade_id, member_id, {}
             from (select trade_id, member_id, cash_amount, units, delivered, switched
                   from member_trade
                   where external_trade_id = $1 and status = $2
                     and ($3::uuid is null or trade_id > $3)
                   order by trade_id limit $4) t
             returning trade_id)
         select count(*), (array_agg(trade_id order by trade_id desc))[1] from taken",
        amount.column()
    ))
    .bind(external_trade_id)
    .bind(status)
    .bind(after)
    .bind(limit)
    .fetch_one(&mut *conn)
    .await?;
    let (rows, Some(last)) = taken else {
        return Ok(None);
    };
    // The planner never sees a temporary table's statistics unless asked: without them it
    // guesses the chunk's size and may scan the trade table for every chunk.
    sqlx::query("analyze chunk_trade")
        .execute(&mut *conn)
        .await?;
    Ok(Some(TakenChunk {
        last,
        rows: u64::try_from(rows).unwrap_or(0),
    }))
}

/// Puts the member of every trade of an external trade in the ledger's `staged_owner` table
/// (`acme_ledger::chart::prepare_owners`), for opening their accounts in one pass.
pub async fn stage_members(
    conn: &mut PgConnection,
    external_trade_id: Uuid,
) -> Result<u64, TradeBookError> {
    Ok(sqlx::query(
        "insert into staged_owner (owner_ref)
         select distinct member_id from member_trade where external_trade_id = $1
         on conflict (owner_ref) do nothing",
    )
    .bind(external_trade_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// What [`take_chunk`] took: up to where, and whose trades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenChunk {
    /// The chunk's last trade id: the next chunk starts after it.
    pub last: Uuid,
    /// How many trades it took.
    pub rows: u64,
}

/// Moves every trade of the chunk (see [`take_chunk`]) by `transition`, with its history;
/// [`MemberTransition::Price`] also records each trade's `share` and `refund`. A trade of the
/// chunk no longer where the transition starts refuses the whole move.
pub async fn move_chunk(
    conn: &mut PgConnection,
    actor: &Actor,
    transition: MemberTransition,
) -> Result<u64, TradeBookError> {
    let allocation = if transition == MemberTransition::Price {
        ", delivered = c.share, refunded = c.refund"
    } else {
        ""
    };
    let moved = sqlx::query(&format!(
        "with moved as (
             update member_trade t set status = $2{allocation}
             from chunk_trade c
             where t.trade_id = c.trade_id and t.status = $1
             returning t.trade_id) {}
         select 'member', trade_id, $1, $2, $3, $4, $5 from moved",
        record_transitions!()
    ))
    .bind(transition.from())
    .bind(transition.to())
    .bind(transition.name())
    .bind(&actor.workflow_id)
    .bind(&actor.who)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let stray: Option<(Uuid, MemberTradeStatus)> = sqlx::query_as(
        "select t.trade_id, t.status from chunk_trade c join member_trade t using (trade_id)
         where t.status <> $1 order by c.seq limit 1",
    )
    .bind(transition.to())
    .fetch_optional(&mut *conn)
    .await?;
    match stray {
        Some((trade_id, actual)) => Err(TradeBookError::Refused {
            kind: TradeKind::Member,
            trade_id,
            transition: transition.to_string(),
            actual: actual.to_string(),
        }),
        None => {
            acme_sdk::metrics::dealing_rows(transition.name(), moved);
            Ok(moved)
        }
    }
}

/// How many of an external trade's member trades are in `status`.
pub async fn count_in(
    pool: &PgPool,
    external_trade_id: Uuid,
    status: MemberTradeStatus,
) -> Result<u64, TradeBookError> {
    let count: i64 = sqlx::query_scalar(
        "select count(*) from member_trade where external_trade_id = $1 and status = $2",
    )
    .bind(external_trade_id)
    .bind(status)
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// What an external trade's member trades put in (their sum) and how many there are.
pub async fn ordered(
    pool: &PgPool,
    external_trade_id: Uuid,
) -> Result<(Option<Decimal>, i64), TradeBookError> {
    Ok(sqlx::query_as(
        "select sum(coalesce(cash_amount, units)), count(*) from member_trade
         where external_trade_id = $1",
    )
    .bind(external_trade_id)
    .fetch_one(pool)
    .await?)
}

/// What an external trade's member trades were allocated: delivered, refunded, and how many.
pub async fn allocated(
    pool: &PgPool,
    external_trade_id: Uuid,
) -> Result<(Option<Decimal>, Option<Decimal>, i64), TradeBookError> {
    Ok(sqlx::query_as(
        "select sum(delivered), sum(refunded), count(*) from member_trade
         where external_trade_id = $1",
    )
    .bind(external_trade_id)
    .fetch_one(pool)
    .await?)
}

/// A member trade as `acme member show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MemberTradeView {
    pub trade_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub asset_code: String,
    pub side: Side,
    pub cash_amount: Option<Decimal>,
    pub units: Option<Decimal>,
    pub status: MemberTradeStatus,
    pub origin_workflow_id: String,
}

/// A member's latest `limit` trades, newest first.
pub async fn latest(
    pool: &PgPool,
    member_id: &str,
    limit: i64,
) -> Result<Vec<MemberTradeView>, TradeBookError> {
    Ok(sqlx::query_as(
        "select trade_id, created_at, asset_code, side, cash_amount, units, status,
                origin_workflow_id
         from member_trade where member_id = $1
         order by created_at desc, trade_id limit $2",
    )
    .bind(member_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
