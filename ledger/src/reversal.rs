//! Corrections by reversal, under four eyes (ADR 27). A posted entry is never edited: an
//! operator asks for it to be reversed, with a reason ([`Ledger::request_reversal`]), and a
//! second operator approves ([`Ledger::approve_reversal`]); only then is the reversing entry
//! posted, every posting negated, through the same checks as any entry (an account it would
//! overdraw refuses it, and the request stays pending). One request per entry, ever, so an entry
//! is reversed at most once; the reversing entry is keyed by the entry it reverses, so an
//! approval retried after a crash posts nothing twice. The database holds the rules too
//! (migration 0020): the approver is never the requester, and a request is approved once and
//! otherwise never changed.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::model::{EntryId, NewEntry, negated};
use crate::query::JournalFilter;
use crate::{Ledger, LedgerError};

/// The kind of a reversing entry.
pub const KIND: &str = "ledger.reversal";
/// The process that posts reversing entries.
pub const PROCESS: &str = "acme-ledger-reverse";
/// The longest reason an operator may give.
pub const MAX_REASON_CHARS: usize = 1_000;

/// A request to reverse an entry, pending or approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ReversalRequest {
    pub request_id: i64,
    pub entry_id: i64,
    pub requested_by: String,
    pub reason: String,
    pub effective_date: NaiveDate,
    pub requested_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub reversing_entry_id: Option<i64>,
}

/// What a reversal of `entry_id` is filed under: the reversing entry's workflow id, and the
/// audit log's subject of its request and approval.
pub fn workflow_id(entry_id: i64) -> String {
    format!("ledger-reversal/{entry_id}")
}

fn refused(code: &'static str, message: String) -> LedgerError {
    LedgerError::Refused { code, message }
}

const COLUMNS: &str = "request_id, entry_id, requested_by, reason, effective_date, requested_at, \
                       approved_by, approved_at, reversing_entry_id";

impl Ledger {
    /// Asks for `entry_id` to be reversed, effective `effective_date`, by `operator` for
    /// `reason`. Asking again with the same operator and reason returns the same request; any
    /// other second request for the entry is refused (`reversal.conflict`), as is a reversal of
    /// a reversing entry (post a new correcting entry instead), an unknown entry and a blank
    /// reason.
    pub async fn request_reversal(
        &self,
        entry_id: EntryId,
        operator: &str,
        reason: &str,
        effective_date: NaiveDate,
    ) -> Result<ReversalRequest, LedgerError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(refused(
                "reversal.reason_required",
                format!("say why, in 1 to {MAX_REASON_CHARS} characters (--reason)"),
            ));
        }
        let kind: Option<String> =
            sqlx::query_scalar("select kind from journal_entry where entry_id = $1")
                .bind(entry_id.0)
                .fetch_optional(self.pool())
                .await?;
        match kind.as_deref() {
            None => {
                return Err(refused(
                    "reversal.unknown_entry",
                    format!("no journal entry {}", entry_id.0),
                ));
            }
            Some(KIND) => {
                return Err(refused(
                    "reversal.of_reversal",
                    format!(
                        "entry {} is itself a reversal; post a new correcting entry instead",
                        entry_id.0
                    ),
                ));
            }
            Some(_) => {}
        }
        sqlx::query(
            "insert into ledger_reversal (entry_id, requested_by, reason, effective_date)
             values ($1, $2, $3, $4) on conflict (entry_id) do nothing",
        )
        .bind(entry_id.0)
        .bind(operator)
        .bind(reason)
        .bind(effective_date)
        .execute(self.pool())
        .await?;
        let request = self
            .reversal_of_entry(entry_id)
            .await?
            .ok_or_else(|| refused("reversal.unknown_entry", format!("entry {}", entry_id.0)))?;
        let same = request.requested_by == operator
            && request.reason == reason
            && request.effective_date == effective_date;
        if !same {
            return Err(refused(
                "reversal.conflict",
                format!(
                    "entry {} already has reversal request #{} by {} ({}): {}",
                    entry_id.0,
                    request.request_id,
                    request.requested_by,
                    request
                        .approved_by
                        .as_deref()
                        .map_or_else(|| "pending".to_owned(), |by| format!("approved by {by}")),
                    request.reason
                ),
            ));
        }
        Ok(request)
    }

    /// Approves request `request_id` as `operator` and posts the reversing entry. Refused when
    /// `operator` asked for it (`reversal.four_eyes`), when another operator already approved
    /// it (`reversal.already_approved`; the same approver again gets the request back), and
    /// when the ledger refuses the entry (an overdraft: the request stays pending).
    pub async fn approve_reversal(
        &self,
        request_id: i64,
        operator: &str,
    ) -> Result<ReversalRequest, LedgerError> {
        let request = self.reversal(request_id).await?.ok_or_else(|| {
            refused(
                "reversal.unknown_request",
                format!("no reversal request #{request_id}"),
            )
        })?;
        if request.requested_by == operator {
            return Err(refused(
                "reversal.four_eyes",
                format!(
                    "{operator} asked for reversal #{request_id}; another operator must approve it"
                ),
            ));
        }
        match request.approved_by.as_deref() {
            Some(by) if by == operator => return Ok(request),
            Some(by) => {
                return Err(refused(
                    "reversal.already_approved",
                    format!("reversal #{request_id} was already approved by {by}"),
                ));
            }
            None => {}
        }
        let entry = self.reversing_entry(&request).await?;
        let posted = self.post(&entry).await?;
        sqlx::query(
            "update ledger_reversal
             set approved_by = $2, approved_at = now(), reversing_entry_id = $3
             where request_id = $1 and approved_by is null",
        )
        .bind(request_id)
        .bind(operator)
        .bind(posted.entry_id.0)
        .execute(self.pool())
        .await?;
        let approved = self.reversal(request_id).await?.ok_or_else(|| {
            refused(
                "reversal.unknown_request",
                format!("no reversal request #{request_id}"),
            )
        })?;
        match approved.approved_by.as_deref() {
            Some(by) if by == operator => Ok(approved),
            by => Err(refused(
                "reversal.already_approved",
                format!(
                    "reversal #{request_id} was approved by {} at the same moment",
                    by.unwrap_or("nobody")
                ),
            )),
        }
    }

    /// The entry that reverses `request`'s: every posting negated, keyed by the reversed entry
    /// (`ledger-reversal/<entry id>/reverse`), effective on the request's date. Built from the request
    /// and the journal only, so every attempt builds the same entry.
    async fn reversing_entry(&self, request: &ReversalRequest) -> Result<NewEntry, LedgerError> {
        let original = self
            .journal(JournalFilter::Entry(EntryId(request.entry_id)), EntryId(0))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                refused(
                    "reversal.unknown_entry",
                    format!("no journal entry {}", request.entry_id),
                )
            })?;
        let metadata = BTreeMap::from([
            ("reverses_entry".to_owned(), request.entry_id.to_string()),
            ("reverses_key".to_owned(), original.idempotency_key.clone()),
            ("request".to_owned(), request.request_id.to_string()),
            ("reason".to_owned(), request.reason.clone()),
        ]);
        let workflow_id = workflow_id(request.entry_id);
        Ok(NewEntry {
            idempotency_key: format!("{workflow_id}/reverse"),
            kind: KIND.to_owned(),
            process: PROCESS.to_owned(),
            workflow_id,
            effective_date: request.effective_date,
            metadata,
            postings: negated(
                original
                    .postings
                    .iter()
                    .map(|posting| (posting.account_id, posting.amount)),
            ),
        })
    }

    /// Reversal request `request_id`, if there is one.
    pub async fn reversal(&self, request_id: i64) -> Result<Option<ReversalRequest>, LedgerError> {
        Ok(sqlx::query_as(&format!(
            "select {COLUMNS} from ledger_reversal where request_id = $1"
        ))
        .bind(request_id)
        .fetch_optional(self.pool())
        .await?)
    }

    async fn reversal_of_entry(
        &self,
        entry_id: EntryId,
    ) -> Result<Option<ReversalRequest>, LedgerError> {
        Ok(sqlx::query_as(&format!(
            "select {COLUMNS} from ledger_reversal where entry_id = $1"
        ))
        .bind(entry_id.0)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Reversal requests, newest first: pending ones only, or all; at most `limit`.
    pub async fn reversals(
        &self,
        pending_only: bool,
        limit: i64,
    ) -> Result<Vec<ReversalRequest>, LedgerError> {
        Ok(sqlx::query_as(&format!(
            "select {COLUMNS} from ledger_reversal
             where not $1 or approved_by is null
             order by request_id desc limit $2"
        ))
        .bind(pending_only)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
