//! Named transitions: each moves a trade from where it says, a repeat changes nothing, and a
//! trade anywhere else is refused with a typed error and left as it was.

use acme_activities::trade_book::external_trades::{self, Confirmed};
use acme_activities::trade_book::{
    ExternalTradeStatus, ExternalTransition, MemberTradeStatus, MemberTransition, Moved,
    TradeBookError, TradeKind, member_trades,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::support::{actor, books, closed_day, monday};

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
async fn member_trades_move_set_based_and_a_stray_one_refuses_the_move() {
    let db = books(3).await;
    let pool = db.ledger.pool();
    let (trades, _) = closed_day(pool, 3).await;
    let workflow = actor("external-trade/2026-11-23/GB00ACMEGLB1/buy");

    // Aggregated trades cannot settle before they are priced.
    let refused = member_trades::transition(pool, &workflow, &trades, MemberTransition::Settle)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, TradeBookError::Refused { kind: TradeKind::Member, actual, .. } if actual == "aggregated"),
        "{refused:?}"
    );
    for trade in &trades {
        assert_eq!(
            member_status(pool, *trade).await,
            MemberTradeStatus::Aggregated
        );
    }

    // Two are priced; pricing all three then moves the third, and the repeat refuses nothing.
    let shares = [Decimal::ONE, Decimal::ONE];
    let refunds = [Decimal::ZERO, Decimal::ZERO];
    let moved = member_trades::price(pool, &workflow, &trades[..2], &shares, &refunds)
        .await
        .unwrap();
    assert_eq!(moved, 2);
    let moved = member_trades::price(
        pool,
        &workflow,
        &trades,
        &[Decimal::ONE; 3],
        &[Decimal::ZERO; 3],
    )
    .await
    .unwrap();
    assert_eq!(moved, 1);

    // A trade released elsewhere refuses a settlement of the lot, which still settles the rest.
    sqlx::query("update member_trade set status = 'failed' where trade_id = $1")
        .bind(trades[0])
        .execute(pool)
        .await
        .unwrap();
    let refused = member_trades::transition(pool, &workflow, &trades, MemberTransition::Settle)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, TradeBookError::Refused { trade_id, actual, .. } if *trade_id == trades[0] && actual == "failed"),
        "{refused:?}"
    );
    assert_eq!(
        member_status(pool, trades[1]).await,
        MemberTradeStatus::Settled
    );
    db.drop_database().await.unwrap();
}
