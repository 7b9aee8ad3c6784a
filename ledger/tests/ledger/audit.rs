//! The operator audit log: an action is recorded before it is taken and its outcome once, after;
//! neither can be changed, by the application's role or by the owning role.

use acme_ledger::audit::{AuditFilter, NewOperatorAction, OperatorAction, OperatorVerb};

use crate::support::Books;

fn terminate<'a>(workflow_id: &'a str, reason: Option<&'a str>) -> NewOperatorAction<'a> {
    NewOperatorAction {
        operator: "alice",
        verb: OperatorVerb::Terminate,
        workflow_id,
        reason,
        detail: serde_json::json!({}),
    }
}

async fn only_action(books: &Books, workflow_id: &str) -> OperatorAction {
    let filter = AuditFilter {
        workflow_id: Some(workflow_id.to_owned()),
        operator: None,
        limit: 10,
    };
    let mut actions = books.ledger().operator_actions(&filter).await.unwrap();
    assert_eq!(actions.len(), 1, "{actions:#?}");
    actions.remove(0)
}

#[tokio::test]
async fn an_action_is_recorded_before_its_outcome_and_each_only_once() {
    let books = Books::open(0).await;
    let ledger = books.ledger();

    // Taken, but the command stopped before Temporal's answer was recorded.
    let unanswered = ledger
        .record_operator_action(&terminate("invest/r-1", Some("ticket 1")))
        .await
        .unwrap();
    let action = only_action(&books, "invest/r-1").await;
    assert_eq!(action.action_id, unanswered);
    assert_eq!((action.accepted, action.answered_at), (None, None));

    let refused = ledger
        .record_operator_action(&terminate("invest/r-2", Some("ticket 2")))
        .await
        .unwrap();
    ledger
        .record_operator_outcome(refused, Some("workflow execution already completed"))
        .await
        .unwrap();
    let action = only_action(&books, "invest/r-2").await;
    assert_eq!(action.accepted, Some(false));
    assert_eq!(
        action.error.as_deref(),
        Some("workflow execution already completed")
    );
    assert!(action.answered_at.is_some());
    // An outcome cannot be given twice (to turn a refusal into an acceptance, say).
    assert!(ledger.record_operator_outcome(refused, None).await.is_err());
    assert_eq!(
        only_action(&books, "invest/r-2").await.accepted,
        Some(false)
    );

    // An action written before migration 0006, with its outcome in its own row, cannot be
    // given a second one.
    let mut owner = books.db.owner_connection().await.unwrap();
    let legacy: i64 = sqlx::query_scalar(
        "insert into operator_action (operator, action, workflow_id, reason, accepted, error)
         values ('bob', 'cancel', 'invest/r-old', 'ticket 0', false, 'refused')
         returning action_id",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    let again = ledger
        .record_operator_outcome(legacy, None)
        .await
        .unwrap_err();
    assert!(
        format!("{again:?}").contains("already has its outcome"),
        "{again:?}"
    );
    assert_eq!(
        only_action(&books, "invest/r-old").await.accepted,
        Some(false)
    );
    // Nor can a row claim an error without an outcome.
    let half = sqlx::query(
        "insert into operator_action (operator, action, workflow_id, reason, error)
         values ('bob', 'cancel', 'invest/r-half', 'ticket 0', 'refused')",
    )
    .execute(&mut owner)
    .await
    .unwrap_err();
    assert!(
        half.to_string()
            .contains("outcome_is_one_of_accepted_or_error"),
        "{half}"
    );
    // The application cannot write an outcome or a time into the action's own row.
    let forged = sqlx::query(
        "insert into operator_action (operator, action, workflow_id, accepted)
         values ('mallory', 'start', 'invest/r-4', true)",
    )
    .execute(ledger.pool())
    .await
    .unwrap_err();
    assert!(forged.to_string().contains("permission denied"), "{forged}");

    // A terminate without a reason is refused by the table itself.
    assert!(
        ledger
            .record_operator_action(&terminate("invest/r-3", None))
            .await
            .is_err()
    );
    books.finish().await;
}

#[tokio::test]
async fn nobody_can_edit_the_audit_log() {
    let books = Books::open(0).await;
    let ledger = books.ledger();
    let id = ledger
        .record_operator_action(&terminate("invest/r-1", Some("ticket 1")))
        .await
        .unwrap();
    ledger.record_operator_outcome(id, None).await.unwrap();
    let edits = [
        "update operator_action set reason = 'nothing to see'",
        "delete from operator_action",
        "update operator_action_outcome set accepted = false",
        "delete from operator_action_outcome",
        "truncate operator_action_outcome",
    ];
    for edit in edits {
        let error = sqlx::query(edit).execute(ledger.pool()).await.unwrap_err();
        // No grant to (the trigger's refusal would say "append-only" instead).
        assert!(
            error.to_string().contains("permission denied for table"),
            "{edit}: {error}"
        );
    }
    let mut owner = books.db.owner_connection().await.unwrap();
    for edit in edits {
        let error = sqlx::query(edit).execute(&mut owner).await.unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the operator audit log is append-only"),
            "{edit}: {error}"
        );
    }
    assert_eq!(only_action(&books, "invest/r-1").await.accepted, Some(true));
    books.finish().await;
}
