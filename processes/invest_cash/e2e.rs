//! `invest-cash`: what a member's investment does, once, and what bad requests get.

use acme_worker::ActivityInterceptor;
use acme_workflows::invest_cash::InvestCash;
use rust_decimal::Decimal;
use serde_json::json;

use crate::harness::{Running, Scenario};
use crate::support::{Platform, failure_code, on_local_set};

const MEMBERS: [(&str, Option<&str>); 3] = [
    ("m-1", Some("balanced")),
    ("m-2", Some("cautious")),
    ("m-no-plan", None),
];

#[tokio::test]
async fn investing_reserves_the_cash_and_creates_trades_split_by_the_model_portfolio() {
    on_local_set(async {
        let platform = Platform::start(&MEMBERS).await;
        let worker = platform.spawn_worker("worker-1");
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
        // Findable in the UI by our search attributes.
        let query =
            "AcmeProcess = 'invest-cash' AND AcmeMemberId = 'm-1' AND AcmeBusinessKey = 'r-1'";
        assert_eq!(platform.runs_found_by(query, 1).await, 1);
        assert_eq!(platform.runs_found_by("AcmeMemberId = 'm-2'", 0).await, 0);
        platform.record_history("r-1", "happy-path").await;
        // Recorded since the patch moving the steps to local activities; `happy-path` is from
        // before it, so the replay net covers both paths.
        platform.record_history("r-1", "local-activities").await;
        worker.stop().await;
        platform.finish().await;
    })
    .await;
}

#[tokio::test]
async fn the_same_request_twice_does_the_work_once() {
    on_local_set(async {
        let platform = Platform::start(&MEMBERS).await;
        let worker = platform.spawn_worker("worker-1");
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
        platform.record_history("r-dup", "same-request-twice").await;
        worker.stop().await;
        platform.finish().await;
    })
    .await;
}

#[tokio::test]
async fn bad_requests_fail_with_a_specific_code_and_post_nothing() {
    on_local_set(async {
        let platform = Platform::start(&MEMBERS).await;
        let worker = platform.spawn_worker("worker-1");
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
        platform
            .record_history("bad-member", "unknown-member")
            .await;
        platform
            .record_history("bad-number", "amount-as-json-number")
            .await;
        worker.stop().await;
        platform.finish().await;
    })
    .await;
}

/// The harness's scenario: member m-1 (balanced portfolio) invests £100.00.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = InvestCash;
    type World = Running;

    async fn start(&self, interceptor: ActivityInterceptor) -> Running {
        Running::start(&[("m-1", Some("balanced"))], interceptor).await
    }

    async fn run(&self, world: &Running) -> Result<(), String> {
        let input = acme_workflows::invest_cash::Input {
            request_id: "h-1".to_owned(),
            member_id: "m-1".to_owned(),
            amount: json!("100.00"),
        };
        world.run::<InvestCash>(input).await
    }
}
