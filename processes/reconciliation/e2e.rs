//! `reconciliation` end to end, against a real Temporal server, a fresh database and the
//! custodian simulator: a clean dealing day reconciles with zero breaks, and a second run stores
//! nothing new; a planted difference is found, classified and worked (acknowledged, resolved,
//! each event recorded); statements crafted with one difference of each class are classified;
//! a malformed statement is refused whole and stores nothing.

use acme_activities::recon::breaks::{self, BreakStatus};
use acme_activities::recon::compare::BreakClass;
use acme_activities::recon::report::{self, Reconcile};
use acme_activities::recon::statements::{self, StatementKind};
use acme_custodian::messages::{CashEntry, CashStatement, Faults, Holding, HoldingsStatement};
use acme_workflows::reconciliation::{self, Input, Reconciliation};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

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
        // Three funds and six settled orders (three funds bought, no sells).
        assert_eq!(first.matched, 3 + 3, "{first:?}");
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
                "clean-day",
            )
            .await;
        let stored = [
            count(&dealing, "recon_statement").await,
            count(&dealing, "recon_statement_line").await,
            count(&dealing, "recon_break").await,
            count(&dealing, "recon_report").await,
        ];
        assert_eq!(stored, [2, 3 + 3, 0, 1]);
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

/// The harness's world: a simulator with nothing dealt, and a worker.
pub struct ReconWorld {
    dealing: Dealing,
    worker: InProcessWorker,
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
        let dealing = Dealing::start(1, monday()).await;
        let worker = dealing
            .platform
            .spawn_worker_with("worker-1", Some(interceptor));
        ReconWorld { dealing, worker }
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
