//! Checkpoints anchor the journal's head outside the database (ADR 31): a tail the owning role
//! rewrites and lets the ledger re-link passes `verify`, and is caught by a checkpoint taken
//! before; a cut tail is caught; a checkpoint altered, or checked under another key, is refused.

use acme_ledger::checkpoint::{Checkpoint, CheckpointKey};
use sqlx::Connection as _;

use crate::support::{Books, deposit, owner_around_the_triggers};

fn key(byte: u8) -> CheckpointKey {
    CheckpointKey::new(vec![byte; 32]).unwrap()
}

async fn post(books: &Books, key: &str, amount: &str) {
    books
        .ledger()
        .post(&deposit(key, books, 0, amount))
        .await
        .unwrap();
}

/// As the owning role, with the append-only triggers off: deletes the entries after
/// `keep` and puts the chain head back on it.
async fn cut_after(books: &Books, keep: i64) {
    let mut owner = owner_around_the_triggers(books).await;
    for statement in [
        "delete from posting where entry_id > $1",
        "delete from journal_entry where entry_id > $1",
        "update journal_head set last_entry_id = e.entry_id, last_hash = e.entry_hash,
                                 last_recorded_at = e.recorded_at
         from journal_entry e where e.entry_id = $1",
    ] {
        sqlx::query(statement)
            .bind(keep)
            .execute(&mut owner)
            .await
            .unwrap();
    }
    owner.close().await.unwrap();
}

#[tokio::test]
async fn a_tail_rewritten_and_relinked_passes_verify_but_not_the_checkpoints_taken_before() {
    let books = Books::open(1).await;
    let ledger = books.ledger();
    let key = key(7);
    let empty = ledger.checkpoint(&key).await.unwrap();
    assert_eq!(empty.entry_id, 0);
    for n in 1..=3 {
        post(&books, &format!("t/{n}"), "10.00").await;
    }
    let third = ledger.checkpoint(&key).await.unwrap();
    assert_eq!(third.entry_id, books.last_entry_id().await);
    post(&books, "t/4", "10.00").await;
    let fourth = ledger.checkpoint(&key).await.unwrap();
    let all = [empty, third.clone(), fourth.clone()];
    assert!(
        ledger
            .check_checkpoints(&key, &all)
            .await
            .unwrap()
            .is_empty()
    );

    // The owner removes the fourth entry and lets the ledger append another in its place: the
    // ledger links it to the third, so the whole chain verifies again.
    cut_after(&books, third.entry_id).await;
    post(&books, "t/4-instead", "99.00").await;
    assert!(
        ledger.verify().await.unwrap().is_sound(),
        "a re-linked chain verifies: only the checkpoint can tell"
    );
    let problems = ledger.check_checkpoints(&key, &all).await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    // The new entry took the fourth's id (ids follow the head): its hash is not the one signed.
    assert_eq!(problems[0].entry_id, fourth.entry_id);
    assert!(problems[0].problem.contains("rewritten"), "{problems:?}");

    // Cut back to the second entry: the third's checkpoint now reaches past the journal's end.
    cut_after(&books, third.entry_id - 1).await;
    let problems = ledger
        .check_checkpoints(&key, std::slice::from_ref(&third))
        .await
        .unwrap();
    assert!(problems[0].problem.contains("cut"), "{problems:?}");
    books.db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_checkpoint_altered_or_under_another_key_is_refused() {
    let books = Books::open(1).await;
    let ledger = books.ledger();
    post(&books, "t/1", "10.00").await;
    let key = key(7);
    let checkpoint = ledger.checkpoint(&key).await.unwrap();
    let moved = Checkpoint {
        entry_id: checkpoint.entry_id + 1,
        ..checkpoint.clone()
    };
    for (name, checked, with) in [
        ("another key", &checkpoint, &self::key(8)),
        ("an altered entry id", &moved, &key),
    ] {
        let problems = ledger
            .check_checkpoints(with, std::slice::from_ref(checked))
            .await
            .unwrap();
        assert!(problems[0].problem.contains("MAC"), "{name}: {problems:?}");
    }
    assert!(CheckpointKey::new(vec![1; 31]).is_err(), "a short key");
    assert_eq!(format!("{key:?}"), "CheckpointKey(..)");
    books.db.drop_database().await.unwrap();
}
