//! `acme stuck` and the Temporal UI's search against a real stack: a run wedged by a signal it
//! cannot decode, and an external trade overdue for the custodian's price, each listed with why,
//! then repaired or terminated by an operator.

use std::time::Duration;

use acme_custodian::messages::Faults;
use acme_sdk::testkit::eventually;
use serde_json::Value;
use temporalio_client::{UntypedSignal, UntypedWorkflow, WorkflowSignalOptions};
use temporalio_common::data_converters::{PayloadConverter, RawValue};

use crate::cli::{Acme, one_member_buys, runs};
use crate::dealing_support::{Dealing, FUNDS, monday};
use crate::support::on_local_set;

#[tokio::test]
async fn a_run_wedged_by_a_signal_it_cannot_decode_is_listed_as_stuck() {
    on_local_set(async {
        let day = monday();
        let dealing = one_member_buys(day, "wedged").await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let acme = Acme::new(&dealing.platform);
        acme.ok(&[
            "dealing",
            "run",
            "--date",
            &day.to_string(),
            "--poll-every",
            "3600",
        ])
        .await;
        dealing.wait_until_none_in(day, "created").await;
        // What `acme signal` refuses to send, sent straight through the client: the handler
        // cannot decode it, so every attempt of the run's workflow task fails.
        let workflow_id = format!("external-trade/{day}/{}/buy", FUNDS[0]);
        let payload = RawValue::from_value(
            &serde_json::json!({"order_ref": 1}),
            &PayloadConverter::default(),
        );
        dealing
            .platform
            .temporal
            .client()
            .get_workflow_handle::<UntypedWorkflow>(workflow_id.clone())
            .signal(
                UntypedSignal::new("priced"),
                payload,
                WorkflowSignalOptions::default(),
            )
            .await
            .unwrap();
        let stuck = eventually(Duration::from_secs(30), || async {
            let output = acme.run(&["stuck", "--output", "json"]).await;
            let stuck: Value = serde_json::from_slice(&output.stdout).unwrap();
            let wedged = stuck[0]["reasons"][0]
                .as_str()
                .is_some_and(|why| why.starts_with("its workflow task has failed"));
            if wedged {
                assert_eq!(output.status.code(), Some(1), "stuck runs exit 1");
                Ok(stuck)
            } else {
                Err(format!("never listed as stuck: {stuck}"))
            }
        })
        .await;
        assert_eq!(stuck.as_array().unwrap().len(), 1, "{stuck:#}");
        assert_eq!(stuck[0]["workflow_id"], workflow_id.as_str(), "{stuck:#}");
        // Terminating it is the way out; the cycle then fails, loudly.
        acme.ok(&[
            "terminate",
            &workflow_id,
            "--reason",
            "wedged by an undecodable signal (test)",
        ])
        .await;
        assert_eq!(
            acme.closed_cycle(&day.to_string()).await["status"],
            "failed"
        );
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

#[tokio::test]
async fn a_stuck_external_trade_is_listed_with_why_and_found_by_the_ui_search() {
    on_local_set(async {
        let day = monday();
        let date = day.to_string();
        let dealing = one_member_buys(day, "stuck").await;
        // Callbacks lost, and polling (hourly) too slow to notice within the test.
        dealing
            .faults(&Faults {
                drop_callbacks: true,
                ..Faults::default()
            })
            .await;
        let worker = dealing.platform.spawn_worker("worker-1");
        let acme = Acme::new(&dealing.platform);
        let healthy = acme.json(&["stuck", "--output", "json"]).await;
        assert_eq!(healthy, serde_json::json!([]));

        acme.ok(&[
            "dealing",
            "run",
            "--date",
            &date,
            "--poll-every",
            "3600",
            "--expect-within",
            "1",
        ])
        .await;
        dealing.wait_until_none_in(day, "created").await;
        dealing.advance_one_day().await;
        // Overdue once its one second of patience has passed.
        let stuck = eventually(Duration::from_secs(30), || async {
            let output = acme.run(&["stuck", "--output", "json"]).await;
            let stuck: Value = serde_json::from_slice(&output.stdout).unwrap();
            let overdue = stuck[0]["reasons"][0]
                .as_str()
                .is_some_and(|why| why.contains("overdue"));
            if overdue {
                assert_eq!(output.status.code(), Some(1), "stuck runs exit 1");
                Ok(stuck)
            } else {
                Err(format!("not listed as overdue: {stuck}"))
            }
        })
        .await;
        let stuck = stuck.as_array().unwrap();
        let workflow_id = format!("external-trade/{date}/{}/buy", FUNDS[0]);
        assert_eq!(stuck.len(), 1, "{stuck:#?}");
        assert_eq!(stuck[0]["workflow_id"], workflow_id.as_str());
        let why = stuck[0]["reasons"][0].as_str().unwrap();
        assert!(
            why.starts_with("waiting for the custodian's price for order")
                && why.contains("overdue"),
            "{why}"
        );

        // The same run, found by the search the Temporal UI runs.
        let listing = acme
            .eventually(
                &[
                    "list",
                    "--process",
                    "external-trade",
                    "--status",
                    "running",
                    "--date",
                    &date,
                    "--output",
                    "json",
                ],
                |listing| runs(listing) == [workflow_id.as_str()],
            )
            .await;
        assert!(listing["ui"].as_str().unwrap().contains("AcmeDealingDate"));
        let trades = acme
            .json(&["dealing", "status", "--date", &date, "--output", "json"])
            .await;
        assert_eq!(trades[0]["status"], "placed");
        let waiting = acme
            .json(&["query", &workflow_id, "--output", "json"])
            .await;
        assert_eq!(waiting["stage"], "awaiting-price");

        // The repair: the operator reads the confirmation from the custodian and signals it,
        // as the lost callbacks would have; the trade then runs to settlement.
        let order_ref = waiting["order_ref"].as_str().unwrap();
        let confirmation = custodian_confirmation(&dealing, order_ref).await;
        // A signal the handler could not decode would wedge the run: it is refused unsent.
        let missing = acme.refused(&["signal", &workflow_id, "priced"]).await;
        assert!(
            missing.contains("external-trade's signal \"priced\" needs --input"),
            "{missing}"
        );
        let unfit = acme
            .refused(&[
                "signal",
                &workflow_id,
                "priced",
                "--input",
                r#"{"order_ref": 1}"#,
            ])
            .await;
        assert!(
            unfit.contains("--input does not fit external-trade's signal \"priced\""),
            "{unfit}"
        );
        let priced = confirmation.to_string();
        acme.ok(&["signal", &workflow_id, "priced", "--input", &priced])
            .await;
        acme.eventually(&["query", &workflow_id, "--output", "json"], |status| {
            status["stage"] == "awaiting-settlement"
        })
        .await;
        dealing.advance_one_day().await;
        let settled = serde_json::json!({
            "order_ref": order_ref,
            "settlement_date": confirmation["settlement_date"],
        })
        .to_string();
        acme.ok(&["signal", &workflow_id, "settled", "--input", &settled])
            .await;
        assert_eq!(acme.closed_cycle(&date).await["status"], "completed");
        assert_eq!(
            crate::dealing_support::internal_units(dealing.ledger()).await,
            dealing.holdings().await
        );
        let signals = acme
            .json(&["audit", "--workflow", &workflow_id, "--output", "json"])
            .await;
        assert_eq!(signals.as_array().unwrap().len(), 2);
        assert_eq!(signals[0]["detail"]["signal"], "settled");
        assert_eq!(signals[1]["detail"]["signal"], "priced");

        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}

/// The custodian's confirmation of an order, as its status endpoint gives it.
async fn custodian_confirmation(dealing: &Dealing, order_ref: &str) -> Value {
    let status: Value = dealing.custodian(&format!("/orders/{order_ref}")).await;
    assert_eq!(status["status"], "PRICED", "{status:#}");
    status["confirmation"].clone()
}
