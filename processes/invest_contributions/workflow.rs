//! `invest-contributions`: an imported contribution schedule is invested once the employer's
//! payment shows on ACME's bank statement.
//!
//! - Trigger: `acme contributions invest SCHEDULE` after `acme contributions import` (workflow id
//!   `contributions/<schedule id>`, so a second start attaches to the run already at it). It
//!   checks the payment at once, then every `poll_every_secs`, or when signalled
//!   `payment_advised` (the bank's advice of an incoming payment).
//! - Each check fetches ACME's bank statement (`camt.053`, from the bank side of the simulator
//!   here) as of the run's date, stores it as received (reconciliation's statement store; the
//!   same statement again stores nothing), and compares what it shows under the schedule's
//!   payment reference with what is due.
//! - Outcome: once the bank statement shows exactly the accepted rows' total under the
//!   schedule's payment reference, every accepted row is invested in one bulk step: the money is
//!   credited to the member's pot (reserved for investment) and pending buy trades are created,
//!   split by the member's model portfolio, for the next dealing cycle.
//! - Failure: a malformed schedule id fails with `schedule.invalid_id`, an unknown one with
//!   `schedule.unknown`, before anything is written. A short or over payment is a break: the
//!   schedule is held (never invested pro rata) and the run keeps checking; after
//!   `MAX_CHECKS` checks it fails with `payment.not_matched`, leaving the schedule held for an
//!   operator. Nothing is compensated: a payment finding is a record, and investing only goes
//!   forward (each row once).
//! - Owner: the platform team.

use std::time::Duration;

use acme_activities::contributions::funding::{Outcome, PaymentCheck};
use acme_activities::contributions::invest::{DEFAULT_CHUNK_ROWS, Invest, Invested};
use acme_activities::custodian::{CustodianActivities, StatementRequest};
use acme_activities::invest_contributions::ContributionActivities;
use acme_activities::recon::statements::StatementKind;
use acme_activities::reconciliation::{ImportStatement, ReconciliationActivities};
use acme_sdk::failure::fail_workflow;
use acme_sdk::{
    BusinessError, IdReuse, Process, Signal, Step, TaskQueues, Waiting, WorkflowId,
    activity_options,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult};
use uuid::Uuid;

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "invest-contributions";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them.
pub fn steps() -> Vec<Step> {
    vec![
        Step::reads("fetch-bank-statement", CustodianActivities::statement),
        Step::writes(
            "import-bank-statement",
            ReconciliationActivities::import_statement,
            "statement sha256 digest",
        )
        .pivot("a statement is a record of what was received, kept as received, never undone"),
        Step::writes(
            "check-payment",
            ContributionActivities::check_payment,
            "one finding per (schedule, amount paid)",
        ),
        Step::writes(
            "invest",
            ContributionActivities::invest,
            "entry <workflow id>/invest/<line>; trade id md5(<workflow id>/<line>/buy/<asset>)",
        ),
    ]
}

/// How often the payment is checked unless the input says otherwise: bank statements come
/// daily, and the signal wakes the run when one is imported.
pub const DEFAULT_POLL_EVERY_SECS: u64 = 3_600;
/// The longest interval between checks.
pub const MAX_POLL_EVERY_SECS: u64 = 86_400;
/// Checks before the run gives up (bounds its history; about six weeks at the default).
pub const MAX_CHECKS: u32 = 1_000;
/// How long a wait for the payment is normal, for `acme stuck`.
const PAYMENT_EXPECTED_WITHIN: Duration = Duration::from_secs(10 * 86_400);

/// The workflow id of a schedule's run: its business key.
pub fn workflow_id(schedule_id: &str) -> String {
    format!("contributions/{schedule_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The schedule's id, as `acme contributions import` printed it (a lowercase UUID).
    pub schedule_id: String,
    /// Seconds between payment checks, 1 to 86,400 (default 3,600).
    #[serde(default)]
    pub poll_every_secs: Option<u64>,
    /// Schedule rows per chunk of the bulk step, 1 to 100,000 (default 20,000).
    #[serde(default)]
    pub chunk_rows: Option<i64>,
}

/// Where a run has got to, for `acme query` and the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    #[default]
    CheckingPayment,
    Investing,
    Invested,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub stage: Stage,
    /// The latest payment finding.
    pub payment: Option<PaymentCheck>,
    pub checks: u32,
    /// Set by the `payment_advised` signal until the next check.
    pub check_now: bool,
    pub waiting: Option<Waiting>,
}

#[workflow]
#[derive(Default)]
pub struct InvestContributions {
    status: Status,
}

impl Process for InvestContributions {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str = "Invests an imported contribution schedule once the employer's payment shows on the bank statement: pots credited and buy trades created in bulk";
    const QUERIES: &'static [&'static str] = &[acme_sdk::process::STATUS_QUERY];

    /// A schedule is invested once; a run that failed (its payment never arrived) may be run
    /// again once the cause is fixed, and invests only the rows not invested yet.
    const ID_REUSE: IdReuse = IdReuse::AfterFailure;

    fn signals() -> Vec<Signal> {
        vec![Signal::of(Self::payment_advised)]
    }

    fn business_key(input: &Input) -> String {
        input.schedule_id.clone()
    }

    fn workflow_id(input: &Input) -> String {
        workflow_id(&input.schedule_id)
    }

    fn summary(input: &Input) -> String {
        format!("invest contribution schedule {}", input.schedule_id)
    }

    fn example() -> Input {
        Input {
            schedule_id: "6f9619ff-8b86-5011-b42d-00c04fc964ff".to_owned(),
            poll_every_secs: None,
            chunk_rows: None,
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

/// The input, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    schedule_id: Uuid,
    poll_every: Duration,
    chunk_rows: i64,
}

impl Request {
    fn parse(input: &Input, run_workflow_id: &str) -> Result<Self, BusinessError> {
        let text = &input.schedule_id;
        let schedule_id = Uuid::parse_str(text)
            .ok()
            .filter(|id| id.to_string() == *text)
            .ok_or_else(|| {
                BusinessError::new(
                    "schedule.invalid_id",
                    format!("schedule id {text:?} must be a lowercase hyphenated UUID"),
                )
            })?;
        WorkflowId::of_run(workflow_id(text), run_workflow_id, text)?;
        let poll_every_secs = input.poll_every_secs.unwrap_or(DEFAULT_POLL_EVERY_SECS);
        if !(1..=MAX_POLL_EVERY_SECS).contains(&poll_every_secs) {
            return Err(BusinessError::new(
                "poll_every.out_of_range",
                format!("poll_every_secs {poll_every_secs} must be 1 to {MAX_POLL_EVERY_SECS}"),
            ));
        }
        Ok(Self {
            schedule_id,
            poll_every: Duration::from_secs(poll_every_secs),
            // The bulk step refuses a size out of its range, before it writes anything.
            chunk_rows: input.chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS),
        })
    }
}

#[workflow_methods]
impl InvestContributions {
    #[run(name = "invest-contributions")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Invested> {
        let request = Request::parse(&input, ctx.workflow_id())?;
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        Self::wait_for_payment(ctx, &queues, &request).await?;
        ctx.state_mut(|s| s.status.stage = Stage::Investing);
        let effective_date = ctx
            .workflow_time()
            .map(|time| DateTime::<Utc>::from(time).date_naive())
            .unwrap_or_default();
        let invested = ctx
            .execute_activity(
                ContributionActivities::invest,
                Invest {
                    schedule_id: request.schedule_id,
                    workflow_id: ctx.workflow_id().to_owned(),
                    effective_date,
                    chunk_rows: request.chunk_rows,
                },
                activity_options::bulk(&queues),
            )
            .await
            .map_err(fail_workflow)?;
        ctx.state_mut(|s| s.status.stage = Stage::Invested);
        Ok(invested)
    }

    /// Checks the payment until it matches: at once, then on every signal or `poll_every`.
    async fn wait_for_payment(
        ctx: &mut WorkflowContext<Self>,
        queues: &TaskQueues,
        request: &Request,
    ) -> WorkflowResult<()> {
        use futures::future::{Either, select};
        use temporalio_sdk::CancellableFuture as _;
        let since = ctx.workflow_time().map(DateTime::<Utc>::from);
        loop {
            // Cleared before the check, so an advice arriving while it runs brings another.
            ctx.state_mut(|s| s.status.check_now = false);
            let as_of = ctx
                .workflow_time()
                .map(|time| DateTime::<Utc>::from(time).date_naive())
                .unwrap_or_default();
            let body = ctx
                .execute_activity(
                    CustodianActivities::statement,
                    StatementRequest {
                        kind: StatementKind::BankCash,
                        as_of,
                    },
                    activity_options::external(queues),
                )
                .await
                .map_err(fail_workflow)?;
            ctx.execute_activity(
                ReconciliationActivities::import_statement,
                ImportStatement {
                    kind: StatementKind::BankCash,
                    as_of,
                    body,
                },
                activity_options::ledger(queues),
            )
            .await
            .map_err(fail_workflow)?;
            let check = ctx
                .execute_activity(
                    ContributionActivities::check_payment,
                    request.schedule_id,
                    activity_options::ledger(queues),
                )
                .await
                .map_err(fail_workflow)?;
            let matched = check.outcome == Outcome::Matched;
            let what = format!(
                "£{} under reference {} on the bank statement (seen: £{}, {:?})",
                check.due, check.payment_reference, check.paid, check.outcome
            );
            let checks = ctx.state_mut(|s| {
                s.status.checks += 1;
                s.status.payment = Some(check);
                s.status.waiting = if matched {
                    None
                } else {
                    since.map(|since| Waiting {
                        what,
                        since,
                        deadline: since + PAYMENT_EXPECTED_WITHIN,
                    })
                };
                s.status.checks
            });
            if matched {
                return Ok(());
            }
            if checks >= MAX_CHECKS {
                return Err(BusinessError::new(
                    "payment.not_matched",
                    format!(
                        "schedule {}: the payment did not match after {checks} checks; the \
                         schedule stays held",
                        request.schedule_id
                    ),
                )
                .into());
            }
            let signalled = ctx.wait_condition(|s| s.status.check_now);
            let timer = ctx.timer(request.poll_every);
            match select(Box::pin(signalled), Box::pin(timer)).await {
                Either::Left((woken, timer)) => {
                    timer.cancel();
                    woken?;
                }
                Either::Right(_) => {}
            }
        }
    }

    /// The bank advised a payment under this schedule's reference: check now. What it says is
    /// not acted on (the check reads the bank's statement), so any sender can only make the run
    /// check sooner.
    #[signal]
    pub fn payment_advised(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _reference: String) {
        self.status.check_now = true;
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> Status {
        self.status.clone()
    }
}
