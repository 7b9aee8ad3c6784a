//! `post`: one entry, validated, idempotent, atomic.

use acme_ledger::{AccountId, LedgerError, Rejection};

use crate::support::{Books, dec, deposit, entry, leg};

#[tokio::test]
async fn a_balanced_entry_moves_both_balances() {
    let books = Books::open(1).await;
    let posted = books
        .ledger()
        .post(&deposit("d/1", &books, 0, "100.25"))
        .await
        .unwrap();
    assert!(!posted.replayed);
    assert_eq!(posted.entry_id.0, 1);
    assert_eq!(
        books.ledger().balance(books.members[0].cash).await.unwrap(),
        dec("100.25")
    );
    assert_eq!(
        books.ledger().balance(books.bank).await.unwrap(),
        dec("-100.25")
    );
    books.finish().await;
}

#[tokio::test]
async fn an_entry_may_move_several_assets_if_each_balances() {
    let books = Books::open(1).await;
    let member = books.members[0];
    books
        .ledger()
        .post(&deposit("d/1", &books, 0, "50.00"))
        .await
        .unwrap();
    // A purchase: cash out to the bank side, units in from the custodian, in one entry.
    let purchase = entry(
        "buy/1",
        vec![
            leg(member.cash, "-50.00"),
            leg(books.bank, "50.00"),
            leg(member.units, "12.345678"),
            leg(books.custodian_units, "-12.345678"),
        ],
    );
    books.ledger().post(&purchase).await.unwrap();
    assert_eq!(books.ledger().balance(member.cash).await.unwrap(), dec("0"));
    assert_eq!(
        books.ledger().balance(member.units).await.unwrap(),
        dec("12.345678")
    );
    books.finish().await;
}

#[tokio::test]
async fn the_same_key_and_content_replays_the_original_and_writes_nothing() {
    let books = Books::open(1).await;
    let deposit = deposit("d/1", &books, 0, "10.00");
    let first = books.ledger().post(&deposit).await.unwrap();
    let again = books.ledger().post(&deposit).await.unwrap();
    assert_eq!(again.entry_id, first.entry_id);
    assert!(again.replayed);
    assert_eq!(books.entry_count().await, 1);
    assert_eq!(
        books.ledger().balance(books.members[0].cash).await.unwrap(),
        dec("10.00")
    );
    books.finish().await;
}

#[tokio::test]
async fn the_same_key_with_different_content_is_a_conflict() {
    let books = Books::open(1).await;
    books
        .ledger()
        .post(&deposit("d/1", &books, 0, "10.00"))
        .await
        .unwrap();
    let error = books
        .ledger()
        .post(&deposit("d/1", &books, 0, "10.01"))
        .await
        .unwrap_err();
    assert_eq!(
        error.rejection().map(Rejection::code),
        Some("ledger.idempotency_conflict")
    );
    assert_eq!(books.entry_count().await, 1);
    assert_eq!(
        books.ledger().balance(books.members[0].cash).await.unwrap(),
        dec("10.00")
    );
    books.finish().await;
}

#[tokio::test]
async fn the_same_entry_posted_concurrently_is_written_once() {
    let books = Books::open_with_pool(1, 8).await;
    let deposit = deposit("d/1", &books, 0, "10.00");
    let posts = (0..8).map(|_| {
        let ledger = books.ledger().clone();
        let deposit = deposit.clone();
        tokio::spawn(async move { ledger.post(&deposit).await })
    });
    let results: Vec<_> = futures::future::join_all(posts).await;
    let ids: Vec<i64> = results
        .into_iter()
        .map(|joined| joined.unwrap().unwrap().entry_id.0)
        .collect();
    assert!(ids.iter().all(|&id| id == ids[0]), "ids differ: {ids:?}");
    assert_eq!(books.entry_count().await, 1);
    assert_eq!(
        books.ledger().balance(books.members[0].cash).await.unwrap(),
        dec("10.00")
    );
    books.finish().await;
}

/// Every kind of bad entry gets its own rejection and leaves the ledger exactly as it was.
#[tokio::test]
async fn bad_entries_are_rejected_specifically_and_write_nothing() {
    let books = Books::open(2).await;
    let ledger = books.ledger();
    ledger
        .post(&deposit("seed", &books, 0, "20.00"))
        .await
        .unwrap();
    let (a, b) = (books.members[0], books.members[1]);
    let mut empty_key = deposit("x", &books, 0, "1.00");
    empty_key.idempotency_key = String::new();
    let mut foreign_key = deposit("x", &books, 0, "1.00");
    foreign_key.idempotency_key = "another-workflow/step-1".to_owned();
    let cases = vec![
        (
            "unbalanced",
            entry("bad/1", vec![leg(a.cash, "-5.00"), leg(b.cash, "4.99")]),
            "ledger.unbalanced",
        ),
        (
            "too many decimals",
            entry("bad/2", vec![leg(a.cash, "-1.005"), leg(b.cash, "1.005")]),
            "ledger.too_many_decimals",
        ),
        (
            "unknown account",
            entry(
                "bad/3",
                vec![leg(a.cash, "-1.00"), leg(AccountId(999_999), "1.00")],
            ),
            "ledger.unknown_account",
        ),
        (
            "overdraft",
            entry("bad/4", vec![leg(a.cash, "-20.01"), leg(b.cash, "20.01")]),
            "ledger.overdraft",
        ),
        (
            "zero leg",
            entry("bad/5", vec![leg(a.cash, "0"), leg(b.cash, "0")]),
            "ledger.zero_amount",
        ),
        (
            "one leg",
            entry("bad/6", vec![leg(a.cash, "1.00")]),
            "ledger.posting_count",
        ),
        (
            "same account twice",
            entry("bad/7", vec![leg(a.cash, "-1.00"), leg(a.cash, "1.00")]),
            "ledger.duplicate_account",
        ),
        (
            "cross-asset",
            entry("bad/8", vec![leg(a.cash, "-1.00"), leg(b.units, "1.00")]),
            "ledger.unbalanced",
        ),
        ("empty key", empty_key, "ledger.invalid_field"),
        (
            "key outside its workflow",
            foreign_key,
            "ledger.invalid_field",
        ),
    ];
    for (name, bad, code) in cases {
        let error = ledger.post(&bad).await.expect_err(name);
        assert!(
            matches!(error, LedgerError::Rejected { .. }),
            "{name}: not a rejection: {error:?}"
        );
        assert_eq!(
            error.rejection().map(Rejection::code),
            Some(code),
            "{name}: {error}"
        );
        assert!(!error.is_retryable(), "{name} must not be retried");
        assert_eq!(books.last_entry_id().await, 1, "{name} wrote an entry");
        assert_eq!(
            ledger.balance(a.cash).await.unwrap(),
            dec("20.00"),
            "{name} moved money"
        );
        assert_eq!(
            ledger.balance(b.cash).await.unwrap(),
            dec("0"),
            "{name} moved money"
        );
    }
    books.finish().await;
}

#[tokio::test]
async fn an_overdraft_error_names_the_account_and_amounts() {
    let books = Books::open(2).await;
    let (a, b) = (books.members[0], books.members[1]);
    let error = books
        .ledger()
        .post(&entry(
            "o/1",
            vec![leg(a.cash, "-0.01"), leg(b.cash, "0.01")],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        error.rejection(),
        Some(&Rejection::Overdraft {
            account: a.cash,
            balance: dec("0"),
            change: dec("-0.01")
        })
    );
    books.finish().await;
}
