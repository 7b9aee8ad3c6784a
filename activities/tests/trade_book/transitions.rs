//! Named transitions: each moves a trade from where it says, a repeat changes nothing, and a
//! trade anywhere else is refused with a typed error and left as it was.

use acme_activities::members::FUNDS;
use acme_activities::trade_book::external_trades::{self, Confirmed};
use acme_activities::trade_book::member_trades::Amount;
use acme_activities::trade_book::{
    ExternalTradeStatus, ExternalTransition, MemberTradeStatus, MemberTransition, Moved,
    TradeBookError, TradeKind, member_trades,
};
use acme_sdk::AssetCode;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::support::{actor, books, closed_day, fund, monday, move_chunk};

async fn member_status(pool: &sqlx::PgPool, trade_id: Uuid) -> MemberTradeStatus {
    sqlx::query_scalar("select status from member_trade where trade_id = $1")
        .bind(trade_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_external_trade_moves_only_from_where_its_transition_starts() {
    let db = books(2).await;
    let pool = db.ledger.pool();
    let (_, external) = closed_day(pool, 2).await;
    let workflow = actor("external-trade/2026-11-23/GB00ACMEGLB1/buy");
    let status = || async {
        external_trades::get(pool, external)
            .await
            .unwrap()
            .unwrap()
            .status
    };

    // Settling a trade not priced yet is refused, and nothing changes.
    let refused = external_trades::advance(pool, &workflow, external, ExternalTransition::Settle)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &refused,
            TradeBookError::Refused { kind: TradeKind::External, trade_id, actual, .. }
                if *trade_id == external && actual == "created"
        ),
        "{refused:?}"
    );
    assert_eq!(refused.code(), Some("trade_book.transition_refused"));
    assert_eq!(status().await, ExternalTradeStatus::Created);

    let place = ExternalTransition::Place;
    assert_eq!(
        external_trades::advance(pool, &workflow, external, place)
            .await
            .unwrap(),
        Moved::Moved
    );
    assert_eq!(
        external_trades::advance(pool, &workflow, external, place)
            .await
            .unwrap(),
        Moved::AlreadyThere
    );
    let confirmation = serde_json::json!({"order_ref": "test"});
    let confirmed = Confirmed {
        price: Decimal::TWO,
        delivered: Decimal::TEN,
        consumed: Decimal::from(20),
        settlement_date: monday(),
        confirmation: &confirmation,
    };
    assert_eq!(
        external_trades::price(pool, &workflow, external, &confirmed)
            .await
            .unwrap(),
        Moved::Moved
    );
    // A rejection after pricing is refused, and keeps no reason.
    assert!(matches!(
        external_trades::reject(pool, &workflow, external, "too late")
            .await
            .unwrap_err(),
        TradeBookError::Refused { .. }
    ));
    let priced = external_trades::get(pool, external).await.unwrap().unwrap();
    assert_eq!(priced.status, ExternalTradeStatus::Priced);
    assert_eq!(priced.delivered, Some(Decimal::TEN));

    // An unknown trade is not a refusal but an unknown.
    let unknown = external_trades::advance(pool, &workflow, Uuid::new_v4(), place)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("external_trade.unknown"));
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn member_trades_move_in_keyset_chunks_and_a_stray_one_refuses_the_move() {
    let db = books(3).await;
    let pool = db.ledger.pool();
    let (mut trades, external) = closed_day(pool, 3).await;
    trades.sort();
    let workflow = actor("external-trade/2026-11-23/GB00ACMEGLB1/buy");

    // Aggregated trades are not where settling starts: a settle chunk takes nothing.
    let settle = MemberTransition::Settle;
    assert_eq!(
        move_chunk(pool, &workflow, external, settle, None, 10)
            .await
            .unwrap(),
        None
    );

    // A trade that moves elsewhere between the take and the move refuses the whole chunk.
    let mut tx = pool.begin().await.unwrap();
    let price = MemberTransition::Price;
    member_trades::take_chunk(&mut tx, external, price.from(), Amount::Ordered, None, 10)
        .await
        .unwrap()
        .unwrap();
    sqlx::query("update member_trade set status = 'failed' where trade_id = $1")
        .bind(trades[1])
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("update chunk_trade set share = 1, refund = 0")
        .execute(&mut *tx)
        .await
        .unwrap();
    let refused = member_trades::move_chunk(&mut tx, &workflow, price)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, TradeBookError::Refused { kind: TradeKind::Member, trade_id, actual, .. } if *trade_id == trades[1] && actual == "failed"),
        "{refused:?}"
    );
    drop(tx);
    for trade in [trades[0], trades[2]] {
        assert_eq!(
            member_status(pool, trade).await,
            MemberTradeStatus::Aggregated
        );
    }

    // Keyset chunks of one: each takes the next trade still aggregated, skipping the failed one.
    let first = move_chunk(pool, &workflow, external, price, None, 1).await;
    assert_eq!(first.unwrap(), Some((trades[0], 1)));
    let second = move_chunk(pool, &workflow, external, price, Some(trades[0]), 1).await;
    assert_eq!(second.unwrap(), Some((trades[2], 1)));
    let third = move_chunk(pool, &workflow, external, price, Some(trades[2]), 1).await;
    assert_eq!(third.unwrap(), None);
    assert_eq!(
        member_status(pool, trades[2]).await,
        MemberTradeStatus::Priced
    );
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_trade_key_reused_with_other_content_is_refused_and_creates_nothing() {
    let db = books(2).await;
    let pool = db.ledger.pool();
    let (first, second) = (fund(), AssetCode::parse(FUNDS[1].0).unwrap());
    let origin = "invest/r-1";
    let create = |member: &'static str, amounts: [Decimal; 2]| {
        let (first, second) = (first.clone(), second.clone());
        async move {
            member_trades::create_buys(
                pool,
                &actor(origin),
                origin,
                member,
                &[&first, &second],
                &amounts,
            )
            .await
        }
    };
    let ids = create("m-0", [Decimal::TEN, Decimal::ONE]).await.unwrap();
    // The same request again is a repeat: the same ids, nothing new.
    assert_eq!(
        create("m-0", [Decimal::TEN, Decimal::ONE]).await.unwrap(),
        ids
    );
    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from member_trade")
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 2);
    for (member, amounts) in [
        ("m-0", [Decimal::TEN, Decimal::TWO]),
        ("m-1", [Decimal::TEN, Decimal::ONE]),
    ] {
        let refused = create(member, amounts).await.unwrap_err();
        assert!(
            matches!(refused, TradeBookError::KeyReused { .. }),
            "{refused}"
        );
        assert_eq!(refused.code(), Some("member_trade.key_reused"));
    }
    // A new trade asked for beside a reused key is not created either: all or none.
    let reused = member_trades::create_buys(
        pool,
        &actor(origin),
        origin,
        "m-0",
        &[&first, &AssetCode::parse(FUNDS[2].0).unwrap()],
        &[Decimal::ONE, Decimal::ONE],
    )
    .await
    .unwrap_err();
    assert!(matches!(reused, TradeBookError::KeyReused { .. }));
    assert_eq!(count().await, 2);
}
