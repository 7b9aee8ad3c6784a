//! Seeding by the million, at a small size: running a seed again writes nothing, a seed that
//! was interrupted (or meets members onboarded otherwise) is completed without duplicates, and
//! booked buys leave a journal that balances, chains and verifies, with one trade each.

use acme_activities::members::{NewMember, ensure_reference_data, onboard_members};
use acme_activities::seeding::{Booking, Seed, SeedError, book_buys, seed_buys, seed_members};
use acme_ledger::testkit::TestDatabase;
use acme_ledger::{OwnerKind, Rejection};
use chrono::NaiveDate;
use rust_decimal::Decimal;

fn seed() -> Seed {
    let mut seed = Seed::new("s", 25, Some("balanced"));
    // Three chunks, the last one short.
    seed.chunk = 10;
    seed
}

fn booking() -> Booking {
    Booking {
        process: "seed".into(),
        tag: "t".into(),
        effective_date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
    }
}

async fn count(db: &TestDatabase, query: &str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(db.ledger.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn seeding_twice_changes_nothing_and_booked_buys_verify() {
    let db = TestDatabase::create(4).await.unwrap();
    let ledger = &db.ledger;
    ensure_reference_data(ledger).await.unwrap();
    // Work done before the seed: one member onboarded, one pot opened without its accounts or
    // member row (as a seed interrupted between its statements leaves it).
    onboard_members(
        ledger,
        &[NewMember {
            member_id: "s-12".into(),
            portfolio: Some("cautious".into()),
        }],
    )
    .await
    .unwrap();
    ledger.open_pot(OwnerKind::Member, "s-3").await.unwrap();
    let seed = seed();
    let mut reported = Vec::new();
    let first = seed_members(ledger, &seed, |done, total| reported.push((done, total)))
        .await
        .unwrap();
    assert_eq!((first.new, first.skipped_chunks), (24, 0));
    assert_eq!(reported.len(), 3, "one report per chunk: {reported:?}");
    assert_eq!(reported.last(), Some(&(25, 25)));
    let again = seed_members(ledger, &seed, |_, _| {}).await.unwrap();
    assert_eq!((again.new, again.skipped_chunks), (0, 3));
    assert_eq!(count(&db, "select count(*) from member").await, 25);
    assert_eq!(
        count(
            &db,
            "select count(*) from account a join pot p using (pot_id) where p.owner_kind = 'member'"
        )
        .await,
        50,
        "two cash accounts per member, none twice"
    );
    assert_eq!(
        count(&db, "select count(*) from balance").await,
        count(&db, "select count(*) from account").await
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from member where portfolio_code = 'cautious'"
        )
        .await,
        1,
        "a member that existed is left as it was"
    );

    // Part of the buys booked first, as an interrupted run leaves them.
    let booking = booking();
    let early: Vec<_> = [4, 5, 6].map(|n| seed.buy(n).unwrap()).to_vec();
    book_buys(ledger, &booking, &early).await.unwrap();
    let booked = seed_buys(ledger, &seed, &booking, |_, _| {}).await.unwrap();
    assert_eq!((booked.new, booked.skipped_chunks), (22, 0));
    let again = seed_buys(ledger, &seed, &booking, |_, _| {}).await.unwrap();
    assert_eq!((again.new, again.skipped_chunks), (0, 3));
    assert_eq!(count(&db, "select count(*) from journal_entry").await, 50);
    assert_eq!(
        count(
            &db,
            "select count(*) from member_trade where status = 'pending'"
        )
        .await,
        25
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from trade_transition where transition = 'create' and actor = 'seed'"
        )
        .await,
        25
    );
    // Each member's cash is reserved, none left available, the bank mirror paid it all.
    let (reserved, available, bank): (Decimal, Decimal, Decimal) = sqlx::query_as(
        "select sum(b.amount) filter (where p.owner_kind = 'member' and a.purpose = 'reserved'),
                sum(b.amount) filter (where p.owner_kind = 'member' and a.purpose = 'available'),
                sum(b.amount) filter (where p.owner_kind = 'external')
         from balance b join account a using (account_id) join pot p using (pot_id)",
    )
    .fetch_one(ledger.pool())
    .await
    .unwrap();
    let asked: Decimal = (1..=25).map(|n| seed.buy(n).unwrap().cash).sum();
    assert_eq!((reserved, available, bank), (asked, Decimal::ZERO, -asked));
    assert!(ledger.verify().await.unwrap().is_sound());
    assert!(ledger.check_invariants().await.unwrap().holds());

    // The same origin with another amount is refused by the ledger, and nothing of its chunk
    // (here also a new buy of another fund) is written.
    let mut other = seed.buy(25).unwrap();
    other.cash += Decimal::ONE;
    let mut new = seed.buy(24).unwrap();
    new.asset = seed.buy(25).unwrap().asset;
    let trades = count(&db, "select count(*) from member_trade").await;
    let refused = book_buys(ledger, &booking, &[new, other])
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, SeedError::Ledger(error)
            if matches!(error.rejection(), Some(Rejection::IdempotencyConflict { .. }))),
        "{refused}"
    );
    assert_eq!(count(&db, "select count(*) from journal_entry").await, 50);
    assert_eq!(
        count(&db, "select count(*) from member_trade").await,
        trades
    );

    // A buy for someone who is not a member is refused before anything is written.
    let mut stranger = seed.buy(1).unwrap();
    stranger.member_id = "s-26".into();
    let refused = book_buys(ledger, &booking, &[stranger]).await.unwrap_err();
    assert!(
        matches!(&refused, SeedError::NotOnboarded { member_id } if member_id == "s-26"),
        "{refused}"
    );
    db.drop_database().await.unwrap();
}
