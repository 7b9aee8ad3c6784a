//! `ChunkTransaction`: one chunk of a bulk step at a time, and an abandoned chunk's statement
//! cancelled rather than left running against the retry.

use std::time::Duration;

use acme_ledger::chunk::ChunkTransaction;
use acme_sdk::testkit::eventually;

use crate::support::Books;

const STEP: &str = "external-trade/2026-11-23/GB00ACMEGLB1/buy/allocate";

#[tokio::test]
async fn a_second_chunk_of_the_same_step_waits_for_the_first() {
    let books = Books::open(0).await;
    let pool = books.ledger().pool();
    let first = ChunkTransaction::begin(pool, STEP).await.unwrap();
    let waiting = tokio::time::timeout(
        Duration::from_millis(500),
        ChunkTransaction::begin(pool, STEP),
    )
    .await;
    assert!(
        waiting.is_err(),
        "a second chunk began while the first held the step"
    );
    // Another step is not held up.
    let other = ChunkTransaction::begin(pool, "another/step").await.unwrap();
    other.commit().await.unwrap();
    first.commit().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), ChunkTransaction::begin(pool, STEP))
        .await
        .expect("the step's lock was not released at commit")
        .unwrap();
    second.commit().await.unwrap();
    books.finish().await;
}

#[tokio::test]
async fn an_abandoned_chunk_stops_its_statement_and_frees_the_step() {
    let books = Books::open(0).await;
    let pool = books.ledger().pool().clone();
    let chunk = async {
        let mut tx = ChunkTransaction::begin(&pool, STEP).await.unwrap();
        sqlx::query("select pg_sleep(60) as abandoned_chunk")
            .execute(tx.conn().unwrap())
            .await
            .unwrap();
    };
    // The attempt is dropped mid-statement, as a cancelled activity's future is.
    let abandoned = tokio::time::timeout(Duration::from_millis(500), chunk).await;
    assert!(abandoned.is_err());
    eventually(Duration::from_secs(10), || async {
        let running: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where query like '%abandoned_chunk%' and pid <> pg_backend_pid()",
        )
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
        if running == 0 {
            Ok(())
        } else {
            Err(format!("{running} abandoned statement(s) still running"))
        }
    })
    .await;
    let retry = tokio::time::timeout(Duration::from_secs(5), ChunkTransaction::begin(&pool, STEP))
        .await
        .expect("the abandoned chunk still holds the step")
        .unwrap();
    retry.commit().await.unwrap();
    books.finish().await;
}
