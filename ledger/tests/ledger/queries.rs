//! Balances now and as of a past moment, statements, journals, and the invariants report.

use acme_ledger::EntryId;
use acme_ledger::query::JournalFilter;
use chrono::Utc;
use sqlx::Connection as _;

use crate::support::{Books, dec, deposit, entry, leg};

#[tokio::test]
async fn the_balance_recorded_by_a_past_moment_comes_from_the_journal() {
    let books = Books::open(1).await;
    let cash = books.members[0].cash;
    let before_anything = Utc::now();
    books
        .ledger()
        .post(&deposit("a/1", &books, 0, "10.00"))
        .await
        .unwrap();
    let after_first = Utc::now();
    books
        .ledger()
        .post(&deposit("a/2", &books, 0, "5.00"))
        .await
        .unwrap();
    assert_eq!(
        books
            .ledger()
            .balance_recorded_by(cash, before_anything)
            .await
            .unwrap(),
        dec("0")
    );
    assert_eq!(
        books
            .ledger()
            .balance_recorded_by(cash, after_first)
            .await
            .unwrap(),
        dec("10.00")
    );
    assert_eq!(
        books
            .ledger()
            .balance_recorded_by(cash, Utc::now())
            .await
            .unwrap(),
        dec("15.00")
    );
    assert_eq!(books.ledger().balance(cash).await.unwrap(), dec("15.00"));
    books.finish().await;
}

#[tokio::test]
async fn balances_on_a_date_count_entries_by_effective_date_not_by_when_recorded() {
    let books = Books::open(1).await;
    let ledger = books.ledger();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    // Recorded first but effective later, then a correction recorded later but effective earlier.
    let mut later = deposit("e/1", &books, 0, "10.00");
    later.effective_date = day(24);
    let mut backdated = deposit("e/2", &books, 0, "5.00");
    backdated.effective_date = day(20);
    ledger.post(&later).await.unwrap();
    ledger.post(&backdated).await.unwrap();
    let pot: acme_ledger::PotId =
        sqlx::query_scalar("select pot_id from account where account_id = $1")
            .bind(books.members[0].cash)
            .fetch_one(ledger.pool())
            .await
            .unwrap();
    let cash_on = |date| async move {
        ledger
            .pot_balances_on(pot, date)
            .await
            .unwrap()
            .into_iter()
            .find(|b| b.asset_code == "GBP")
            .unwrap()
            .amount
    };
    assert_eq!(cash_on(day(19)).await, dec("0"));
    assert_eq!(cash_on(day(20)).await, dec("5.00"));
    assert_eq!(cash_on(day(23)).await, dec("5.00"));
    assert_eq!(cash_on(day(24)).await, dec("15.00"));
    books.finish().await;
}

#[tokio::test]
async fn a_pot_statement_lists_postings_with_running_balances() {
    let books = Books::open(2).await;
    let (a, b) = (books.members[0], books.members[1]);
    books
        .ledger()
        .post(&deposit("s/1", &books, 0, "10.00"))
        .await
        .unwrap();
    books
        .ledger()
        .post(&entry(
            "s/2",
            vec![leg(a.cash, "-4.00"), leg(b.cash, "4.00")],
        ))
        .await
        .unwrap();
    let pot = books.ledger().account(a.cash).await.unwrap().pot_id;
    let lines = books.ledger().pot_statement(pot, EntryId(0)).await.unwrap();
    let summary: Vec<_> = lines
        .iter()
        .map(|l| (l.entry_id.0, l.amount, l.balance_after))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, dec("10.00"), dec("10.00")),
            (2, dec("-4.00"), dec("6.00"))
        ]
    );
    let paged = books.ledger().pot_statement(pot, EntryId(1)).await.unwrap();
    assert_eq!(paged.len(), 1);
    assert_eq!(paged[0].balance_after, dec("6.00"));
    books.finish().await;
}

#[tokio::test]
async fn the_journal_of_a_workflow_or_process_lists_its_entries_in_order() {
    let books = Books::open(1).await;
    for key in ["w1/a", "w2/a", "w10/a", "w1/b"] {
        books
            .ledger()
            .post(&deposit(key, &books, 0, "1.00"))
            .await
            .unwrap();
    }
    let w1 = books
        .ledger()
        .journal(JournalFilter::Workflow("ledger-tests/w1"), EntryId(0))
        .await
        .unwrap();
    assert_eq!(
        w1.iter()
            .map(|e| e.idempotency_key.as_str())
            .collect::<Vec<_>>(),
        ["ledger-tests/w1/w1/a", "ledger-tests/w1/w1/b"]
    );
    assert_eq!(w1[0].postings.len(), 2);
    assert_eq!(w1[0].postings[1].amount, dec("1.00"));
    let all = books
        .ledger()
        .journal(JournalFilter::Process("ledger-tests"), EntryId(0))
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    books.finish().await;
}

#[tokio::test]
async fn the_invariants_report_names_a_balance_that_disagrees_with_its_postings() {
    let books = Books::open(1).await;
    books
        .ledger()
        .post(&deposit("i/1", &books, 0, "10.00"))
        .await
        .unwrap();
    assert!(books.ledger().check_invariants().await.unwrap().holds());
    let mut owner = books.db.owner_connection().await.unwrap();
    sqlx::query("update balance set amount = amount + 0.01 where account_id = $1")
        .bind(books.members[0].cash)
        .execute(&mut owner)
        .await
        .unwrap();
    owner.close().await.unwrap();
    let report = books.ledger().check_invariants().await.unwrap();
    assert!(!report.holds());
    let violated: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.violation_count > 0)
        .collect();
    assert_eq!(violated.len(), 1, "{report:#?}");
    assert_eq!((violated[0].invariant, violated[0].violation_count), (2, 1));
    assert!(
        violated[0].violations[0].contains("balance 10.01"),
        "{:?}",
        violated[0].violations
    );
    books.db.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_member_account_cannot_be_opened_with_overdraft_permission() {
    let books = Books::open(1).await;
    let pot = books
        .ledger()
        .account(books.members[0].cash)
        .await
        .unwrap()
        .pot_id;
    let gbp = acme_sdk::AssetCode::parse("GBP").unwrap();
    for purpose in ["loan", "available"] {
        let error = books
            .ledger()
            .open_account(pot, &gbp, purpose, true)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("may never go negative"),
            "{error}"
        );
    }
    let bank_pot = books.ledger().account(books.bank).await.unwrap().pot_id;
    let error = books
        .ledger()
        .open_account(bank_pot, &gbp, "available", false)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("already exists"), "{error}");
    books.finish().await;
}

#[tokio::test]
async fn the_application_refreshes_the_planners_statistics_after_bulk_work() {
    let books = Books::open(3).await;
    let analyzed = || async {
        sqlx::query_scalar::<_, i64>(
            "select coalesce(sum(analyze_count), 0)::bigint from pg_stat_user_tables
             where relname in ('pot', 'account', 'balance')",
        )
        .fetch_one(books.ledger().pool())
        .await
        .unwrap()
    };
    let before = analyzed().await;
    books.ledger().refresh_planner_statistics().await.unwrap();
    // The statistics collector reports asynchronously; the count moves once it has.
    let after = acme_sdk::testkit::eventually(std::time::Duration::from_secs(10), || async {
        let after = analyzed().await;
        if after >= before + 3 {
            Ok(after)
        } else {
            Err(format!("analyze count {after}, was {before}"))
        }
    })
    .await;
    assert!(after >= before + 3);
    books.finish().await;
}
