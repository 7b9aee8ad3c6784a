//! Members: the `member` row that ties a member id to their pot and model portfolio. The pot
//! and its accounts are the ledger's; this is the trade book's side of onboarding and lookups.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::TradeBookError;

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Member {
    pub member_id: String,
    pub pot_id: i64,
    /// `None` until the member chooses one; such a member cannot invest.
    pub portfolio_code: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A member's model portfolio and cash accounts (ledger account ids), with the bank mirror's.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberCash {
    pub portfolio_code: Option<String>,
    pub cash_available: i64,
    pub cash_reserved: i64,
    pub bank: i64,
}

/// Adds the members whose pots are open (`member_ids[i]` with `portfolios[i]`), set-based;
/// members that exist are left as they are. Returns how many were new.
pub async fn insert(
    pool: &PgPool,
    member_ids: &[String],
    portfolios: &[Option<String>],
) -> Result<u64, TradeBookError> {
    let inserted = sqlx::query(
        "insert into member (member_id, pot_id, portfolio_code)
         select m.member_id, p.pot_id, m.portfolio_code
         from unnest($1::text[], $2::text[]) as m (member_id, portfolio_code)
         join pot p on p.owner_kind = 'member' and p.owner_ref = m.member_id
         on conflict (member_id) do nothing",
    )
    .bind(member_ids)
    .bind(portfolios)
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected())
}

/// How many of these members are onboarded, so a seed can skip a chunk it has done.
pub async fn count_existing(pool: &PgPool, member_ids: &[String]) -> Result<u64, TradeBookError> {
    let count: i64 = sqlx::query_scalar("select count(*) from member where member_id = any($1)")
        .bind(member_ids)
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The `cash` accounts (`available`, `reserved`) of each member in `member_ids`, in that order;
/// `None` for a member not onboarded (or without those accounts). One statement for a chunk of
/// a bulk booking.
pub async fn cash_accounts_in_bulk(
    pool: &PgPool,
    member_ids: &[String],
    cash: &str,
) -> Result<Vec<Option<(i64, i64)>>, TradeBookError> {
    let rows: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "select r.n, available.account_id, reserved.account_id
         from unnest($1::text[]) with ordinality as r (member_id, n)
         left join member m on m.member_id = r.member_id
         left join account available on available.pot_id = m.pot_id
             and available.asset_code = $2 and available.purpose = 'available'
         left join account reserved on reserved.pot_id = m.pot_id
             and reserved.asset_code = $2 and reserved.purpose = 'reserved'
         order by r.n",
    )
    .bind(member_ids)
    .bind(cash)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(_, available, reserved)| available.zip(reserved))
        .collect())
}

/// The member, if onboarded.
pub async fn find(pool: &PgPool, member_id: &str) -> Result<Option<Member>, TradeBookError> {
    Ok(sqlx::query_as(
        "select member_id, pot_id, portfolio_code, created_at from member where member_id = $1",
    )
    .bind(member_id)
    .fetch_optional(pool)
    .await?)
}

/// Whether the member is onboarded.
pub async fn exists(pool: &PgPool, member_id: &str) -> Result<bool, TradeBookError> {
    let known: Option<bool> = sqlx::query_scalar("select true from member where member_id = $1")
        .bind(member_id)
        .fetch_optional(pool)
        .await?;
    Ok(known.is_some())
}

/// The member's portfolio and `cash` accounts, and the `available` account of the external pot
/// `bank_pot`; `None` if the member (or one of those accounts) does not exist.
pub async fn cash(
    pool: &PgPool,
    member_id: &str,
    cash: &str,
    bank_pot: &str,
) -> Result<Option<MemberCash>, TradeBookError> {
    Ok(sqlx::query_as(
        "select m.portfolio_code, available.account_id as cash_available,
                reserved.account_id as cash_reserved, bank.account_id as bank
         from member m
         join account available on available.pot_id = m.pot_id
             and available.asset_code = $2 and available.purpose = 'available'
         join account reserved on reserved.pot_id = m.pot_id
             and reserved.asset_code = $2 and reserved.purpose = 'reserved'
         join pot bank_pot on bank_pot.owner_kind = 'external' and bank_pot.owner_ref = $3
         join account bank on bank.pot_id = bank_pot.pot_id
             and bank.asset_code = $2 and bank.purpose = 'available'
         where m.member_id = $1",
    )
    .bind(member_id)
    .bind(cash)
    .bind(bank_pot)
    .fetch_optional(pool)
    .await?)
}

/// Gives a member the model portfolio `portfolio` (which must exist); returns the one it had.
/// Setting the same one again changes nothing.
pub async fn set_portfolio(
    pool: &PgPool,
    member_id: &str,
    portfolio: &str,
) -> Result<Option<String>, TradeBookError> {
    let mut tx = pool.begin().await?;
    let before: Option<String> =
        sqlx::query_scalar("select portfolio_code from member where member_id = $1 for update")
            .bind(member_id)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query("update member set portfolio_code = $2 where member_id = $1")
        .bind(member_id)
        .bind(portfolio)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(before)
}
