//! Benchmark of reconciliation at scale: the position, transaction and cash comparison of a day
//! with MEMBERS member pots holding a fund (`acme_activities::recon::report::reconcile`, what the
//! `reconciliation` process runs), against a raw-SQL baseline of the same comparison measured in
//! the same run on the same database. Run it against the dev stack:
//!
//! ```text
//! cargo run --release -p acme-activities --example recon_bench -- [MEMBERS] [CHUNK]
//! ```
//!
//! It creates a fresh database (dropped at the end), then:
//! - seeds MEMBERS (default 100,000) members in chunks of CHUNK (default 20,000);
//! - gives each member 1.5 units of one fund from the custodian's mirror and a contribution of
//!   £100.00 + n pence from the bank mirror, one journal entry per member (a
//!   `contribution.received` under one of a thousand employers' payment references),
//!   set-based through the staged path (`acme_ledger::staged`), chunk by chunk;
//! - gives every hundredth member a payment of their own (an `invest.cash-received` entry of
//!   £25.00 + n pence under request id `bench-<n>`, as `invest-cash` writes it), one staged batch;
//! - imports the custodian's statements of the day (holdings equal to what the members hold,
//!   no transactions, no cash), the bank's (one line per payment reference, its members'
//!   total) and the payment provider's (one line per member's payment), as received;
//! - reconciles the day (positions, transactions, the custodian's cash, the bank's cash, the
//!   provider's, breaks, report), then again (nothing new to store: the time to find that out);
//! - baseline: the positions, bank cash and provider comparisons as hand-written statements (the
//!   same aggregates over balances and over the bank mirror's postings, fully joined with the
//!   statement lines), and a bare scan summing every balance.

// Rates and ratios of timings are measurements, not money: floats are right here.
#![allow(clippy::float_arithmetic)]

use std::time::Instant;

use acme_activities::dealing::CUSTODIAN_POT;
use acme_activities::members::{BANK_POT, ensure_reference_data};
use acme_activities::recon::report::{Reconcile, reconcile};
use acme_activities::recon::statements::{self, StatementKind};
use acme_activities::seeding::{Seed, seed_members};
use acme_custodian::messages::{CashEntry, CashStatement, Holding, HoldingsStatement};
use acme_custodian::statements::TransactionStatement;
use acme_ledger::testkit::TestDatabase;
use acme_ledger::{OwnerKind, staged};
use acme_sdk::AssetCode;
use anyhow::Context as _;
use chrono::NaiveDate;
use rust_decimal::Decimal;

const FUND: &str = "GB00ACMEGLB1";
/// Employers paying for the members: member n's contribution is under payment reference
/// `n % EMPLOYERS`.
const EMPLOYERS: usize = 1_000;
/// One member in this many also pays in through the payment provider on the day.
const PAYER_EVERY: u64 = 100;

/// Member n's own payment: £25.00 + (n mod 100) pence.
fn own_payment(n: u64) -> Decimal {
    Decimal::new(2_500 + i64::try_from(n % 100).unwrap_or(0), 2)
}

/// The payment reference of employer `employer` (the shape schedules use).
fn payment_reference(employer: usize) -> String {
    format!("CS{employer:016X}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let members: u64 = args
        .first()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let chunk: usize = args
        .get(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let db = TestDatabase::create(4)
        .await
        .context("create the benchmark database (is the stack up? ops/stack up)")?;
    println!("database {}", db.name);
    let result = run(&db, members, chunk).await;
    db.drop_database().await?;
    result
}

async fn run(db: &TestDatabase, members: u64, chunk: usize) -> anyhow::Result<()> {
    let ledger = &db.ledger;
    ensure_reference_data(ledger).await?;
    let date = NaiveDate::from_ymd_opt(2026, 11, 25).context("a date")?;
    let mut seed = Seed::new("member", members, None);
    seed.chunk = chunk;

    let started = Instant::now();
    seed_members(ledger, &seed, |_, _| {}).await?;
    println!(
        "seed: {members} members in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let fund = AssetCode::parse(FUND)?;
    let cash_asset = AssetCode::parse("GBP")?;
    let custodian_pot = ledger.open_pot(OwnerKind::External, CUSTODIAN_POT).await?;
    let custodian = ledger
        .open_account(custodian_pot, &fund, "available", true)
        .await?;
    let bank_pot = ledger.open_pot(OwnerKind::External, BANK_POT).await?;
    let bank = ledger
        .open_account(bank_pot, &cash_asset, "available", true)
        .await?;
    let units = Decimal::new(15, 1);
    let ids: Vec<String> = (1..=members).map(|n| seed.member_id(n)).collect();
    for (part_no, part) in ids.chunks(chunk).enumerate() {
        let first = i64::try_from(part_no * chunk)? + 1;
        let accounts = ledger
            .open_pots_in_bulk(
                OwnerKind::Member,
                part,
                &[
                    (fund.clone(), "available"),
                    (cash_asset.clone(), "available"),
                ],
            )
            .await?;
        let unit_accounts: Vec<i64> = accounts.iter().map(|a| a[0].0).collect();
        let cash_accounts: Vec<i64> = accounts.iter().map(|a| a[1].0).collect();
        let mut tx = ledger.pool().begin().await?;
        staged::prepare(&mut tx).await?;
        sqlx::query(
            "insert into staged_entry (seq, idempotency_key, kind, process, workflow_id,
                                       effective_date, metadata)
             select k, 'bench/fund/' || member || '/hold', 'contribution.received', 'bench',
                    'bench/fund', $2,
                    jsonb_build_object('line', ($3 + k - 1)::text, 'payment_ref',
                                       'CS' || lpad(upper(to_hex(($3 + k - 1) % $4)), 16, '0'))
             from unnest($1::text[]) with ordinality as m(member, k)",
        )
        .bind(part)
        .bind(date)
        .bind(first)
        .bind(i64::try_from(EMPLOYERS)?)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into staged_posting (seq, leg, account_id, amount)
             select k, 0, $3, -$4::numeric from unnest($1::bigint[]) with ordinality as a(id, k)
             union all
             select k, 1, id, $4::numeric from unnest($1::bigint[]) with ordinality as a(id, k)
             union all
             select k, 2, $5, -(100 + ($6 + k - 1) % 100 / 100.0)::numeric(12, 2)
             from unnest($2::bigint[]) with ordinality as a(id, k)
             union all
             select k, 3, id, (100 + ($6 + k - 1) % 100 / 100.0)::numeric(12, 2)
             from unnest($2::bigint[]) with ordinality as a(id, k)",
        )
        .bind(&unit_accounts)
        .bind(&cash_accounts)
        .bind(custodian.0)
        .bind(units)
        .bind(bank.0)
        .bind(first)
        .execute(&mut *tx)
        .await?;
        staged::seal(&mut tx).await?;
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "fund: {members} entries (four postings each) through the staged path in {seconds:.1}s = {:.0} entries/s",
        members as f64 / seconds
    );

    // Members' own payments, as `invest-cash` books them (workflow `invest/<request id>`).
    let started = Instant::now();
    let payers: Vec<u64> = (1..=members).filter(|n| n % PAYER_EVERY == 0).collect();
    let payer_ids: Vec<String> = payers.iter().map(|n| seed.member_id(*n)).collect();
    let requests: Vec<String> = payers.iter().map(|n| format!("bench-{n}")).collect();
    let amounts: Vec<Decimal> = payers.iter().map(|n| own_payment(*n)).collect();
    let payer_cash: Vec<i64> = ledger
        .open_pots_in_bulk(
            OwnerKind::Member,
            &payer_ids,
            &[(cash_asset.clone(), "available")],
        )
        .await?
        .iter()
        .map(|a| a[0].0)
        .collect();
    let mut tx = ledger.pool().begin().await?;
    staged::prepare(&mut tx).await?;
    sqlx::query(
        "insert into staged_entry (seq, idempotency_key, kind, process, workflow_id,
                                   effective_date, metadata)
         select k, 'invest/' || request || '/receive-cash', 'invest.cash-received', 'invest-cash',
                'invest/' || request, $3, jsonb_build_object('member_id', member)
         from unnest($1::text[], $2::text[]) with ordinality as r(request, member, k)",
    )
    .bind(&requests)
    .bind(&payer_ids)
    .bind(date)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into staged_posting (seq, leg, account_id, amount)
         select k, 0, $3, -amount from unnest($2::numeric[]) with ordinality as a(amount, k)
         union all
         select k, 1, id, amount
         from unnest($1::bigint[], $2::numeric[]) with ordinality as a(id, amount, k)",
    )
    .bind(&payer_cash)
    .bind(&amounts)
    .bind(bank.0)
    .execute(&mut *tx)
    .await?;
    staged::seal(&mut tx).await?;
    tx.commit().await?;
    ledger.refresh_planner_statistics().await?;
    println!(
        "own payments: {} members' payments through the staged path in {:.1}s",
        payers.len(),
        started.elapsed().as_secs_f64()
    );

    let pool = ledger.pool();
    let held = units * Decimal::from(members);
    let holdings = serde_json::to_string(&HoldingsStatement {
        as_of: date,
        holdings: vec![Holding {
            isin: FUND.to_owned(),
            units: held,
        }],
    })?;
    let cash = serde_json::to_string(&CashStatement {
        as_of: date,
        currency: "GBP".to_owned(),
        entries: Vec::new(),
        closing_balance: Decimal::ZERO,
    })?;
    // What the bank shows: each employer's payment, its members' contributions summed.
    let mut paid = vec![Decimal::ZERO; EMPLOYERS];
    for n in 1..=usize::try_from(members)? {
        paid[n % EMPLOYERS] += Decimal::new(10_000 + i64::try_from(n % 100)?, 2);
    }
    let bank_entries: Vec<CashEntry> = paid
        .iter()
        .enumerate()
        .filter(|(_, amount)| !amount.is_zero())
        .map(|(employer, amount)| CashEntry {
            order_ref: payment_reference(employer),
            booking_date: date,
            amount: *amount,
        })
        .collect();
    let bank_statement = serde_json::to_string(&CashStatement {
        as_of: date,
        currency: "GBP".to_owned(),
        closing_balance: paid.iter().sum(),
        entries: bank_entries,
    })?;
    // What the payment provider shows: each member's payment under its request id.
    let provider_statement = serde_json::to_string(&CashStatement {
        as_of: date,
        currency: "GBP".to_owned(),
        closing_balance: amounts.iter().sum(),
        entries: requests
            .iter()
            .zip(&amounts)
            .map(|(request, amount)| CashEntry {
                order_ref: request.clone(),
                booking_date: date,
                amount: *amount,
            })
            .collect(),
    })?;
    let movements = serde_json::to_string(&TransactionStatement {
        as_of: date,
        transactions: Vec::new(),
    })?;
    let request = Reconcile {
        date,
        workflow_id: format!("reconciliation/{date}"),
        holdings: statements::import(pool, StatementKind::Holdings, date, &holdings).await?,
        cash: statements::import(pool, StatementKind::CustodianCash, date, &cash).await?,
        transactions: Some(
            statements::import(pool, StatementKind::Transactions, date, &movements).await?,
        ),
        bank: Some(statements::import(pool, StatementKind::BankCash, date, &bank_statement).await?),
        provider: Some(
            statements::import(pool, StatementKind::ProviderCash, date, &provider_statement)
                .await?,
        ),
    };

    let started = Instant::now();
    let first = reconcile(pool, &request).await?;
    let reconciled = started.elapsed().as_secs_f64();
    anyhow::ensure!(first.breaks == 0, "the day broke: {first:?}");
    println!(
        "reconcile: {members} pots in {reconciled:.2}s ({} matched, {} breaks, report #{})",
        first.matched, first.breaks, first.report_id
    );
    let started = Instant::now();
    let again = reconcile(pool, &request).await?;
    anyhow::ensure!(!again.report_new && again.new_breaks == 0, "{again:?}");
    println!(
        "reconcile again (stores nothing): {:.2}s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let rows: Vec<(Option<String>, Option<Decimal>, Option<Decimal>)> = sqlx::query_as(
        "with ours as (
             select a.asset_code, sum(b.amount) as units
             from balance b join account a using (account_id) join pot p using (pot_id)
             join asset s on s.asset_code = a.asset_code
             where p.owner_kind in ('member', 'house') and s.kind = 'fund'
             group by a.asset_code),
         theirs as (
             select subject as asset_code, sum(quantity) as units
             from recon_statement_line where statement_id = $1 group by subject)
         select asset_code, o.units, t.units from ours o full join theirs t using (asset_code)",
    )
    .bind(request.holdings.statement_id)
    .fetch_all(pool)
    .await?;
    anyhow::ensure!(
        rows.iter().all(|(_, ours, theirs)| ours == theirs),
        "baseline disagrees: {rows:?}"
    );
    let bank_rows = cash_by_hand(
        pool,
        request.bank.as_ref(),
        bank.0,
        "contribution.received",
        "e.metadata ->> 'payment_ref'",
    )
    .await?;
    let provider_rows = cash_by_hand(
        pool,
        request.provider.as_ref(),
        bank.0,
        "invest.cash-received",
        "split_part(e.workflow_id, '/', 2)",
    )
    .await?;
    let baseline = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        bank_rows.len() == EMPLOYERS.min(usize::try_from(members)?)
            && bank_rows.iter().all(|(_, ours, theirs)| ours == theirs),
        "bank baseline disagrees: {} rows",
        bank_rows.len()
    );
    anyhow::ensure!(
        provider_rows.len() == payers.len()
            && provider_rows.iter().all(|(_, ours, theirs)| ours == theirs),
        "provider baseline disagrees: {} rows",
        provider_rows.len()
    );
    let started = Instant::now();
    let (balances, _): (i64, Option<Decimal>) =
        sqlx::query_as("select count(*), sum(amount) from balance")
            .fetch_one(pool)
            .await?;
    let scan = started.elapsed().as_secs_f64();
    println!(
        "baseline: the positions, bank cash and provider comparisons by hand in {baseline:.2}s ({:.0}% of reconcile); \
         a bare scan of {balances} balances in {scan:.2}s",
        100.0 * baseline / reconciled
    );
    let size: String =
        sqlx::query_scalar("select pg_size_pretty(pg_database_size(current_database()))")
            .fetch_one(pool)
            .await?;
    println!("database size: {size}");
    Ok(())
}

/// One cash comparison by hand: the bank mirror's postings of entries of `kind`, per reference
/// (`subject_sql`, a constant of this program), fully joined with `statement`'s lines.
async fn cash_by_hand(
    pool: &sqlx::PgPool,
    statement: Option<&statements::Imported>,
    bank_account: i64,
    kind: &str,
    subject_sql: &str,
) -> anyhow::Result<Vec<(Option<String>, Option<Decimal>, Option<Decimal>)>> {
    Ok(sqlx::query_as(&format!(
        "with ours as (
             select {subject_sql} as subject, -sum(po.amount) as amount
             from posting po join journal_entry e using (entry_id)
             where po.account_id = $2 and e.kind = $3
             group by 1),
         theirs as (
             select subject, sum(quantity) as amount
             from recon_statement_line where statement_id = $1 group by subject)
         select subject, o.amount, t.amount from ours o full join theirs t using (subject)"
    ))
    .bind(statement.map(|s| s.statement_id))
    .bind(bank_account)
    .bind(kind)
    .fetch_all(pool)
    .await?)
}
