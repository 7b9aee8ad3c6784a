//! Closing a day cannot race: while one attempt holds the close lock with a chunk of member
//! trades aggregated but not yet committed, a second attempt waits instead of sealing a total
//! that leaves that chunk out, so every external trade's ordered total is the sum of its member
//! trades. A trade another transaction holds while its chunk passes is taken by a later
//! sweep, not left behind.

use std::time::Duration;

use acme_activities::dealing::{CloseDay, ExternalTrade, close_day_reporting};
use acme_activities::trade_book::{external_trades, member_trades};
use chrono::Utc;
use rust_decimal::Decimal;

use crate::support::{actor, books, fund, monday, open_external_trade};

/// All twenty buys joined the one sealed external trade, whose total is their sum.
async fn assert_every_trade_joined(
    pool: &sqlx::PgPool,
    external: uuid::Uuid,
    sealed: &[ExternalTrade],
) {
    assert_eq!(sealed.len(), 1);
    let (count, total): (i64, Decimal) = sqlx::query_as(
        "select count(*), sum(cash_amount) from member_trade where external_trade_id = $1",
    )
    .bind(external)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(count, 20, "every member trade joined the external trade");
    assert_eq!(i64::from(sealed[0].member_trades), count);
    assert_eq!(sealed[0].ordered_total, total);
}

/// Twenty buys of [`fund`] for members `m-0` to `m-19`, pending.
async fn twenty_buys(pool: &sqlx::PgPool) {
    let fund = fund();
    for n in 0..20 {
        let origin = format!("invest/r-{n}");
        member_trades::create_buys(
            pool,
            &actor(&origin),
            &origin,
            &format!("m-{n}"),
            &[&fund],
            &[Decimal::new(1_000 + n, 2)],
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_second_close_waits_for_the_first_and_the_total_counts_every_trade() {
    let db = books(20).await;
    let pool = db.ledger.pool();
    twenty_buys(pool).await;
    let external = open_external_trade(pool).await;
    let cycle = actor(&format!("dealing/{}", monday()));

    // The first attempt, mid-chunk: it holds the close lock and has aggregated five trades in a
    // transaction it has not committed.
    let first_attempt = external_trades::try_lock_close(pool, monday())
        .await
        .unwrap()
        .expect("nobody else is closing the day");
    let mut chunk = pool.begin().await.unwrap();
    sqlx::query(
        "update member_trade set status = 'aggregated', dealing_date = $1, external_trade_id = $2
         where trade_id in (select trade_id from member_trade order by trade_id limit 5)",
    )
    .bind(monday())
    .bind(external)
    .execute(&mut *chunk)
    .await
    .unwrap();

    // The second attempt (the retry) starts meanwhile.
    let close = CloseDay {
        dealing_date: monday(),
        cutoff: Utc::now() + chrono::Duration::minutes(1),
    };
    let ledger = db.ledger.clone();
    let second_attempt = tokio::spawn(async move {
        let mut waited = false;
        let sealed = close_day_reporting(&ledger, &cycle, &close, |aggregated| {
            waited |= aggregated == 0;
            async { Ok(()) }
        })
        .await
        .unwrap();
        (sealed, waited)
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !second_attempt.is_finished(),
        "the second attempt closed the day while the first held it"
    );
    chunk.commit().await.unwrap();
    drop(first_attempt);

    let (sealed, waited) = second_attempt.await.unwrap();
    assert!(
        waited,
        "the second attempt never reported that it was waiting"
    );
    assert_every_trade_joined(pool, external, &sealed).await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_trade_held_while_its_chunk_passes_is_taken_by_the_next_sweep() {
    let db = books(20).await;
    let pool = db.ledger.pool();
    twenty_buys(pool).await;
    let external = open_external_trade(pool).await;

    // Another transaction (a cancel, say) holds the lowest trade while the close starts: the
    // first chunk skips it and moves on past it.
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("select trade_id from member_trade order by trade_id limit 1 for update")
        .execute(&mut *holder)
        .await
        .unwrap();
    let close = CloseDay {
        dealing_date: monday(),
        cutoff: Utc::now() + chrono::Duration::minutes(1),
    };
    let mut holder = Some(holder);
    let mut reported = Vec::new();
    let sealed = close_day_reporting(
        &db.ledger,
        &actor(&format!("dealing/{}", monday())),
        &close,
        |aggregated| {
            reported.push(aggregated);
            // Released after the first chunk: the sweep from the start must find it.
            let release = holder.take();
            async move {
                if let Some(holder) = release {
                    holder.commit().await.unwrap();
                }
                Ok(())
            }
        },
    )
    .await
    .unwrap();

    assert_eq!(
        reported,
        [19, 20],
        "one chunk past the held trade, one sweep for it"
    );
    assert_every_trade_joined(pool, external, &sealed).await;
    db.drop_database().await.unwrap();
}
