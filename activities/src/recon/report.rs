//! The run and its daily report. [`reconcile`] compares positions, transactions and cash (the
//! custodian's, the bank's, the payment provider's) in one
//! repeatable-read transaction (so the balances compared and the journal head published are one
//! snapshot), stores the breaks, closes timing breaks that cleared, and appends the report: per
//! fund, external trade and cash account what matched and what broke and why, totals, and the
//! journal's head entry and hash. A
//! report's digest covers its content, so a second run that finds the same stores nothing.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;

use super::ReconError;
use super::breaks::{self, break_id};
use super::compare::{self, CashAccount, Compared, Comparison, Scope};
use super::statements::{Imported, StatementKind};
use super::transactions;

/// What a run compares: the date and the statements imported for it. Unknown fields are refused,
/// so a worker from before a statement was added fails (and the activity is retried on a newer
/// one) rather than reporting a day clean without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconcile {
    pub date: NaiveDate,
    /// The run (`reconciliation/<date>`), recorded as the actor that closes timing breaks.
    pub workflow_id: String,
    pub holdings: Imported,
    pub cash: Imported,
    /// The transaction statement (`semt.017`); absent in runs started before it was fetched.
    #[serde(default)]
    pub transactions: Option<Imported>,
    /// The bank's cash statement (`camt.053`); absent in runs started before it was fetched.
    #[serde(default)]
    pub bank: Option<Imported>,
    /// The payment provider's statement of members' payments; absent in runs started before it
    /// was fetched.
    #[serde(default)]
    pub provider: Option<Imported>,
}

/// One section of the report: a scope's compared lines, and its totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub lines: Vec<ReportLine>,
    pub matched: usize,
    pub broken: usize,
    pub ours_total: Decimal,
    pub theirs_total: Decimal,
}

/// One compared line, with its break id if it broke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportLine {
    #[serde(flatten)]
    pub compared: Compared,
    pub break_id: Option<uuid::Uuid>,
}

/// The journal's head when the run compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalHead {
    pub entry_id: i64,
    /// Hex.
    pub hash: String,
}

/// The daily report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub date: NaiveDate,
    pub holdings_statement: Imported,
    pub cash_statement: Imported,
    /// Left out of reports of runs without a transaction statement, whose digest is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_statement: Option<Imported>,
    pub positions: Section,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Section>,
    pub cash: Section,
    /// Left out of reports of runs without the bank's statement, whose digest is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_statement: Option<Imported>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_cash: Option<Section>,
    /// Left out of reports of runs without the provider's statement, whose digest is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_statement: Option<Imported>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_cash: Option<Section>,
    pub journal_head: JournalHead,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub date: NaiveDate,
    pub matched: usize,
    pub breaks: usize,
    pub new_breaks: u64,
    pub timing_cleared: u64,
    pub report_id: i64,
    /// False when the same report was already stored.
    pub report_new: bool,
    pub journal_head: JournalHead,
}

fn section(date: NaiveDate, scope: Scope, comparison: &Comparison) -> Section {
    let lines: Vec<ReportLine> = comparison
        .compared
        .iter()
        .map(|compared| ReportLine {
            break_id: compared
                .class
                .map(|class| break_id(date, scope, &compared.subject, class)),
            compared: compared.clone(),
        })
        .collect();
    let broken = lines.iter().filter(|l| l.break_id.is_some()).count();
    let total = |pick: fn(&Compared) -> Option<Decimal>| {
        comparison
            .compared
            .iter()
            .filter_map(pick)
            .fold(Decimal::ZERO, |sum, value| sum + value)
    };
    Section {
        matched: lines.len() - broken,
        broken,
        ours_total: total(|c| c.ours),
        theirs_total: total(|c| c.theirs),
        lines,
    }
}

/// Runs the comparison of `request.date` and stores what it found (idempotent: a repeat with the
/// same statements and books stores nothing new).
pub async fn reconcile(pool: &PgPool, request: &Reconcile) -> Result<Outcome, ReconError> {
    for (statement, kind) in [
        (Some(&request.holdings), StatementKind::Holdings),
        (Some(&request.cash), StatementKind::CustodianCash),
        (request.transactions.as_ref(), StatementKind::Transactions),
        (request.bank.as_ref(), StatementKind::BankCash),
        (request.provider.as_ref(), StatementKind::ProviderCash),
    ] {
        let Some(statement) = statement else { continue };
        if statement.as_of != request.date || statement.kind != kind {
            return Err(ReconError::refused(
                "recon.statement_mismatch",
                format!(
                    "statement {} is a {:?} of {}, not a {kind:?} of {}",
                    statement.statement_id, statement.kind, statement.as_of, request.date
                ),
            ));
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query("set transaction isolation level repeatable read")
        .execute(&mut *tx)
        .await?;
    let (entry_id, hash): (i64, Vec<u8>) =
        sqlx::query_as("select last_entry_id, last_hash from journal_head")
            .fetch_one(&mut *tx)
            .await?;
    let positions = compare::positions(&mut tx, request.date, &request.holdings).await?;
    let cash = compare::cash(
        &mut tx,
        request.date,
        &request.cash,
        &CashAccount::CUSTODIAN,
    )
    .await?;
    let movements = match &request.transactions {
        Some(statement) => {
            Some(transactions::transactions(&mut tx, request.date, statement).await?)
        }
        None => None,
    };
    let bank_cash = match &request.bank {
        Some(statement) => {
            Some(compare::cash(&mut tx, request.date, statement, &CashAccount::BANK).await?)
        }
        None => None,
    };
    let provider_cash = match &request.provider {
        Some(statement) => {
            Some(compare::cash(&mut tx, request.date, statement, &CashAccount::PROVIDER).await?)
        }
        None => None,
    };
    let mut new_breaks = 0;
    let mut timing_cleared = 0;
    for (scope, comparison) in [
        (Scope::Position, Some(&positions)),
        (Scope::Cash, Some(&cash)),
        (Scope::Transaction, movements.as_ref()),
        (Scope::BankCash, bank_cash.as_ref()),
        (Scope::ProviderCash, provider_cash.as_ref()),
    ] {
        let Some(comparison) = comparison else {
            continue;
        };
        new_breaks += breaks::record(&mut tx, request.date, &comparison.findings).await?;
        timing_cleared += breaks::clear_timing(
            &mut tx,
            request.date,
            scope,
            &comparison.compared,
            &request.workflow_id,
        )
        .await?;
    }
    let report = Report {
        date: request.date,
        holdings_statement: request.holdings.clone(),
        cash_statement: request.cash.clone(),
        transaction_statement: request.transactions.clone(),
        positions: section(request.date, Scope::Position, &positions),
        transactions: movements
            .as_ref()
            .map(|movements| section(request.date, Scope::Transaction, movements)),
        cash: section(request.date, Scope::Cash, &cash),
        bank_statement: request.bank.clone(),
        bank_cash: bank_cash
            .as_ref()
            .map(|bank_cash| section(request.date, Scope::BankCash, bank_cash)),
        provider_statement: request.provider.clone(),
        provider_cash: provider_cash
            .as_ref()
            .map(|provider_cash| section(request.date, Scope::ProviderCash, provider_cash)),
        journal_head: JournalHead {
            entry_id,
            hash: hex::encode(&hash),
        },
    };
    let mut report_json = serde_json::to_value(&report)
        .map_err(|e| sqlx::Error::Protocol(format!("report does not serialize: {e}")))?;
    // `new` says whether this run stored the statement; it is not part of what was found.
    for key in [
        "holdings_statement",
        "cash_statement",
        "transaction_statement",
        "bank_statement",
        "provider_statement",
    ] {
        if let Some(statement) = report_json.get_mut(key).and_then(|s| s.as_object_mut()) {
            statement.remove("new");
        }
    }
    let digest: [u8; 32] = Sha256::digest(report_json.to_string().as_bytes()).into();
    let text = render(&report);
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into recon_report (recon_date, digest, head_entry_id, head_hash, report,
                                   report_text)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (recon_date, digest) do nothing returning report_id",
    )
    .bind(request.date)
    .bind(digest.as_slice())
    .bind(entry_id)
    .bind(&hash)
    .bind(&report_json)
    .bind(&text)
    .fetch_optional(&mut *tx)
    .await?;
    let report_new = inserted.is_some();
    let report_id = match inserted {
        Some(id) => id,
        None => {
            sqlx::query_scalar(
                "select report_id from recon_report where recon_date = $1 and digest = $2",
            )
            .bind(request.date)
            .bind(digest.as_slice())
            .fetch_one(&mut *tx)
            .await?
        }
    };
    tx.commit().await?;
    Ok(Outcome {
        date: request.date,
        matched: report
            .sections()
            .map(|(_, _, section)| section.matched)
            .sum(),
        breaks: report
            .sections()
            .map(|(_, _, section)| section.broken)
            .sum(),
        new_breaks,
        timing_cleared,
        report_id,
        report_new,
        journal_head: report.journal_head,
    })
}

impl Report {
    /// Its sections in the order the report shows them: a title, the statement, the section.
    pub fn sections(&self) -> impl Iterator<Item = (&'static str, &Imported, &Section)> {
        let transactions = match (&self.transaction_statement, &self.transactions) {
            (Some(statement), Some(section)) => Some((
                "Transactions (external trades against the custodian's semt.017 movements: by \
                 reference, then amount and date)",
                statement,
                section,
            )),
            _ => None,
        };
        [Some((
            "Positions (units per fund, member and house pots against the custodian's semt.002)",
            &self.holdings_statement,
            &self.positions,
        ))]
        .into_iter()
        .chain([transactions])
        .chain([Some((
            "Cash (custodian-cash: bank settlement movements against the custodian's camt.053)",
            &self.cash_statement,
            &self.cash,
        ))])
        .chain([self
            .bank_statement
            .as_ref()
            .zip(self.bank_cash.as_ref())
            .map(|(statement, section)| {
                (
                    "Bank cash (bank-cash: settlements per order and contributions per payment \
                     reference against the bank's camt.053)",
                    statement,
                    section,
                )
            })])
        .chain([self
            .provider_statement
            .as_ref()
            .zip(self.provider_cash.as_ref())
            .map(|(statement, section)| {
                (
                    "Members' payments (provider-cash: each invest-cash request's cash received \
                     against the payment provider's statement, by request id)",
                    statement,
                    section,
                )
            })])
        .flatten()
    }
}

fn figure(value: Option<Decimal>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The report as an auditor reads it.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ACME Master Trust: reconciliation of {}", report.date);
    let _ = writeln!(
        out,
        "journal head at the time of the run: entry {} hash {}",
        report.journal_head.entry_id, report.journal_head.hash
    );
    for (title, statement, section) in report.sections() {
        let _ = writeln!(out, "\n{title}");
        let _ = writeln!(
            out,
            "statement {} ({} lines, sha256 {})",
            statement.statement_id, statement.lines, statement.digest
        );
        for line in &section.lines {
            let verdict = match (&line.compared.class, &line.break_id) {
                (Some(class), Some(id)) => format!("BREAK {} ({id})", class.as_str()),
                _ => "matched".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {:<36} ours {:>20}  theirs {:>20}  {verdict}",
                line.compared.subject,
                figure(line.compared.ours),
                figure(line.compared.theirs)
            );
        }
        let _ = writeln!(
            out,
            "  totals: ours {} theirs {}; {} matched, {} broken",
            section.ours_total, section.theirs_total, section.matched, section.broken
        );
    }
    out
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReport {
    pub report_id: i64,
    pub recon_date: NaiveDate,
    pub head_entry_id: i64,
    pub recorded_at: DateTime<Utc>,
    pub report: serde_json::Value,
    pub report_text: String,
}

/// The latest reports, newest first (`date`: of that date only).
pub async fn latest(
    pool: &PgPool,
    date: Option<NaiveDate>,
    limit: i64,
) -> Result<Vec<StoredReport>, ReconError> {
    let rows: Vec<(
        i64,
        NaiveDate,
        i64,
        DateTime<Utc>,
        serde_json::Value,
        String,
    )> = sqlx::query_as(
        "select report_id, recon_date, head_entry_id, recorded_at, report, report_text
             from recon_report where ($1::date is null or recon_date = $1)
             order by report_id desc limit $2",
    )
    .bind(date)
    .bind(limit.clamp(1, 1_000))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(report_id, recon_date, head_entry_id, recorded_at, report, report_text)| {
                StoredReport {
                    report_id,
                    recon_date,
                    head_entry_id,
                    recorded_at,
                    report,
                    report_text,
                }
            },
        )
        .collect())
}
