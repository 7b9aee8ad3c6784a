//! Member trades: created pending by the invest and sell processes, aggregated into external
//! trades at the cut-off, then priced, settled or released by their external trade's workflow.
//! Status changes are set-based (a dealing day moves thousands of trades per statement) and so
//! is their history: each statement's `returning` feeds one `insert … select` into
//! `trade_transition`.

use acme_sdk::AssetCode;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgPool, Postgres};
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
/// cash for a buy and units for a sell (DESIGN.md §3).
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
    sqlx::query(concat!(
        "with created as (
             insert into member_trade
                 (trade_id, origin_workflow_id, member_id, asset_code, side, cash_amount, units)
             select trade_id, $2, $3, asset_code, $6,
                    case when $6 = 'buy' then amount end, case when $6 = 'sell' then amount end
             from unnest($1::uuid[], $4::text[], $5::numeric[]) as t (trade_id, asset_code, amount)
             on conflict (trade_id) do nothing
             returning trade_id) ",
        record_transitions!(),
        "select 'member', trade_id, null, 'pending', $7, $8, $9 from created"
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
    .execute(pool)
    .await?;
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

/// [`MemberTransition::Aggregate`] for up to `limit` pending trades created up to `cutoff`:
/// each joins the external trade of `dealing_date`, its asset and side, if that one is still
/// open (created, total not sealed). Returns how many moved; 0 when none is left.
pub async fn aggregate_chunk(
    pool: &PgPool,
    actor: &Actor,
    dealing_date: NaiveDate,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<u64, TradeBookError> {
    let transition = MemberTransition::Aggregate;
    let query = sqlx::query(concat!(
        "with chunk as (
             select t.trade_id, e.external_trade_id
             from member_trade t
             join external_trade e on e.dealing_date = $1 and e.asset_code = t.asset_code
                 and e.side = t.side and e.status = 'created' and e.ordered_total is null
             where t.status = $4 and t.created_at <= $2
             order by t.trade_id
             limit $3
             for update of t skip locked for share of e),
         moved as (
             update member_trade t
             set status = $5, dealing_date = $1, external_trade_id = chunk.external_trade_id
             from chunk where t.trade_id = chunk.trade_id
             returning t.trade_id) ",
        record_transitions!(),
        "select 'member', trade_id, $4, $5, $6, $7, $8 from moved"
    ))
    .bind(dealing_date)
    .bind(cutoff)
    .bind(limit);
    let moved = moving(query, transition, actor, pool).await?;
    Ok(moved)
}

/// Which amount of a member trade a pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// What the member put in: cash for a buy, units for a sell.
    Ordered,
    /// What the member was allocated of the delivered asset.
    Delivered,
}

impl Amount {
    /// The SQL expression (a fixed column expression, never input).
    fn column(self) -> &'static str {
        match self {
            Self::Ordered => "coalesce(cash_amount, units)",
            Self::Delivered => "delivered",
        }
    }
}

/// One member trade of an external trade, as the dealing passes read them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberLine {
    pub trade_id: Uuid,
    pub member_id: String,
    pub amount: Decimal,
}

/// The first `limit` member trades of an external trade still in `status`, by trade id.
pub async fn chunk(
    pool: &PgPool,
    external_trade_id: Uuid,
    status: MemberTradeStatus,
    amount: Amount,
    limit: i64,
) -> Result<Vec<MemberLine>, TradeBookError> {
    let select = format!(
        "select trade_id, member_id, {} as amount from member_trade
         where external_trade_id = $1 and status = $2
         order by trade_id limit $3",
        amount.column()
    );
    Ok(sqlx::query_as(&select)
        .bind(external_trade_id)
        .bind(status)
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// `transition` for the trades `ids`, set-based; trades already moved (a repeat) are left as
/// they are, a trade anywhere else refuses the transition. Returns how many moved.
pub async fn transition(
    pool: &PgPool,
    actor: &Actor,
    ids: &[Uuid],
    transition: MemberTransition,
) -> Result<u64, TradeBookError> {
    let query = sqlx::query(concat!(
        "with moved as (
             update member_trade set status = $3
             where trade_id = any($1) and status = $2
             returning trade_id) ",
        record_transitions!(),
        "select 'member', trade_id, $2, $3, $4, $5, $6 from moved"
    ))
    .bind(ids);
    let moved = moving(query, transition, actor, pool).await?;
    refuse_strays(pool, ids, transition, moved).await?;
    Ok(moved)
}

/// [`MemberTransition::Price`] for the trades `ids`, each with its allocation: `shares[i]` of
/// the delivered asset and `refunds[i]` of the ordered asset. Repeats as [`transition`].
pub async fn price(
    pool: &PgPool,
    actor: &Actor,
    ids: &[Uuid],
    shares: &[Decimal],
    refunds: &[Decimal],
) -> Result<u64, TradeBookError> {
    let transition = MemberTransition::Price;
    let query = sqlx::query(concat!(
        "with moved as (
             update member_trade t set status = $5, delivered = a.share, refunded = a.refund
             from unnest($1::uuid[], $2::numeric[], $3::numeric[]) as a (trade_id, share, refund)
             where t.trade_id = a.trade_id and t.status = $4
             returning t.trade_id) ",
        record_transitions!(),
        "select 'member', trade_id, $4, $5, $6, $7, $8 from moved"
    ))
    .bind(ids)
    .bind(shares)
    .bind(refunds);
    let moved = moving(query, transition, actor, pool).await?;
    refuse_strays(pool, ids, transition, moved).await?;
    Ok(moved)
}

/// Runs a set-based move whose last five parameters are the transition's from, to and name and
/// the actor's workflow id and who, in that order; returns how many trades moved.
async fn moving<'q>(
    query: Query<'q, Postgres, PgArguments>,
    transition: MemberTransition,
    actor: &'q Actor,
    pool: &PgPool,
) -> Result<u64, TradeBookError> {
    Ok(query
        .bind(transition.from())
        .bind(transition.to())
        .bind(transition.name())
        .bind(&actor.workflow_id)
        .bind(&actor.who)
        .execute(pool)
        .await?
        .rows_affected())
}

/// After a set-based move of `moved` of `ids`: if some did not move, they must already be where
/// the transition leads (a repeat); one anywhere else is refused. Only costs a query on a
/// shortfall, which a first run never has.
async fn refuse_strays(
    pool: &PgPool,
    ids: &[Uuid],
    transition: MemberTransition,
    moved: u64,
) -> Result<(), TradeBookError> {
    if usize::try_from(moved).is_ok_and(|moved| moved >= ids.len()) {
        return Ok(());
    }
    let stray: Option<(Uuid, MemberTradeStatus)> = sqlx::query_as(
        "select trade_id, status from member_trade
         where trade_id = any($1) and status <> $2 and status <> $3
         order by trade_id limit 1",
    )
    .bind(ids)
    .bind(transition.from())
    .bind(transition.to())
    .fetch_optional(pool)
    .await?;
    match stray {
        Some((trade_id, actual)) => Err(TradeBookError::Refused {
            kind: TradeKind::Member,
            trade_id,
            transition: transition.to_string(),
            actual: actual.to_string(),
        }),
        None => Ok(()),
    }
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
