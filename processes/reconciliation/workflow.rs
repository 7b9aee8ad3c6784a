//! `reconciliation`: a business date's books against the custodian, the bank and the payment
//! provider. Fetches the custodian's holdings (`semt.002`), cash (`camt.053`) and transaction
//! (`semt.017`) statements, the bank's cash statement (`camt.053`) and the payment provider's
//! statement of members' payments as of the date, stores each as received (digest, lines), then
//! compares, set-based, units per fund over every member and house pot with the
//! holdings, the bank mirror's settlement movements with the custodian's cash statement, order by
//! order, each external trade with the custodian's settled movements (by reference, then by
//! amount and date), the settlements and employers' contributions with the bank's statement, and
//! each member's own payment (`invest-cash`) with the provider's, by request id; stores
//! classified breaks and the daily report with the journal's head (ADR 17, 21, 22, 29).
//!
//! - Trigger: `acme recon run --date D` (workflow id `reconciliation/<date>`; a start while a
//!   run of the date is open attaches to it, a later one runs again and stores nothing new if
//!   nothing changed).
//! - Outcome: counts of what matched and broke, the report's id and the journal head.
//! - Failure: a malformed date fails with `date.invalid` before anything runs; a malformed
//!   statement with `statement.malformed`, storing nothing. Nothing is compensated: statements
//!   are records of what was received, and breaks and reports are append-only records.
//! - Owner: the platform team (operations works the breaks with `acme recon`).

use acme_activities::custodian::{CustodianActivities, StatementRequest};
use acme_activities::recon::report::{Outcome, Reconcile};
use acme_activities::recon::statements::{Imported, StatementKind};
use acme_activities::reconciliation::{ImportStatement, ReconciliationActivities};
use acme_sdk::failure::fail_workflow;
use acme_sdk::search::{self, SearchAttributeUpdate};
use acme_sdk::{BusinessError, IdReuse, Process, Step, TaskQueues, WorkflowId, activity_options};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "reconciliation";

/// Runs started before this patch fetch and compare no transaction statement.
pub const TRANSACTIONS: &str = "reconciliation-transactions";

/// Runs started before this patch fetch and compare no bank statement.
pub const BANK: &str = "reconciliation-bank";

/// Runs started before this patch fetch and compare no payment provider's statement.
pub const PROVIDER: &str = "reconciliation-provider";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::reads("fetch-holdings", CustodianActivities::statement),
        Step::reads("fetch-cash", CustodianActivities::statement),
        Step::reads("fetch-transactions", CustodianActivities::statement),
        Step::reads("fetch-bank", CustodianActivities::statement),
        Step::reads("fetch-provider", CustodianActivities::statement),
        Step::writes(
            "import-holdings",
            ReconciliationActivities::import_statement,
            "statement sha256 digest",
        )
        .pivot("a statement is a record of what was received, kept as received, never undone"),
        Step::writes(
            "import-cash",
            ReconciliationActivities::import_statement,
            "statement sha256 digest",
        ),
        Step::writes(
            "import-transactions",
            ReconciliationActivities::import_statement,
            "statement sha256 digest",
        ),
        Step::writes(
            "import-bank",
            ReconciliationActivities::import_statement,
            "statement sha256 digest",
        ),
        Step::writes(
            "import-provider",
            ReconciliationActivities::import_statement,
            "statement sha256 digest",
        ),
        Step::writes(
            "reconcile",
            ReconciliationActivities::reconcile,
            "break uuid5(<date>/<scope>/<subject>/<class>); report (<date>, content sha256)",
        ),
    ]
}

/// The workflow id of the run for a business date.
pub fn workflow_id(date: &str) -> String {
    format!("reconciliation/{date}")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The business date to reconcile, `YYYY-MM-DD`: the statements are asked for as of it.
    pub date: String,
}

#[workflow]
#[derive(Default)]
pub struct Reconciliation;

impl Process for Reconciliation {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "Reconciles a business date: units per fund, external trades and settlement cash against the custodian's statements, settlements and contributions against the bank's, and members' payments against the payment provider's, stored as received, with classified breaks and a daily report";

    /// A later run of a date compares again and stores nothing new if nothing changed.
    const ID_REUSE: IdReuse = IdReuse::Always;

    fn business_key(input: &Input) -> String {
        input.date.clone()
    }

    fn workflow_id(input: &Input) -> String {
        workflow_id(&input.date)
    }

    fn search_attributes(input: &Input) -> Vec<SearchAttributeUpdate> {
        vec![search::DEALING_DATE.value_set(input.date.clone())]
    }

    fn summary(input: &Input) -> String {
        format!(
            "reconcile {} against the custodian, the bank and the payment provider",
            input.date
        )
    }

    fn example() -> Input {
        Input {
            date: "2025-01-02".to_owned(),
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl Reconciliation {
    #[run(name = "reconciliation")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Outcome> {
        let date = business_date(&input, ctx.workflow_id())?;
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        let mut kinds = vec![StatementKind::Holdings, StatementKind::CustodianCash];
        if ctx.patched(TRANSACTIONS) {
            kinds.push(StatementKind::Transactions);
        }
        if ctx.patched(BANK) {
            kinds.push(StatementKind::BankCash);
        }
        if ctx.patched(PROVIDER) {
            kinds.push(StatementKind::ProviderCash);
        }
        let mut imported = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let body = ctx
                .execute_activity(
                    CustodianActivities::statement,
                    StatementRequest { kind, as_of: date },
                    activity_options::external(&queues),
                )
                .await
                .map_err(fail_workflow)?;
            imported.push((kind, body));
        }
        let mut statements = Statements::default();
        for (kind, body) in imported {
            let statement = ctx
                .execute_activity(
                    ReconciliationActivities::import_statement,
                    ImportStatement {
                        kind,
                        as_of: date,
                        body,
                    },
                    activity_options::ledger(&queues),
                )
                .await
                .map_err(fail_workflow)?;
            statements.put(kind, statement);
        }
        let (Some(holdings), Some(cash)) = (statements.holdings, statements.cash) else {
            return Err(
                BusinessError::new("recon.statement_missing", "a statement is missing").into(),
            );
        };
        let request = Reconcile {
            date,
            workflow_id: ctx.workflow_id().to_owned(),
            holdings,
            cash,
            transactions: statements.transactions,
            bank: statements.bank,
            provider: statements.provider,
        };
        let outcome = ctx
            .execute_activity(
                ReconciliationActivities::reconcile,
                request,
                activity_options::bulk(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        Ok(outcome)
    }
}

/// The statements a run imported, by kind.
#[derive(Default)]
struct Statements {
    holdings: Option<Imported>,
    cash: Option<Imported>,
    transactions: Option<Imported>,
    bank: Option<Imported>,
    provider: Option<Imported>,
}

impl Statements {
    fn put(&mut self, kind: StatementKind, statement: Imported) {
        let slot = match kind {
            StatementKind::Holdings => &mut self.holdings,
            StatementKind::CustodianCash => &mut self.cash,
            StatementKind::Transactions => &mut self.transactions,
            StatementKind::BankCash => &mut self.bank,
            StatementKind::ProviderCash => &mut self.provider,
        };
        *slot = Some(statement);
    }
}

/// The date a run is for, checked to be a real `YYYY-MM-DD` and the run's own.
fn business_date(input: &Input, workflow_id: &str) -> Result<NaiveDate, BusinessError> {
    let text = &input.date;
    let date = acme_sdk::business_date(text)?;
    WorkflowId::of_run(self::workflow_id(text), workflow_id, text)?;
    Ok(date)
}
