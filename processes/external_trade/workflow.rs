//! `external-trade`: one aggregated trade with the custodian, from placing to settled.
//!
//! - Trigger: started by `dealing-cycle` as a child, one per (dealing date, asset, side);
//!   workflow id `external-trade/<date>/<asset>/<side>`.
//! - Outcome: place the order (idempotent by order reference) → wait for "priced" (a signal
//!   from the callback ingress wakes the run, or, if the callback is lost, a timer does; either
//!   way the confirmation used is the one the custodian's API returns, never the signal's
//!   content) → record the confirmation, allocate units or cash to the member pots pro rata,
//!   residue to the rounding pot → wait for "settled" the same way → settle members and cash.
//! - Long waits: each status poll adds about eleven events to the run's history, so after
//!   [`DEFAULT_POLLS_PER_RUN`] polls (or when Temporal suggests it) a run continues as new under
//!   the same workflow id, carrying where it stands ([`Resume`]): the wait it was in, the status
//!   so far (the overdue deadline included) and, past pricing, the allocation. The new run goes
//!   straight back to that wait and asks the custodian at once; it never places, records or
//!   allocates again. A trade the custodian never answers thus waits for weeks without reaching
//!   Temporal's history limit (patch `external-trade-wait-continues-as-new`).
//! - Failure: a rejected order (at placing, including a definite 4xx refusal, or found rejected
//!   later by polling) and a zero fill (priced, but nothing dealt) are compensated: its member
//!   trades fail and their reserved cash or units go back to available, in full. A status poll
//!   that fails for good is kept in the status for operators and the wait goes on. Confirmations
//!   that do not fit the order (`custodian.confirmation_mismatch`), or a price and a rejection
//!   for the same order (`custodian.conflicting_answers`), fail the run loudly for an operator;
//!   nothing is posted.
//! - Owner: the platform team.

use std::time::Duration;

use acme_activities::custodian::{CustodianActivities, Placement};
use acme_activities::dealing::{
    Allocation, DealingActivities, ExternalTrade, Priced, Rejected, Side, order_ref,
};
use acme_custodian::messages::{Confirmation, OrderState, OrderStatus};
use acme_sdk::failure::fail_workflow;
use acme_sdk::search::{self, SearchAttributeUpdate};
use acme_sdk::{
    BusinessError, IdReuse, Process, Saga, Signal, Step, TaskQueues, Waiting, activity_options,
};
use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

/// The process's stable name in Temporal. Never change it once deployed.
pub const NAME: &str = "external-trade";

/// The steps, in order: what each runs, how its writes are keyed, and what undoes them. A
/// rejection (at placing or found later) takes the `release-rejected` step instead of the rest.
pub fn steps() -> Vec<Step> {
    vec![
        Step::writes(
            "place-order",
            CustodianActivities::place_order,
            "order ref <date>-<asset>-<side>, at most 35 characters",
        )
        .pivot("the custodian holds the order: it is priced, or rejected and released"),
        Step::writes(
            "mark-placed",
            DealingActivities::mark_placed,
            "the external trade's status",
        ),
        Step::reads("poll-status", CustodianActivities::order_status),
        Step::writes(
            "record-priced",
            DealingActivities::record_priced,
            "<workflow id>/priced",
        ),
        Step::writes(
            "allocate",
            DealingActivities::allocate,
            "<workflow id>/allocate/<member trade id>, <workflow id>/residue",
        ),
        Step::writes(
            "settle",
            DealingActivities::settle,
            "<workflow id>/settle/<member trade id>, <workflow id>/settle-cash",
        ),
        Step::writes(
            "release-rejected",
            DealingActivities::release_rejected,
            "<workflow id>/release/<member trade id>",
        ),
    ]
}

/// How often to ask the custodian when no callback has come, unless the input says otherwise.
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(300);

/// How long a wait for the custodian (the price, then settlement) may take before the run is
/// overdue and `acme stuck` lists it, unless the input says otherwise.
pub const DEFAULT_EXPECT_WITHIN: Duration = Duration::from_secs(2 * 24 * 3600);

/// How many times one run asks the custodian before it continues as new, unless the input says
/// otherwise. A poll adds about eleven events to the history, so a run ends near 3,300 events:
/// under the 4,096 at which Temporal suggests continuing as new (also heeded) and far under its
/// limit of 50,000. At the default poll interval a run lasts about a day.
pub const DEFAULT_POLLS_PER_RUN: u32 = 300;

/// The patch after which a wait continues as new once the run has polled enough (before it, a
/// run polled on in one history until the custodian answered). Asked only when a run reaches
/// that point, so runs already waiting when it is deployed take it too, unless their replay
/// passes that point before it.
const WAIT_CONTINUES_AS_NEW: &str = "external-trade-wait-continues-as-new";

/// The patch after which a rejection found by polling ends the wait for the price and
/// releases the member trades (before it, such a run waited on).
const REJECTION_ENDS_WAIT: &str = "external-trade-rejection-ends-wait";

/// The patch after which a `priced` or `settled` signal only wakes the run, which then asks the
/// custodian (the source of truth) and uses only its answer; before it, a signal's content was
/// taken as it came (any Temporal client could price or settle a trade).
const SIGNALS_ONLY_WAKE: &str = "external-trade-signals-only-wake";

/// The patch after which a zero fill releases every member in full (before it, the
/// confirmation was refused as not fitting the order and the run failed with members reserved).
const ZERO_FILL_RELEASES: &str = "external-trade-zero-fill-releases";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Input {
    /// The external trade, as `dealing.close_day` sealed it.
    #[schemars(with = "serde_json::Value")]
    pub trade: ExternalTrade,
    /// Seconds between status polls while waiting for the custodian.
    pub poll_every_secs: u64,
    /// Seconds each wait for the custodian may take before the run is overdue (default two days).
    #[serde(default = "default_expect_within_secs")]
    pub expect_within_secs: u64,
    /// Status polls one run makes before it continues as new (default 300).
    #[serde(default)]
    pub polls_per_run: Option<u32>,
    /// Set only by the run this one continues: where that run stood. Absent for a trade's first
    /// run, which places the order.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub resume: Option<Resume>,
}

/// Where a run stood when it continued as new: which wait, and what it had learnt so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resume {
    /// Waiting for the price: the order is placed and marked placed.
    Price {
        status: Status,
        /// Confirmations signals claimed, not yet compared with the custodian's.
        claimed: Vec<Confirmation>,
    },
    /// Waiting for settlement: the confirmation is recorded and the trade allocated.
    Settlement {
        status: Status,
        allocation: Allocation,
    },
}

fn default_expect_within_secs() -> u64 {
    DEFAULT_EXPECT_WITHIN.as_secs()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Settled { allocation: Allocation },
    Rejected { reason: String, released: i64 },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    #[default]
    Placing,
    AwaitingPrice,
    Allocating,
    AwaitingSettlement,
    Settling,
    Settled,
    Rejected,
}

/// Where a run stands, for `acme query` and `acme stuck`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub stage: Stage,
    pub order_ref: String,
    pub polls: u32,
    pub confirmation: Option<Confirmation>,
    pub settled_on: Option<NaiveDate>,
    /// Callbacks that did not fit this order, or claimed other than the custodian confirms,
    /// kept for an operator (never acted on).
    pub ignored_callbacks: Vec<String>,
    /// The custodian rejected the order after accepting it (found by polling).
    pub rejected_after_acceptance: Option<String>,
    /// Why the last status poll failed, if it did.
    pub last_poll_error: Option<String>,
    /// What the run is waiting for from the custodian, and until when that is normal.
    pub waiting: Option<Waiting>,
}

/// How a run waits for the custodian: how often it asks, how long before it is overdue, and how
/// many times before it continues as new.
#[derive(Debug, Clone, Copy)]
struct Patience {
    poll_every: Duration,
    expect_within: Duration,
    polls_per_run: u32,
}

impl Patience {
    fn of(input: &Input) -> Self {
        Self {
            poll_every: Duration::from_secs(input.poll_every_secs.max(1)),
            expect_within: Duration::from_secs(input.expect_within_secs),
            polls_per_run: input.polls_per_run.unwrap_or(DEFAULT_POLLS_PER_RUN).max(1),
        }
    }
}

/// The two waits for the custodian, with what a run continuing from each must carry.
#[derive(Debug, Clone, Copy)]
enum Wait<'a> {
    Price,
    Settlement(&'a Allocation),
}

#[workflow]
#[derive(Default)]
pub struct ExternalTradeWorkflow {
    status: Status,
    /// Set from the patch [`SIGNALS_ONLY_WAKE`] at the start: a signal only wakes the run.
    signals_only_wake: bool,
    /// A signal arrived since the last poll of the custodian.
    woken: bool,
    /// Confirmations signals claimed, kept until compared with the custodian's own.
    claimed: Vec<Confirmation>,
    /// Status polls this run has made (both waits): the run continues as new at the bound.
    polls_this_run: u32,
}

impl Process for ExternalTradeWorkflow {
    const NAME: &'static str = NAME;
    const DESCRIPTION: &'static str =
        "One aggregated trade with the custodian: place, priced, allocate to pots, settled";
    const QUERIES: &'static [&'static str] = &[acme_sdk::process::STATUS_QUERY];

    /// A failed trade may run again in a re-run of its cycle; a settled or released one never.
    const ID_REUSE: IdReuse = IdReuse::AfterFailure;

    /// Date, asset and side: what the workflow id is made of (the order reference is derived
    /// from them too).
    fn business_key(input: &Input) -> String {
        let t = &input.trade;
        format!("{}/{}/{}", t.dealing_date, t.asset, t.side.as_str())
    }

    fn workflow_id(input: &Input) -> String {
        input.trade.workflow_id()
    }

    fn signals() -> Vec<Signal> {
        vec![Signal::of(Self::priced), Signal::of(Self::settled)]
    }

    fn search_attributes(input: &Input) -> Vec<SearchAttributeUpdate> {
        vec![
            search::DEALING_DATE.value_set(input.trade.dealing_date.to_string()),
            search::ASSET.value_set(input.trade.asset.clone()),
        ]
    }

    fn summary(input: &Input) -> String {
        let t = &input.trade;
        let amount = match t.side {
            Side::Buy => format!("£{}", t.ordered_total),
            Side::Sell => format!("{} units", t.ordered_total),
        };
        format!(
            "{} {amount} of {} for {} members, dealing {}",
            t.side.as_str(),
            t.asset,
            t.member_trades,
            t.dealing_date
        )
    }

    fn example() -> Input {
        let dealing_date = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap_or_default();
        let asset = "GB00ACMEGLB1";
        Input {
            trade: ExternalTrade {
                external_trade_id: uuid::Uuid::nil(),
                dealing_date,
                asset: asset.to_owned(),
                side: Side::Buy,
                order_ref: order_ref(dealing_date, asset, Side::Buy),
                ordered_total: rust_decimal::Decimal::new(10_000, 2),
                member_trades: 1,
            },
            poll_every_secs: DEFAULT_POLL_EVERY.as_secs(),
            expect_within_secs: DEFAULT_EXPECT_WITHIN.as_secs(),
            polls_per_run: None,
            resume: None,
        }
    }

    fn steps() -> Vec<Step> {
        steps()
    }
}

#[workflow_methods]
impl ExternalTradeWorkflow {
    #[run(name = "external-trade")]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: Input) -> WorkflowResult<Outcome> {
        let queues = TaskQueues::of_workflow_queue(ctx.task_queue());
        let trade = &input.trade;
        let signals_only_wake = ctx.patched(SIGNALS_ONLY_WAKE);
        ctx.state_mut(|s| {
            s.status.order_ref.clone_from(&trade.order_ref);
            s.signals_only_wake = signals_only_wake;
        });

        // A continued run takes the status over whole. A signal delivered with its first task
        // may have met the blank status and be lost here: it could only wake the run, and the
        // resumed wait asks the custodian (the source of truth) before anything else.
        let allocation = if let Some(Resume::Settlement { status, allocation }) = &input.resume {
            ctx.state_mut(|s| s.status = status.clone());
            allocation.clone()
        } else {
            if let Some(Resume::Price { status, claimed }) = &input.resume {
                ctx.state_mut(|s| {
                    s.status = status.clone();
                    s.claimed = claimed.clone();
                });
            } else if let Some(rejected) = Self::place(ctx, &queues, trade).await? {
                return Ok(rejected);
            }
            ctx.state_mut(|s| s.status.stage = Stage::AwaitingPrice);
            // Runs from before this patch kept waiting after a rejection found by polling; they
            // replay unchanged (docs/processes.md, "Versioning").
            let rejection_ends_wait = ctx.patched(REJECTION_ENDS_WAIT);
            let priced_or_rejected: fn(&Status) -> bool = if rejection_ends_wait {
                |s| s.confirmation.is_some() || s.rejected_after_acceptance.is_some()
            } else {
                |s| s.confirmation.is_some()
            };
            Self::wait_for(ctx, &queues, &input, Wait::Price, priced_or_rejected).await?;
            let status = ctx.state(|s| s.status.clone());
            let confirmation = match (status.confirmation, status.rejected_after_acceptance) {
                (None, Some(reason)) => {
                    let reason = format!("rejected by the custodian after acceptance: {reason}");
                    return Self::rejected(ctx, &queues, trade, reason).await;
                }
                // Allocating against an order the custodian also refused could give out units
                // that never come: an operator settles with the custodian which answer stands.
                (Some(_), Some(reason)) if rejection_ends_wait => {
                    return Err(BusinessError::new(
                        "custodian.conflicting_answers",
                        format!(
                            "order {} was both priced and reported rejected ({reason}); nothing \
                             was posted",
                            trade.order_ref
                        ),
                    )
                    .into());
                }
                (Some(confirmation), _) => confirmation,
                (None, None) => {
                    return Err(BusinessError::new(
                        "external_trade.no_confirmation",
                        "priced without a confirmation",
                    )
                    .into());
                }
            };
            // A zero fill: the custodian dealt nothing, so nothing moved and every member gets
            // back all they put in, as after a rejection. Runs from before the patch refused it.
            if confirmation.units.is_zero()
                && confirmation.settlement_amount.is_zero()
                && ctx.patched(ZERO_FILL_RELEASES)
            {
                let reason = format!(
                    "zero fill: the custodian dealt none of order {}",
                    trade.order_ref
                );
                return Self::rejected(ctx, &queues, trade, reason).await;
            }
            ctx.state_mut(|s| s.status.stage = Stage::Allocating);
            ctx.execute_activity(
                DealingActivities::record_priced,
                priced(trade, &confirmation)?,
                activity_options::ledger(&queues),
            )
            .await
            .map_err(fail_workflow)?;
            ctx.execute_activity(
                DealingActivities::allocate,
                trade.external_trade_id,
                activity_options::bulk(&queues),
            )
            .await
            .map_err(fail_workflow)?
        };

        ctx.state_mut(|s| s.status.stage = Stage::AwaitingSettlement);
        Self::wait_for(ctx, &queues, &input, Wait::Settlement(&allocation), |s| {
            s.settled_on.is_some()
        })
        .await?;
        ctx.state_mut(|s| s.status.stage = Stage::Settling);
        ctx.execute_activity(
            DealingActivities::settle,
            trade.external_trade_id,
            activity_options::bulk(&queues),
        )
        .await
        .map_err(fail_workflow)?;
        ctx.state_mut(|s| s.status.stage = Stage::Settled);
        Ok(Outcome::Settled { allocation })
    }

    /// Places the order and marks the trade placed; the outcome if the custodian refused it.
    /// If placing fails for good after the custodian may have taken the order, the order stands
    /// and is handled by hand; a rejection is the custodian's "no", compensated here.
    async fn place(
        ctx: &mut WorkflowContext<Self>,
        queues: &TaskQueues,
        trade: &ExternalTrade,
    ) -> WorkflowResult<Option<Outcome>> {
        let placement = ctx
            .execute_activity(
                CustodianActivities::place_order,
                trade.clone(),
                activity_options::external(queues),
            )
            .await
            .map_err(fail_workflow)?;
        if let Placement::Rejected { reason } = placement {
            return Self::rejected(ctx, queues, trade, reason).await.map(Some);
        }
        ctx.execute_activity(
            DealingActivities::mark_placed,
            trade.external_trade_id,
            activity_options::ledger(queues),
        )
        .await
        .map_err(fail_workflow)?;
        Ok(None)
    }

    /// The custodian said no: the member trades fail and their reserved cash or units go back
    /// to available (the compensation of aggregating them into this trade).
    async fn rejected(
        ctx: &mut WorkflowContext<Self>,
        queues: &TaskQueues,
        trade: &ExternalTrade,
        reason: String,
    ) -> WorkflowResult<Outcome> {
        let mut saga = Saga::new(ctx);
        saga.compensate_with(
            DealingActivities::release_rejected,
            Rejected {
                external_trade_id: trade.external_trade_id,
                reason: reason.clone(),
            },
            activity_options::bulk(queues),
        );
        saga.compensate().await?;
        ctx.state_mut(|s| s.status.stage = Stage::Rejected);
        let released = i64::from(trade.member_trades);
        Ok(Outcome::Rejected { reason, released })
    }

    /// The custodian priced the order (from the callback ingress). It only wakes the run, which
    /// asks the custodian itself: anyone who can signal could claim any price or quantity, so
    /// what the signal says is kept for comparison, never posted. Repeats are ignored.
    #[signal]
    pub fn priced(&mut self, _ctx: &mut SyncWorkflowContext<Self>, confirmation: Confirmation) {
        if confirmation.order_ref != self.status.order_ref {
            self.status
                .ignored_callbacks
                .push(format!("priced for {}", confirmation.order_ref));
        } else if self.signals_only_wake {
            self.woken = true;
            self.claimed.push(confirmation);
        } else if self.status.confirmation.is_none() {
            self.status.confirmation = Some(confirmation);
        }
    }

    /// The custodian settled the order (from the callback ingress). It only wakes the run, which
    /// asks the custodian whether the order is settled. Repeats are ignored.
    #[signal]
    pub fn settled(&mut self, _ctx: &mut SyncWorkflowContext<Self>, settled: SettledNotice) {
        if settled.order_ref != self.status.order_ref {
            self.status
                .ignored_callbacks
                .push(format!("settled for {}", settled.order_ref));
        } else if self.signals_only_wake {
            self.woken = true;
        } else if self.status.settled_on.is_none() {
            self.status.settled_on = Some(settled.settlement_date);
        }
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> Status {
        self.status.clone()
    }

    /// Waits until `done` holds: woken by a signal or, every `poll_every`, by the timer, it asks
    /// the custodian directly and takes only its answer, so a lost callback only delays the
    /// trade and a forged one changes nothing. While waiting, the status says for what and until
    /// when, so an overdue run shows up in `acme stuck`. After `polls_per_run` polls in this run
    /// (or when Temporal suggests it) the run continues as new, to resume this `wait`.
    async fn wait_for(
        ctx: &mut WorkflowContext<Self>,
        queues: &TaskQueues,
        input: &Input,
        wait: Wait<'_>,
        done: fn(&Status) -> bool,
    ) -> WorkflowResult<()> {
        use futures::future::{Either, select};
        use temporalio_sdk::CancellableFuture as _;
        let patience = Patience::of(input);
        let order_ref = &input.trade.order_ref;
        // A run continuing this wait carries its `waiting`, so the deadline stands; it asks the
        // custodian at once, since a signal sent while the runs changed over may have woken
        // neither (the custodian's answer is what counts anyway).
        let resumed = ctx.state(|s| s.status.waiting.is_some());
        if !resumed {
            let what = match wait {
                Wait::Price => format!("the custodian's price for order {order_ref}"),
                Wait::Settlement(_) => format!("settlement of order {order_ref}"),
            };
            let since = ctx.workflow_time().map(DateTime::<Utc>::from);
            ctx.state_mut(|s| {
                s.status.waiting = since.map(|since| Waiting {
                    what,
                    since,
                    deadline: since + patience.expect_within,
                });
            });
        }
        let only_wake = ctx.state(|s| s.signals_only_wake);
        let mut ask = resumed;
        loop {
            if ask {
                ctx.state_mut(|s| {
                    s.woken = false;
                    s.polls_this_run += 1;
                });
                let polled = ctx
                    .execute_activity(
                        CustodianActivities::order_status,
                        order_ref.clone(),
                        activity_options::external(queues),
                    )
                    .await;
                // The order is live: a poll that fails for good (an unreadable or refused
                // answer) is kept for operators and the wait goes on, never abandoned.
                ctx.state_mut(|s| {
                    match polled {
                        Ok(status) => s.status.absorb(status),
                        Err(error) => s.status.last_poll_error = Some(error.to_string()),
                    }
                    s.compare_claims();
                });
            }
            if ctx.state(|s| done(&s.status)) {
                break;
            }
            let long = ctx.state(|s| s.polls_this_run) >= patience.polls_per_run
                || ctx.continue_as_new_suggested();
            // Asked only here, so runs from before the patch replay as they polled on.
            if long && ctx.patched(WAIT_CONTINUES_AS_NEW) {
                let resume = ctx.state(|s| s.resume(wait));
                let next = Input {
                    resume: Some(resume),
                    ..input.clone()
                };
                let never = ctx.continue_as_new(next, ContinueAsNewOptions::default())?;
                match never {}
            }
            // Runs from before the patch took a signal's content as the answer.
            let signalled =
                ctx.wait_condition(move |s| if only_wake { s.woken } else { done(&s.status) });
            let timer = ctx.timer(patience.poll_every);
            ask = match select(Box::pin(signalled), Box::pin(timer)).await {
                Either::Left((woken, timer)) => {
                    timer.cancel();
                    woken?;
                    only_wake
                }
                Either::Right(_) => true,
            };
        }
        ctx.state_mut(|s| s.status.waiting = None);
        Ok(())
    }
}

impl ExternalTradeWorkflow {
    /// What the next run needs to go on with `wait` where this one stands.
    fn resume(&self, wait: Wait<'_>) -> Resume {
        let status = self.status.clone();
        match wait {
            Wait::Price => Resume::Price {
                status,
                claimed: self.claimed.clone(),
            },
            Wait::Settlement(allocation) => Resume::Settlement {
                status,
                allocation: allocation.clone(),
            },
        }
    }

    /// Confirmations signals claimed, against the custodian's own once it has one: one that
    /// differs is kept for an operator (never used); one that agrees is dropped.
    fn compare_claims(&mut self) {
        let Some(truth) = &self.status.confirmation else {
            return;
        };
        for claim in self.claimed.drain(..) {
            if claim != *truth {
                self.status.ignored_callbacks.push(format!(
                    "priced for {} claimed {} units at {} for {}; the custodian says {} at {} \
                     for {}: not used",
                    claim.order_ref,
                    claim.units,
                    claim.price,
                    claim.settlement_amount,
                    truth.units,
                    truth.price,
                    truth.settlement_amount
                ));
            }
        }
    }
}

impl Status {
    /// What polling found: the same facts the callbacks would have brought.
    fn absorb(&mut self, status: OrderStatus) {
        self.polls += 1;
        if status.order_ref != self.order_ref {
            return;
        }
        if self.confirmation.is_none() {
            self.confirmation = status.confirmation.clone();
        }
        if status.status == OrderState::Rejected && self.rejected_after_acceptance.is_none() {
            self.rejected_after_acceptance =
                Some(status.reason.unwrap_or_else(|| "no reason given".into()));
        }
        if status.status == OrderState::Settled && self.settled_on.is_none() {
            self.settled_on = status.confirmation.map(|c| c.settlement_date);
        }
    }
}

/// The "settled" callback's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledNotice {
    pub order_ref: String,
    pub settlement_date: NaiveDate,
}

/// A confirmation read as the ledger needs it: what was delivered and what it consumed.
fn priced(trade: &ExternalTrade, confirmation: &Confirmation) -> WorkflowResult<Priced> {
    let (delivered, consumed) = match trade.side {
        Side::Buy => (confirmation.units, confirmation.settlement_amount),
        Side::Sell => (confirmation.settlement_amount, confirmation.units),
    };
    Ok(Priced {
        external_trade_id: trade.external_trade_id,
        price: confirmation.price,
        delivered,
        consumed,
        settlement_date: confirmation.settlement_date,
        confirmation: serde_json::to_value(confirmation).map_err(|e| {
            BusinessError::new(
                "custodian.bad_confirmation",
                format!("confirmation cannot be recorded: {e}"),
            )
        })?,
    })
}
