//! The simulator's bank side as the platform sees it (real PostgreSQL, the real HTTP server):
//! staged employer payments and the custodian's settlements on one `camt.053` statement, every
//! movement booked up to its date; a payment staged twice is one payment, and bad payments are
//! refused with a stable code. The payment provider's side: members' payments under their
//! request ids (longer than a bank reference may be) on its own statement, never the bank's.
#![allow(clippy::unwrap_used)]

use acme_custodian::Simulator;
use acme_custodian::messages::CashStatement;
use acme_custodian::testkit::TestDatabase;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

async fn post(http: &reqwest::Client, url: &str, body: Value) -> (StatusCode, Value) {
    let response = http.post(url).json(&body).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// The status and error code a refused post gets.
async fn refusal(http: &reqwest::Client, url: &str, body: Value) -> (StatusCode, String) {
    let (status, body) = post(http, url, body).await;
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// A simulator on its own database whose business date is Monday 2026-11-23.
async fn simulator_on_monday() -> (TestDatabase, Simulator) {
    let db = TestDatabase::create().await.unwrap();
    let mut config = db.config();
    config.start_date = Some("2026-11-23".parse().unwrap());
    let simulator = Simulator::start(config).await.unwrap();
    (db, simulator)
}

#[tokio::test]
async fn the_bank_statement_lists_staged_payments_up_to_its_date_and_refuses_bad_ones() {
    let (db, simulator) = simulator_on_monday().await;
    let base = simulator.base_url();
    let http = reqwest::Client::new();
    let payments = format!("{base}/bank/payments");

    let monday =
        json!({"payment_id": "p-1", "reference": "CS0123456789ABCDEF", "amount": "6277.25"});
    let (status, staged) = post(&http, &payments, monday.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{staged}");
    assert_eq!(
        staged["booking_date"], "2026-11-23",
        "booked on the business date"
    );
    // The same payment again is the same payment; the same id with another amount is refused.
    assert_eq!(post(&http, &payments, monday).await.0, StatusCode::OK);
    assert_eq!(
        refusal(
            &http,
            &payments,
            json!({"payment_id": "p-1", "reference": "CS0123456789ABCDEF", "amount": "1.00"})
        )
        .await,
        (StatusCode::CONFLICT, "payment.conflict".to_owned())
    );
    let tuesday = json!({"payment_id": "p-2", "reference": "CS0123456789ABCDEF", "amount": "10",
                         "booking_date": "2026-11-24"});
    assert_eq!(post(&http, &payments, tuesday).await.0, StatusCode::CREATED);
    for bad in [
        json!({"payment_id": "p-3", "reference": "R", "amount": "-5"}),
        json!({"payment_id": "p-3", "reference": "R", "amount": "0.001"}),
        json!({"payment_id": "p-3", "reference": "", "amount": "5"}),
        json!({"payment_id": "p-3", "reference": "R".repeat(36), "amount": "5"}),
    ] {
        let (status, body) = post(&http, &payments, bad.clone()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("payment.invalid")),
            "{bad}"
        );
    }
    assert_eq!(
        refusal(
            &http,
            &payments,
            json!({"payment_id": "p-3", "reference": "R", "amount": 5})
        )
        .await,
        (StatusCode::BAD_REQUEST, "message.malformed".to_owned())
    );

    let statement = |as_of: &'static str| {
        let http = http.clone();
        let url = format!("{base}/bank/statement?as_of={as_of}");
        async move {
            let response = http.get(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<CashStatement>().await.unwrap()
        }
    };
    let first = statement("2026-11-23").await;
    assert_eq!(first.currency, "GBP");
    assert_eq!(first.entries.len(), 1);
    assert_eq!(first.entries[0].order_ref, "CS0123456789ABCDEF");
    assert_eq!(first.closing_balance, Decimal::new(627_725, 2));
    let second = statement("2026-11-24").await;
    let amounts: Vec<Decimal> = second.entries.iter().map(|e| e.amount).collect();
    assert_eq!(amounts, [Decimal::new(627_725, 2), Decimal::TEN]);
    assert_eq!(second.closing_balance, Decimal::new(628_725, 2));

    simulator.stop().await.unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn the_provider_lists_members_payments_under_their_request_ids_apart_from_the_bank() {
    let (db, simulator) = simulator_on_monday().await;
    let base = simulator.base_url();
    let http = reqwest::Client::new();
    let payments = format!("{base}/provider/payments");
    let request_id = "0b67faf3-5bb6-439d-85da-db90ab730425";

    let payment = json!({"payment_id": "pp-1", "reference": request_id, "amount": "250.00"});
    let (status, staged) = post(&http, &payments, payment.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{staged}");
    assert_eq!(post(&http, &payments, payment).await.0, StatusCode::OK);
    assert_eq!(
        refusal(
            &http,
            &payments,
            json!({"payment_id": "pp-1", "reference": request_id, "amount": "25.00"})
        )
        .await,
        (StatusCode::CONFLICT, "payment.conflict".to_owned())
    );
    assert_eq!(
        refusal(
            &http,
            &payments,
            json!({"payment_id": "pp-2", "reference": "R".repeat(41), "amount": "5"})
        )
        .await,
        (StatusCode::BAD_REQUEST, "payment.invalid".to_owned())
    );

    let get = |route: &'static str| {
        let http = http.clone();
        let url = format!("{base}/{route}?as_of=2026-11-23");
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<CashStatement>()
                .await
                .unwrap()
        }
    };
    let provider = get("provider/statement").await;
    assert_eq!(provider.entries.len(), 1);
    assert_eq!(provider.entries[0].order_ref, request_id);
    assert_eq!(provider.closing_balance, Decimal::new(25_000, 2));
    assert!(
        get("bank/statement").await.entries.is_empty(),
        "the provider's collections are not the bank's lines"
    );

    simulator.stop().await.unwrap();
    db.drop_database().await.unwrap();
}
