//! What the ledger benchmarks share: the same books (a bank account and 100,000 member cash
//! accounts) and the same two-leg deposit entry, so their figures compare.

use std::collections::BTreeMap;

use acme_ledger::chart::Asset;
use acme_ledger::{AccountId, AssetKind, Ledger, NewEntry, NewPosting, OwnerKind};
use acme_sdk::AssetCode;
use chrono::NaiveDate;
use rust_decimal::Decimal;

pub const MEMBERS: usize = 100_000;

/// Registers GBP and opens the bank's account and [`MEMBERS`] member pots with a cash account
/// each; returns the bank's account and the members' accounts.
pub async fn open_books(ledger: &Ledger) -> anyhow::Result<(AccountId, Vec<AccountId>)> {
    let gbp = AssetCode::parse("GBP")?;
    ledger
        .register_asset(&Asset {
            code: gbp.clone(),
            kind: AssetKind::Cash,
            scale: 2,
            description: String::new(),
        })
        .await?;
    let bank_pot = ledger.open_pot(OwnerKind::External, "bank").await?;
    let bank = ledger
        .open_account(bank_pot, &gbp, "available", true)
        .await?;
    let refs: Vec<String> = (0..MEMBERS).map(|n| format!("member-{n}")).collect();
    let members = ledger
        .open_pots_in_bulk(OwnerKind::Member, &refs, &[(gbp.clone(), "available")])
        .await?
        .into_iter()
        .map(|accounts| accounts[0])
        .collect();
    Ok((bank, members))
}

/// Entry `n` of benchmark `bench`: £1.00–£100.99 from the bank to `member`.
pub fn deposit(bench: &str, n: usize, bank: AccountId, member: AccountId) -> NewEntry {
    let amount = Decimal::new(i64::try_from(100 + n % 10_000).unwrap_or(100), 2);
    NewEntry {
        idempotency_key: format!("{bench}/{}/{n}", n / 100_000),
        kind: "contribution.received".into(),
        process: bench.into(),
        workflow_id: format!("{bench}/{}", n / 100_000),
        effective_date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default(),
        metadata: BTreeMap::new(),
        postings: vec![
            NewPosting {
                account_id: bank,
                amount: -amount,
            },
            NewPosting {
                account_id: member,
                amount,
            },
        ],
    }
}
