//! Property: any sequence of balanced entries, singly or in batches, with replays of earlier
//! keys mixed in, leaves balances equal to the sum of postings and to a simple model, writes no
//! entry twice, and keeps the invariants and the chain.

use std::collections::{HashMap, HashSet};

use acme_ledger::{LedgerError, NewEntry, Rejection};
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::support::{Books, entry, leg};

const MEMBERS: usize = 4;

#[derive(Debug, Clone)]
enum Step {
    /// From the bank (may go negative) to a member.
    Deposit { to: usize, cents: i64 },
    /// Between members: rejected if it would overdraw `from`.
    Transfer { from: usize, to: usize, cents: i64 },
    /// Post an earlier step's entry again (same key, same content).
    Replay { step: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..MEMBERS, 1i64..100_000).prop_map(|(to, cents)| Step::Deposit { to, cents }),
        (0..MEMBERS, 0..MEMBERS, 1i64..100_000).prop_map(|(from, to, cents)| Step::Transfer {
            from,
            to,
            cents
        }),
        (0usize..1_000).prop_map(|step| Step::Replay { step }),
    ]
}

/// Steps grouped into posts: a group of one is posted with `post`, larger ones with `post_batch`.
fn groups() -> impl Strategy<Value = Vec<Vec<Step>>> {
    prop::collection::vec(prop::collection::vec(step(), 1..6), 1..25)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn balances_equal_the_model_and_replays_write_nothing(groups in groups()) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(run(groups));
    }
}

async fn run(groups: Vec<Vec<Step>>) {
    let books = Books::open(MEMBERS).await;
    let mut model = Model::default();
    let mut history: Vec<NewEntry> = Vec::new();
    for (group_index, group) in groups.iter().enumerate() {
        let entries: Vec<NewEntry> = group
            .iter()
            .enumerate()
            .map(|(n, step)| to_entry(&books, step, &history, &format!("g{group_index}/{n}")))
            .collect();
        let accepted = model.try_apply(&books, &entries);
        let result = if entries.len() == 1 {
            books
                .ledger()
                .post(&entries[0])
                .await
                .map(|posted| vec![posted])
        } else {
            books.ledger().post_batch(&entries).await
        };
        match (accepted, result) {
            (true, Ok(posted)) => {
                for (entry, posted) in entries.iter().zip(&posted) {
                    let first_time = model
                        .entry_ids
                        .insert(entry.idempotency_key.clone(), posted.entry_id.0);
                    assert!(first_time.is_none() || first_time == Some(posted.entry_id.0));
                }
            }
            (false, Err(error)) => assert!(is_overdraft(&error), "unexpected rejection {error:?}"),
            (expected, got) => {
                panic!("model accepted={expected} but ledger gave {got:?} for {entries:?}")
            }
        }
        history.extend(entries);
    }
    for (account, amount) in &model.balances {
        assert_eq!(books.ledger().balance(*account).await.unwrap(), *amount);
    }
    let distinct: HashSet<i64> = model.entry_ids.values().copied().collect();
    assert_eq!(
        books.entry_count().await,
        i64::try_from(distinct.len()).unwrap(),
        "an entry was written twice"
    );
    books.finish().await;
}

fn is_overdraft(error: &LedgerError) -> bool {
    matches!(error.rejection(), Some(Rejection::Overdraft { .. }))
}

fn to_entry(books: &Books, step: &Step, history: &[NewEntry], key: &str) -> NewEntry {
    let amount = |cents: i64| Decimal::new(cents, 2);
    match *step {
        Step::Deposit { to, cents } => entry(
            key,
            vec![
                leg(books.bank, &(-amount(cents)).to_string()),
                leg(books.members[to].cash, &amount(cents).to_string()),
            ],
        ),
        Step::Transfer { from, to, cents } => {
            let to = if to == from { (to + 1) % MEMBERS } else { to };
            entry(
                key,
                vec![
                    leg(books.members[from].cash, &(-amount(cents)).to_string()),
                    leg(books.members[to].cash, &amount(cents).to_string()),
                ],
            )
        }
        Step::Replay { step } if !history.is_empty() => history[step % history.len()].clone(),
        Step::Replay { .. } => to_entry(books, &Step::Deposit { to: 0, cents: 1 }, history, key),
    }
}

/// What the ledger should hold: balances, and the entry id each posted key got.
#[derive(Default)]
struct Model {
    balances: HashMap<acme_ledger::AccountId, Decimal>,
    entry_ids: HashMap<String, i64>,
    posted_keys: HashSet<String>,
}

impl Model {
    /// Applies a post (all or nothing) the way the ledger should: entries in order, keys already
    /// posted are replays, an overdraft of a member account rejects the whole post.
    fn try_apply(&mut self, books: &Books, entries: &[NewEntry]) -> bool {
        let mut balances = self.balances.clone();
        let mut keys = self.posted_keys.clone();
        for entry in entries {
            if !keys.insert(entry.idempotency_key.clone()) {
                continue;
            }
            for posting in &entry.postings {
                let balance = balances.entry(posting.account_id).or_default();
                *balance += posting.amount;
                if balance.is_sign_negative() && posting.account_id != books.bank {
                    return false;
                }
            }
        }
        self.balances = balances;
        self.posted_keys = keys;
        true
    }
}
