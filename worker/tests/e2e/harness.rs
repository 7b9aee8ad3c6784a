//! The idempotency-and-unwind harness, run for every process folder (omicron's
//! `actions_succeed_idempotently` and `action_failure_can_unwind_idempotently` are the model).
//! Each process's `e2e.rs` gives a [`Scenario`]: a fresh world and one run of the process in it.
//! The build script adds a test per folder that calls [`check`], which runs the scenario:
//!
//! 1. as it is, noting every activity: the run must succeed, and every activity it ran must be
//!    one its steps declare (the declaration at the top of its `workflow.rs`);
//! 2. with every activity executed twice (the same input and keys, a second time): the books
//!    must come out exactly as in 1;
//! 3. for each step before its pivot, with the next activity failing for good: its own postings
//!    must net to zero on every account (compensated to nothing), the activities undoing it
//!    run twice, and the ledger's invariants hold.

use std::collections::BTreeMap;
use std::future::Future;

use acme_ledger::Ledger;
use acme_sdk::harness::{Executed, INJECTED_FAILURE, Injector, Plan};
use acme_sdk::{Process, ProcessInfo, Runs, Undo};
use acme_worker::ActivityInterceptor;
use rust_decimal::Decimal;

use crate::dealing_support::{Dealing, monday, small_day};
use crate::support::{InProcessWorker, Platform};

/// A process under the harness: how to set up a fresh world and run the process once in it.
pub trait Scenario {
    /// The process under test.
    type Process: Process;
    /// A fresh world with a worker whose activities pass through `interceptor`.
    type World: World;

    fn start(&self, interceptor: ActivityInterceptor) -> impl Future<Output = Self::World>;

    /// Runs the process to its end; the failure's text if it failed.
    fn run(&self, world: &Self::World) -> impl Future<Output = Result<(), String>>;
}

/// What the harness needs of a world.
pub trait World {
    fn ledger(&self) -> &Ledger;
    /// Stops the world's worker and servers and drops its databases.
    fn finish(self) -> impl Future<Output = ()>;
}

/// What the books hold after a run, in a form two runs can be compared in.
#[derive(Debug)]
struct Books {
    /// `owner kind:owner:asset:purpose` → balance, non-zero only.
    balances: BTreeMap<String, Decimal>,
    /// Journal entries: idempotency key → kind.
    entries: BTreeMap<String, String>,
    /// Member trades: id → status.
    member_trades: BTreeMap<String, String>,
    /// External trades: order reference → status.
    external_trades: BTreeMap<String, String>,
}

impl Books {
    /// Where `self` and `other` differ, one line per key, at most 20.
    fn differences(&self, other: &Books) -> Vec<String> {
        fn compare<V: PartialEq + std::fmt::Debug>(
            table: &str,
            ours: &BTreeMap<String, V>,
            theirs: &BTreeMap<String, V>,
            out: &mut Vec<String>,
        ) {
            let keys: std::collections::BTreeSet<&String> =
                ours.keys().chain(theirs.keys()).collect();
            for key in keys {
                let (a, b) = (ours.get(key), theirs.get(key));
                if a != b {
                    out.push(format!("{table} {key}: {a:?} against {b:?}"));
                }
            }
        }
        let mut out = Vec::new();
        compare("balance", &self.balances, &other.balances, &mut out);
        compare("entry", &self.entries, &other.entries, &mut out);
        compare(
            "member trade",
            &self.member_trades,
            &other.member_trades,
            &mut out,
        );
        compare(
            "external trade",
            &self.external_trades,
            &other.external_trades,
            &mut out,
        );
        out.truncate(20);
        out
    }
}

async fn books(ledger: &Ledger) -> Books {
    let pool = ledger.pool();
    let balances: Vec<(String, Decimal)> = sqlx::query_as(
        "select p.owner_kind || ':' || p.owner_ref || ':' || a.asset_code || ':' || a.purpose,
                b.amount
         from balance b join account a using (account_id) join pot p using (pot_id)
         where b.amount <> 0",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let entries: Vec<(String, String)> =
        sqlx::query_as("select idempotency_key, kind from journal_entry")
            .fetch_all(pool)
            .await
            .unwrap();
    let member_trades: Vec<(String, String)> =
        sqlx::query_as("select trade_id::text, status from member_trade")
            .fetch_all(pool)
            .await
            .unwrap();
    let external_trades: Vec<(String, String)> =
        sqlx::query_as("select order_ref, status from external_trade")
            .fetch_all(pool)
            .await
            .unwrap();
    Books {
        balances: balances.into_iter().collect(),
        entries: entries.into_iter().collect(),
        member_trades: member_trades.into_iter().collect(),
        external_trades: external_trades.into_iter().collect(),
    }
}

/// The accounts on which `workflow_id`'s own postings do not net to zero.
async fn not_netted(ledger: &Ledger, workflow_id: &str) -> Vec<(i64, Decimal)> {
    sqlx::query_as(
        "select p.account_id, sum(p.amount)
         from journal_entry e join posting p using (entry_id)
         where e.workflow_id = $1
         group by p.account_id
         having sum(p.amount) <> 0",
    )
    .bind(workflow_id)
    .fetch_all(ledger.pool())
    .await
    .unwrap()
}

/// The processes a run of `process` involves (itself and the children its steps start), and
/// every activity they may execute: their steps' and their undos'.
fn declared_activities(process: &ProcessInfo) -> (Vec<&'static str>, Vec<String>) {
    let catalog = acme_workflows::processes();
    let mut involved = Vec::new();
    let mut declared = Vec::new();
    let mut pending = vec![process.name];
    while let Some(name) = pending.pop() {
        let Some(info) = catalog.iter().find(|p| p.name == name) else {
            continue;
        };
        involved.push(info.name);
        for step in &info.steps {
            match &step.runs {
                Runs::Activity(activity) => declared.push(activity.clone()),
                Runs::Child(child) => {
                    if let Some(child) = catalog.iter().find(|p| p.name == child.as_str()) {
                        pending.push(child.name);
                    }
                }
            }
            if let Undo::By { activity, .. } = &step.undo {
                declared.push(activity.clone());
            }
        }
    }
    (involved, declared)
}

/// How many of the process's own activities may fail and be unwound: those up to and including
/// the first that runs a pivot step (or all of them). The first is left out: a failure before
/// anything ran leaves nothing to undo.
fn unwind_points(process: &ProcessInfo, own: &[Executed]) -> std::ops::RangeInclusive<usize> {
    let pivots: Vec<&str> = process
        .steps
        .iter()
        .filter(|step| matches!(step.undo, Undo::Pivot { .. }))
        .filter_map(|step| step.activity())
        .collect();
    let last = own
        .iter()
        .position(|executed| pivots.contains(&executed.activity.as_str()))
        .unwrap_or(own.len().saturating_sub(1));
    1..=last
}

async fn run_once<S: Scenario>(
    scenario: &S,
    plan: Plan,
) -> (S::World, Injector, Result<(), String>) {
    let injector = Injector::new(plan);
    let world = scenario
        .start(ActivityInterceptor(std::sync::Arc::new(injector.clone())))
        .await;
    // A scenario that never ends (a run waiting for something that will not come) fails here,
    // named, instead of hanging the whole e2e binary.
    let result = match tokio::time::timeout(SCENARIO_DEADLINE, scenario.run(&world)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "the scenario did not finish within {SCENARIO_DEADLINE:?}"
        )),
    };
    (world, injector, result)
}

/// The longest one run of a scenario may take, on a loaded CI machine.
const SCENARIO_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs `scenario` under every plan of the harness; panics naming what went wrong.
pub async fn check<S: Scenario>(scenario: S) {
    let process = ProcessInfo::of::<S::Process>();
    let name = process.name;

    let (world, recorder, result) = run_once(&scenario, Plan::Record).await;
    assert_eq!(result, Ok(()), "{name}: the scenario's clean run failed");
    let clean = books(world.ledger()).await;
    world.finish().await;
    let executed = recorder.executed();
    let (involved, declared) = declared_activities(&process);
    // A scenario may run other processes to set the scene (a dealing day around one trade).
    for run in executed
        .iter()
        .filter(|run| involved.contains(&run.workflow_type.as_str()))
    {
        assert!(
            declared.contains(&run.activity),
            "{name}: ran activity {} (in {}) that no declared step runs; declared: {declared:?}",
            run.activity,
            run.workflow_id
        );
    }

    let (world, twice, result) = run_once(&scenario, Plan::Twice).await;
    assert_eq!(
        result,
        Ok(()),
        "{name}: failed with every activity run twice"
    );
    let differences = books(world.ledger()).await.differences(&clean);
    assert!(
        differences.is_empty(),
        "{name}: the books differ when every activity runs twice (twice against once):\n{}",
        differences.join("\n")
    );
    let runs = twice.executed();
    for first in runs.iter().filter(|run| run.attempt == 1) {
        let again = runs.iter().any(|run| {
            run.attempt > 1
                && run.workflow_id == first.workflow_id
                && run.activity_id == first.activity_id
        });
        assert!(again, "{name}: {first:?} did not run a second time");
    }
    world.finish().await;

    let own: Vec<Executed> = executed
        .into_iter()
        .filter(|run| run.workflow_type == name)
        .collect();
    for succeeded in unwind_points(&process, &own) {
        let plan = Plan::FailAfter {
            succeeded,
            workflow_type: name,
        };
        let (world, injector, result) = run_once(&scenario, plan).await;
        let failed = injector
            .injected_into()
            .unwrap_or_else(|| panic!("{name}: nothing was injected after {succeeded} activities"));
        assert!(
            result.as_ref().is_err_and(|e| e.contains(INJECTED_FAILURE)),
            "{name}: with {} failing after {succeeded} activities, the run ended {result:?}",
            failed.activity
        );
        let left = not_netted(world.ledger(), &failed.workflow_id).await;
        assert!(
            left.is_empty(),
            "{name}: {} failed after {succeeded} activities, and {} left postings not undone \
             (account, net): {left:?}",
            failed.activity,
            failed.workflow_id
        );
        let unwound = injector.executed().len() - succeeded;
        assert_eq!(unwound % 2, 0, "{name}: an undo did not run twice");
        assert!(world.ledger().check_invariants().await.unwrap().holds());
        assert!(world.ledger().verify().await.unwrap().is_sound());
        world.finish().await;
    }
}

/// A platform with one worker running: the world of a member-request process under the harness.
pub struct Running {
    pub platform: Platform,
    worker: InProcessWorker,
}

impl Running {
    /// Members `(id, model portfolio)`, and a worker whose activities pass through `interceptor`.
    pub async fn start(members: &[(&str, Option<&str>)], interceptor: ActivityInterceptor) -> Self {
        let platform = Platform::start(members).await;
        let worker = platform.spawn_worker_with("worker-1", Some(interceptor));
        Self { platform, worker }
    }
}

impl Running {
    /// Runs `P` to its end, as the harness wants it: its failure's code if it failed.
    pub async fn run<P: Process>(
        &self,
        input: <P as temporalio_common::WorkflowDefinition>::Input,
    ) -> Result<(), String> {
        self.platform
            .run::<P>(input)
            .await
            .map(drop)
            .map_err(|e| crate::support::failure_text(&e))
    }
}

impl World for Running {
    fn ledger(&self) -> &acme_ledger::Ledger {
        &self.platform.db.ledger
    }

    async fn finish(self) {
        self.worker.stop().await;
        self.platform.finish().await;
    }
}

/// A dealing world under the harness: members `m-0`… with a custodian simulator whose first day
/// is [`monday`], and a worker whose activities pass through the harness's interceptor.
pub struct DealingWorld {
    pub dealing: Dealing,
    worker: InProcessWorker,
}

impl DealingWorld {
    pub async fn start(members: usize, interceptor: acme_worker::ActivityInterceptor) -> Self {
        let dealing = Dealing::start(members, monday()).await;
        let worker = dealing
            .platform
            .spawn_worker_with("worker-1", Some(interceptor));
        Self { dealing, worker }
    }
}

impl World for DealingWorld {
    fn ledger(&self) -> &Ledger {
        self.dealing.ledger()
    }

    async fn finish(self) {
        self.worker.stop().await;
        self.dealing.finish().await;
    }
}

/// The harness scenario of the dealing processes: the small day, dealt to settlement.
#[derive(Debug)]
pub struct SmallDay<P>(std::marker::PhantomData<P>);

impl<P> Default for SmallDay<P> {
    fn default() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<P: Process> Scenario for SmallDay<P> {
    type Process = P;
    type World = DealingWorld;

    /// The small day booked: 50 members buy three funds.
    async fn start(&self, interceptor: acme_worker::ActivityInterceptor) -> DealingWorld {
        let world = DealingWorld::start(50, interceptor).await;
        small_day(&world.dealing).await;
        world
    }

    async fn run(&self, world: &DealingWorld) -> Result<(), String> {
        world.dealing.deal(monday()).await.map(drop)
    }
}
