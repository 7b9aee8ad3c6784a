//! `invest-cash` end to end: a real local Temporal server, a real PostgreSQL database, and the
//! worker assembly that production runs, on a task queue of the test's own.

// A failed unwrap in a test is a failed test, with the error printed.
#![allow(clippy::unwrap_used)]

use acme_activities::members::{NewMember, ensure_reference_data, onboard_members};
use acme_ledger::testkit::TestDatabase;
use acme_sdk::testkit::TestTemporal;
use acme_worker::Workers;
use acme_workflows::invest_cash::{self, Input, InvestCash, Output};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{WorkflowGetResultOptions, WorkflowIdConflictPolicy, WorkflowStartOptions};
use temporalio_common::error::IncomingError;
use temporalio_sdk::Runtime;

/// A database with reference data and three members, a Temporal server, and a running worker.
struct Platform {
    db: TestDatabase,
    temporal: TestTemporal,
    stop_worker: Box<dyn Fn()>,
    worker: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Platform {
    async fn start() -> Platform {
        let db = TestDatabase::create(8).await.unwrap();
        ensure_reference_data(&db.ledger).await.unwrap();
        let members = [
            ("m-1", Some("balanced")),
            ("m-2", Some("cautious")),
            ("m-no-plan", None),
        ];
        let members: Vec<NewMember> = members
            .iter()
            .map(|(id, portfolio)| NewMember {
                member_id: (*id).to_owned(),
                portfolio: portfolio.map(str::to_owned),
            })
            .collect();
        onboard_members(&db.ledger, &members).await.unwrap();
        let temporal = TestTemporal::start().await.unwrap();
        let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
        let workers =
            Workers::build(&runtime, temporal.client(), &db.ledger, &temporal.queues).unwrap();
        let stop_worker = Box::new(workers.shutdown_handle());
        let worker = tokio::task::spawn_local(async move {
            let _runtime = runtime;
            workers.run().await
        });
        Platform {
            db,
            temporal,
            stop_worker,
            worker,
        }
    }

    async fn invest(
        &self,
        request_id: &str,
        member_id: &str,
        amount: Value,
    ) -> Result<Output, WorkflowGetResultError> {
        let handle = self
            .temporal
            .client()
            .start_workflow(
                InvestCash::run,
                Input {
                    request_id: request_id.to_owned(),
                    member_id: member_id.to_owned(),
                    amount,
                },
                WorkflowStartOptions::new(
                    self.temporal.queues.workflows.clone(),
                    invest_cash::workflow_id(request_id),
                )
                .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
                .build(),
            )
            .await
            .unwrap();
        handle.get_result(WorkflowGetResultOptions::default()).await
    }

    async fn cash(&self, member_id: &str, purpose: &str) -> Decimal {
        sqlx::query_scalar(
            "select b.amount from member m
             join account a on a.pot_id = m.pot_id and a.asset_code = 'GBP' and a.purpose = $2
             join balance b on b.account_id = a.account_id
             where m.member_id = $1",
        )
        .bind(member_id)
        .bind(purpose)
        .fetch_one(self.db.ledger.pool())
        .await
        .unwrap()
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(self.db.ledger.pool())
            .await
            .unwrap()
    }

    async fn stop(self) {
        (self.stop_worker)();
        self.worker.await.unwrap().unwrap();
        assert!(self.db.ledger.check_invariants().await.unwrap().holds());
        assert!(self.db.ledger.verify().await.unwrap().is_sound());
        self.temporal.shutdown().await.unwrap();
        self.db.drop_database().await.unwrap();
    }
}

fn failure_code(error: &WorkflowGetResultError) -> Option<String> {
    match error {
        WorkflowGetResultError::Failed(failure) => match failure.as_ref() {
            IncomingError::Application(app) => app.type_name().map(str::to_owned),
            _ => None,
        },
        _ => None,
    }
}

async fn on_local_set(test: impl std::future::Future<Output = ()>) {
    tokio::task::LocalSet::new().run_until(test).await;
}

#[tokio::test]
async fn investing_reserves_the_cash_and_creates_trades_split_by_the_model_portfolio() {
    on_local_set(async {
        let platform = Platform::start().await;
        let output = platform
            .invest("r-1", "m-1", json!("100.01"))
            .await
            .unwrap();
        assert_eq!(output.reserved_gbp, Decimal::new(10_001, 2));
        assert_eq!(platform.cash("m-1", "available").await, Decimal::ZERO);
        assert_eq!(
            platform.cash("m-1", "reserved").await,
            Decimal::new(10_001, 2)
        );
        // balanced = 50% equity, 40% bonds, 10% property; the odd penny goes to equity.
        let trades: Vec<(String, Decimal, String)> = sqlx::query_as(
            "select asset_code, cash_amount, status from member_trade
             where member_id = 'm-1' order by asset_code",
        )
        .fetch_all(platform.db.ledger.pool())
        .await
        .unwrap();
        let expected = [
            ("GB00ACMEBND1", Decimal::new(4_000, 2)),
            ("GB00ACMEGLB1", Decimal::new(5_001, 2)),
            ("GB00ACMEPRP1", Decimal::new(1_000, 2)),
        ];
        assert_eq!(trades.len(), 3);
        for ((asset, cash, status), (want_asset, want_cash)) in trades.iter().zip(expected) {
            assert_eq!(
                (asset.as_str(), *cash, status.as_str()),
                (want_asset, want_cash, "pending")
            );
        }
        assert_eq!(output.trade_ids.len(), 3);
        platform.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_same_request_twice_does_the_work_once() {
    on_local_set(async {
        let platform = Platform::start().await;
        let (a, b) = tokio::join!(
            platform.invest("r-dup", "m-2", json!("50.00")),
            platform.invest("r-dup", "m-2", json!("50.00")),
        );
        let again = platform
            .invest("r-dup", "m-2", json!("50.00"))
            .await
            .unwrap();
        assert_eq!(a.unwrap(), again);
        assert_eq!(b.unwrap(), again);
        assert_eq!(
            platform.cash("m-2", "reserved").await,
            Decimal::new(5_000, 2)
        );
        assert_eq!(platform.count("journal_entry").await, 2);
        assert_eq!(platform.count("member_trade").await, 3);
        platform.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bad_requests_fail_with_a_specific_code_and_post_nothing() {
    on_local_set(async {
        let platform = Platform::start().await;
        let cases = [
            ("bad-zero", "m-1", json!("0"), "amount.sign"),
            ("bad-negative", "m-1", json!("-5.00"), "amount.sign"),
            (
                "bad-decimals",
                "m-1",
                json!("1.001"),
                "amount.too_many_decimals",
            ),
            ("bad-exponent", "m-1", json!("1e5"), "amount.malformed"),
            ("bad-underscore", "m-1", json!("1_000"), "amount.malformed"),
            ("bad-plus", "m-1", json!("+5"), "amount.malformed"),
            ("bad-nan", "m-1", json!("NaN"), "amount.malformed"),
            (
                "bad-29",
                "m-1",
                json!(format!("0.{}", "1".repeat(29))),
                "amount.too_many_decimals",
            ),
            ("bad-number", "m-1", json!(100.5), "amount.not_a_string"),
            (
                "bad-overflow",
                "m-1",
                json!("9".repeat(40)),
                "amount.overflow",
            ),
            ("bad-member", "nobody", json!("10.00"), "member.unknown"),
            (
                "bad-plan",
                "m-no-plan",
                json!("10.00"),
                "member.no_model_portfolio",
            ),
        ];
        for (request, member, amount, code) in cases {
            let error = platform
                .invest(request, member, amount.clone())
                .await
                .unwrap_err();
            assert_eq!(
                failure_code(&error).as_deref(),
                Some(code),
                "{request} {amount}: {error}"
            );
        }
        assert_eq!(platform.count("journal_entry").await, 0);
        assert_eq!(platform.count("member_trade").await, 0);
        platform.stop().await;
    })
    .await;
}
