//! `dealing-cycle` end to end: a thousand members buy, then buy and sell across three funds,
//! with a partial fill and a charge; and the cycle check finds what a broken day leaves behind.

use acme_activities::dealing::{DEALING_POT, check_cycle};
use acme_custodian::messages::Faults;
use acme_ledger::OwnerKind;
use acme_sdk::AssetCode;
use acme_workflows::dealing_cycle::{self, DealingCycle};
use acme_workflows::external_trade::ExternalTradeWorkflow;
use acme_workflows::sell_units::SellUnits;
use chrono::Days;
use rust_decimal::Decimal;
use serde_json::json;

use crate::dealing_support::*;
use crate::harness::SmallDay;
use crate::support::{failure_code, on_local_set};

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
        let day_two = day_one + Days::new(2);
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
            .record_run::<DealingCycle>(
                &dealing_cycle::workflow_id(&day_two.to_string()),
                "buys-and-sells",
            )
            .await;
        platform
            .record_run::<ExternalTradeWorkflow>(
                &format!("external-trade/{day_two}/GB00ACMEGLB1/sell"),
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

/// The harness's scenario: the small day (50 members buy three funds), dealt to settlement.
pub type Harness = SmallDay<DealingCycle>;

#[tokio::test]
async fn a_cycle_run_late_for_a_past_date_deals_nothing_that_came_in_after_its_cutoff() {
    on_local_set(async {
        let (dealing, worker) = small_day_with_worker().await;
        let pending = || async {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from member_trade where status = 'pending'",
            )
            .fetch_one(dealing.ledger().pool())
            .await
            .unwrap()
        };
        assert_eq!(pending().await, 150);
        // Yesterday's cut-off has passed; the day's trades came in after it (late trading).
        let yesterday = acme_sdk::cutoff::london_date(chrono::Utc::now()) - Days::new(1);
        let late = dealing.start_cycle(yesterday).await;
        let status = late
            .get_result(temporalio_client::WorkflowGetResultOptions::default())
            .await
            .unwrap();
        assert!(status.trades.is_empty(), "{:?}", status.trades);
        assert_eq!(pending().await, 150, "every trade waits for its own date");
        dealing
            .platform
            .record_run::<DealingCycle>(
                &dealing_cycle::workflow_id(&yesterday.to_string()),
                "late-for-a-past-date",
            )
            .await;
        // The trades' own date (its cut-off still ahead) deals them all.
        let status = dealing.deal(monday()).await.unwrap();
        assert_eq!(status.trades.len(), 3);
        assert_eq!(pending().await, 0);
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}
