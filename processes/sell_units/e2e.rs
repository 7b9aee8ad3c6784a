//! `sell-units` end to end: a member's units are reserved once however often the request is
//! sent, a pending sell trade is created, and a sale of more units than held writes nothing.

use acme_worker::ActivityInterceptor;
use acme_workflows::sell_units::{self, Input, Output, SellUnits};
use rust_decimal::Decimal;
use serde_json::json;

use crate::dealing_support::give_units;
use crate::harness::{Running, Scenario};
use crate::support::{Platform, failure_code, on_local_set};

const FUND: &str = "GB00ACMEGLB1";

fn input(request_id: &str, units: &str) -> Input {
    Input {
        request_id: request_id.to_owned(),
        member_id: "m-1".to_owned(),
        asset: FUND.to_owned(),
        units: json!(units),
    }
}

/// How many units of the fund member m-1 holds for `purpose`.
async fn units(platform: &Platform, purpose: &str) -> Decimal {
    sqlx::query_scalar(
        "select b.amount from member m
         join account a on a.pot_id = m.pot_id and a.asset_code = $1 and a.purpose = $2
         join balance b on b.account_id = a.account_id
         where m.member_id = 'm-1'",
    )
    .bind(FUND)
    .bind(purpose)
    .fetch_optional(platform.db.ledger.pool())
    .await
    .unwrap()
    .unwrap_or_default()
}

#[tokio::test]
async fn selling_reserves_the_units_once_and_creates_a_pending_sell_trade() {
    on_local_set(async {
        let platform = Platform::start(&[("m-1", Some("balanced"))]).await;
        give_units(&platform.db.ledger, "m-1", FUND, Decimal::new(10, 0)).await;
        let worker = platform.spawn_worker("worker-1");
        let first: Output = platform
            .run::<SellUnits>(input("s-1", "2.5"))
            .await
            .unwrap();
        let again: Output = platform
            .run::<SellUnits>(input("s-1", "2.5"))
            .await
            .unwrap();
        assert_eq!(first, again, "the same request sold twice");
        assert_eq!(first.reserved_units, Decimal::new(25, 1));
        assert_eq!(units(&platform, "available").await, Decimal::new(75, 1));
        assert_eq!(units(&platform, "reserved").await, Decimal::new(25, 1));
        let status: String =
            sqlx::query_scalar("select status from member_trade where trade_id = $1")
                .bind(first.trade_id)
                .fetch_one(platform.db.ledger.pool())
                .await
                .unwrap();
        assert_eq!(status, "pending");
        // Sent again after it finished: it attaches to the closed run (`IdReuse::Never`), so
        // there is no second run.
        let query =
            "AcmeProcess = 'sell-units' AND AcmeBusinessKey = 's-1' AND AcmeMemberId = 'm-1'";
        assert_eq!(platform.runs_found_by(query, 1).await, 1);
        platform
            .record_run::<SellUnits>(&sell_units::workflow_id("s-1"), "sold-twice")
            .await;
        worker.stop().await;
        platform.finish().await;
    })
    .await;
}

#[tokio::test]
async fn bad_sales_are_refused_with_a_code_and_write_nothing() {
    on_local_set(async {
        let platform = Platform::start(&[("m-1", Some("balanced"))]).await;
        give_units(&platform.db.ledger, "m-1", FUND, Decimal::new(10, 0)).await;
        let worker = platform.spawn_worker("worker-1");
        let entries_before = platform.count("journal_entry").await;
        let cases = [
            (input("s-2", "10.5"), "ledger.overdraft"),
            (input("s-3", "0.0000001"), "units.too_many_decimals"),
            (input("s-4", "-1"), "units.sign"),
            (
                Input {
                    units: json!(1.5),
                    ..input("s-5", "1")
                },
                "units.not_a_string",
            ),
            (
                Input {
                    member_id: "m/1".into(),
                    ..input("s-6", "1")
                },
                "member.invalid_id",
            ),
        ];
        for (input, code) in cases {
            let error = platform.run::<SellUnits>(input.clone()).await.unwrap_err();
            assert_eq!(failure_code(&error).as_deref(), Some(code), "{input:?}");
        }
        assert_eq!(platform.count("journal_entry").await, entries_before);
        assert_eq!(platform.count("member_trade").await, 0);
        worker.stop().await;
        platform.finish().await;
    })
    .await;
}

/// The harness's scenario: member m-1 holds 10 units of the global equity fund and sells 2.5.
#[derive(Debug, Default)]
pub struct Harness;

impl Scenario for Harness {
    type Process = SellUnits;
    type World = Running;

    async fn start(&self, interceptor: ActivityInterceptor) -> Running {
        let world = Running::start(&[("m-1", Some("balanced"))], interceptor).await;
        give_units(&world.platform.db.ledger, "m-1", FUND, Decimal::new(10, 0)).await;
        world
    }

    async fn run(&self, world: &Running) -> Result<(), String> {
        world.run::<SellUnits>(input("h-1", "2.5")).await
    }
}
