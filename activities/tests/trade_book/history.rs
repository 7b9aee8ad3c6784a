//! The transition history: every creation and status change is recorded once, by the statement
//! that makes it, with who, when and in which workflow; and nobody can change it afterwards.

use acme_activities::trade_book::{ExternalTransition, MemberTransition, external_trades, history};

use crate::support::{actor, books, closed_day, move_chunk};

#[tokio::test]
async fn every_move_is_recorded_once_with_who_and_which_workflow() {
    let db = books(2).await;
    let pool = db.ledger.pool();
    let (trades, external) = closed_day(pool, 2).await;
    let workflow = actor("external-trade/2026-11-23/GB00ACMEGLB1/buy");
    external_trades::advance(pool, &workflow, external, ExternalTransition::Place)
        .await
        .unwrap();
    external_trades::reject(pool, &workflow, external, "no")
        .await
        .unwrap();
    // Released twice (a retried activity): the second finds nothing left to move.
    let release = MemberTransition::Release;
    let first = move_chunk(pool, &workflow, external, release, None, 100).await;
    assert_eq!(first.unwrap().map(|(_, moved)| moved), Some(2));
    let again = move_chunk(pool, &workflow, external, release, None, 100).await;
    assert_eq!(again.unwrap(), None);

    let steps = history(pool, trades[1]).await.unwrap();
    let moves: Vec<(Option<&str>, &str, &str, &str)> = steps
        .iter()
        .map(|s| {
            (
                s.from_status.as_deref(),
                s.to_status.as_str(),
                s.transition.as_str(),
                s.workflow_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            (None, "pending", "create", "invest/r-1"),
            (
                Some("pending"),
                "aggregated",
                "aggregate",
                "dealing/2026-11-23"
            ),
            (
                Some("aggregated"),
                "failed",
                "release",
                "external-trade/2026-11-23/GB00ACMEGLB1/buy"
            ),
        ]
    );
    assert!(steps.iter().all(|s| s.trade_kind == "member"));
    assert!(steps.iter().all(|s| s.actor == "test:trade-book"));
    assert!(steps.windows(2).all(|w| w[0].at <= w[1].at));

    let steps = history(pool, external).await.unwrap();
    let moves: Vec<(Option<&str>, &str)> = steps
        .iter()
        .map(|s| (s.from_status.as_deref(), s.to_status.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            (None, "created"),
            (Some("created"), "placed"),
            (Some("placed"), "rejected")
        ]
    );
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn nobody_can_edit_the_history() {
    let db = books(1).await;
    let pool = db.ledger.pool();
    closed_day(pool, 1).await;
    let edits = [
        "update trade_transition set to_status = 'settled'",
        "delete from trade_transition",
        "truncate trade_transition",
    ];
    for edit in edits {
        let error = sqlx::query(edit).execute(pool).await.unwrap_err();
        // No grant to (the trigger's refusal would say "append-only" instead).
        assert!(
            error.to_string().contains("permission denied for table"),
            "{edit}: {error}"
        );
    }
    // Nor may the application say when a move happened.
    let forged = sqlx::query(
        "insert into trade_transition
             (trade_kind, trade_id, from_status, to_status, transition, workflow_id, actor, at)
         values ('member', gen_random_uuid(), 'pending', 'aggregated', 'aggregate', 'x', 'x',
                 now() - interval '1 day')",
    )
    .execute(pool)
    .await
    .unwrap_err();
    assert!(forged.to_string().contains("permission denied"), "{forged}");

    let mut owner = db.owner_connection().await.unwrap();
    for edit in edits {
        let error = sqlx::query(edit).execute(&mut owner).await.unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the trade transition history is append-only"),
            "{edit}: {error}"
        );
    }
    let recorded: i64 = sqlx::query_scalar("select count(*) from trade_transition")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(recorded, 3, "creation, external creation, aggregation");
    db.drop_database().await.unwrap();
}
