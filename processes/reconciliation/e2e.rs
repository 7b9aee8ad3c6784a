//! `reconciliation` end to end, against a real Temporal server, a fresh database and the
//! custodian simulator: a clean dealing day reconciles with zero breaks, and a second run stores
//! nothing new; a planted difference is found, classified and worked (acknowledged, resolved,
//! each event recorded); statements crafted with one difference of each class are classified;
//! a malformed statement is refused whole and stores nothing; the simulator's fault knobs plant
//! one break of each class, each found and classified with nothing else flagged, and the timing
//! break closes itself once our settlement runs; members' own payments are compared with the
//! payment provider's statement.

use acme_activities::recon::breaks::{self, BreakStatus};
use acme_activities::recon::compare::BreakClass;
use acme_activities::recon::report::{self, Reconcile};
use acme_activities::recon::statements::{self, StatementKind};
use acme_custodian::messages::{
    CashEntry, CashStatement, Faults, Holding, HoldingsStatement, OrderStatus,
};
use acme_custodian::statements::{ReconFaults, Skew};
use acme_sdk::testkit::eventually;
use acme_workflows::reconciliation::{self, Input, Reconciliation};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use temporalio_client::WorkflowGetResultOptions;

use crate::cli::Acme;
use crate::dealing_support::*;
use crate::harness::{Scenario, World};
use crate::support::{InProcessWorker, failure_code, on_local_set};

/// Settlement of the small day (T+2 from Monday).
fn wednesday() -> NaiveDate {
    monday().checked_add_days(Days::new(2)).unwrap()
}

async fn recon(dealing: &Dealing, date: NaiveDate) -> report::Outcome {
    dealing
        .platform
        .run::<Reconciliation>(Input {
            date: date.to_string(),
        })
        .await
        .unwrap()
}

async fn count(dealing: &Dealing, table: &str) -> i64 {
    dealing.platform.count(table).await
}

#[tokio::test]
async fn reconciliation_of_a_clean_day_finds_nothing_and_twice_stores_nothing_new() {
    on_local_set(async {
        let (dealing, worker) = deal_small_day_despite(Faults::default()).await;
        let pool = dealing.ledger().pool();
        let first = recon(&dealing, wednesday()).await;
        assert_eq!(first.breaks, 0, "{first:?}");
        // Three funds, three external trades and their three settlements (bought, no sells) on
        // the custodian's cash statement and again on the bank's.
        assert_eq!(first.matched, 3 + 3 + 3 + 3, "{first:?}");
        assert!(first.report_new);
        let head: i64 = sqlx::query_scalar("select last_entry_id from journal_head")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(first.journal_head.entry_id, head);
        dealing
            .platform
            .record_run::<Reconciliation>(
                &reconciliation::workflow_id(&wednesday().to_string()),
                "clean-day-with-bank",
            )
            .await;
        let stored = [
            count(&dealing, "recon_statement").await,
            count(&dealing, "recon_statement_line").await,
            count(&dealing, "recon_break").await,
            count(&dealing, "recon_report").await,
        ];
        // Four statements with lines and the provider's, empty: no member paid in.
        assert_eq!(stored, [5, 3 + 3 + 3 + 3, 0, 1]);
        let text = &report::latest(pool, Some(wednesday()), 1).await.unwrap()[0].report_text;
        assert!(text.contains(&first.journal_head.hash), "{text}");

        // The same day again: the same result, nothing new stored.
        let second = recon(&dealing, wednesday()).await;
        assert_eq!(second.breaks, 0);
        assert_eq!((second.new_breaks, second.report_new), (0, false));
        assert_eq!(second.report_id, first.report_id);
        let again = [
            count(&dealing, "recon_statement").await,
            count(&dealing, "recon_statement_line").await,
            count(&dealing, "recon_break").await,
            count(&dealing, "recon_report").await,
        ];
        assert_eq!(again, stored);

        // A planted difference: one member gets a unit the custodian never delivered.
        give_units(dealing.ledger(), "m-0", FUNDS[0], Decimal::ONE).await;
        let planted = recon(&dealing, wednesday()).await;
        assert_eq!((planted.breaks, planted.new_breaks), (1, 1), "{planted:?}");
        assert!(planted.report_new, "the report of what changed is appended");
        let found = breaks::of_date(pool, wednesday()).await.unwrap();
        assert_eq!(found.len(), 1);
        let broken = &found[0];
        assert_eq!(
            (broken.subject.as_str(), broken.class.as_str()),
            (FUNDS[0], BreakClass::QuantityMismatch.as_str())
        );
        assert_eq!(broken.ours.unwrap() - broken.theirs.unwrap(), Decimal::ONE);

        // Worked by an operator: acknowledged, resolved with a reason, each event recorded;
        // resolving again, or without a reason, is refused and changes nothing.
        let id = broken.break_id;
        let refused = breaks::advance(pool, id, BreakStatus::Resolved, "ops-1", " ")
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("break.reason_required"));
        breaks::advance(pool, id, BreakStatus::Acknowledged, "ops-1", "looking")
            .await
            .unwrap();
        let resolved = breaks::advance(pool, id, BreakStatus::Resolved, "ops-2", "test fixture")
            .await
            .unwrap();
        assert_eq!(resolved.status, BreakStatus::Resolved);
        let again = breaks::advance(pool, id, BreakStatus::Resolved, "ops-2", "twice")
            .await
            .unwrap_err();
        assert_eq!(again.code(), Some("break.transition_refused"));
        let events = breaks::events(pool, id).await.unwrap();
        let trail: Vec<(&str, &str, &str)> = events
            .iter()
            .map(|e| (e.to_status.as_str(), e.actor.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(
            trail,
            [
                ("acknowledged", "ops-1", "looking"),
                ("resolved", "ops-2", "test fixture")
            ]
        );

        // A malformed date fails before anything runs.
        let error = dealing
            .platform
            .run::<Reconciliation>(Input {
                date: "2026-02-30".to_owned(),
            })
            .await
            .unwrap_err();
        assert_eq!(failure_code(&error).as_deref(), Some("date.invalid"));
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

#[tokio::test]
async fn statements_with_one_difference_of_each_class_are_classified() {
    on_local_set(async {
        let (dealing, worker) = deal_small_day_despite(Faults::default()).await;
        let pool = dealing.ledger().pool();
        let date = wednesday();
        let real_holdings: HoldingsStatement = dealing
            .custodian(&format!("/statements/holdings?as_of={date}"))
            .await;
        let real_cash: CashStatement = dealing
            .custodian(&format!("/statements/cash?as_of={date}"))
            .await;
        // Holdings: fund 0 as held; fund 1 listed twice; fund 2 left out; one we never bought.
        let find = |isin: &str| {
            real_holdings
                .holdings
                .iter()
                .find(|h| h.isin == isin)
                .unwrap()
                .clone()
        };
        let holdings = HoldingsStatement {
            as_of: date,
            holdings: vec![
                find(FUNDS[0]),
                find(FUNDS[1]),
                find(FUNDS[1]),
                Holding {
                    isin: "GB00NOTOURS1".to_owned(),
                    units: Decimal::new(5, 0),
                },
            ],
        };
        // Cash: order 0 as booked, order 1 a penny off, order 2 left out, one we never placed.
        let mut entries: Vec<CashEntry> = real_cash.entries.clone();
        assert_eq!(entries.len(), 3);
        entries[1].amount += Decimal::new(1, 2);
        let left_out = entries.remove(2);
        entries.push(CashEntry {
            order_ref: "NOT-OURS-1".to_owned(),
            booking_date: date,
            amount: Decimal::new(-1000, 2),
        });
        let closing_balance = entries.iter().map(|e| e.amount).sum();
        let cash = CashStatement {
            as_of: date,
            currency: "GBP".to_owned(),
            entries: entries.clone(),
            closing_balance,
        };
        let holdings_body = serde_json::to_string(&holdings).unwrap();
        let cash_body = serde_json::to_string(&cash).unwrap();
        let holdings = statements::import(pool, StatementKind::Holdings, date, &holdings_body)
            .await
            .unwrap();
        let cash = statements::import(pool, StatementKind::CustodianCash, date, &cash_body)
            .await
            .unwrap();
        // The same statement again is the same statement, stored once.
        let repeat = statements::import(pool, StatementKind::Holdings, date, &holdings_body)
            .await
            .unwrap();
        assert_eq!(
            (repeat.statement_id, repeat.new),
            (holdings.statement_id, false)
        );
        let request = Reconcile {
            date,
            workflow_id: reconciliation::workflow_id(&date.to_string()),
            holdings,
            cash,
            transactions: None,
            bank: None,
            provider: None,
        };
        let outcome = report::reconcile(pool, &request).await.unwrap();
        let found: Vec<(String, String)> = breaks::of_date(pool, date)
            .await
            .unwrap()
            .into_iter()
            .map(|b| (b.subject, b.class))
            .collect();
        let mut expected = vec![
            (FUNDS[1].to_owned(), "duplicate".to_owned()),
            (FUNDS[2].to_owned(), "missing_theirs".to_owned()),
            ("GB00NOTOURS1".to_owned(), "missing_ours".to_owned()),
            (entries[1].order_ref.clone(), "amount_mismatch".to_owned()),
            (left_out.order_ref.clone(), "missing_theirs".to_owned()),
            ("NOT-OURS-1".to_owned(), "missing_ours".to_owned()),
        ];
        expected.sort();
        let mut found_sorted = found.clone();
        found_sorted.sort();
        assert_eq!(found_sorted, expected);
        assert_eq!(outcome.breaks, 6);
        assert_eq!(outcome.new_breaks, 6);
        // Run again: the same breaks, nothing new.
        let again = report::reconcile(pool, &request).await.unwrap();
        assert_eq!((again.new_breaks, again.report_new), (0, false));

        // A malformed statement is refused whole, with the reason, storing nothing.
        let before = count(&dealing, "recon_statement").await;
        let mut bad = cash_body.replace(&closing_balance.to_string(), "1.00");
        let refused = statements::import(pool, StatementKind::CustodianCash, date, &bad)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("statement.malformed"));
        assert!(refused.to_string().contains("closing balance"), "{refused}");
        bad = holdings_body.replace("semt.002", "semt.999");
        let refused = statements::import(pool, StatementKind::Holdings, date, &bad)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("statement.malformed"));
        assert_eq!(count(&dealing, "recon_statement").await, before);
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// Replaces the simulator's reconciliation fault knobs.
async fn recon_faults(dealing: &Dealing, faults: &ReconFaults) {
    let url = format!("{}/admin/recon-faults", dealing.platform.custodian_url);
    let response = dealing.http.put(url).json(faults).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

/// The breaks found on `date`, as (scope, subject, class).
async fn found_on(dealing: &Dealing, date: NaiveDate) -> BTreeSet<(String, String, String)> {
    breaks::of_date(dealing.ledger().pool(), date)
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.scope, b.subject, b.class))
        .collect()
}

fn found(scope: &str, subject: &str, class: BreakClass) -> (String, String, String) {
    (
        scope.to_owned(),
        subject.to_owned(),
        class.as_str().to_owned(),
    )
}

#[tokio::test]
async fn fault_knobs_plant_one_break_of_each_class_and_the_timing_break_clears_itself() {
    on_local_set(async {
        let (dealing, worker) = small_day_with_worker().await;
        let pool = dealing.ledger().pool();
        // Fund 2 settles on Wednesday at the custodian, which tells us only on Thursday.
        let late = ReconFaults {
            late_notice_of: Some(FUNDS[2].to_owned()),
            ..ReconFaults::default()
        };
        recon_faults(&dealing, &late).await;
        let cycle = dealing.start_cycle(monday()).await;
        dealing.wait_until_none_in(monday(), "created").await;
        dealing.advance_one_day().await;
        dealing.wait_until_none_in(monday(), "placed").await;
        dealing.advance_one_day().await;
        eventually(Duration::from_secs(60), || async {
            let counts = acme_activities::dealing::progress(dealing.ledger(), monday())
                .await
                .unwrap();
            let settled = counts.get("settled").copied().unwrap_or(0);
            if settled == 2 {
                Ok(())
            } else {
                Err(format!("{counts:?}"))
            }
        })
        .await;
        let order_of = |fund: &'static str| async move {
            sqlx::query_scalar::<_, String>(
                "select order_ref from external_trade where asset_code = $1",
            )
            .bind(fund)
            .fetch_one(pool)
            .await
            .unwrap()
        };
        let orders = [
            order_of(FUNDS[0]).await,
            order_of(FUNDS[1]).await,
            order_of(FUNDS[2]).await,
        ];

        // Wednesday: a phantom trade in every statement (missing ours), half a unit too many of
        // fund 0 (quantity), a penny too much for fund 1 (amount), and fund 2 settled at the
        // custodian but not yet in our books (timing).
        let phantom = "GB00PHANTOM1";
        recon_faults(
            &dealing,
            &ReconFaults {
                phantom_isin: Some(phantom.to_owned()),
                units_off: Some(Skew {
                    isin: FUNDS[0].to_owned(),
                    delta: Decimal::new(5, 1),
                }),
                amount_off: Some(Skew {
                    isin: FUNDS[1].to_owned(),
                    delta: Decimal::new(1, 2),
                }),
                ..late.clone()
            },
        )
        .await;
        let wednesday_run = recon(&dealing, wednesday()).await;
        let phantom_ref = ReconFaults::phantom_ref(phantom);
        let expected = BTreeSet::from([
            found("position", phantom, BreakClass::MissingOurs),
            found(
                "transaction",
                &format!("TX{phantom_ref}"),
                BreakClass::MissingOurs,
            ),
            found("cash", &phantom_ref, BreakClass::MissingOurs),
            found("position", FUNDS[0], BreakClass::QuantityMismatch),
            found("transaction", &orders[0], BreakClass::QuantityMismatch),
            found("transaction", &orders[1], BreakClass::AmountMismatch),
            found("cash", &orders[1], BreakClass::AmountMismatch),
            found("transaction", &orders[2], BreakClass::Timing),
            found("cash", &orders[2], BreakClass::Timing),
        ]);
        assert_eq!(found_on(&dealing, wednesday()).await, expected);
        assert_eq!(
            (wednesday_run.breaks, wednesday_run.new_breaks),
            (expected.len(), expected.len() as u64),
            "{wednesday_run:?}"
        );
        let timing: Vec<_> = breaks::of_date(pool, wednesday())
            .await
            .unwrap()
            .into_iter()
            .filter(|b| b.class == BreakClass::Timing.as_str())
            .collect();
        assert!(
            timing
                .iter()
                .all(|b| b.expected_clear_date == Some(wednesday()))
        );

        // Thursday: the custodian tells us, our settlement runs and the cycle ends. The
        // transaction statement now leaves fund 0 out (missing theirs), lists fund 1 twice
        // (duplicate, in the cash statement too), and reports fund 2 in two parts without our
        // reference and a day early (matched by amount and date, one-to-many: no break).
        recon_faults(
            &dealing,
            &ReconFaults {
                omit_transactions_of: Some(FUNDS[0].to_owned()),
                duplicate_of: Some(FUNDS[1].to_owned()),
                split_of: Some(FUNDS[2].to_owned()),
                unreferenced_of: Some(FUNDS[2].to_owned()),
                ..ReconFaults::default()
            },
        )
        .await;
        dealing.advance_one_day().await;
        tokio::time::timeout(
            Duration::from_secs(120),
            cycle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .expect("the cycle ends once the late settlement is announced")
        .unwrap();
        let thursday = wednesday().checked_add_days(Days::new(1)).unwrap();
        let order_1: OrderStatus = dealing.custodian(&format!("/orders/{}", orders[1])).await;
        let movement_1 = format!("TX{}", order_1.confirmation.unwrap().confirmation_ref);
        let thursday_run = recon(&dealing, thursday).await;
        let expected = BTreeSet::from([
            found("transaction", &orders[0], BreakClass::MissingTheirs),
            found("transaction", &movement_1, BreakClass::Duplicate),
            found("cash", &orders[1], BreakClass::Duplicate),
        ]);
        assert_eq!(found_on(&dealing, thursday).await, expected);
        assert_eq!(thursday_run.breaks, expected.len(), "{thursday_run:?}");
        // Wednesday's timing breaks closed themselves, as the Thursday run.
        assert_eq!(thursday_run.timing_cleared, 2, "{thursday_run:?}");
        for timing in &timing {
            let events = breaks::events(pool, timing.break_id).await.unwrap();
            let trail: Vec<(&str, &str)> = events
                .iter()
                .map(|e| (e.to_status.as_str(), e.actor.as_str()))
                .collect();
            let run = reconciliation::workflow_id(&thursday.to_string());
            assert_eq!(trail, [("resolved", run.as_str())]);
        }
        dealing
            .platform
            .record_run::<Reconciliation>(
                &reconciliation::workflow_id(&thursday.to_string()),
                "fault-knobs",
            )
            .await;
        operators_work_the_breaks_with_acme(&dealing, &orders, thursday).await;
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// The real `acme` binary against the day the fault knobs left behind: Wednesday's seven breaks
/// other than timing and Thursday's three are unresolved. Lists them by class and age, finds them
/// in `acme stuck` once past their age limit, and resolves one with a correcting entry posted
/// through the ledger; every move is audited.
async fn operators_work_the_breaks_with_acme(
    dealing: &Dealing,
    orders: &[String; 3],
    thursday: NaiveDate,
) {
    let pool = dealing.ledger().pool();
    let acme = Acme::new(&dealing.platform);
    let listed = |value: &Value, field: &str| -> BTreeSet<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[field].as_str().unwrap().to_owned())
            .collect()
    };
    let quantity = acme
        .json(&[
            "recon",
            "breaks",
            "--class",
            "quantity_mismatch",
            "--output",
            "json",
        ])
        .await;
    assert_eq!(
        listed(&quantity, "subject"),
        BTreeSet::from([FUNDS[0].to_owned(), orders[0].clone()])
    );
    let unresolved = acme.json(&["recon", "breaks", "--output", "json"]).await;
    assert_eq!(
        unresolved.as_array().unwrap().len(),
        7 + 3,
        "{unresolved:#}"
    );
    // The gauges the worker serves: every class listed; none overdue yet, all of them two days
    // on (timing breaks are all cleared by now, so each one left is past a day's limit).
    let now = chrono::Utc::now();
    let gauges = breaks::gauges(pool, breaks::AGE_LIMIT, now).await.unwrap();
    assert_eq!(gauges.len(), BreakClass::ALL.len());
    let unresolved_by_class: i64 = gauges.iter().map(|row| row.unresolved).sum();
    assert_eq!(unresolved_by_class, 7 + 3);
    assert!(gauges.iter().all(|row| row.overdue == 0), "{gauges:?}");
    let later = breaks::gauges(pool, breaks::AGE_LIMIT, now + chrono::Days::new(2))
        .await
        .unwrap();
    assert!(
        later.iter().all(|row| row.overdue == row.unresolved),
        "{later:?}"
    );
    let quantity_row = later
        .iter()
        .find(|row| row.class == BreakClass::QuantityMismatch.as_str())
        .unwrap();
    assert_eq!(quantity_row.unresolved, 2);
    assert!(quantity_row.oldest_age_seconds.unwrap() >= 172_800.0);
    let old = acme
        .json(&["recon", "breaks", "--older-than", "1h", "--output", "json"])
        .await;
    assert_eq!(old, serde_json::json!([]));
    let refused = acme.refused(&["recon", "breaks", "--class", "bogus"]).await;
    assert!(refused.contains("unknown class"), "{refused}");

    // Nothing is stuck while every break is younger than a day; with no age allowed, each
    // unresolved break is listed under its run, and `acme stuck` exits 1.
    let healthy = acme.run(&["stuck", "--output", "json"]).await;
    assert_eq!(healthy.status.code(), Some(0), "{healthy:?}");
    let overdue = acme
        .run(&["stuck", "--break-age-limit", "0s", "--output", "json"])
        .await;
    assert_eq!(overdue.status.code(), Some(1), "{overdue:?}");
    let overdue: Value = serde_json::from_slice(&overdue.stdout).unwrap();
    let runs: Vec<(&str, usize)> = overdue
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            (
                run["workflow_id"].as_str().unwrap(),
                run["reasons"].as_array().unwrap().len(),
            )
        })
        .collect();
    let wednesday_run = reconciliation::workflow_id(&wednesday().to_string());
    let thursday_run = reconciliation::workflow_id(&thursday.to_string());
    assert_eq!(
        runs,
        [(wednesday_run.as_str(), 7), (thursday_run.as_str(), 3)],
        "{overdue:#}"
    );

    // Fund 0's quantity break is corrected by a new entry through the ledger (the custodian
    // holds half a unit more), then resolved naming it; the journal only grew.
    let position = breaks::of_date(pool, wednesday())
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.scope == "position" && b.class == BreakClass::QuantityMismatch.as_str())
        .unwrap();
    let id = position.break_id.to_string();
    let refused = acme
        .refused(&[
            "recon",
            "resolve",
            &id,
            "--reason",
            "fixed",
            "--correction",
            "999999999",
        ])
        .await;
    assert!(refused.contains("no journal entry 999999999"), "{refused}");
    let entries_before = count(dealing, "journal_entry").await;
    give_units(dealing.ledger(), "m-0", FUNDS[0], Decimal::new(5, 1)).await;
    assert_eq!(count(dealing, "journal_entry").await, entries_before + 1);
    let correction: i64 =
        sqlx::query_scalar("select entry_id from journal_entry where workflow_id = $1")
            .bind(format!("fixture/holding/m-0/{}", FUNDS[0]))
            .fetch_one(pool)
            .await
            .unwrap();
    acme.ok(&[
        "recon",
        "acknowledge",
        &id,
        "--reason",
        "looking (ticket 12)",
    ])
    .await;
    let resolved = acme
        .ok(&[
            "recon",
            "resolve",
            &id,
            "--reason",
            "custodian holds half a unit more: booked (ticket 12)",
            "--correction",
            &correction.to_string(),
        ])
        .await;
    assert!(resolved.contains("is resolved"), "{resolved}");
    let trail: Vec<(String, String, Option<i64>)> = breaks::events(pool, position.break_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.to_status, e.actor, e.correction_entry_id))
        .collect();
    assert_eq!(
        trail,
        [
            ("acknowledged".to_owned(), "alice".to_owned(), None),
            ("resolved".to_owned(), "alice".to_owned(), Some(correction)),
        ]
    );
    let audit = acme
        .json(&["audit", "--workflow", &wednesday_run, "--output", "json"])
        .await;
    let rows: Vec<(&str, &str, &str)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["operator"].as_str().unwrap(),
                row["action"].as_str().unwrap(),
                row["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "alice",
                "resolve",
                "custodian holds half a unit more: booked (ticket 12)"
            ),
            ("alice", "acknowledge", "looking (ticket 12)"),
            ("alice", "resolve", "fixed"),
        ]
    );
    // The attempt naming an entry that does not exist was refused, and audited as refused.
    let accepted: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["accepted"])
        .collect();
    assert_eq!(
        accepted,
        [&Value::Bool(true), &Value::Bool(true), &Value::Bool(false)]
    );
    // Resolved is final, and the chain still verifies with the correction in it.
    acme.refused(&["recon", "resolve", &id, "--reason", "again"])
        .await;
    acme.ok(&["ledger", "verify"]).await;
}

/// Members' own payments: each `invest-cash` request's cash received is compared with the
/// payment provider's statement, by request id (a UUID, longer than a bank reference may be).
/// A payment collected and invested matches; one the provider listed twice, one we invested and
/// it never collected, one it collected short, and one collected for a request we never had are
/// each found and classified, and nothing else is flagged; the same day again stores nothing.
#[tokio::test]
async fn members_payments_are_reconciled_against_the_payment_providers_statement() {
    on_local_set(async {
        let dealing = Dealing::start(4, monday()).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let today = booked_days_ago(0);
        let paid = "0b67faf3-5bb6-439d-85da-db90ab730425";
        let invests = [
            (paid, "m-0", "100.00"),
            ("r-listed-twice", "m-1", "50.00"),
            ("r-never-collected", "m-2", "30.00"),
            ("r-collected-short", "m-3", "20.00"),
        ];
        for (request, member, amount) in invests {
            dealing
                .platform
                .invest(request, member, serde_json::json!(amount))
                .await
                .unwrap();
        }
        let pence = |p: i64| Decimal::new(p, 2);
        pay_provider(&dealing, "pp-1", paid, today, pence(10_000)).await;
        pay_provider(&dealing, "pp-2", "r-listed-twice", today, pence(5_000)).await;
        pay_provider(&dealing, "pp-3", "r-listed-twice", today, pence(5_000)).await;
        pay_provider(&dealing, "pp-4", "r-collected-short", today, pence(1_999)).await;
        pay_provider(&dealing, "pp-5", "r-we-never-had", today, pence(1_234)).await;

        let first = recon(&dealing, today).await;
        let scope = "provider_cash";
        assert_eq!(
            found_on(&dealing, today).await,
            BTreeSet::from([
                found(scope, "r-listed-twice", BreakClass::Duplicate),
                found(scope, "r-never-collected", BreakClass::MissingTheirs),
                found(scope, "r-collected-short", BreakClass::AmountMismatch),
                found(scope, "r-we-never-had", BreakClass::MissingOurs),
            ])
        );
        assert_eq!((first.breaks, first.matched), (4, 1), "{first:?}");
        let short = breaks::of_date(dealing.ledger().pool(), today)
            .await
            .unwrap()
            .into_iter()
            .find(|b| b.subject == "r-collected-short")
            .unwrap();
        assert_eq!(
            (short.account.as_str(), short.ours, short.theirs),
            ("provider-cash", Some(pence(2_000)), Some(pence(1_999)))
        );
        let text = &report::latest(dealing.ledger().pool(), Some(today), 1)
            .await
            .unwrap()[0]
            .report_text;
        assert!(text.contains("Members' payments"), "{text}");
        dealing
            .platform
            .record_run::<Reconciliation>(
                &reconciliation::workflow_id(&today.to_string()),
                "members-payments",
            )
            .await;

        let second = recon(&dealing, today).await;
        assert_eq!((second.new_breaks, second.report_new), (0, false));
        assert_eq!(second.report_id, first.report_id);
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// The harness's world: a simulator with nothing dealt, and a worker.
pub struct ReconWorld {
    pub dealing: Dealing,
    worker: InProcessWorker,
}

impl ReconWorld {
    /// One member, nothing dealt, the simulator's clock on Monday, a worker whose activities
    /// pass through `interceptor`.
    pub async fn start(interceptor: acme_worker::ActivityInterceptor) -> Self {
        let dealing = Dealing::start(1, monday()).await;
        let worker = dealing
            .platform
            .spawn_worker_with("worker-1", Some(interceptor));
        Self { dealing, worker }
    }
}

impl World for ReconWorld {
    fn ledger(&self) -> &acme_ledger::Ledger {
        self.dealing.ledger()
    }

    async fn finish(self) {
        self.worker.stop().await;
        self.dealing.finish().await;
    }
}

/// The harness's scenario (`worker/tests/e2e/harness.rs`): reconciling an empty Monday.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = Reconciliation;
    type World = ReconWorld;

    async fn start(&self, interceptor: acme_worker::ActivityInterceptor) -> ReconWorld {
        ReconWorld::start(interceptor).await
    }

    async fn run(&self, world: &ReconWorld) -> Result<(), String> {
        let input = Input {
            date: monday().to_string(),
        };
        let outcome = world
            .dealing
            .platform
            .run::<Reconciliation>(input)
            .await
            .map_err(|e| format!("{e:?}"))?;
        if outcome.breaks == 0 {
            Ok(())
        } else {
            Err(format!("an empty day broke: {outcome:?}"))
        }
    }
}
