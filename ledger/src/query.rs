//! Read side of the ledger: balances (now and as of a past moment), pot statements and the
//! journal of a process or workflow. Reads never lock and can run on the read-only role.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::model::{AccountId, EntryId, PotId};
use crate::{Ledger, LedgerError};

/// Most rows one statement or journal query returns; callers page with `after`.
pub const MAX_ROWS: i64 = 10_000;

/// One line of a pot statement: a posting on one of the pot's accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StatementLine {
    pub entry_id: EntryId,
    pub recorded_at: DateTime<Utc>,
    pub effective_date: NaiveDate,
    pub kind: String,
    pub account_id: AccountId,
    pub asset_code: String,
    pub purpose: String,
    pub amount: Decimal,
    /// The account's balance just after this posting.
    pub balance_after: Decimal,
}

/// A journal entry with its postings, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    pub entry_id: EntryId,
    pub idempotency_key: String,
    pub kind: String,
    pub process: String,
    pub workflow_id: String,
    pub effective_date: NaiveDate,
    pub recorded_at: DateTime<Utc>,
    pub metadata: serde_json::Value,
    pub postings: Vec<JournalPosting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalPosting {
    pub account_id: AccountId,
    pub amount: Decimal,
}

/// Which entries a journal query returns.
#[derive(Debug, Clone, Copy)]
pub enum JournalFilter<'a> {
    Workflow(&'a str),
    Process(&'a str),
    /// One entry, by id.
    Entry(EntryId),
}

/// One account's current balance with where it sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AccountBalance {
    pub account_id: AccountId,
    pub asset_code: String,
    pub purpose: String,
    pub amount: Decimal,
}

impl Ledger {
    /// The current balance of an account.
    pub async fn balance(&self, account_id: AccountId) -> Result<Decimal, LedgerError> {
        sqlx::query_scalar("select amount from balance where account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| LedgerError::NotFound {
                what: "account",
                name: account_id.to_string(),
            })
    }

    /// The balance of an account as the journal had *recorded* it at `at` (by `recorded_at`),
    /// summed from the journal: what the books said then, late entries not yet in. For the
    /// balance by business date, see [`Ledger::pot_balances_on`].
    pub async fn balance_recorded_by(
        &self,
        account_id: AccountId,
        at: DateTime<Utc>,
    ) -> Result<Decimal, LedgerError> {
        self.account(account_id).await?;
        let sum: Option<Decimal> = sqlx::query_scalar(
            "select sum(p.amount) from posting p
             join journal_entry e on e.entry_id = p.entry_id
             where p.account_id = $1 and e.recorded_at <= $2",
        )
        .bind(account_id)
        .bind(at)
        .fetch_one(&self.pool)
        .await?;
        Ok(sum.unwrap_or_default())
    }

    /// Every account of a pot with its balance *on* `effective_date`: the sum of the postings of
    /// entries effective on or before that date, however late they were recorded (a correction
    /// effective on a past date counts there). From the journal, not the balance table.
    pub async fn pot_balances_on(
        &self,
        pot_id: PotId,
        effective_date: NaiveDate,
    ) -> Result<Vec<AccountBalance>, LedgerError> {
        Ok(sqlx::query_as(
            "select a.account_id, a.asset_code, a.purpose,
                    coalesce(sum(p.amount) filter (where e.effective_date <= $2), 0) as amount
             from account a
             left join posting p on p.account_id = a.account_id
             left join journal_entry e on e.entry_id = p.entry_id
             where a.pot_id = $1
             group by a.account_id, a.asset_code, a.purpose
             order by a.asset_code, a.purpose",
        )
        .bind(pot_id)
        .bind(effective_date)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every account of a pot with its current balance.
    pub async fn pot_balances(&self, pot_id: PotId) -> Result<Vec<AccountBalance>, LedgerError> {
        Ok(sqlx::query_as(
            "select a.account_id, a.asset_code, a.purpose, b.amount
             from account a join balance b on b.account_id = a.account_id
             where a.pot_id = $1 order by a.asset_code, a.purpose",
        )
        .bind(pot_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The postings on a pot's accounts in journal order, after entry `after` (0 for the
    /// start), at most [`MAX_ROWS`].
    pub async fn pot_statement(
        &self,
        pot_id: PotId,
        after: EntryId,
    ) -> Result<Vec<StatementLine>, LedgerError> {
        Ok(sqlx::query_as(
            "select entry_id, recorded_at, effective_date, kind, account_id, asset_code, purpose,
                    amount, balance_after
             from (
                 select e.entry_id, e.recorded_at, e.effective_date, e.kind, p.account_id,
                        a.asset_code, a.purpose, p.amount,
                        sum(p.amount) over (partition by p.account_id order by e.entry_id)
                            as balance_after
                 from account a
                 join posting p on p.account_id = a.account_id
                 join journal_entry e on e.entry_id = p.entry_id
                 where a.pot_id = $1) lines
             where entry_id > $2
             order by entry_id, account_id
             limit $3",
        )
        .bind(pot_id)
        .bind(after)
        .bind(MAX_ROWS)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The entries written by a workflow or a process, in journal order, after entry `after`,
    /// at most [`MAX_ROWS`].
    pub async fn journal(
        &self,
        filter: JournalFilter<'_>,
        after: EntryId,
    ) -> Result<Vec<JournalEntry>, LedgerError> {
        // A workflow's keys all start with "<workflow id>/", so its entries are one range of the
        // key index ('0' is the byte after '/'). A process has no index: it is scanned in entry
        // order, page by page.
        let (condition, value) = match filter {
            JournalFilter::Workflow(id) => (
                "e.idempotency_key >= $1 || '/' and e.idempotency_key < $1 || '0'
                 and e.workflow_id = $1",
                id.to_owned(),
            ),
            JournalFilter::Process(name) => ("e.process = $1", name.to_owned()),
            JournalFilter::Entry(id) => ("e.entry_id = $1::bigint", id.0.to_string()),
        };
        let statement = format!(
            "select e.entry_id, e.idempotency_key, e.kind, e.process, e.workflow_id,
                    e.effective_date, e.recorded_at, e.metadata,
                    array_agg(p.account_id order by p.leg) as account_ids,
                    array_agg(p.amount order by p.leg) as amounts
             from journal_entry e join posting p on p.entry_id = e.entry_id
             where {condition} and e.entry_id > $2
             group by e.entry_id
             order by e.entry_id
             limit $3"
        );
        let rows: Vec<JournalRow> = sqlx::query_as(&statement)
            .bind(&value)
            .bind(after)
            .bind(MAX_ROWS)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(JournalRow::into_entry).collect())
    }
}

#[derive(sqlx::FromRow)]
struct JournalRow {
    entry_id: EntryId,
    idempotency_key: String,
    kind: String,
    process: String,
    workflow_id: String,
    effective_date: NaiveDate,
    recorded_at: DateTime<Utc>,
    metadata: serde_json::Value,
    account_ids: Vec<i64>,
    amounts: Vec<Decimal>,
}

impl JournalRow {
    fn into_entry(self) -> JournalEntry {
        JournalEntry {
            entry_id: self.entry_id,
            idempotency_key: self.idempotency_key,
            kind: self.kind,
            process: self.process,
            workflow_id: self.workflow_id,
            effective_date: self.effective_date,
            recorded_at: self.recorded_at,
            metadata: self.metadata,
            postings: self
                .account_ids
                .into_iter()
                .zip(self.amounts)
                .map(|(account_id, amount)| JournalPosting {
                    account_id: AccountId(account_id),
                    amount,
                })
                .collect(),
        }
    }
}
