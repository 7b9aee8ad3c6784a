//! Shared fixtures: a database with a small chart of accounts, and entry builders.

use std::collections::BTreeMap;

use acme_ledger::chart::Asset;
use acme_ledger::testkit::TestDatabase;
use acme_ledger::{AccountId, AssetKind, Ledger, NewEntry, NewPosting, OwnerKind};
use acme_sdk::AssetCode;
use chrono::NaiveDate;
use rust_decimal::Decimal;

pub const FUND: &str = "GB00ACMEGLB1";

/// A fresh database with GBP (2 dp) and one fund (6 dp), a bank mirror that may go negative,
/// and `members` member pots each with GBP and fund `available` accounts.
pub struct Books {
    pub db: TestDatabase,
    pub bank: AccountId,
    pub custodian_units: AccountId,
    pub members: Vec<MemberAccounts>,
}

#[derive(Debug, Clone, Copy)]
pub struct MemberAccounts {
    pub cash: AccountId,
    pub units: AccountId,
}

impl Books {
    pub async fn open(members: usize) -> Books {
        Self::open_with_pool(members, 4).await
    }

    pub async fn open_with_pool(members: usize, pool_size: u32) -> Books {
        let db = TestDatabase::create(pool_size)
            .await
            .expect("create a test database: is the stack up? run ops/stack up");
        let ledger = &db.ledger;
        let gbp = asset(ledger, "GBP", AssetKind::Cash, 2).await;
        let fund = asset(ledger, FUND, AssetKind::Fund, 6).await;
        let bank_pot = ledger.open_pot(OwnerKind::External, "bank").await.unwrap();
        let bank = ledger
            .open_account(bank_pot, &gbp, "available", true)
            .await
            .unwrap();
        let custodian_pot = ledger
            .open_pot(OwnerKind::External, "custodian")
            .await
            .unwrap();
        let custodian_units = ledger
            .open_account(custodian_pot, &fund, "holding", true)
            .await
            .unwrap();
        let mut accounts = Vec::with_capacity(members);
        for n in 0..members {
            let pot = ledger
                .open_pot(OwnerKind::Member, &format!("m{n}"))
                .await
                .unwrap();
            accounts.push(MemberAccounts {
                cash: ledger
                    .open_account(pot, &gbp, "available", false)
                    .await
                    .unwrap(),
                units: ledger
                    .open_account(pot, &fund, "available", false)
                    .await
                    .unwrap(),
            });
        }
        Books {
            db,
            bank,
            custodian_units,
            members: accounts,
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.db.ledger
    }

    /// The id of the last entry in the journal (0 when empty): proves whether anything was written.
    pub async fn last_entry_id(&self) -> i64 {
        sqlx::query_scalar("select last_entry_id from journal_head")
            .fetch_one(self.ledger().pool())
            .await
            .unwrap()
    }

    pub async fn entry_count(&self) -> i64 {
        sqlx::query_scalar("select count(*) from journal_entry")
            .fetch_one(self.ledger().pool())
            .await
            .unwrap()
    }

    pub async fn finish(self) {
        let report = self.ledger().check_invariants().await.unwrap();
        assert!(
            report.holds(),
            "invariants violated at the end of a test: {report:#?}"
        );
        let chain = self.ledger().verify().await.unwrap();
        assert!(
            chain.is_sound(),
            "journal chain broken at the end of a test: {chain:#?}"
        );
        self.db.drop_database().await.unwrap();
    }
}

async fn asset(ledger: &Ledger, code: &str, kind: AssetKind, scale: u32) -> AssetCode {
    let code = AssetCode::parse(code).unwrap();
    ledger
        .register_asset(&Asset {
            code: code.clone(),
            kind,
            scale,
            description: String::new(),
        })
        .await
        .unwrap();
    code
}

pub fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap()
}

pub fn leg(account_id: AccountId, amount: &str) -> NewPosting {
    NewPosting {
        account_id,
        amount: dec(amount),
    }
}

/// An entry of workflow `ledger-tests/<key up to its first '/'>` whose key is
/// `<workflow id>/<key>`.
pub fn entry(key: &str, postings: Vec<NewPosting>) -> NewEntry {
    let workflow_id = format!("ledger-tests/{}", key.split('/').next().unwrap_or(key));
    NewEntry {
        idempotency_key: format!("{workflow_id}/{key}"),
        kind: "test.transfer".to_owned(),
        process: "ledger-tests".to_owned(),
        workflow_id,
        effective_date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        metadata: BTreeMap::from([("note".to_owned(), format!("entry {key}"))]),
        postings,
    }
}

/// Cash from the bank into a member's available account.
pub fn deposit(key: &str, books: &Books, member: usize, amount: &str) -> NewEntry {
    let negated = format!("-{amount}");
    entry(
        key,
        vec![
            leg(books.bank, &negated),
            leg(books.members[member].cash, amount),
        ],
    )
}

/// A connection as the owning role with the journal's append-only triggers switched off: what
/// someone editing the journal behind the application's back would have.
pub async fn owner_around_the_triggers(books: &Books) -> sqlx::PgConnection {
    let mut owner = books.db.owner_connection().await.unwrap();
    for statement in [
        "alter table posting disable trigger posting_append_only",
        "alter table journal_entry disable trigger journal_entry_append_only",
    ] {
        sqlx::query(statement).execute(&mut owner).await.unwrap();
    }
    owner
}
