//! Corrections by reversal under four eyes: asked for by one operator, posted only once a second
//! approves; every posting negated; at most one reversal per entry; the requester can never
//! approve, by the API or by writing the table; an overdraft leaves the request pending and the
//! books as they were.

use acme_ledger::query::JournalFilter;
use acme_ledger::reversal::{self, ReversalRequest};
use acme_ledger::{EntryId, LedgerError};
use chrono::NaiveDate;

use crate::support::{Books, dec, deposit, entry, leg};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

fn code(error: &LedgerError) -> &'static str {
    match error {
        LedgerError::Refused { code, .. } => code,
        other => panic!("not a refusal: {other:?}"),
    }
}

#[tokio::test]
async fn a_reversal_is_posted_only_once_a_second_operator_approves() {
    let books = Books::open(1).await;
    let ledger = books.ledger();
    let member = books.members[0].cash;
    let posted = ledger
        .post(&deposit("d/1", &books, 0, "40.00"))
        .await
        .unwrap();
    ledger
        .post(&deposit("d/2", &books, 0, "2.50"))
        .await
        .unwrap();

    let request = ledger
        .request_reversal(posted.entry_id, "alice", "posted in error", day())
        .await
        .unwrap();
    // Asked, not done: nothing moves until someone else approves.
    assert_eq!(ledger.balance(member).await.unwrap(), dec("42.50"));
    assert_eq!(books.entry_count().await, 2);
    // The same request again is the same request; another reason or operator is refused.
    let again = ledger
        .request_reversal(posted.entry_id, "alice", "posted in error", day())
        .await
        .unwrap();
    assert_eq!(again, request);
    let other = ledger
        .request_reversal(posted.entry_id, "bob", "another reason", day())
        .await
        .unwrap_err();
    assert_eq!(code(&other), "reversal.conflict");
    assert!(other.to_string().contains("by alice"), "{other}");

    // Four eyes: alice cannot approve her own request.
    let own = ledger
        .approve_reversal(request.request_id, "alice")
        .await
        .unwrap_err();
    assert_eq!(code(&own), "reversal.four_eyes");
    assert_eq!(books.entry_count().await, 2);

    let approved = ledger
        .approve_reversal(request.request_id, "bob")
        .await
        .unwrap();
    assert_eq!(approved.approved_by.as_deref(), Some("bob"));
    let reversing = approved.reversing_entry_id.unwrap();
    assert_eq!(ledger.balance(member).await.unwrap(), dec("2.50"));
    assert_eq!(ledger.balance(books.bank).await.unwrap(), dec("-2.50"));
    let entry = ledger
        .journal(JournalFilter::Entry(EntryId(reversing)), EntryId(0))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(entry.kind, reversal::KIND);
    assert_eq!(entry.effective_date, day());
    assert_eq!(
        entry.metadata["reverses_entry"],
        posted.entry_id.0.to_string()
    );
    assert_eq!(entry.metadata["reason"], "posted in error");

    // Approving again: the same approver gets the request back, nothing new is posted;
    // anyone else is told it is done.
    let replay = ledger
        .approve_reversal(request.request_id, "bob")
        .await
        .unwrap();
    assert_eq!(replay, approved);
    let late = ledger
        .approve_reversal(request.request_id, "carol")
        .await
        .unwrap_err();
    assert_eq!(code(&late), "reversal.already_approved");
    assert_eq!(books.entry_count().await, 3);

    // A reversing entry is not itself reversed: a new correcting entry is posted instead.
    let of_reversal = ledger
        .request_reversal(EntryId(reversing), "carol", "undo the undo", day())
        .await
        .unwrap_err();
    assert_eq!(code(&of_reversal), "reversal.of_reversal");
    books.finish().await;
}

#[tokio::test]
async fn bad_requests_are_refused_and_write_nothing() {
    let books = Books::open(1).await;
    let ledger = books.ledger();
    let posted = ledger
        .post(&deposit("d/1", &books, 0, "10.00"))
        .await
        .unwrap();
    let unknown = ledger
        .request_reversal(EntryId(999), "alice", "typo", day())
        .await
        .unwrap_err();
    assert_eq!(code(&unknown), "reversal.unknown_entry");
    for blank in ["", "   "] {
        let error = ledger
            .request_reversal(posted.entry_id, "alice", blank, day())
            .await
            .unwrap_err();
        assert_eq!(code(&error), "reversal.reason_required");
    }
    let too_long = "x".repeat(reversal::MAX_REASON_CHARS + 1);
    let error = ledger
        .request_reversal(posted.entry_id, "alice", &too_long, day())
        .await
        .unwrap_err();
    assert_eq!(code(&error), "reversal.reason_required");
    let missing = ledger.approve_reversal(42, "bob").await.unwrap_err();
    assert_eq!(code(&missing), "reversal.unknown_request");
    assert!(ledger.reversals(false, 10).await.unwrap().is_empty());
    books.finish().await;
}

#[tokio::test]
async fn a_reversal_that_would_overdraw_is_refused_and_stays_pending() {
    let books = Books::open(1).await;
    let ledger = books.ledger();
    let member = books.members[0].cash;
    let posted = ledger
        .post(&deposit("d/1", &books, 0, "30.00"))
        .await
        .unwrap();
    // The member has since moved the cash on: reversing the deposit would overdraw them.
    ledger
        .post(&entry(
            "w/1",
            vec![leg(member, "-25.00"), leg(books.bank, "25.00")],
        ))
        .await
        .unwrap();
    let request = ledger
        .request_reversal(posted.entry_id, "alice", "deposit bounced", day())
        .await
        .unwrap();
    let refused = ledger
        .approve_reversal(request.request_id, "bob")
        .await
        .unwrap_err();
    assert_eq!(
        refused.rejection().map(|r| r.code()),
        Some("ledger.overdraft"),
        "{refused}"
    );
    assert_eq!(ledger.balance(member).await.unwrap(), dec("5.00"));
    let pending: Vec<ReversalRequest> = ledger.reversals(true, 10).await.unwrap();
    assert_eq!(pending, vec![request]);
    books.finish().await;
}

#[tokio::test]
async fn the_table_itself_refuses_self_approval_and_edits() {
    let books = Books::open(1).await;
    let ledger = books.ledger();
    let posted = ledger
        .post(&deposit("d/1", &books, 0, "10.00"))
        .await
        .unwrap();
    let request = ledger
        .request_reversal(posted.entry_id, "alice", "test", day())
        .await
        .unwrap();
    // Written straight to the table, as the application's role could: the requester as
    // approver, a changed reason, a deleted request.
    for statement in [
        "update ledger_reversal set approved_by = 'alice', approved_at = now(),
                reversing_entry_id = 1 where request_id = $1",
        "update ledger_reversal set reason = 'other' where request_id = $1",
        "delete from ledger_reversal where request_id = $1",
    ] {
        let error = sqlx::query(statement)
            .bind(request.request_id)
            .execute(ledger.pool())
            .await
            .unwrap_err();
        assert!(
            error.as_database_error().is_some(),
            "{statement} was allowed: {error}"
        );
    }
    assert_eq!(
        ledger.reversal(request.request_id).await.unwrap(),
        Some(request)
    );
    books.finish().await;
}
