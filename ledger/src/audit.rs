//! The operator audit log: who started, signalled, cancelled or terminated which run, when, why
//! and with what result. Append-only in the database itself (a trigger refuses edits).

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
}

impl OperatorVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Signal => "signal",
            Self::Cancel => "cancel",
            Self::Terminate => "terminate",
        }
    }
}

/// One action to record.
#[derive(Debug, Clone, Serialize)]
pub struct NewOperatorAction<'a> {
    pub operator: &'a str,
    pub verb: OperatorVerb,
    pub workflow_id: &'a str,
    pub reason: Option<&'a str>,
    pub detail: serde_json::Value,
    /// `None` if Temporal accepted the action, else its error.
    pub error: Option<String>,
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
    pub accepted: bool,
    pub error: Option<String>,
}

/// Which actions to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub workflow_id: Option<String>,
    pub operator: Option<String>,
    pub limit: i64,
}

impl Ledger {
    /// Appends one operator action; returns its id.
    pub async fn record_operator_action(
        &self,
        action: &NewOperatorAction<'_>,
    ) -> Result<i64, LedgerError> {
        let id = sqlx::query_scalar(
            "insert into operator_action
                 (operator, action, workflow_id, reason, detail, accepted, error)
             values ($1, $2, $3, $4, $5, $6, $7)
             returning action_id",
        )
        .bind(action.operator)
        .bind(action.verb.as_str())
        .bind(action.workflow_id)
        .bind(action.reason)
        .bind(&action.detail)
        .bind(action.error.is_none())
        .bind(action.error.as_deref())
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Recorded actions matching `filter`, newest first.
    pub async fn operator_actions(
        &self,
        filter: &AuditFilter,
    ) -> Result<Vec<OperatorAction>, LedgerError> {
        Ok(sqlx::query_as(
            "select action_id, recorded_at, operator, action, workflow_id, reason, detail,
                    accepted, error
             from operator_action
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
