//! Shared fixtures: a database with the platform's reference data, members, and a dealing day
//! closed into one external trade.

use acme_activities::dealing::{external_trade_id, order_ref};
use acme_activities::members::{FUNDS, NewMember, ensure_reference_data, onboard_members};
use acme_activities::trade_book::member_trades::Amount;
use acme_activities::trade_book::{
    Actor, MemberTransition, Side, TradeBookError, external_trades, member_trades,
};
use acme_ledger::testkit::TestDatabase;
use acme_sdk::AssetCode;
use chrono::{Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

pub fn monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

pub fn fund() -> AssetCode {
    AssetCode::parse(FUNDS[0].0).unwrap()
}

pub fn actor(workflow_id: &str) -> Actor {
    Actor::new(workflow_id, "test:trade-book")
}

/// A fresh database with reference data and `members` members (`m-0`, `m-1`, ...).
pub async fn books(members: usize) -> TestDatabase {
    let db = TestDatabase::create(4)
        .await
        .expect("create a test database: is the stack up? run ops/stack up");
    ensure_reference_data(&db.ledger).await.unwrap();
    let new: Vec<NewMember> = (0..members)
        .map(|n| NewMember {
            member_id: format!("m-{n}"),
            portfolio: Some("balanced".into()),
        })
        .collect();
    onboard_members(&db.ledger, &new).await.unwrap();
    db
}

/// One buy of £10 of [`fund`] per member, then the day closed: the trades aggregated into one
/// sealed external trade. Returns the member trade ids and the external trade's id.
pub async fn closed_day(pool: &PgPool, members: usize) -> (Vec<Uuid>, Uuid) {
    let fund = fund();
    let mut trades = Vec::new();
    for n in 0..members {
        let ids = member_trades::create_buys(
            pool,
            &actor(&format!("invest/r-{n}")),
            &format!("invest/r-{n}"),
            &format!("m-{n}"),
            &[&fund],
            &[Decimal::TEN],
        )
        .await
        .unwrap();
        trades.extend(ids);
    }
    let external = open_external_trade(pool).await;
    let close = actor(&format!("dealing/{}", monday()));
    let cutoff = Utc::now() + Duration::minutes(1);
    let aggregated =
        member_trades::aggregate_chunk(pool, &close, monday(), cutoff, Uuid::nil(), 1_000)
            .await
            .unwrap()
            .map(|chunk| chunk.moved);
    assert_eq!(aggregated, Some(members as u64));
    external_trades::seal(pool, monday()).await.unwrap();
    (trades, external)
}

/// The external trade of Monday's buys of [`fund`], created as closing the day creates it.
pub async fn open_external_trade(pool: &PgPool) -> Uuid {
    let fund = fund();
    let reference = order_ref(monday(), fund.as_str(), Side::Buy);
    let external = external_trade_id(&reference);
    external_trades::create(
        pool,
        &actor(&format!("dealing/{}", monday())),
        external,
        monday(),
        fund.as_str(),
        Side::Buy,
        &reference,
    )
    .await
    .unwrap();
    external
}

/// Moves up to `limit` of `external`'s member trades after `after` by `transition`, as a
/// dealing chunk does, in one transaction (an allocation gives each a share of 1 and no refund).
/// Returns the chunk's last trade id and how many moved; `None` when none was left to take.
pub async fn move_chunk(
    pool: &PgPool,
    actor: &Actor,
    external: Uuid,
    transition: MemberTransition,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Option<(Uuid, u64)>, TradeBookError> {
    let mut tx = pool.begin().await?;
    let Some(taken) = member_trades::take_chunk(
        &mut tx,
        external,
        transition.from(),
        Amount::Ordered,
        after,
        limit,
    )
    .await?
    else {
        return Ok(None);
    };
    sqlx::query("update chunk_trade set share = 1, refund = 0")
        .execute(&mut *tx)
        .await?;
    let moved = member_trades::move_chunk(&mut tx, actor, transition).await?;
    tx.commit().await?;
    Ok(Some((taken.last, moved)))
}
