//! The simulator's bank side as the platform sees it (real PostgreSQL, the real HTTP server):
//! staged employer payments and the custodian's settlements on one `camt.053` statement, every
//! movement booked up to its date; a payment staged twice is one payment, and bad payments are
//! refused with a stable code.
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

#[tokio::test]
async fn the_bank_statement_lists_staged_payments_up_to_its_date_and_refuses_bad_ones() {
    let db = TestDatabase::create().await.unwrap();
    let mut config = db.config();
    config.start_date = Some("2026-11-23".parse().unwrap());
    let simulator = Simulator::start(config).await.unwrap();
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
    let (status, body) = post(
        &http,
        &payments,
        json!({"payment_id": "p-1", "reference": "CS0123456789ABCDEF", "amount": "1.00"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("payment.conflict"))
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
    let (status, body) = post(
        &http,
        &payments,
        json!({"payment_id": "p-3", "reference": "R", "amount": 5}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("message.malformed"))
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
