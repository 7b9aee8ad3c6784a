//! Many writers at once over the same accounts, through both write paths: exact balances, no
//! deadlock reaching a caller.

use std::collections::HashMap;

use acme_ledger::AccountId;
use rust_decimal::Decimal;

use crate::support::{Books, entry, leg};

const TASKS: usize = 8;
const ENTRIES_PER_TASK: usize = 10_000;
const MEMBERS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_of_ten_thousand_entries_each_leave_exact_balances() {
    let books = Books::open_with_pool(MEMBERS, 10).await;
    let members: Vec<AccountId> = books.members.iter().map(|m| m.cash).collect();
    let mut expected: HashMap<AccountId, Decimal> = HashMap::new();
    let mut plans = Vec::with_capacity(TASKS);
    for task in 0..TASKS {
        let mut plan = Vec::with_capacity(ENTRIES_PER_TASK);
        for n in 0..ENTRIES_PER_TASK {
            // Transfers between members in both directions, plus deposits from the bank, so
            // writers keep locking the same rows in opposite orders.
            let from = if n % 3 == 0 {
                books.bank
            } else {
                members[(task + n) % MEMBERS]
            };
            let to = members[(task * 5 + n * 7 + 1) % MEMBERS];
            let to = if to == from {
                members[(task + n + 1) % MEMBERS]
            } else {
                to
            };
            let cents = i64::try_from(1 + (task * 31 + n * 17) % 500).unwrap();
            let amount = Decimal::new(cents, 2);
            *expected.entry(from).or_default() -= amount;
            *expected.entry(to).or_default() += amount;
            plan.push(entry(
                &format!("c{task}/{n}"),
                vec![
                    leg(from, &(-amount).to_string()),
                    leg(to, &amount.to_string()),
                ],
            ));
        }
        plans.push(plan);
    }
    // Members start with enough that no transfer can overdraw them, whatever the interleaving.
    let seed: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(n, &account)| {
            entry(
                &format!("seed/{n}"),
                vec![leg(books.bank, "-100000.00"), leg(account, "100000.00")],
            )
        })
        .collect();
    books.ledger().post_batch(&seed).await.unwrap();
    for &account in &members {
        *expected.entry(account).or_default() += Decimal::new(100_000, 0);
    }
    *expected.entry(books.bank).or_default() -= Decimal::new(100_000 * MEMBERS as i64, 0);

    // Each writer posts most of its entries in batches of 100 and every tenth batch one entry at
    // a time, so both paths race each other over the same rows.
    let writers = plans.into_iter().map(|plan| {
        let ledger = books.ledger().clone();
        tokio::spawn(async move {
            for (n, chunk) in plan.chunks(100).enumerate() {
                if n % 10 == 0 {
                    for entry in chunk {
                        ledger.post(entry).await?;
                    }
                } else {
                    ledger.post_batch(chunk).await?;
                }
            }
            Ok::<_, acme_ledger::LedgerError>(plan.len())
        })
    });
    let written: usize = futures::future::join_all(writers)
        .await
        .into_iter()
        .map(|joined| {
            joined
                .expect("writer task panicked")
                .expect("a writer got an error")
        })
        .sum();
    assert_eq!(written, TASKS * ENTRIES_PER_TASK);
    assert_eq!(
        books.entry_count().await,
        i64::try_from(TASKS * ENTRIES_PER_TASK + MEMBERS).unwrap()
    );
    for (account, amount) in expected {
        assert_eq!(
            books.ledger().balance(account).await.unwrap(),
            amount,
            "account {account}"
        );
    }
    books.finish().await;
}
