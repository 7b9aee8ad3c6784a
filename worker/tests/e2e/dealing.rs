//! The dealing cycle end to end: mixed buys and sells for a thousand members, partial fills and
//! charges, duplicate, lost and failed custodian calls, rejected orders and a killed worker.

use std::collections::BTreeMap;
use std::time::Duration;

use acme_activities::dealing::{DEALING_POT, Side, check_cycle, order_ref};
use acme_custodian::messages::{
    CallbackRecord, CallbackSecret, Faults, SIGNATURE_HEADER, sign_callback,
};
use acme_ledger::Ledger;
use acme_ledger::OwnerKind;
use acme_sdk::AssetCode;
use acme_workflows::dealing_cutoff;
use acme_workflows::dealing_cycle::{self, DealingCycle, Status};
use acme_workflows::external_trade::{self, ExternalTradeWorkflow};
use acme_workflows::sell_units::SellUnits;
use chrono::{NaiveDate, NaiveTime};
use futures::StreamExt as _;
use rust_decimal::Decimal;
use serde_json::json;
use temporalio_client::WorkflowGetResultOptions;

use crate::dealing_support::*;
use crate::support::{InProcessWorker, Platform, failure_code, on_local_set};

#[tokio::test]
async fn a_thousand_members_buy_then_buy_and_sell_across_three_funds() {
    on_local_set(async {
        let day_one = monday();
        let dealing = Dealing::start(1_000, day_one).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        // Day one: everyone buys one to three funds with amounts down to the penny.
        let buys: Vec<(String, &str, Decimal)> = (0..1_000_i64)
            .flat_map(|i| {
                (0..=(i % 3)).map(move |f| {
                    let fund = FUNDS[usize::try_from((i + f) % 3).unwrap()];
                    (
                        format!("m-{i}"),
                        fund,
                        Decimal::new(1_000 + i * 37 + f * 11, 2),
                    )
                })
            })
            .collect();
        book_buys(dealing.ledger(), "d1", &buys).await;
        for (fund, price) in FUNDS.iter().zip(["1.2345678", "0.98765432", "12.3456789"]) {
            dealing.price(fund, day_one, price).await;
        }
        let status = dealing.deal(day_one).await.unwrap();
        assert_eq!(status.trades.len(), 3);
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), day_one).await,
            3
        );
        let holdings = dealing.holdings().await;
        assert_eq!(holdings.len(), 3);
        assert_eq!(internal_units(dealing.ledger()).await, holdings);

        // Day two (the custodian's clock is now two business days on): half the members sell
        // part of what they hold, the other half buy; a partial fill and a dealing charge.
        let day_two = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let held: Vec<(String, String, Decimal)> = sqlx::query_as(
            "select p.owner_ref, a.asset_code, b.amount from balance b
             join account a using (account_id) join pot p using (pot_id)
             where p.owner_kind = 'member' and a.purpose = 'available'
               and a.asset_code <> 'GBP' and b.amount > 1
               and substring(p.owner_ref from 3)::int < 500",
        )
        .fetch_all(dealing.ledger().pool())
        .await
        .unwrap();
        let sells: Vec<(String, &str, Decimal)> = held
            .iter()
            .map(|(member, asset, units)| {
                let fund = FUNDS.iter().find(|f| **f == asset.as_str()).unwrap();
                (
                    member.clone(),
                    *fund,
                    (*units / Decimal::from(3)).round_dp(6),
                )
            })
            .collect();
        // The first twenty go through the sell-units process itself; the rest are booked as
        // it books them, to keep the test fast.
        let (by_process, booked) = sells.split_at(20);
        for (n, (member, fund, units)) in by_process.iter().enumerate() {
            let output = dealing
                .sell(&format!("s-{n}"), member, fund, json!(units.to_string()))
                .await
                .unwrap();
            assert_eq!(output.reserved_units, *units);
        }
        book_sells(dealing.ledger(), "d2", booked).await;
        // Bad sells are refused with their own code and reserve nothing.
        let (member, fund, units) = &sells[0];
        for (request, asset, units, code) in [
            (
                "bad-1",
                *fund,
                json!((*units * Decimal::from(3)).to_string()),
                "ledger.overdraft",
            ),
            (
                "bad-2",
                *fund,
                json!("1.0000001"),
                "units.too_many_decimals",
            ),
            ("bad-3", *fund, json!(1.5), "units.not_a_string"),
            ("bad-4", "GBP", json!("1"), "asset.unknown"),
        ] {
            let error = dealing
                .sell(request, member, asset, units)
                .await
                .unwrap_err();
            assert_eq!(failure_code(&error).as_deref(), Some(code), "{request}");
        }
        let more_buys: Vec<(String, &str, Decimal)> = (500..1_000_i64)
            .map(|i| {
                (
                    format!("m-{i}"),
                    FUNDS[usize::try_from(i % 3).unwrap()],
                    Decimal::new(2_501 + i, 2),
                )
            })
            .collect();
        book_buys(dealing.ledger(), "d2", &more_buys).await;
        dealing
            .faults(&Faults {
                partial_fill: "0.75".parse().unwrap(),
                dealing_charge_bps: 25,
                ..Faults::default()
            })
            .await;
        for (fund, price) in FUNDS.iter().zip(["1.3000001", "0.9123456", "12.1212121"]) {
            dealing.price(fund, day_two, price).await;
        }
        let status = dealing.deal(day_two).await.unwrap();
        assert_eq!(status.trades.len(), 6, "a buy and a sell of each fund");
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), day_two).await,
            6
        );
        assert_eq!(
            internal_units(dealing.ledger()).await,
            dealing.holdings().await
        );
        assert_eq!(reserved_total(dealing.ledger()).await, Decimal::ZERO);
        let platform = &dealing.platform;
        platform
            .record_run::<DealingCycle>(&dealing_cycle::workflow_id("2026-11-25"), "buys-and-sells")
            .await;
        platform
            .record_run::<ExternalTradeWorkflow>(
                "external-trade/2026-11-25/GB00ACMEGLB1/sell",
                "partial-fill-with-charge",
            )
            .await;
        platform
            .record_run::<SellUnits>("sell/s-0", "happy-path")
            .await;
        platform
            .record_run::<SellUnits>("sell/bad-1", "more-units-than-held")
            .await;
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// Fifty members each buy all three funds.
async fn small_day(dealing: &Dealing) {
    let buys: Vec<(String, &str, Decimal)> = (0..50_i64)
        .flat_map(|i| FUNDS.map(|fund| (format!("m-{i}"), fund, Decimal::new(10_000 + i * 101, 2))))
        .collect();
    book_buys(dealing.ledger(), "small", &buys).await;
}

/// The small day booked for 50 members, with a worker running.
async fn small_day_with_worker() -> (Dealing, InProcessWorker) {
    let dealing = Dealing::start(50, monday()).await;
    let worker = dealing.platform.spawn_worker("worker-1");
    small_day(&dealing).await;
    (dealing, worker)
}

/// Deals the small day with the custodian's `faults` set, and checks that every allocation
/// follows the rule and our units match the custodian's holdings.
async fn deal_small_day_despite(faults: Faults) -> (Dealing, InProcessWorker) {
    let (dealing, worker) = small_day_with_worker().await;
    dealing.faults(&faults).await;
    dealing.deal(monday()).await.unwrap();
    assert_eq!(
        assert_allocations_follow_the_rule(dealing.ledger(), monday()).await,
        3
    );
    assert_eq!(
        internal_units(dealing.ledger()).await,
        dealing.holdings().await
    );
    (dealing, worker)
}

/// How many journal entries the external trades of a day wrote, by kind.
async fn entries_by_kind(ledger: &Ledger) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select kind, count(*) from journal_entry where process = 'external-trade' group by kind",
    )
    .fetch_all(ledger.pool())
    .await
    .unwrap();
    rows.into_iter().collect()
}

#[tokio::test]
async fn duplicate_callbacks_and_custodian_errors_change_nothing() {
    on_local_set(async {
        let (dealing, worker) = deal_small_day_despite(Faults {
            duplicate_callbacks: true,
            error_burst: 5,
            ..Faults::default()
        })
        .await;
        let entries = entries_by_kind(dealing.ledger()).await;
        assert_eq!(entries.get("dealing.priced"), Some(&3));
        assert_eq!(entries.get("dealing.allocated"), Some(&150));
        assert_eq!(entries.get("dealing.settled"), Some(&150));
        // Both copies of every signed callback reached the ingress and were accepted.
        let callbacks: Vec<CallbackRecord> = dealing.custodian("/admin/callbacks").await;
        assert_eq!(callbacks.len(), 6, "priced and settled for three orders");
        assert!(
            callbacks
                .iter()
                .all(|c| c.state == "delivered" && c.copies == 2),
            "{callbacks:#?}"
        );
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

#[tokio::test]
async fn lost_callbacks_are_found_by_polling() {
    on_local_set(async {
        let (dealing, worker) = deal_small_day_despite(Faults {
            drop_callbacks: true,
            ..Faults::default()
        })
        .await;
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

#[tokio::test]
async fn a_rejected_order_fails_its_trades_and_releases_the_cash() {
    on_local_set(async {
        let (dealing, worker) = small_day_with_worker().await;
        dealing
            .faults(&Faults {
                reject_isins: vec!["GB00ACMEPRP1".into()],
                ..Faults::default()
            })
            .await;
        let status = dealing.deal(monday()).await.unwrap();
        let reason = "isin GB00ACMEPRP1 is not dealt by the custodian";
        assert_property_released(&dealing, &status, reason, "rejected-at-placing").await;
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

#[tokio::test]
async fn an_order_rejected_after_acceptance_is_found_by_polling_and_released() {
    on_local_set(async {
        let (dealing, worker) = small_day_with_worker().await;
        let handle = dealing.start_cycle(monday()).await;
        dealing.wait_until_none_in(monday(), "created").await;
        // The custodian took the order, then refuses it before pricing; no callback says so.
        let order = order_ref(monday(), "GB00ACMEPRP1", Side::Buy);
        dealing
            .reject_order(&order, "fund suspended")
            .await
            .unwrap();
        let refused_again = dealing.reject_order(&order, "again").await.unwrap_err();
        assert!(
            refused_again.contains("order.not_rejectable"),
            "{refused_again}"
        );
        let status = dealing.finish_cycle(monday(), handle).await.unwrap();
        assert_property_released(
            &dealing,
            &status,
            "fund suspended",
            "rejected-after-acceptance",
        )
        .await;
        let reason: String = sqlx::query_scalar(
            "select rejection_reason from external_trade where asset_code = 'GB00ACMEPRP1'",
        )
        .fetch_one(dealing.ledger().pool())
        .await
        .unwrap();
        assert_eq!(
            reason,
            "rejected by the custodian after acceptance: fund suspended"
        );
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// The small day's property order was rejected (with `reason` in its outcome): its 50 member
/// trades failed and their reserved cash is back in the members' available cash, while the
/// other two funds settled. Its run's history is recorded as `history`.
async fn assert_property_released(dealing: &Dealing, status: &Status, reason: &str, history: &str) {
    let rejected: Vec<_> = status
        .trades
        .iter()
        .filter_map(|t| match &t.outcome {
            Some(Ok(external_trade::Outcome::Rejected { reason, released })) => {
                Some((t.trade.asset.as_str(), reason.as_str(), *released))
            }
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 1, "{status:#?}");
    let (asset, why, released) = rejected[0];
    assert_eq!((asset, released), ("GB00ACMEPRP1", 50));
    assert!(why.contains(reason), "{why}");
    let failed: i64 = sqlx::query_scalar(
        "select count(*) from member_trade where status = 'failed' and asset_code = 'GB00ACMEPRP1'",
    )
    .fetch_one(dealing.ledger().pool())
    .await
    .unwrap();
    assert_eq!(failed, 50);
    assert_eq!(reserved_total(dealing.ledger()).await, Decimal::ZERO);
    let available: Decimal = sqlx::query_scalar(
        "select sum(b.amount) from balance b join account a using (account_id)
         join pot p using (pot_id)
         where p.owner_kind = 'member' and a.asset_code = 'GBP' and a.purpose = 'available'",
    )
    .fetch_one(dealing.ledger().pool())
    .await
    .unwrap();
    let property_cash: Decimal = (0..50_i64).map(|i| Decimal::new(10_000 + i * 101, 2)).sum();
    assert_eq!(available, property_cash);
    assert_eq!(
        assert_allocations_follow_the_rule(dealing.ledger(), monday()).await,
        2
    );
    let run = format!("external-trade/{}/GB00ACMEPRP1/buy", monday());
    dealing
        .platform
        .record_run::<ExternalTradeWorkflow>(&run, history)
        .await;
}

#[tokio::test]
async fn a_worker_killed_during_allocation_is_replaced_and_nothing_doubles() {
    on_local_set(async {
        let dealing = Dealing::start(2_000, monday()).await;
        let buys: Vec<(String, &str, Decimal)> = (0..2_000_i64)
            .flat_map(|i| FUNDS.map(|fund| (format!("m-{i}"), fund, Decimal::new(5_000 + i, 2))))
            .collect();
        book_buys(dealing.ledger(), "kill", &buys).await;
        let mut first = dealing.platform.spawn_worker_process();
        let handle = dealing.start_cycle(monday()).await;
        dealing.wait_until_none_in(monday(), "created").await;
        dealing.advance_one_day().await;
        // Kill the worker as soon as the first allocations are in the journal.
        dealing
            .platform
            .wait_for_rows(
                "member_trade where status = 'priced'",
                1,
                Duration::from_secs(60),
            )
            .await;
        first.kill().await.unwrap();
        let second = dealing.platform.spawn_worker_process();
        dealing.wait_until_none_in(monday(), "placed").await;
        dealing.advance_one_day().await;
        tokio::time::timeout(
            Duration::from_secs(120),
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), monday()).await,
            3
        );
        let entries = entries_by_kind(dealing.ledger()).await;
        assert_eq!(entries.get("dealing.allocated"), Some(&6_000));
        assert_eq!(
            internal_units(dealing.ledger()).await,
            dealing.holdings().await
        );
        drop(second);
        dealing.finish().await;
    })
    .await;
}

#[tokio::test]
async fn the_weekday_schedule_starts_the_days_dealing_cycle() {
    on_local_set(async {
        let platform = Platform::start(&[]).await;
        let worker = platform.spawn_worker("worker-1");
        let client = platform.temporal.client();
        let cutoff = NaiveTime::from_hms_opt(16, 0, 0).unwrap();
        let input = dealing_cutoff::Input {
            poll_every_secs: Some(1),
        };
        let mut schedule =
            dealing_cutoff::schedule(cutoff, "Europe/London", &platform.temporal.queues, input);
        schedule.trigger_immediately = true;
        client
            .create_schedule(dealing_cutoff::SCHEDULE_ID, schedule)
            .await
            .unwrap();
        // The cut-off names today's date and starts its cycle; with no trades it closes empty
        // and its invariant check passes.
        let today = chrono::Utc::now().date_naive().to_string();
        let cycle = client.get_workflow_handle::<DealingCycle>(dealing_cycle::workflow_id(&today));
        let started = std::time::Instant::now();
        let status = loop {
            match cycle.get_result(WorkflowGetResultOptions::default()).await {
                Ok(status) => break status,
                Err(error) => assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "no dealing cycle for {today}: {error:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(status.trades.is_empty());
        assert!(status.violations.is_empty());
        // The schedule names its runs `dealing-cutoff-<time>`: find the one that ran.
        let cutoff_run = client
            .list_workflows("WorkflowType = 'dealing-cutoff'", Default::default())
            .next()
            .await
            .unwrap()
            .unwrap();
        platform
            .record_run::<dealing_cutoff::DealingCutoff>(cutoff_run.id(), "scheduled-firing")
            .await;
        worker.stop().await;
        platform.finish().await;
    })
    .await;
}

#[tokio::test]
async fn the_ingress_refuses_malformed_and_unknown_callbacks() {
    on_local_set(async {
        let dealing = Dealing::start(1, monday()).await;
        let post_signed_with = |secret: CallbackSecret, body: &'static str| {
            dealing
                .http
                .post(&dealing.callback_url)
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, sign_callback(&secret, body.as_bytes()))
                .body(body)
                .send()
        };
        let post = |body: &'static str| post_signed_with(callback_secret(), body);
        // Only the custodian can price or settle: unsigned or mis-signed callbacks are refused
        // before anything is read, however well-formed.
        let settled =
            r#"{"event":"settled","order_ref":"ET-19990101-X-B","settlement_date":"1999-01-05"}"#;
        let forged = CallbackSecret::new("not-the-secret-but-thirty-two-bytes").unwrap();
        let forged = post_signed_with(forged, settled).await.unwrap();
        assert_eq!(forged.status(), 401);
        let body: serde_json::Value = forged.json().await.unwrap();
        assert_eq!(body["code"], "callback.unauthenticated");
        let unsigned = dealing
            .http
            .post(&dealing.callback_url)
            .header("content-type", "application/json")
            .body(settled)
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 401);
        let malformed = post("{\"event\":\"priced\"").await.unwrap();
        assert_eq!(malformed.status(), 400);
        let unknown = post(
            r#"{"event":"settled","order_ref":"ET-19990101-X-B","settlement_date":"1999-01-05"}"#,
        )
        .await
        .unwrap();
        assert_eq!(unknown.status(), 404);
        let body: serde_json::Value = unknown.json().await.unwrap();
        assert_eq!(body["code"], "order.unknown");
        dealing.finish().await;
    })
    .await;
}

#[tokio::test]
async fn the_cycle_check_finds_a_stray_allocation_and_an_unfinished_trade() {
    on_local_set(async {
        let (dealing, worker) = small_day_with_worker().await;
        dealing.deal(monday()).await.unwrap();
        let ledger = dealing.ledger();
        assert!(check_cycle(ledger, monday()).await.unwrap().is_empty());

        // An allocation entry the rule did not make: a unit more to a member, from the dealing pot.
        let fund = AssetCode::parse(FUNDS[0]).unwrap();
        let dealing_pot = ledger
            .open_pot(OwnerKind::House, DEALING_POT)
            .await
            .unwrap();
        let from = ledger
            .open_account(dealing_pot, &fund, "available", true)
            .await
            .unwrap();
        let member = ledger
            .open_pots_in_bulk(
                OwnerKind::Member,
                &["m-0".to_owned()],
                &[(fund.clone(), "available")],
            )
            .await
            .unwrap()[0][0];
        let workflow_id = format!("external-trade/{}/{}/buy", monday(), FUNDS[0]);
        let mut stray = fixture_entry(
            &workflow_id,
            "allocate/stray",
            vec![(from, Decimal::new(-1, 0)), (member, Decimal::ONE)],
        );
        stray.kind = "dealing.allocated".into();
        ledger.post_batch(&[stray]).await.unwrap();
        // And a member trade left half-way.
        sqlx::query(
            "update member_trade set status = 'priced'
             where trade_id = (select trade_id from member_trade where asset_code = $1
                               order by trade_id limit 1)",
        )
        .bind(FUNDS[1])
        .execute(ledger.pool())
        .await
        .unwrap();

        let violations = check_cycle(ledger, monday()).await.unwrap();
        let found: Vec<u8> = violations.iter().map(|v| v.invariant).collect();
        assert!(found.contains(&5), "{violations:?}");
        assert!(found.contains(&8), "{violations:?}");
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}
