//! `post_batch`: the set-based bulk path, all or nothing, with the same rules as `post`.

use acme_ledger::{LedgerError, Rejection};

use crate::support::{Books, dec, deposit, entry, leg};

#[tokio::test]
async fn one_bad_entry_in_ten_thousand_rejects_the_whole_batch_and_names_it() {
    let books = Books::open(10).await;
    let mut batch: Vec<_> = (0..10_000)
        .map(|n| deposit(&format!("b/{n}"), &books, n % 10, "1.00"))
        .collect();
    batch[7_777] = deposit("b/7777", &books, 7, "1.001");
    let error = books.ledger().post_batch(&batch).await.unwrap_err();
    match &error {
        LedgerError::BatchRejected { index, key, reason } => {
            assert_eq!(*index, 7_777);
            assert_eq!(key, "ledger-tests/b/b/7777");
            assert_eq!(reason.code(), "ledger.too_many_decimals");
        }
        other => panic!("expected a batch rejection, got {other:?}"),
    }
    assert!(error.to_string().contains("entry 7777"), "{error}");
    assert_eq!(books.last_entry_id().await, 0);
    assert_eq!(books.ledger().balance(books.bank).await.unwrap(), dec("0"));

    batch[7_777] = deposit("b/7777", &books, 7, "1.00");
    let posted = books.ledger().post_batch(&batch).await.unwrap();
    assert_eq!(posted.len(), 10_000);
    assert_eq!(books.entry_count().await, 10_000);
    assert_eq!(
        books.ledger().balance(books.bank).await.unwrap(),
        dec("-10000.00")
    );
    assert_eq!(
        books.ledger().balance(books.members[3].cash).await.unwrap(),
        dec("1000.00")
    );
    books.finish().await;
}

#[tokio::test]
async fn a_replayed_batch_returns_the_originals_and_writes_nothing() {
    let books = Books::open(3).await;
    let first: Vec<_> = (0..100)
        .map(|n| deposit(&format!("r/{n}"), &books, n % 3, "2.50"))
        .collect();
    let posted = books.ledger().post_batch(&first).await.unwrap();
    assert!(posted.iter().all(|p| !p.replayed));

    let replayed = books.ledger().post_batch(&first).await.unwrap();
    assert_eq!(
        replayed.iter().map(|p| p.entry_id).collect::<Vec<_>>(),
        posted.iter().map(|p| p.entry_id).collect::<Vec<_>>()
    );
    assert!(replayed.iter().all(|p| p.replayed));
    assert_eq!(books.entry_count().await, 100);

    // Half old, half new: the old half replays, the new half is written.
    let mixed: Vec<_> = (50..150)
        .map(|n| deposit(&format!("r/{n}"), &books, n % 3, "2.50"))
        .collect();
    let result = books.ledger().post_batch(&mixed).await.unwrap();
    assert!(result[..50].iter().all(|p| p.replayed));
    assert!(result[50..].iter().all(|p| !p.replayed));
    assert_eq!(books.entry_count().await, 150);
    assert_eq!(
        books.ledger().balance(books.bank).await.unwrap(),
        dec("-375.00")
    );
    books.finish().await;
}

#[tokio::test]
async fn a_key_repeated_inside_a_batch_is_posted_once_or_rejected_if_content_differs() {
    let books = Books::open(1).await;
    let same = vec![
        deposit("k/1", &books, 0, "5.00"),
        deposit("k/1", &books, 0, "5.00"),
    ];
    let posted = books.ledger().post_batch(&same).await.unwrap();
    assert_eq!(posted[0].entry_id, posted[1].entry_id);
    assert!(!posted[0].replayed && posted[1].replayed);
    assert_eq!(
        books.ledger().balance(books.members[0].cash).await.unwrap(),
        dec("5.00")
    );

    let different = vec![
        deposit("k/2", &books, 0, "5.00"),
        deposit("k/2", &books, 0, "6.00"),
    ];
    let error = books.ledger().post_batch(&different).await.unwrap_err();
    assert!(
        matches!(error, LedgerError::BatchRejected { index: 1, .. }),
        "{error:?}"
    );
    assert_eq!(books.entry_count().await, 1);
    books.finish().await;
}

#[tokio::test]
async fn a_batch_reusing_an_earlier_key_for_new_content_is_rejected() {
    let books = Books::open(1).await;
    books
        .ledger()
        .post(&deposit("c/1", &books, 0, "5.00"))
        .await
        .unwrap();
    let batch = vec![
        deposit("c/0", &books, 0, "1.00"),
        deposit("c/1", &books, 0, "9.00"),
    ];
    let error = books.ledger().post_batch(&batch).await.unwrap_err();
    match error {
        LedgerError::BatchRejected {
            index: 1,
            reason: Rejection::IdempotencyConflict { existing },
            ..
        } => {
            assert_eq!(existing.0, 1);
        }
        other => panic!("expected a conflict at entry 1, got {other:?}"),
    }
    assert_eq!(books.entry_count().await, 1);
    books.finish().await;
}

/// Overdrafts are judged entry by entry in batch order, as if each were posted alone.
#[tokio::test]
async fn an_overdraft_part_way_through_a_batch_is_caught_even_if_later_entries_cover_it() {
    let books = Books::open(2).await;
    let (a, b) = (books.members[0], books.members[1]);
    let spend_first = vec![
        entry("s/1", vec![leg(a.cash, "-3.00"), leg(b.cash, "3.00")]),
        deposit("s/2", &books, 0, "3.00"),
    ];
    let error = books.ledger().post_batch(&spend_first).await.unwrap_err();
    assert!(
        matches!(
            error,
            LedgerError::BatchRejected {
                index: 0,
                reason: Rejection::Overdraft { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(books.entry_count().await, 0);

    let fund_first = vec![spend_first[1].clone(), spend_first[0].clone()];
    books.ledger().post_batch(&fund_first).await.unwrap();
    assert_eq!(books.ledger().balance(a.cash).await.unwrap(), dec("0.00"));
    assert_eq!(books.ledger().balance(b.cash).await.unwrap(), dec("3.00"));
    books.finish().await;
}

#[tokio::test]
async fn an_empty_batch_writes_nothing() {
    let books = Books::open(0).await;
    assert!(books.ledger().post_batch(&[]).await.unwrap().is_empty());
    assert_eq!(books.last_entry_id().await, 0);
    books.finish().await;
}
