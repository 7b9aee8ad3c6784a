//! The design's invariants 1–3 as a report that tools and tests can read: every entry sums to
//! zero per asset, every balance equals the sum of its postings, no member account (and no
//! account that may not go negative) is below zero. Each check is one set-based query.

use serde::Serialize;

use crate::{Ledger, LedgerError};

/// How many offending rows a check lists; the count is always complete.
pub const MAX_LISTED_VIOLATIONS: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvariantReport {
    pub checks: Vec<InvariantCheck>,
}

impl InvariantReport {
    pub fn holds(&self) -> bool {
        self.checks.iter().all(|check| check.violation_count == 0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvariantCheck {
    /// The invariant's number in DESIGN.md §3.
    pub invariant: u8,
    pub name: &'static str,
    pub violation_count: i64,
    /// Up to [`MAX_LISTED_VIOLATIONS`] descriptions of offending rows.
    pub violations: Vec<String>,
}

/// Each invariant: its number, name, and a query returning (total count, description) rows.
const CHECKS: [(u8, &str, &str); 4] = [
    (
        1,
        "every journal entry sums to zero per asset",
        "select count(*) over (), format('entry %s: %s postings sum to %s', entry_id, asset_code, total)
         from (select p.entry_id, a.asset_code, sum(p.amount) as total
               from posting p join account a on a.account_id = p.account_id
               group by p.entry_id, a.asset_code
               having sum(p.amount) <> 0) unbalanced
         order by entry_id limit $1",
    ),
    (
        1,
        "every entry has two or more postings, each on an existing account",
        "select count(*) over (), problem from (
             select e.entry_id, format('entry %s has %s postings', e.entry_id, count(p.entry_id)) as problem
             from journal_entry e left join posting p on p.entry_id = e.entry_id
             group by e.entry_id having count(p.entry_id) < 2
             union all
             select p.entry_id, format('posting of entry %s is on missing account %s', p.entry_id, p.account_id)
             from posting p where not exists (select 1 from account a where a.account_id = p.account_id)
             union all
             select p.entry_id, format('posting on account %s belongs to missing entry %s', p.account_id, p.entry_id)
             from posting p where not exists (select 1 from journal_entry e where e.entry_id = p.entry_id)
         ) orphans
         order by entry_id limit $1",
    ),
    (
        2,
        "every balance equals the sum of its postings",
        "select count(*) over (), format('account %s: balance %s, postings sum to %s',
                 b.account_id, b.amount, coalesce(s.total, 0))
         from balance b
         left join (select account_id, sum(amount) as total from posting group by account_id) s
             on s.account_id = b.account_id
         where b.amount <> coalesce(s.total, 0)
         order by b.account_id limit $1",
    ),
    (
        3,
        "member accounts, and accounts that may not go negative, are not below zero",
        "select count(*) over (), format('account %s (%s pot %s, %s %s) is %s',
                 a.account_id, p.owner_kind, p.owner_ref, a.asset_code, a.purpose, b.amount)
         from balance b
         join account a on a.account_id = b.account_id
         join pot p on p.pot_id = a.pot_id
         where b.amount < 0 and (p.owner_kind = 'member' or not a.may_go_negative)
         order by a.account_id limit $1",
    ),
];

impl Ledger {
    /// Runs every check on one consistent snapshot. Reads only.
    pub async fn check_invariants(&self) -> Result<InvariantReport, LedgerError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let mut checks = Vec::with_capacity(CHECKS.len());
        for (invariant, name, query) in CHECKS {
            let rows: Vec<(i64, String)> = sqlx::query_as(query)
                .bind(MAX_LISTED_VIOLATIONS)
                .fetch_all(&mut *tx)
                .await?;
            checks.push(InvariantCheck {
                invariant,
                name,
                violation_count: rows.first().map_or(0, |(count, _)| *count),
                violations: rows.into_iter().map(|(_, violation)| violation).collect(),
            });
        }
        tx.commit().await?;
        Ok(InvariantReport { checks })
    }
}
