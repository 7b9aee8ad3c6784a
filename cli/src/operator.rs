//! Operator actions: who is acting (`--as`, `ACME_OPERATOR`, else the login name), carried into
//! Temporal as the client identity, and the audit rows every start, signal, cancel and terminate
//! leaves in the ledger database: the action before it is taken, its outcome after.

use std::future::Future;

use acme_ledger::Ledger;
use acme_ledger::audit::{NewOperatorAction, OperatorVerb};
use anyhow::Context as _;
use clap::Args;
use temporalio_client::Client;

use crate::connect::{self, AppDatabase};

#[derive(Debug, Clone, Args)]
pub struct OperatorArgs {
    /// Who is acting, recorded in Temporal and the audit log [default: $ACME_OPERATOR, else
    /// the login name]
    #[arg(long = "as", value_name = "NAME", env = "ACME_OPERATOR")]
    operator: Option<String>,
    #[command(flatten)]
    database: AppDatabase,
}

impl OperatorArgs {
    fn name(&self) -> anyhow::Result<String> {
        self.operator
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("LOGNAME").ok())
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .context("who is acting? Pass --as NAME or set ACME_OPERATOR")
    }
}

/// An operator connected to Temporal (under their name) and to the audit log.
#[derive(Debug)]
pub struct Operator {
    name: String,
    client: Client,
    audit: Ledger,
}

impl Operator {
    /// Connects to both, the audit log first.
    pub async fn connect(args: &OperatorArgs) -> anyhow::Result<Self> {
        let name = args.name()?;
        let audit = Ledger::new(connect::pool(&args.database.url, AppDatabase::SETTING, 1).await?);
        let client = acme_sdk::temporal::connect_as(Some(&format!("{name} via acme"))).await?;
        Ok(Self {
            name,
            client,
            audit,
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Who is acting.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The application role's connection the audit log is written on.
    pub fn audit(&self) -> &Ledger {
        &self.audit
    }

    /// Records `action` on `workflow_id` in the audit log, takes it, and records Temporal's
    /// answer. If the action cannot be recorded it is not taken. `detail` says what is sent.
    pub async fn act<T>(
        &self,
        verb: OperatorVerb,
        workflow_id: &str,
        reason: Option<&str>,
        detail: serde_json::Value,
        action: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let record = NewOperatorAction {
            operator: &self.name,
            verb,
            workflow_id,
            reason,
            detail,
        };
        let action_id = self
            .audit
            .record_operator_action(&record)
            .await
            .with_context(|| {
                format!(
                    "the audit log could not record the {}, so it was not done (is {} the \
                 application role's, and the database migrated: `acme db migrate`?)",
                    verb.as_str(),
                    AppDatabase::SETTING
                )
            })?;
        let result = action.await;
        let error = result.as_ref().err().map(|e| format!("{e:#}"));
        let answered = self
            .audit
            .record_operator_outcome(action_id, error.as_deref())
            .await;
        match (result, answered) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(audit_error)) => Err(audit_error).with_context(|| {
                format!(
                    "{} {workflow_id} was done (audit action #{action_id}), but its outcome \
                     could not be recorded; tell the platform team",
                    verb.as_str()
                )
            }),
            (Err(error), Ok(())) => Err(error),
            (Err(error), Err(audit_error)) => Err(anyhow::anyhow!(
                "{error:#}; and the audit log could not record that the {} was refused \
                 (audit action #{action_id}): {audit_error}",
                verb.as_str()
            )),
        }
    }
}
