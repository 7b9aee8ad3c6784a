//! `staged::seal`: the set-based path, where the database digests and chains entries a query
//! staged. Each test crosses it with the Rust path, whose encoding `verify` recomputes.

use std::collections::BTreeMap;

use acme_ledger::staged::{self, Sealed};
use acme_ledger::{Ledger, LedgerError, NewEntry};

use crate::support::{Books, dec, deposit, entry, leg};

/// Stages `entries` and seals them in one transaction, committed only if sealing succeeds.
async fn seal(ledger: &Ledger, entries: &[NewEntry]) -> Result<Sealed, LedgerError> {
    let mut tx = ledger.pool().begin().await?;
    staged::prepare(&mut tx).await?;
    staged::stage(&mut tx, 0, entries).await?;
    let sealed = staged::seal(&mut tx).await?;
    tx.commit().await?;
    Ok(sealed)
}

/// Entries whose encoding is easy to get wrong: metadata keys out of byte order, non-ASCII text,
/// amounts with trailing zeros, several assets, legs not in account order.
fn awkward(books: &Books, n: usize) -> NewEntry {
    let member = books.members[n % books.members.len()];
    let mut entry = entry(
        &format!("awkward/{n}"),
        vec![
            leg(member.cash, "12.50"),
            leg(books.bank, "-12.5"),
            leg(member.units, "0.000100"),
            leg(books.custodian_units, "-0.0001"),
        ],
    );
    entry.metadata = BTreeMap::from([
        ("zeta".to_owned(), "último".to_owned()),
        ("Zeta".to_owned(), "capital first".to_owned()),
        ("a\u{e9}".to_owned(), format!("n{n}")),
        ("a".to_owned(), String::new()),
    ]);
    entry.kind = "test.naïve-kind".to_owned();
    entry
}

#[tokio::test]
async fn staged_entries_digest_and_chain_exactly_as_the_rust_path_does() {
    let books = Books::open(5).await;
    let ledger = books.ledger();
    // Interleave the two paths, so each chains onto the other's head.
    ledger
        .post_batch(&[deposit("first/0", &books, 0, "100.00")])
        .await
        .unwrap();
    let staged: Vec<NewEntry> = (0..50).map(|n| awkward(&books, n)).collect();
    let sealed = seal(ledger, &staged).await.unwrap();
    assert_eq!(
        sealed,
        Sealed {
            entries: 50,
            postings: 200,
            replayed: 0
        }
    );
    ledger
        .post_batch(&[deposit("after/0", &books, 1, "1.00")])
        .await
        .unwrap();
    // The Rust path finds every staged entry with the very digest it computes itself.
    let again = ledger.post_batch(&staged).await.unwrap();
    assert!(again.iter().all(|posted| posted.replayed), "{again:?}");
    assert_eq!(books.entry_count().await, 52);
    assert_eq!(
        ledger.balance(books.members[0].cash).await.unwrap(),
        dec("225.00")
    );
    books.finish().await;
}

#[tokio::test]
async fn a_staged_batch_sealed_twice_is_replayed_and_other_content_is_refused() {
    let books = Books::open(3).await;
    let ledger = books.ledger();
    let batch: Vec<NewEntry> = (0..20)
        .map(|n| deposit(&format!("s/{n}"), &books, n % 3, "3.00"))
        .collect();
    seal(ledger, &batch[..10]).await.unwrap();
    // Half replayed, half new.
    let sealed = seal(ledger, &batch).await.unwrap();
    assert_eq!((sealed.entries, sealed.replayed), (10, 10));
    assert_eq!(books.entry_count().await, 20);

    let mut changed = batch.clone();
    changed[15] = deposit("s/15", &books, 0, "3.01");
    let error = seal(ledger, &changed).await.unwrap_err();
    match error {
        LedgerError::BatchRejected { index, key, reason } => {
            assert_eq!(index, 15);
            assert_eq!(key, "ledger-tests/s/s/15");
            assert_eq!(reason.code(), "ledger.idempotency_conflict");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(books.entry_count().await, 20);
    assert_eq!(
        ledger.balance(books.bank).await.unwrap(),
        dec("-60.00"),
        "the refused batch moved a balance"
    );
    books.finish().await;
}

#[tokio::test]
async fn the_first_bad_staged_entry_is_named_and_nothing_is_written() {
    let books = Books::open(4).await;
    let ledger = books.ledger();
    let good = |n: usize| deposit(&format!("g/{n}"), &books, n % 4, "5.00");
    let cases: Vec<(NewEntry, &str)> = vec![
        (
            deposit("g/x", &books, 1, "5.001"),
            "ledger.too_many_decimals",
        ),
        (
            entry(
                "g/x",
                vec![leg(books.bank, "-5.00"), leg(books.members[1].cash, "4.00")],
            ),
            "ledger.unbalanced",
        ),
        (
            entry("g/x", vec![leg(books.bank, "-5.00")]),
            "ledger.posting_count",
        ),
        (
            entry(
                "g/x",
                vec![
                    leg(books.bank, "-5.00"),
                    leg(acme_ledger::AccountId(999_999), "5.00"),
                ],
            ),
            "ledger.unknown_account",
        ),
        (
            // A member overdraws: judged in order, after the good entries before it.
            entry(
                "g/x",
                vec![
                    leg(books.members[2].cash, "-11.00"),
                    leg(books.bank, "11.00"),
                ],
            ),
            "ledger.overdraft",
        ),
        (
            NewEntry {
                idempotency_key: "elsewhere/g/x".to_owned(),
                ..good(0)
            },
            "ledger.invalid_field",
        ),
    ];
    for (bad, code) in cases {
        let mut batch: Vec<NewEntry> = (0..12).map(good).collect();
        batch[7] = bad;
        let error = seal(ledger, &batch).await.unwrap_err();
        match &error {
            LedgerError::BatchRejected { index, reason, .. } => {
                assert_eq!((*index, reason.code()), (7, code), "{error}");
            }
            other => panic!("expected {code} at entry 7, got {other:?}"),
        }
        assert_eq!(
            books.last_entry_id().await,
            0,
            "{code}: something was written"
        );
        assert_eq!(ledger.balance(books.bank).await.unwrap(), dec("0"));
    }
    books.finish().await;
}
