//! `external-trade` end to end: duplicate, lost and failed custodian calls change nothing,
//! rejected orders release the members' cash, and a worker killed during allocation doubles
//! nothing.

use std::time::Duration;

use acme_activities::dealing::{Side, order_ref};
use acme_custodian::messages::{CallbackRecord, Faults};
use acme_workflows::dealing_cycle::Status;
use acme_workflows::external_trade::{self, ExternalTradeWorkflow};
use rust_decimal::Decimal;
use temporalio_client::WorkflowGetResultOptions;

use crate::dealing_support::*;
use crate::harness::SmallDay;
use crate::support::on_local_set;

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

/// The harness's scenario: the small day (50 members buy three funds), dealt to settlement.
pub type Harness = SmallDay<ExternalTradeWorkflow>;

#[tokio::test]
async fn awkward_amounts_and_a_partial_fill_are_allocated_exactly_by_the_rule() {
    on_local_set(async {
        // Amounts and a price whose shares never divide evenly, one of them dwarfing the rest,
        // and an order filled only in part: the database's integer arithmetic must give each
        // member exactly what `pro_rata` gives, refunds included.
        let amounts = [
            "0.01",
            "0.02",
            "0.03",
            "1.00",
            "333.33",
            "999999.99",
            "7.77",
        ];
        let dealing = Dealing::start(amounts.len(), monday()).await;
        let worker = dealing.platform.spawn_worker("awkward");
        let buys: Vec<(String, &str, Decimal)> = amounts
            .iter()
            .enumerate()
            .map(|(i, amount)| (format!("m-{i}"), FUNDS[0], amount.parse().unwrap()))
            .collect();
        book_buys(dealing.ledger(), "awkward", &buys).await;
        dealing.price(FUNDS[0], monday(), "3.333333").await;
        dealing
            .faults(&Faults {
                partial_fill: "0.777777".parse().unwrap(),
                ..Faults::default()
            })
            .await;
        dealing.deal(monday()).await.unwrap();
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), monday()).await,
            1
        );
        let refunded: Decimal =
            sqlx::query_scalar("select sum(refunded) from member_trade where asset_code = $1")
                .bind(FUNDS[0])
                .fetch_one(dealing.ledger().pool())
                .await
                .unwrap();
        assert!(
            refunded > Decimal::ZERO,
            "the partial fill refunded nothing"
        );
        assert_eq!(
            internal_units(dealing.ledger()).await,
            dealing.holdings().await
        );
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}
