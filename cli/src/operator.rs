//! Operator actions: who is acting (`--as`, `ACME_OPERATOR`, else the login name), carried into
//! Temporal as the client identity, and the audit row every start, signal, cancel and terminate
//! leaves in the ledger database, accepted or not.

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
    /// Connects to both; the audit log is checked first, so no action is taken that could not
    /// be recorded.
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

    /// Takes `action` on `workflow_id` and records it in the audit log, whether Temporal
    /// accepted it or not. `detail` says what was sent.
    pub async fn act<T>(
        &self,
        verb: OperatorVerb,
        workflow_id: &str,
        reason: Option<&str>,
        detail: serde_json::Value,
        action: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let result = action.await;
        let record = NewOperatorAction {
            operator: &self.name,
            verb,
            workflow_id,
            reason,
            detail,
            error: result.as_ref().err().map(|e| format!("{e:#}")),
        };
        let recorded = self.audit.record_operator_action(&record).await;
        match (result, recorded) {
            (Ok(value), Ok(_)) => Ok(value),
            (Ok(_), Err(error)) => Err(error).with_context(|| {
                format!(
                    "{} {workflow_id} was done, but the audit log could not record it; \
                     tell the platform team",
                    verb.as_str()
                )
            }),
            (Err(error), _) => Err(error),
        }
    }
}
