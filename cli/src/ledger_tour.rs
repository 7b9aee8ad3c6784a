//! `acme ledger tour`: a short, self-explaining tour of the ledger on the local stack. It opens pots,
//! takes contributions in one bulk batch, reserves cash with a single posting, shows that a
//! replay writes nothing and that an overdraft is refused, then verifies the journal and the
//! invariants. Every run uses fresh idempotency keys, so it can be run again and again; it
//! refuses a database not marked as a dev one (`connect::dev_ledger`).

use std::collections::BTreeMap;
use std::time::Instant;

use acme_ledger::chart::Asset;
use acme_ledger::{AccountId, AssetKind, NewEntry, NewPosting, OwnerKind};
use acme_sdk::{AssetCode, Sign, parse_amount};
use anyhow::Context as _;
use chrono::Utc;
use clap::Args;
use rust_decimal::Decimal;

use crate::Outcome;
use crate::connect::{self, AppDatabase};

const PROCESS: &str = "ledger-demo";
const CASH_SCALE: u32 = 2;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many members to open and take contributions for
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    members: u32,
    /// Each member's contribution, in pounds
    #[arg(long, default_value = "250.00")]
    contribution: String,
    #[command(flatten)]
    database: AppDatabase,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let contribution =
        parse_amount(&args.contribution, CASH_SCALE, Sign::Positive).context("--contribution")?;
    let ledger = connect::dev_ledger(&args.database, "acme ledger tour").await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let workflow_id = format!("{PROCESS}/{run_id}");
    let today = Utc::now().date_naive();
    let entry = |step: &str, kind: &str, postings: Vec<NewPosting>| NewEntry {
        idempotency_key: format!("{workflow_id}/{step}"),
        kind: kind.to_owned(),
        process: PROCESS.to_owned(),
        workflow_id: workflow_id.clone(),
        effective_date: today,
        metadata: BTreeMap::from([("run".to_owned(), run_id.clone())]),
        postings,
    };
    println!("ledger demo, run {run_id}");

    let gbp = AssetCode::parse("GBP")?;
    ledger
        .register_asset(&Asset {
            code: gbp.clone(),
            kind: AssetKind::Cash,
            scale: CASH_SCALE,
            description: "Pound sterling".into(),
        })
        .await?;
    let bank_pot = ledger.open_pot(OwnerKind::External, "bank").await?;
    // The bank mirror goes negative by design: it is the other side of money that came in.
    let bank = ledger
        .open_account(bank_pot, &gbp, "available", true)
        .await?;

    let started = Instant::now();
    let mut members: Vec<(AccountId, AccountId)> = Vec::with_capacity(args.members as usize);
    for n in 1..=args.members {
        let pot = ledger
            .open_pot(OwnerKind::Member, &format!("demo-member-{n}"))
            .await?;
        let available = ledger.open_account(pot, &gbp, "available", false).await?;
        let reserved = ledger.open_account(pot, &gbp, "reserved", false).await?;
        members.push((available, reserved));
    }
    println!(
        "1. opened (or found, from an earlier run) {} member pots with GBP available and reserved accounts in {:.1}s",
        members.len(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let contributions: Vec<NewEntry> = members
        .iter()
        .enumerate()
        .map(|(n, &(available, _))| {
            entry(
                &format!("contribution/{n}"),
                "contribution.received",
                vec![
                    NewPosting {
                        account_id: bank,
                        amount: -contribution,
                    },
                    NewPosting {
                        account_id: available,
                        amount: contribution,
                    },
                ],
            )
        })
        .collect();
    let posted = ledger.post_batch(&contributions).await?;
    println!(
        "2. posted {} contributions of £{contribution} in one batch in {:.2}s (entries {}..{})",
        posted.len(),
        started.elapsed().as_secs_f64(),
        posted.first().map_or(0, |p| p.entry_id.0),
        posted.last().map_or(0, |p| p.entry_id.0),
    );

    let (available, reserved) = members[0];
    let invest = Decimal::new(10_000, CASH_SCALE);
    let reserve = entry(
        "reserve/0",
        "invest.reserve-cash",
        vec![
            NewPosting {
                account_id: available,
                amount: -invest,
            },
            NewPosting {
                account_id: reserved,
                amount: invest,
            },
        ],
    );
    let first = ledger.post(&reserve).await?;
    let again = ledger.post(&reserve).await?;
    println!(
        "3. member 1 reserved £{invest} to invest: entry {}; posting it again replayed entry {} (replayed: {}), nothing new written",
        first.entry_id, again.entry_id, again.replayed
    );

    // One penny more than the member holds, however many times the demo has run before.
    let too_much_gbp = ledger.balance(available).await? + Decimal::new(1, CASH_SCALE);
    let too_much = entry(
        "overdraft/0",
        "invest.reserve-cash",
        vec![
            NewPosting {
                account_id: available,
                amount: -too_much_gbp,
            },
            NewPosting {
                account_id: reserved,
                amount: too_much_gbp,
            },
        ],
    );
    match ledger.post(&too_much).await {
        Err(error) => println!(
            "4. reserving £{too_much_gbp}, a penny more than member 1 holds, was refused [{}]: {error}",
            error.rejection().map_or("error", |r| r.code())
        ),
        Ok(posted) => anyhow::bail!("an overdraft was accepted as entry {}", posted.entry_id),
    }

    println!(
        "5. member 1 now holds £{} available and £{} reserved",
        ledger.balance(available).await?,
        ledger.balance(reserved).await?
    );

    let report = ledger.verify().await?;
    let invariants = ledger.check_invariants().await?;
    println!(
        "6. journal chain: {} ({} entries checked); invariants 1-3: {}",
        if report.is_sound() { "sound" } else { "BROKEN" },
        report.entries_checked,
        if invariants.holds() {
            "hold"
        } else {
            "VIOLATED"
        }
    );
    println!("try (after `source .acme/env`):");
    println!("  acme ledger journal --workflow {workflow_id}");
    println!("  acme ledger verify");
    println!("  acme ledger invariants");
    Ok(if report.is_sound() && invariants.holds() {
        Outcome::Done
    } else {
        Outcome::CheckFailed
    })
}
