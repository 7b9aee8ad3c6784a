//! `invest-contributions` end to end, against a real Temporal server, a fresh database and the
//! custodian simulator with its bank side: an imported schedule waits for its payment; a short
//! payment on the bank's statement holds it (nothing posted, no trade, and reconciliation finds
//! the money on the bank's statement missing from our books); once the bank statements show the
//! exact total, every accepted row is invested in chunks (pots credited, buy trades split by the
//! model portfolio) and the next dealing cycle deals them to settlement, with our units equal to
//! the custodian's and the bank account reconciling with the bank's statement.

use std::io::Cursor;
use std::time::Duration;

use acme_activities::contributions::import::{self, Imported, LIMITS, Upload};
use acme_activities::recon::breaks;
use acme_activities::recon::compare::BreakClass;
use acme_activities::recon::report::Outcome;
use acme_sdk::EmployerId;
use acme_sdk::testkit::eventually;
use acme_workflows::invest_contributions::{self, Input, InvestContributions};
use acme_workflows::reconciliation::{self, Reconciliation};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use sqlx::PgPool;
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowHandle, WorkflowSignalOptions};
use uuid::Uuid;

use crate::cli::Acme;
use crate::dealing_support::*;
use crate::harness::{Scenario, World};
use crate::support::{InProcessWorker, on_local_set};

const HEADER: &str = "member_id,employer_amount,member_amount,pay_period\n";

/// A schedule of members `m-0` to `m-<n-1>` (employer £100.00 + n pence, member £25.50), and one
/// line for a member who does not exist, imported on Monday.
async fn import_schedule(pool: &PgPool, members: usize) -> Imported {
    let mut file = String::from(HEADER);
    for n in 0..members {
        file.push_str(&format!("m-{n},100.{n:02},25.50,2026-11\n"));
    }
    file.push_str("ghost-1,10.00,0,2026-11\n");
    let upload = Upload {
        employer_id: EmployerId::parse("acme-ltd").unwrap(),
        file_name: "november.csv".into(),
        today: monday(),
    };
    import::import(pool, &upload, Cursor::new(file.into_bytes()), LIMITS)
        .await
        .unwrap()
}

/// Reconciles `date` (the books against the custodian's and the bank's statements).
async fn reconcile(dealing: &Dealing, date: NaiveDate) -> Outcome {
    dealing
        .platform
        .run::<Reconciliation>(reconciliation::Input {
            date: date.to_string(),
        })
        .await
        .unwrap()
}

async fn schedule_status(pool: &PgPool, schedule_id: Uuid) -> String {
    import::find(pool, schedule_id)
        .await
        .unwrap()
        .unwrap()
        .status
}

fn input(schedule_id: Uuid, poll_every_secs: u64) -> Input {
    Input {
        schedule_id: schedule_id.to_string(),
        poll_every_secs: Some(poll_every_secs),
        chunk_rows: Some(20),
    }
}

#[tokio::test]
async fn a_schedule_is_held_while_short_then_invested_and_dealt_in_the_next_cycle() {
    on_local_set(async {
        let dealing = Dealing::start(50, monday()).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let pool = dealing.ledger().pool().clone();
        let imported = import_schedule(&pool, 50).await;
        let schedule = imported.schedule;
        assert_eq!((schedule.accepted, schedule.rejected), (50, 1));
        let due = schedule.employer_total + schedule.member_total;
        assert_eq!(due, Decimal::new(50 * 12_550 + (0..50).sum::<i64>(), 2));

        let handle = start_run(&dealing, schedule.schedule_id).await;
        let reference = schedule.payment_reference.as_str();
        let advise = || advise_payment(&handle, reference);
        // Paid £10 short on Monday: a break; the schedule is held and nothing moves.
        let short = due - Decimal::TEN;
        pay(&dealing, "p-1", reference, booked_days_ago(1), short).await;
        advise().await;
        wait_for_status(&pool, schedule.schedule_id, "held").await;
        let finding: (Decimal, Decimal, String) = sqlx::query_as(
            "select due, paid, outcome from contribution_payment_check order by check_id desc",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(finding, (due, short, "short".to_owned()));
        assert_eq!(dealing.platform.count("member_trade").await, 0);
        assert_eq!(dealing.platform.count("journal_entry").await, 0);
        // The statement it read is stored as received, the payment under its reference.
        let stored: (String, Decimal) = sqlx::query_as(
            "select s.source, l.quantity from recon_statement s
             join recon_statement_line l using (statement_id) where l.subject = $1",
        )
        .bind(reference)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(stored, ("bank".to_owned(), short));
        // Reconciled that day: the money is at the bank and nowhere in our books, and the
        // schedule is held, so it is missing ours (not timing) until an operator acts.
        let held_day = reconcile(&dealing, booked_days_ago(0)).await;
        assert_eq!(held_day.breaks, 1, "{held_day:?}");
        let found = breaks::of_date(&pool, booked_days_ago(0)).await.unwrap();
        let found: Vec<_> = found
            .iter()
            .map(|b| {
                (
                    b.scope.as_str(),
                    b.subject.as_str(),
                    b.class.as_str(),
                    b.theirs,
                )
            })
            .collect();
        assert_eq!(
            found,
            [(
                "bank_cash",
                reference,
                BreakClass::MissingOurs.as_str(),
                Some(short)
            )]
        );

        // The rest arrives a day later: the bank's statement now shows the total.
        pay(&dealing, "p-2", reference, booked_days_ago(0), Decimal::TEN).await;
        advise().await;
        let invested = handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap();
        assert_eq!((invested.rows, invested.amount), (50, due));
        // Balanced: three funds each; 50 rows in chunks of 20.
        assert_eq!((invested.trades, invested.chunks), (150, 3));
        assert_eq!(
            schedule_status(&pool, schedule.schedule_id).await,
            "invested"
        );
        assert_eq!(reserved_total(dealing.ledger()).await, due);
        // Member 7 put in £125.57: split 50/40/10 to the penny, the heaviest weight first.
        assert_eq!(
            dealing.platform.cash("m-7", "reserved").await,
            Decimal::new(12_557, 2)
        );
        let trades: Vec<(String, Decimal)> = sqlx::query_as(
            "select asset_code, cash_amount from member_trade where member_id = 'm-7'
             order by asset_code",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            trades,
            vec![
                ("GB00ACMEBND1".to_owned(), Decimal::new(5_022, 2)),
                ("GB00ACMEGLB1".to_owned(), Decimal::new(6_280, 2)),
                ("GB00ACMEPRP1".to_owned(), Decimal::new(1_255, 2)),
            ]
        );
        dealing
            .platform
            .record_run::<InvestContributions>(
                &invest_contributions::workflow_id(&schedule.schedule_id.to_string()),
                "held-then-invested",
            )
            .await;

        // A second start attaches nothing new: the schedule is invested once.
        let again = dealing
            .platform
            .run::<InvestContributions>(input(schedule.schedule_id, 3_600))
            .await
            .unwrap();
        assert_eq!((again.rows, again.trades), (50, 150));
        assert_eq!(dealing.platform.count("member_trade").await, 150);

        // The next dealing cycle takes the trades to settlement.
        dealing.deal(monday()).await.unwrap();
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), monday()).await,
            3
        );
        assert_eq!(
            internal_units(dealing.ledger()).await,
            dealing.holdings().await
        );
        assert_eq!(reserved_total(dealing.ledger()).await, Decimal::ZERO);
        // The day of settlement reconciles cleanly, the bank account too: the schedule's two
        // payments against its fifty entries, and the three settlements.
        let settled_day = monday().checked_add_days(Days::new(2)).unwrap();
        let clean = reconcile(&dealing, settled_day).await;
        assert_eq!(clean.breaks, 0, "{clean:?}");
        let bank: serde_json::Value = sqlx::query_scalar(
            "select report -> 'bank_cash' from recon_report where report_id = $1",
        )
        .bind(clean.report_id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(bank["matched"], 1 + 3, "{bank:#}");
        let payment = bank["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|line| line["subject"] == reference)
            .unwrap();
        // Our bank mirror is the outside world's side: money in is negative there.
        assert_eq!(payment["theirs"], due.to_string());
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

#[tokio::test]
async fn a_held_schedule_is_released_by_an_operator_only_once_the_bank_shows_what_is_due() {
    on_local_set(async {
        let dealing = Dealing::start(3, monday()).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let pool = dealing.ledger().pool().clone();
        let schedule = import_schedule(&pool, 3).await.schedule;
        let id = schedule.schedule_id.to_string();
        let due = schedule.employer_total + schedule.member_total;
        let reference = schedule.payment_reference.as_str();
        let acme = Acme::new(&dealing.platform);
        let release = |reason: &'static str| {
            let id = id.clone();
            let acme = &acme;
            async move {
                acme.run(&["contributions", "release", &id, "--reason", reason])
                    .await
            }
        };

        // Not held (nothing paid yet): nothing to release, nothing recorded.
        let received = release("too early").await;
        assert_eq!(received.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&received.stderr).contains("is received"));

        // Paid £10 short: held.
        let handle = start_run(&dealing, schedule.schedule_id).await;
        pay(
            &dealing,
            "p-1",
            reference,
            booked_days_ago(1),
            due - Decimal::TEN,
        )
        .await;
        advise_payment(&handle, reference).await;
        wait_for_status(&pool, schedule.schedule_id, "held").await;

        // Released while still short: the run re-checks, finds it short, the schedule stays held
        // and nothing is invested (exit 1).
        let still_short = release("employer says it paid").await;
        assert_eq!(
            still_short.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&still_short.stderr)
        );
        assert_eq!(schedule_status(&pool, schedule.schedule_id).await, "held");
        assert_eq!(dealing.platform.count("member_trade").await, 0);

        // The run gives up (terminated here, as after its last check); the employer tops up the
        // £10; released, a new run finds the exact total and invests.
        handle
            .terminate(
                temporalio_client::WorkflowTerminateOptions::builder()
                    .reason("stands in for a run that gave up")
                    .build(),
            )
            .await
            .unwrap();
        pay(&dealing, "p-2", reference, booked_days_ago(1), Decimal::TEN).await;
        let released = release("employer paid the £10.00 short (ticket 12)").await;
        assert_eq!(
            released.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&released.stderr)
        );
        wait_for_status(&pool, schedule.schedule_id, "invested").await;
        assert_eq!(dealing.platform.count("member_trade").await, 9);

        // Both releases are in the audit log with their reasons; a third is refused.
        let audit = acme
            .json(&[
                "audit",
                "--workflow",
                &format!("contributions/{id}"),
                "--output",
                "json",
            ])
            .await;
        let releases: Vec<(&str, &str)> = audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action"] == "release")
            .map(|a| {
                (
                    a["operator"].as_str().unwrap(),
                    a["reason"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            releases,
            vec![
                ("alice", "employer paid the £10.00 short (ticket 12)"),
                ("alice", "employer says it paid"),
            ]
        );
        assert_eq!(release("again").await.status.code(), Some(2));
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// Starts the schedule's run, checking only when advised (the hourly poll never comes in a test).
async fn start_run(
    dealing: &Dealing,
    schedule_id: Uuid,
) -> WorkflowHandle<Client, InvestContributions> {
    acme_sdk::start::<InvestContributions>(
        dealing.platform.temporal.client(),
        &dealing.platform.temporal.queues,
        input(schedule_id, 3_600),
    )
    .await
    .unwrap()
}

/// The bank's advice of a payment under `reference`: the run checks now.
async fn advise_payment(handle: &WorkflowHandle<Client, InvestContributions>, reference: &str) {
    handle
        .signal(
            InvestContributions::payment_advised,
            reference.to_owned(),
            WorkflowSignalOptions::default(),
        )
        .await
        .unwrap();
}

async fn wait_for_status(pool: &PgPool, schedule_id: Uuid, wanted: &str) {
    eventually(Duration::from_secs(60), || async {
        match schedule_status(pool, schedule_id).await.as_str() {
            status if status == wanted => Ok(()),
            other => Err(format!("the schedule is {other}, not {wanted}")),
        }
    })
    .await;
}

/// The harness's world: a simulator whose bank shows the payment of a schedule of two members.
pub struct ContributionWorld {
    dealing: Dealing,
    worker: InProcessWorker,
    schedule_id: Uuid,
}

impl World for ContributionWorld {
    fn ledger(&self) -> &acme_ledger::Ledger {
        self.dealing.ledger()
    }

    async fn finish(self) {
        self.worker.stop().await;
        self.dealing.finish().await;
    }
}

/// The harness's scenario (`worker/tests/e2e/harness.rs`): a paid schedule of two members.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = InvestContributions;
    type World = ContributionWorld;

    async fn start(&self, interceptor: acme_worker::ActivityInterceptor) -> ContributionWorld {
        let dealing = Dealing::start(2, monday()).await;
        let worker = dealing
            .platform
            .spawn_worker_with("worker-1", Some(interceptor));
        let schedule = import_schedule(dealing.ledger().pool(), 2).await.schedule;
        let due = schedule.employer_total + schedule.member_total;
        pay(
            &dealing,
            "p-1",
            &schedule.payment_reference,
            booked_days_ago(0),
            due,
        )
        .await;
        ContributionWorld {
            dealing,
            worker,
            schedule_id: schedule.schedule_id,
        }
    }

    async fn run(&self, world: &ContributionWorld) -> Result<(), String> {
        world
            .dealing
            .platform
            .run::<InvestContributions>(input(world.schedule_id, 1))
            .await
            .map(drop)
            .map_err(|e| crate::support::failure_text(&e))
    }
}
