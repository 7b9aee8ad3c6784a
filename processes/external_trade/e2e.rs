//! `external-trade` end to end: duplicate, lost and failed custodian calls change nothing,
//! rejected orders release the members' cash, a worker killed during allocation doubles
//! nothing, and a long wait continues as new without doing anything twice.

use std::time::Duration;

use acme_activities::dealing::{CloseDay, ExternalTrade, Side, close_day_reporting, order_ref};
use acme_activities::trade_book::{Actor, callbacks};
use acme_custodian::messages::{
    CallbackRecord, Confirmation, Faults, SIGNATURE_HEADER, sign_callback,
};
use acme_sdk::testkit::{eventually, record_history};
use acme_workflows::dealing_cycle::Status;
use acme_workflows::external_trade::{self, ExternalTradeWorkflow, Stage};
use rust_decimal::Decimal;
use temporalio_client::{
    Client, WorkflowFetchHistoryOptions, WorkflowGetResultOptions, WorkflowHandle,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

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
async fn lost_callbacks_are_found_by_polling_and_a_late_one_is_kept_not_acted_on() {
    on_local_set(async {
        let (dealing, worker) = deal_small_day_despite(Faults {
            drop_callbacks: true,
            ..Faults::default()
        })
        .await;
        // The settlement callback arrives after its run closed: stored, answered with the code
        // that says nobody acted on it, and the books are as they were.
        let order = order_ref(monday(), FUNDS[0], Side::Buy);
        let entries = entries_by_kind(dealing.ledger()).await;
        let body = serde_json::json!({
            "event": "settled", "order_ref": order, "settlement_date": monday().to_string(),
        })
        .to_string();
        let late = dealing
            .http
            .post(&dealing.callback_url)
            .header("content-type", "application/json")
            .header(
                SIGNATURE_HEADER,
                sign_callback(&callback_secret(), body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(late.status(), 200);
        let answer: serde_json::Value = late.json().await.unwrap();
        assert_eq!(answer["code"], "callback.run_closed", "{answer}");
        let kept = callbacks::for_order(dealing.ledger().pool(), &order)
            .await
            .unwrap();
        assert_eq!(kept.len(), 1, "the dropped ones never arrived: {kept:?}");
        assert_eq!(kept[0].kind, "settled");
        assert_eq!(entries_by_kind(dealing.ledger()).await, entries);
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

#[tokio::test]
async fn forged_inputs_and_signals_move_nothing_the_custodian_did_not_confirm() {
    on_local_set(async {
        let (dealing, worker) = small_day_with_worker().await;
        let cycle = dealing.start_cycle(monday()).await;
        dealing.wait_until_none_in(monday(), "created").await;
        // A run started by hand with another side and ten times the total, for a sealed trade:
        // place_order checks the trade book's own trade and places nothing.
        let sealed = sealed_trade(dealing.ledger(), FUNDS[0]).await;
        let mut forged_trade = sealed.clone();
        forged_trade.side = Side::Sell;
        forged_trade.ordered_total *= Decimal::TEN;
        forged_trade.order_ref = order_ref(monday(), FUNDS[0], Side::Sell);
        let forged_run = acme_sdk::start::<ExternalTradeWorkflow>(
            dealing.platform.temporal.client(),
            &dealing.platform.temporal.queues,
            external_trade::Input {
                trade: forged_trade.clone(),
                poll_every_secs: 1,
                expect_within_secs: 60,
                polls_per_run: None,
                resume: None,
            },
        )
        .await
        .unwrap();
        let refused = forged_run
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            crate::support::failure_code(&refused).as_deref(),
            Some("external_trade.input_mismatch")
        );
        let unknown = dealing
            .http
            .get(format!(
                "{}/orders/{}",
                dealing.platform.custodian_url, forged_trade.order_ref
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(
            unknown.status(),
            404,
            "the custodian never saw the forged order"
        );
        // Anyone who can reach Temporal claims ten times the units before the custodian prices.
        let order = order_ref(monday(), FUNDS[0], Side::Buy);
        let forged: Confirmation = serde_json::from_value(serde_json::json!({
            "msg_type": "setr.012", "order_ref": order, "confirmation_ref": "FORGED-1",
            "isin": FUNDS[0], "trade_date": monday(), "price": "0.100000",
            "units": "62372.500000", "gross_amount": "6237.25", "charges": "0.00",
            "net_amount": "6237.25", "settlement_amount": "6237.25",
            "settlement_date": monday() + chrono::Days::new(2),
        }))
        .unwrap();
        let trade = dealing
            .platform
            .temporal
            .client()
            .get_workflow_handle::<ExternalTradeWorkflow>(format!(
                "external-trade/{}/{}/buy",
                monday(),
                FUNDS[0]
            ));
        trade
            .signal(ExternalTradeWorkflow::priced, forged, Default::default())
            .await
            .unwrap();
        dealing.finish_cycle(monday(), cycle).await.unwrap();
        // Allocated from what the custodian confirmed, and our units equal its holdings.
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), monday()).await,
            3
        );
        assert_eq!(
            internal_units(dealing.ledger()).await,
            dealing.holdings().await
        );
        let status = trade
            .query(ExternalTradeWorkflow::status, (), Default::default())
            .await
            .unwrap();
        assert!(
            status
                .ignored_callbacks
                .iter()
                .any(|kept| kept.contains("claimed 62372.500000 units")),
            "{status:#?}"
        );
        let run = format!("external-trade/{}/{}/buy", monday(), FUNDS[0]);
        dealing
            .platform
            .record_run::<ExternalTradeWorkflow>(&run, "forged-price-signal")
            .await;
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

#[tokio::test]
async fn a_long_wait_continues_as_new_keeps_its_deadline_and_allocates_once() {
    on_local_set(async {
        let dealing = Dealing::start(3, monday()).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let buys: Vec<(String, &str, Decimal)> = (0..3_i64)
            .map(|i| {
                (
                    format!("m-{i}"),
                    FUNDS[0],
                    Decimal::new(10_000 + i * 101, 2),
                )
            })
            .collect();
        book_buys(dealing.ledger(), "long", &buys).await;
        // No callbacks: the custodian answers only when asked, and prices only when its day
        // moves on, so the run polls (every second) and continues as new every two polls.
        dealing
            .faults(&Faults {
                drop_callbacks: true,
                ..Faults::default()
            })
            .await;
        let close = CloseDay {
            dealing_date: monday(),
            cutoff: acme_sdk::cutoff::cutoff_of(monday()),
        };
        let cycle = Actor::new(format!("dealing/{}", monday()), "test:long-wait");
        let mut sealed =
            close_day_reporting(dealing.ledger(), &cycle, &close, |_| async { Ok(()) })
                .await
                .unwrap();
        assert_eq!(sealed.len(), 1, "{sealed:?}");
        let first = acme_sdk::start::<ExternalTradeWorkflow>(
            dealing.platform.temporal.client(),
            &dealing.platform.temporal.queues,
            external_trade::Input {
                trade: sealed.remove(0),
                poll_every_secs: 1,
                expect_within_secs: 3_600,
                polls_per_run: Some(2),
                resume: None,
            },
        )
        .await
        .unwrap();
        let latest = dealing
            .platform
            .temporal
            .client()
            .get_workflow_handle::<ExternalTradeWorkflow>(first.info().workflow_id.clone());

        // Waiting for the price, the run continued as new and its deadline stood.
        let runs = chain_until(&first, |runs| runs.len() >= 2).await;
        let continued = latest
            .query(ExternalTradeWorkflow::status, (), Default::default())
            .await
            .unwrap();
        let at_switch = status_of(&first, &runs[0].run_id).await;
        assert_eq!(continued.stage, Stage::AwaitingPrice, "{continued:#?}");
        assert!(at_switch.waiting.is_some(), "{at_switch:#?}");
        assert_eq!(continued.waiting, at_switch.waiting);
        // The continued runs keep the search attributes `acme stuck` and the UI find runs by.
        let query = format!(
            "WorkflowId = '{}' AND RunId != '{}' AND {} = '{}' AND ExecutionStatus = 'Running'",
            first.info().workflow_id,
            runs[0].run_id,
            acme_sdk::search::PROCESS.name(),
            external_trade::NAME
        );
        assert_eq!(dealing.platform.runs_found_by(&query, 1).await, 1);

        // Priced and allocated, then the wait for settlement continued as new too.
        dealing.advance_one_day().await;
        let runs = chain_until(&first, |runs| {
            allocating(runs).is_some_and(|run| run + 1 < runs.len())
        })
        .await;
        let allocated = allocating(&runs).unwrap();
        let continued = latest
            .query(ExternalTradeWorkflow::status, (), Default::default())
            .await
            .unwrap();
        let at_switch = status_of(&first, &runs[allocated].run_id).await;
        assert_eq!(continued.stage, Stage::AwaitingSettlement, "{continued:#?}");
        assert!(
            at_switch
                .waiting
                .as_ref()
                .is_some_and(|w| w.what.starts_with("settlement of order")),
            "{at_switch:#?}"
        );
        assert_eq!(continued.waiting, at_switch.waiting);

        dealing.advance_one_day().await;
        let outcome = tokio::time::timeout(
            Duration::from_secs(120),
            first.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(
            matches!(
                &outcome,
                external_trade::Outcome::Settled { allocation } if allocation.member_trades == 3
            ),
            "{outcome:?}"
        );
        // Across the runs, every step ran once and each run polled at most twice.
        let runs = chain_until(&first, |_| true).await;
        let ran = |activity: &str| -> usize {
            runs.iter()
                .map(|run| run.activities.iter().filter(|a| *a == activity).count())
                .sum()
        };
        for step in [
            "custodian.place_order",
            "dealing.mark_placed",
            "dealing.record_priced",
            "dealing.allocate",
            "dealing.settle",
        ] {
            assert_eq!(ran(step), 1, "{step} in {runs:#?}");
        }
        assert!(runs.iter().all(|run| run.polls() <= 2), "{runs:#?}");
        let last = runs.last().unwrap();
        assert!(last.activities.contains(&"dealing.settle".to_owned()));
        let settled = status_of(&first, &last.run_id).await;
        assert_eq!(settled.stage, Stage::Settled);
        assert_eq!(
            usize::try_from(settled.polls).unwrap(),
            ran("custodian.order_status"),
            "the polls of every run are counted: {settled:#?}"
        );
        let entries = entries_by_kind(dealing.ledger()).await;
        assert_eq!(entries.get("dealing.priced"), Some(&1), "{entries:?}");
        assert_eq!(entries.get("dealing.allocated"), Some(&3), "{entries:?}");
        assert_eq!(entries.get("dealing.settled"), Some(&3), "{entries:?}");
        assert_eq!(
            assert_allocations_follow_the_rule(dealing.ledger(), monday()).await,
            1
        );
        assert_eq!(
            internal_units(dealing.ledger()).await,
            dealing.holdings().await
        );

        let allocated = allocating(&runs).unwrap();
        for (run, name) in [
            (&runs[0], "continued-as-new-waiting-for-price"),
            (&runs[allocated], "continued-as-new-after-allocating"),
            (last, "continued-as-new-settled"),
        ] {
            let history = run_of(&first, &run.run_id).fetch_history(Default::default());
            record_history(history, external_trade::NAME, name)
                .await
                .unwrap();
        }
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// One run of a trade's chain of runs, and the activities it scheduled, in order.
#[derive(Debug)]
struct Run {
    run_id: String,
    activities: Vec<String>,
}

impl Run {
    fn polls(&self) -> usize {
        self.activities
            .iter()
            .filter(|a| *a == "custodian.order_status")
            .count()
    }
}

/// The run of the chain that allocated.
fn allocating(runs: &[Run]) -> Option<usize> {
    runs.iter()
        .position(|run| run.activities.contains(&"dealing.allocate".to_owned()))
}

/// `first`'s run `run_id` (a handle by workflow id alone follows to the latest run).
fn run_of(
    first: &WorkflowHandle<Client, ExternalTradeWorkflow>,
    run_id: &str,
) -> WorkflowHandle<Client, ExternalTradeWorkflow> {
    let mut info = first.info().clone();
    info.run_id = Some(run_id.to_owned());
    WorkflowHandle::new(first.client().clone(), info)
}

/// What run `run_id` of the chain answers to its status query (a closed run answers with its
/// last status).
async fn status_of(
    first: &WorkflowHandle<Client, ExternalTradeWorkflow>,
    run_id: &str,
) -> external_trade::Status {
    run_of(first, run_id)
        .query(ExternalTradeWorkflow::status, (), Default::default())
        .await
        .unwrap()
}

/// The chain of runs from `first`, each found from the one it continues, once `enough` holds of
/// it (within a minute).
async fn chain_until(
    first: &WorkflowHandle<Client, ExternalTradeWorkflow>,
    enough: impl Fn(&[Run]) -> bool,
) -> Vec<Run> {
    eventually(Duration::from_secs(60), || async {
        let mut runs = Vec::new();
        let mut next = first.info().run_id.clone();
        while let Some(run_id) = next.take() {
            let events = run_of(first, &run_id)
                .fetch_history(WorkflowFetchHistoryOptions::default())
                .into_events()
                .await
                .map_err(|e| e.to_string())?;
            let mut activities = Vec::new();
            for event in events {
                match event.attributes {
                    Some(Attributes::ActivityTaskScheduledEventAttributes(scheduled)) => {
                        activities.extend(scheduled.activity_type.map(|t| t.name));
                    }
                    Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(next_run)) => {
                        next = Some(next_run.new_execution_run_id);
                    }
                    _ => {}
                }
            }
            runs.push(Run { run_id, activities });
        }
        if enough(&runs) {
            Ok(runs)
        } else {
            Err(format!("the chain is not there yet: {runs:#?}"))
        }
    })
    .await
}

/// The sealed external trade buying `asset` on [`monday`], as the trade book holds it.
async fn sealed_trade(ledger: &acme_ledger::Ledger, asset: &str) -> ExternalTrade {
    let id = acme_activities::dealing::external_trade_id(&order_ref(monday(), asset, Side::Buy));
    acme_activities::dealing::stored_trade(ledger, id)
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn a_zero_fill_refunds_every_member_in_full() {
    on_local_set(async {
        let dealing = Dealing::start(1, monday()).await;
        let worker = dealing.platform.spawn_worker("worker-1");
        // Half of one penny rounds down to nothing: the custodian deals none of the order.
        let penny = Decimal::new(1, 2);
        book_buys(
            dealing.ledger(),
            "zero",
            &[("m-0".to_owned(), FUNDS[0], penny)],
        )
        .await;
        dealing
            .faults(&Faults {
                partial_fill: Decimal::new(5, 1),
                ..Faults::default()
            })
            .await;
        let status = dealing.deal(monday()).await.unwrap();
        let outcome = status.trades[0].outcome.clone();
        assert!(
            matches!(
                &outcome,
                Some(Ok(external_trade::Outcome::Rejected { reason, released: 1 }))
                    if reason.contains("zero fill")
            ),
            "{outcome:?}"
        );
        assert_eq!(reserved_total(dealing.ledger()).await, Decimal::ZERO);
        assert_eq!(dealing.platform.cash("m-0", "available").await, penny);
        let entries = entries_by_kind(dealing.ledger()).await;
        assert_eq!(
            entries.get("dealing.priced"),
            None,
            "nothing moved: {entries:?}"
        );
        assert_eq!(entries.get("dealing.released"), Some(&1));
        let run = format!("external-trade/{}/{}/buy", monday(), FUNDS[0]);
        dealing
            .platform
            .record_run::<ExternalTradeWorkflow>(&run, "zero-fill")
            .await;
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
