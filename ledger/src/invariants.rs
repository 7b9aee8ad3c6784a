//! The design's invariants 1–3 as a report that tools and tests can read: every entry sums to
//! zero per asset, every balance equals the sum of its postings, no member account (and no
//! account that may not go negative) is below zero.
//!
//! Each check is a set-based query, all in one read-only snapshot, in two stages:
//! - invariant 1 (the journal's checks): one statement each over the whole journal, hash or
//!   sort aggregates that PostgreSQL spills to disk past `work_mem`, so memory stays bounded.
//!   Not chunks by entry id: postings are found by entry only through a BRIN index, and a BRIN
//!   range VACUUM has not summarized yet (every range of a bulk load when autovacuum is off)
//!   matches every query, so each chunk would re-read the whole posting table (measured: 2× slower
//!   at 1M entries, quadratic beyond);
//! - invariants 2 and 3 (the balances' checks): over ranges of [`INVARIANT_CHUNK_ACCOUNTS`]
//!   account ids, postings summed per account along the primary key, progress chunk by chunk.
//!   The first and last ranges are open-ended, so no account id, expected or not, is missed.

use serde::Serialize;

use crate::{Ledger, LedgerError, Progress};

/// Account ids per chunk of the balance checks.
pub const INVARIANT_CHUNK_ACCOUNTS: i64 = 50_000;
/// What [`Progress`] counts in the first stage (invariant 1, whole-journal statements).
pub const JOURNAL_PROGRESS: &str = "journal checks done (invariant 1)";
/// What [`Progress`] counts in the second stage (invariants 2 and 3).
pub const ACCOUNTS_PROGRESS: &str = "accounts checked (invariants 2-3)";

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

/// A check: its invariant's number, its name, whether it runs over the whole journal at once or
/// over account id ranges, and a query returning (count, description) rows, at most $1 of them;
/// an account-range query counts only the account ids between $2 and $3 (inclusive).
struct Check {
    invariant: u8,
    name: &'static str,
    over: Over,
    query: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Over {
    Journal,
    Accounts,
}

/// In report order, which is also the order they run in.
const CHECKS: [Check; 4] = [
    Check {
        invariant: 1,
        name: "every journal entry sums to zero per asset",
        over: Over::Journal,
        query: "select count(*) over (), format('entry %s: %s postings sum to %s', entry_id, asset_code, total)
         from (select p.entry_id, a.asset_code, sum(p.amount) as total
               from posting p join account a on a.account_id = p.account_id
               group by p.entry_id, a.asset_code
               having sum(p.amount) <> 0) unbalanced
         order by entry_id limit $1",
    },
    Check {
        invariant: 1,
        name: "every entry has two or more postings, each on an existing account",
        over: Over::Journal,
        query: "select count(*) over (), problem from (
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
    },
    Check {
        invariant: 2,
        name: "every balance equals the sum of its postings",
        over: Over::Accounts,
        query: "select count(*) over (), format('account %s: balance %s, postings sum to %s',
                 b.account_id, b.amount, coalesce(s.total, 0))
         from balance b
         left join (select account_id, sum(amount) as total from posting
                    where account_id between $2 and $3 group by account_id) s
             on s.account_id = b.account_id
         where b.account_id between $2 and $3 and b.amount <> coalesce(s.total, 0)
         order by b.account_id limit $1",
    },
    Check {
        invariant: 3,
        name: "member accounts, and accounts that may not go negative, are not below zero",
        over: Over::Accounts,
        query: "select count(*) over (), format('account %s (%s pot %s, %s %s) is %s',
                 a.account_id, p.owner_kind, p.owner_ref, a.asset_code, a.purpose, b.amount)
         from balance b
         join account a on a.account_id = b.account_id
         join pot p on p.pot_id = a.pot_id
         where b.account_id between $2 and $3
           and b.amount < 0 and (p.owner_kind = 'member' or not a.may_go_negative)
         order by a.account_id limit $1",
    },
];

impl Ledger {
    /// Runs every check on one consistent snapshot. Reads only.
    pub async fn check_invariants(&self) -> Result<InvariantReport, LedgerError> {
        self.check_invariants_with_progress(|_| {}).await
    }

    /// [`Ledger::check_invariants`], calling `progress` after each step: first the journal's
    /// statements done (under [`JOURNAL_PROGRESS`]), then accounts checked (under
    /// [`ACCOUNTS_PROGRESS`]).
    pub async fn check_invariants_with_progress(
        &self,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<InvariantReport, LedgerError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let mut checks: Vec<InvariantCheck> = CHECKS
            .iter()
            .map(|check| InvariantCheck {
                invariant: check.invariant,
                name: check.name,
                violation_count: 0,
                violations: Vec::new(),
            })
            .collect();
        let journal_checks = CHECKS.iter().filter(|c| c.over == Over::Journal).count();
        let journal_total = i64::try_from(journal_checks).unwrap_or(i64::MAX);
        progress(Progress::new(JOURNAL_PROGRESS, 0, journal_total));
        let mut done = 0;
        for (check, report) in CHECKS.iter().zip(&mut checks) {
            if check.over == Over::Journal {
                let rows: Vec<(i64, String)> = sqlx::query_as(check.query)
                    .bind(MAX_LISTED_VIOLATIONS)
                    .fetch_all(&mut *tx)
                    .await?;
                add(report, rows);
                done += 1;
                progress(Progress::new(JOURNAL_PROGRESS, done, journal_total));
            }
        }
        let last_account: i64 =
            sqlx::query_scalar("select coalesce(max(account_id), 0) from account")
                .fetch_one(&mut *tx)
                .await?;
        progress(Progress::new(ACCOUNTS_PROGRESS, 0, last_account));
        for (low, high) in chunks(last_account, INVARIANT_CHUNK_ACCOUNTS) {
            for (check, report) in CHECKS.iter().zip(&mut checks) {
                if check.over == Over::Accounts {
                    let rows: Vec<(i64, String)> = sqlx::query_as(check.query)
                        .bind(MAX_LISTED_VIOLATIONS)
                        .bind(low)
                        .bind(high)
                        .fetch_all(&mut *tx)
                        .await?;
                    add(report, rows);
                }
            }
            progress(Progress::new(
                ACCOUNTS_PROGRESS,
                high.min(last_account),
                last_account,
            ));
        }
        tx.commit().await?;
        Ok(InvariantReport { checks })
    }
}

/// Adds one statement's (count, description) rows to a check's report, listing at most
/// [`MAX_LISTED_VIOLATIONS`] in all.
fn add(report: &mut InvariantCheck, rows: Vec<(i64, String)>) {
    report.violation_count += rows.first().map_or(0, |(count, _)| *count);
    let room = usize::try_from(MAX_LISTED_VIOLATIONS)
        .unwrap_or(0)
        .saturating_sub(report.violations.len());
    report
        .violations
        .extend(rows.into_iter().map(|(_, violation)| violation).take(room));
}

/// Inclusive id ranges of `size` covering 1..=`last_id`, the first open below and the last open
/// above, so that every id, expected or not, is in exactly one range.
fn chunks(last_id: i64, size: i64) -> impl Iterator<Item = (i64, i64)> {
    let size = size.max(1);
    let count = if last_id <= 0 {
        1
    } else {
        (last_id - 1) / size + 1
    };
    (0..count).map(move |n| {
        let low = if n == 0 { i64::MIN } else { n * size + 1 };
        let high = if n + 1 == count {
            i64::MAX
        } else {
            (n + 1) * size
        };
        (low, high)
    })
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_cover_every_id_once() {
        assert_eq!(chunks(0, 10).collect::<Vec<_>>(), [(i64::MIN, i64::MAX)]);
        assert_eq!(chunks(9, 10).collect::<Vec<_>>(), [(i64::MIN, i64::MAX)]);
        assert_eq!(chunks(10, 10).collect::<Vec<_>>(), [(i64::MIN, i64::MAX)]);
        assert_eq!(
            chunks(11, 10).collect::<Vec<_>>(),
            [(i64::MIN, 10), (11, i64::MAX)]
        );
        assert_eq!(
            chunks(25, 10).collect::<Vec<_>>(),
            [(i64::MIN, 10), (11, 20), (21, i64::MAX)]
        );
    }
}
