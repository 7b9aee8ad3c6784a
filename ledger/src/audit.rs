//! The operator audit log: who started, signalled, cancelled or terminated which run, when, why
//! and with what result. Each action is recorded before it is taken and its outcome appended
//! after, so no action goes unrecorded. Append-only in the database itself (a trigger refuses
//! edits).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Ledger, LedgerError};

/// What an operator did to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperatorVerb {
    Start,
    Signal,
    Cancel,
    Terminate,
    /// Create or change a schedule (its id stands in the workflow id's place).
    Schedule,
    /// Acknowledge a reconciliation break (its run's id stands in the workflow id's place).
    Acknowledge,
    /// Resolve a reconciliation break, with a reason.
    Resolve,
    /// Ask for a journal entry to be reversed (`ledger-reversal/<entry id>` in the workflow id's
    /// place).
    Reverse,
    /// Approve another operator's reversal request, posting the reversing entry.
    Approve,
    /// Release a held contribution schedule (its run re-checks the payment), with a reason.
    Release,
}

impl OperatorVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Signal => "signal",
            Self::Cancel => "cancel",
            Self::Terminate => "terminate",
            Self::Schedule => "schedule",
            Self::Acknowledge => "acknowledge",
            Self::Resolve => "resolve",
            Self::Reverse => "reverse",
            Self::Approve => "approve",
            Self::Release => "release",
        }
    }

    /// The verb done to a run, for messages ("only a running run can be cancelled").
    pub fn past_tense(self) -> &'static str {
        match self {
            Self::Start => "started",
            Self::Signal => "signalled",
            Self::Cancel => "cancelled",
            Self::Terminate => "terminated",
            Self::Schedule => "scheduled",
            Self::Acknowledge => "acknowledged",
            Self::Resolve => "resolved",
            Self::Reverse => "reversed",
            Self::Approve => "approved",
            Self::Release => "released",
        }
    }
}

/// One action to record, before it is taken.
#[derive(Debug, Clone, Serialize)]
pub struct NewOperatorAction<'a> {
    pub operator: &'a str,
    pub verb: OperatorVerb,
    pub workflow_id: &'a str,
    pub reason: Option<&'a str>,
    pub detail: serde_json::Value,
}

/// One recorded action, as `acme audit` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct OperatorAction {
    pub action_id: i64,
    pub recorded_at: DateTime<Utc>,
    pub operator: String,
    pub action: String,
    pub workflow_id: String,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
    /// Whether Temporal accepted it; `None` if no answer was recorded (the command stopped
    /// between taking the action and recording its outcome: check the run's history).
    pub accepted: Option<bool>,
    pub error: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// Which actions to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub workflow_id: Option<String>,
    pub operator: Option<String>,
    pub limit: i64,
}

impl Ledger {
    /// Appends an operator action about to be taken; returns its id, for its outcome.
    pub async fn record_operator_action(
        &self,
        action: &NewOperatorAction<'_>,
    ) -> Result<i64, LedgerError> {
        let id = sqlx::query_scalar(
            "insert into operator_action (operator, action, workflow_id, reason, detail)
             values ($1, $2, $3, $4, $5)
             returning action_id",
        )
        .bind(action.operator)
        .bind(action.verb.as_str())
        .bind(action.workflow_id)
        .bind(action.reason)
        .bind(&action.detail)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Appends what Temporal answered to action `action_id`: `None` if it accepted, else its
    /// error.
    pub async fn record_operator_outcome(
        &self,
        action_id: i64,
        error: Option<&str>,
    ) -> Result<(), LedgerError> {
        sqlx::query(
            "insert into operator_action_outcome (action_id, accepted, error)
             values ($1, $2, $3)",
        )
        .bind(action_id)
        .bind(error.is_none())
        .bind(error)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Recorded actions matching `filter`, newest first.
    pub async fn operator_actions(
        &self,
        filter: &AuditFilter,
    ) -> Result<Vec<OperatorAction>, LedgerError> {
        Ok(sqlx::query_as(
            "select action_id, recorded_at, operator, action, workflow_id, reason, detail,
                    accepted, error, answered_at
             from operator_action_log
             where ($1::text is null or workflow_id = $1)
               and ($2::text is null or operator = $2)
             order by action_id desc
             limit $3",
        )
        .bind(filter.workflow_id.as_deref())
        .bind(filter.operator.as_deref())
        .bind(filter.limit)
        .fetch_all(self.pool())
        .await?)
    }
}
