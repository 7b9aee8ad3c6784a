//! The status enums and the tables' check constraints say the same thing: every value of an
//! enum is allowed, and nothing else is.

use std::collections::BTreeSet;

use acme_activities::trade_book::{ExternalTradeStatus, MemberTradeStatus, Side};

use crate::support::books;

/// The quoted literals of a check constraint's definition, e.g. the statuses of
/// `check (status in ('pending', ...))`.
async fn allowed(pool: &sqlx::PgPool, table: &str, column: &str) -> BTreeSet<String> {
    let definition: String = sqlx::query_scalar(
        "select pg_get_constraintdef(c.oid) from pg_constraint c
         where c.conrelid = $1::regclass and c.contype = 'c' and c.conname = $2",
    )
    .bind(table)
    .bind(format!("{table}_{column}_check"))
    .fetch_one(pool)
    .await
    .unwrap();
    definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn spelled<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|v| as_str(*v).to_owned()).collect()
}

#[tokio::test]
async fn every_enum_value_and_nothing_else_passes_the_check_constraints() {
    let db = books(0).await;
    let pool = db.ledger.pool();
    let sides = spelled(Side::ALL, Side::as_str);
    let member = spelled(MemberTradeStatus::ALL, MemberTradeStatus::as_str);
    let external = spelled(ExternalTradeStatus::ALL, ExternalTradeStatus::as_str);
    assert_eq!(allowed(pool, "member_trade", "status").await, member);
    assert_eq!(allowed(pool, "member_trade", "side").await, sides);
    assert_eq!(allowed(pool, "external_trade", "status").await, external);
    assert_eq!(allowed(pool, "external_trade", "side").await, sides);

    // The history takes each kind's statuses, and refuses the other kind's and unknown ones.
    let record = |kind: &'static str, to: &'static str| {
        sqlx::query(
            "insert into trade_transition
                 (trade_kind, trade_id, from_status, to_status, transition, workflow_id, actor)
             values ($1, gen_random_uuid(), null, $2, 'test', 'tests/1', 'test')",
        )
        .bind(kind)
        .bind(to)
        .execute(pool)
    };
    for status in MemberTradeStatus::ALL {
        record("member", status.as_str()).await.unwrap();
    }
    for status in ExternalTradeStatus::ALL {
        record("external", status.as_str()).await.unwrap();
    }
    for (kind, to) in [
        ("member", "placed"),
        ("external", "pending"),
        ("member", "done"),
    ] {
        let refused = record(kind, to).await.unwrap_err();
        assert!(
            refused.to_string().contains("trade_transition_statuses"),
            "{kind} {to}: {refused}"
        );
    }
    db.drop_database().await.unwrap();
}
