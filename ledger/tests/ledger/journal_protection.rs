//! Invariant 7: the application cannot change the journal, and a change made around it (by the
//! owning role, which can disable triggers) is named by `verify`.

use acme_ledger::EntryId;
use acme_ledger::verify::ChainBreak;
use sqlx::Connection as _;

use crate::support::{Books, deposit, owner_around_the_triggers};

async fn books_with_three_entries() -> Books {
    let books = Books::open(1).await;
    for n in 1..=3 {
        books
            .ledger()
            .post(&deposit(&format!("t/{n}"), &books, 0, "10.00"))
            .await
            .unwrap();
    }
    books
}

#[tokio::test]
async fn the_application_role_cannot_update_or_delete_the_journal() {
    let books = books_with_three_entries().await;
    let pool = books.ledger().pool();
    for statement in [
        "update posting set amount = amount * 2 where entry_id = 2",
        "delete from posting where entry_id = 2",
        "update journal_entry set kind = 'edited' where entry_id = 2",
        "delete from journal_entry where entry_id = 3",
        "truncate posting",
    ] {
        let error = sqlx::query(statement).execute(pool).await.unwrap_err();
        let code = error
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        // 42501: insufficient privilege (no grant).
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {error}");
    }
    assert!(books.ledger().verify().await.unwrap().is_sound());
    books.finish().await;
}

#[tokio::test]
async fn even_the_owning_role_is_stopped_by_the_append_only_trigger() {
    let books = books_with_three_entries().await;
    let mut owner = books.db.owner_connection().await.unwrap();
    for statement in [
        "update posting set amount = amount * 2 where entry_id = 2",
        "delete from journal_entry where entry_id = 3",
        "truncate journal_entry cascade",
    ] {
        let error = sqlx::query(statement)
            .execute(&mut owner)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    owner.close().await.unwrap();
    books.finish().await;
}

#[tokio::test]
async fn verify_names_an_entry_edited_behind_the_applications_back() {
    let books = books_with_three_entries().await;
    let mut owner = books.db.owner_connection().await.unwrap();
    sqlx::query("alter table posting disable trigger posting_append_only")
        .execute(&mut owner)
        .await
        .unwrap();
    sqlx::query("update posting set amount = amount + 1 where entry_id = 2 and amount > 0")
        .execute(&mut owner)
        .await
        .unwrap();
    owner.close().await.unwrap();
    let report = books.ledger().verify().await.unwrap();
    let broken = report.first_break.expect("the edit must be detected");
    assert_eq!(broken.entry_id, EntryId(2));
    assert!(broken.problem.contains("content"), "{}", broken.problem);
    books.db.drop_database().await.unwrap();
}

/// Deletes an entry and its postings as the owning role, with the triggers switched off, and
/// returns what `verify` says about the journal afterwards.
async fn delete_entry_behind_the_applications_back(books: &Books, entry_id: i64) -> ChainBreak {
    let mut owner = owner_around_the_triggers(books).await;
    for statement in [
        "delete from posting where entry_id = $1",
        "delete from journal_entry where entry_id = $1",
    ] {
        sqlx::query(statement)
            .bind(entry_id)
            .execute(&mut owner)
            .await
            .unwrap();
    }
    owner.close().await.unwrap();
    let report = books.ledger().verify().await.unwrap();
    report.first_break.expect("the deletion must be detected")
}

#[tokio::test]
async fn verify_names_a_deleted_entry() {
    let books = books_with_three_entries().await;
    let broken = delete_entry_behind_the_applications_back(&books, 2).await;
    assert_eq!(broken.entry_id, EntryId(3));
    assert!(
        broken.problem.contains("entry 2 is missing"),
        "{}",
        broken.problem
    );
    books.db.drop_database().await.unwrap();
}

#[tokio::test]
async fn verify_notices_entries_cut_from_the_end() {
    let books = books_with_three_entries().await;
    let broken = delete_entry_behind_the_applications_back(&books, 3).await;
    assert!(broken.problem.contains("chain head"), "{}", broken.problem);
    books.db.drop_database().await.unwrap();
}
