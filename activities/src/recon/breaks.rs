//! Breaks and their lifecycle: open → acknowledged → resolved (with a reason), each change an
//! event saying who and why (`recon_break_event`, append-only; the database also refuses a status
//! moving back or any other column changing). A break's id is uuid5 of its date, scope, subject
//! and class, so a second run of a date finds the breaks it already holds and stores nothing.
//! Timing breaks close themselves when a later run finds their subject matched. A break may be
//! resolved by a correction: the event then names the correcting journal entry, which was posted
//! through the ledger like any other (never an edit). A break unresolved past its age limit
//! ([`overdue`]) is one an operator must hear of (`acme stuck`).

use acme_sdk::metrics::BreakClassRow;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::ReconError;
use super::compare::{BreakClass, Compared, Finding, Scope};

/// Namespace of break ids (uuid5 of `recon/<date>/<scope>/<subject>/<class>`).
const BREAK_NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_0e4a_7b52_4c1e_9a0f_14e0_2b6d_c0de);
/// The longest reason an operator may give.
pub const MAX_REASON_CHARS: usize = 1_000;
/// Rows one listing returns at most.
pub const MAX_LISTED: i64 = 10_000;
/// How long a break other than timing may stay unresolved before it is overdue: a day, the
/// limit behind `acme_reconciliation_breaks_overdue` and its `AcmeReconciliationBreakOld` alert. A timing break is overdue once the date
/// it was expected to clear by has passed.
pub const AGE_LIMIT: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// Where a break stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl BreakStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    fn parse(text: &str) -> Result<Self, ReconError> {
        match text {
            "open" => Ok(Self::Open),
            "acknowledged" => Ok(Self::Acknowledged),
            "resolved" => Ok(Self::Resolved),
            other => Err(ReconError::Database(sqlx::Error::Protocol(format!(
                "unknown break status {other:?}"
            )))),
        }
    }
}

/// The id of the break of `finding` found on `date`.
pub fn break_id(date: NaiveDate, scope: Scope, subject: &str, class: BreakClass) -> Uuid {
    let name = format!(
        "recon/{date}/{}/{subject}/{}",
        scope.as_str(),
        class.as_str()
    );
    Uuid::new_v5(&BREAK_NAMESPACE, name.as_bytes())
}

/// A stored break, as `acme recon breaks` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Break {
    pub break_id: Uuid,
    pub recon_date: NaiveDate,
    pub scope: String,
    pub subject: String,
    pub account: String,
    pub class: String,
    pub ours: Option<Decimal>,
    pub theirs: Option<Decimal>,
    pub evidence: serde_json::Value,
    pub expected_clear_date: Option<NaiveDate>,
    pub status: BreakStatus,
    pub opened_at: DateTime<Utc>,
}

/// Stores the findings of `date` as breaks; returns how many were new.
pub async fn record(
    conn: &mut PgConnection,
    date: NaiveDate,
    findings: &[Finding],
) -> Result<u64, ReconError> {
    let mut new = 0;
    for finding in findings {
        let id = break_id(date, finding.scope, &finding.subject, finding.class);
        new += sqlx::query(
            "insert into recon_break (break_id, recon_date, scope, subject, account, class, ours,
                                      theirs, evidence, expected_clear_date)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             on conflict (break_id) do nothing",
        )
        .bind(id)
        .bind(date)
        .bind(finding.scope.as_str())
        .bind(&finding.subject)
        .bind(&finding.account)
        .bind(finding.class.as_str())
        .bind(finding.ours)
        .bind(finding.theirs)
        .bind(&finding.evidence)
        .bind(finding.expected_clear_date)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(new)
}

/// Resolves the open timing breaks of earlier dates whose subject `date`'s run found matched, as
/// `actor` (the run); returns how many it closed.
pub async fn clear_timing(
    conn: &mut PgConnection,
    date: NaiveDate,
    scope: Scope,
    matched: &[Compared],
    actor: &str,
) -> Result<u64, ReconError> {
    let subjects: Vec<&str> = matched
        .iter()
        .filter(|line| line.class.is_none())
        .map(|line| line.subject.as_str())
        .collect();
    let reason = format!("cleared: matched on {date}");
    let closed = sqlx::query(
        "with old as (
             select break_id, status from recon_break
             where class = 'timing' and status <> 'resolved' and scope = $1
               and recon_date < $2 and subject = any($3)
             for update),
         closing as (
             update recon_break b set status = 'resolved' from old
             where b.break_id = old.break_id
             returning b.break_id, old.status as from_status)
         insert into recon_break_event (break_id, from_status, to_status, actor, reason)
         select break_id, from_status, 'resolved', $4, $5 from closing",
    )
    .bind(scope.as_str())
    .bind(date)
    .bind(&subjects)
    .bind(actor)
    .bind(&reason)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(closed)
}

/// Which breaks to list, oldest first.
#[derive(Debug, Clone, Default)]
pub struct BreakFilter {
    pub class: Option<BreakClass>,
    /// Only breaks opened before this instant.
    pub opened_before: Option<DateTime<Utc>>,
    /// Resolved ones too.
    pub include_resolved: bool,
    pub limit: i64,
}

type BreakRow = (
    Uuid,
    NaiveDate,
    String,
    String,
    String,
    String,
    Option<Decimal>,
    Option<Decimal>,
    serde_json::Value,
    Option<NaiveDate>,
    String,
    DateTime<Utc>,
);

const BREAK_COLUMNS: &str = "break_id, recon_date, scope, subject, account, class, ours, theirs, \
                             evidence, expected_clear_date, status, opened_at";

fn break_of(row: BreakRow) -> Result<Break, ReconError> {
    let (id, date, scope, subject, account, class, ours, theirs, evidence, clears, status, at) =
        row;
    Ok(Break {
        break_id: id,
        recon_date: date,
        scope,
        subject,
        account,
        class,
        ours,
        theirs,
        evidence,
        expected_clear_date: clears,
        status: BreakStatus::parse(&status)?,
        opened_at: at,
    })
}

/// Breaks as the filter says.
pub async fn list(pool: &PgPool, filter: &BreakFilter) -> Result<Vec<Break>, ReconError> {
    let rows: Vec<BreakRow> = sqlx::query_as(&format!(
        "select {BREAK_COLUMNS} from recon_break
         where ($1::text is null or class = $1)
           and ($2::timestamptz is null or opened_at < $2)
           and ($3 or status <> 'resolved')
         order by opened_at, recon_date, scope, subject
         limit $4"
    ))
    .bind(filter.class.map(BreakClass::as_str))
    .bind(filter.opened_before)
    .bind(filter.include_resolved)
    .bind(filter.limit.clamp(1, MAX_LISTED))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(break_of).collect()
}

/// The breaks found on `date`.
pub async fn of_date(pool: &PgPool, date: NaiveDate) -> Result<Vec<Break>, ReconError> {
    let rows: Vec<BreakRow> = sqlx::query_as(&format!(
        "select {BREAK_COLUMNS} from recon_break where recon_date = $1
         order by scope, subject, class"
    ))
    .bind(date)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(break_of).collect()
}

/// One change of a break's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakEvent {
    pub event_id: i64,
    pub from_status: String,
    pub to_status: String,
    pub actor: String,
    pub reason: String,
    /// The journal entry that corrected what the break found, when it was resolved by one.
    pub correction_entry_id: Option<i64>,
    pub recorded_at: DateTime<Utc>,
}

/// The events of a break, oldest first.
pub async fn events(pool: &PgPool, break_id: Uuid) -> Result<Vec<BreakEvent>, ReconError> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        i64,
        String,
        String,
        String,
        String,
        Option<i64>,
        DateTime<Utc>,
    )> = sqlx::query_as(
        "select event_id, from_status, to_status, actor, reason, correction_entry_id,
                    recorded_at
             from recon_break_event where break_id = $1 order by event_id",
    )
    .bind(break_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                event_id,
                from_status,
                to_status,
                actor,
                reason,
                correction_entry_id,
                recorded_at,
            )| {
                BreakEvent {
                    event_id,
                    from_status,
                    to_status,
                    actor,
                    reason,
                    correction_entry_id,
                    recorded_at,
                }
            },
        )
        .collect())
}

/// Moves a break to `to` (acknowledged or resolved) as `actor` with `reason`, recording the
/// event in the same transaction. Refused, changing nothing: an unknown break, an empty or
/// overlong reason, a move that is not forward (resolved is final; acknowledging twice is
/// refused too, so an operator learns someone else already did).
pub async fn advance(
    pool: &PgPool,
    break_id: Uuid,
    to: BreakStatus,
    actor: &str,
    reason: &str,
) -> Result<Break, ReconError> {
    advance_with(pool, break_id, to, actor, reason, None).await
}

/// [`advance`], naming the journal entry that corrected what the break found (`correction`,
/// only when resolving). Refused too: a correction that is not an entry in the journal, or that
/// goes with an acknowledgement.
pub async fn advance_with(
    pool: &PgPool,
    break_id: Uuid,
    to: BreakStatus,
    actor: &str,
    reason: &str,
    correction: Option<i64>,
) -> Result<Break, ReconError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ReconError::refused(
            "break.reason_required",
            format!("a reason of 1 to {MAX_REASON_CHARS} characters is required"),
        ));
    }
    if actor.trim().is_empty() {
        return Err(ReconError::refused(
            "break.actor_required",
            "who is acting?",
        ));
    }
    if correction.is_some() && to != BreakStatus::Resolved {
        return Err(ReconError::refused(
            "break.correction_resolves",
            "a correcting entry resolves a break; it cannot acknowledge one",
        ));
    }
    let mut tx = pool.begin().await?;
    if let Some(entry_id) = correction {
        let posted: bool =
            sqlx::query_scalar("select exists (select 1 from journal_entry where entry_id = $1)")
                .bind(entry_id)
                .fetch_one(&mut *tx)
                .await?;
        if !posted {
            return Err(ReconError::refused(
                "break.correction_unknown",
                format!(
                    "no journal entry {entry_id}: post the correction through the ledger first"
                ),
            ));
        }
    }
    let status: Option<String> =
        sqlx::query_scalar("select status from recon_break where break_id = $1 for update")
            .bind(break_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(status) = status else {
        return Err(ReconError::refused(
            "break.unknown",
            format!("no break {break_id}"),
        ));
    };
    let from = BreakStatus::parse(&status)?;
    let allowed = matches!(
        (from, to),
        (BreakStatus::Open, BreakStatus::Acknowledged)
            | (
                BreakStatus::Open | BreakStatus::Acknowledged,
                BreakStatus::Resolved
            )
    );
    if !allowed {
        return Err(ReconError::refused(
            "break.transition_refused",
            format!(
                "break {break_id} is {}; it cannot become {}",
                from.as_str(),
                to.as_str()
            ),
        ));
    }
    sqlx::query("update recon_break set status = $2 where break_id = $1")
        .bind(break_id)
        .bind(to.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into recon_break_event
             (break_id, from_status, to_status, actor, reason, correction_entry_id)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(break_id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(actor)
    .bind(reason)
    .bind(correction)
    .execute(&mut *tx)
    .await?;
    let row: BreakRow = sqlx::query_as(&format!(
        "select {BREAK_COLUMNS} from recon_break where break_id = $1"
    ))
    .bind(break_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    break_of(row)
}

/// Unresolved breaks past their age limit at `now`, oldest first: timing breaks whose expected
/// clear date is before `now`'s date, others opened longer than `age_limit` before `now`.
pub async fn overdue(
    pool: &PgPool,
    age_limit: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Break>, ReconError> {
    let opened_before = opened_before(age_limit, now)?;
    let rows: Vec<BreakRow> = sqlx::query_as(&format!(
        "select {BREAK_COLUMNS} from recon_break
         where status <> 'resolved' and {OVERDUE}
         order by recon_date, opened_at, scope, subject
         limit $3"
    ))
    .bind(now.date_naive())
    .bind(opened_before)
    .bind(MAX_LISTED)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(break_of).collect()
}

/// A break past its age limit, given `$1` the date now and `$2` the instant the limit reaches
/// back to: a timing break once its expected clear date has passed, any other once opened before.
const OVERDUE: &str = "case when class = 'timing' and expected_clear_date is not null
                           then expected_clear_date < $1
                           else opened_at < $2 end";

/// The reconciliation gauges (`acme_sdk::metrics::set_reconciliation_breaks`): per class,
/// unresolved breaks, those past their age limit at `now`, and the age of the oldest. Every class
/// is listed, with 0 if it has none. One aggregate over the unresolved breaks (partial index).
pub async fn gauges(
    pool: &PgPool,
    age_limit: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<BreakClassRow>, ReconError> {
    let opened_before = opened_before(age_limit, now)?;
    let found: Vec<(String, i64, i64, Option<f64>)> = sqlx::query_as(&format!(
        "select class, count(*), count(*) filter (where {OVERDUE}),
                extract(epoch from $3 - min(opened_at))::float8
         from recon_break where status <> 'resolved'
         group by class"
    ))
    .bind(now.date_naive())
    .bind(opened_before)
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(BreakClass::ALL
        .iter()
        .map(|class| {
            let row = found.iter().find(|row| row.0 == class.as_str());
            BreakClassRow {
                class: class.as_str(),
                unresolved: row.map_or(0, |row| row.1),
                overdue: row.map_or(0, |row| row.2),
                oldest_age_seconds: row.and_then(|row| row.3),
            }
        })
        .collect())
}

/// The instant `age_limit` reaches back to from `now`.
fn opened_before(
    age_limit: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ReconError> {
    chrono::Duration::from_std(age_limit)
        .ok()
        .and_then(|limit| now.checked_sub_signed(limit))
        .ok_or_else(|| ReconError::refused("break.age_limit", "the age limit is too long"))
}

/// Unresolved breaks by class and status, for `acme recon status`.
pub async fn counts(pool: &PgPool) -> Result<Vec<(String, String, i64)>, ReconError> {
    Ok(sqlx::query_as(
        "select class, status, count(*) from recon_break where status <> 'resolved'
         group by class, status order by class, status",
    )
    .fetch_all(pool)
    .await?)
}
