//! The simulator as the platform sees it: real PostgreSQL (a fresh database per test), the real
//! HTTP server on a free port, and a small HTTP receiver standing in for the platform's
//! callback endpoint. Nothing is mocked.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acme_custodian::messages::{
    Callback, CallbackRecord, CallbackSecret, OrderState, OrderStatus, SIGNATURE_HEADER,
    callback_signature_holds,
};
use acme_custodian::testkit::TestDatabase;
use acme_custodian::{Config, Simulator};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// A Thursday: the first advance reaches Friday, the second crosses the weekend to Monday.
const START: &str = "2026-11-19";
const ISIN: &str = "GB00TEST0001";
/// How long a test waits for something to happen before failing.
const DEADLINE: Duration = Duration::from_secs(10);
/// The secret the simulator signs callbacks with.
const SECRET: &str = "simulator-test-secret-of-32-bytes-or-more";

fn secret() -> CallbackSecret {
    CallbackSecret::new(SECRET).unwrap()
}

/// The platform's callback endpoint: checks each callback's signature, records what arrives,
/// and can fail the first N requests.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Callback>>>,
    fail_next: Arc<AtomicU32>,
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    // A callback the platform could not trust never counts as received.
    let signed = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|signature| callback_signature_holds(&secret(), &body, signature));
    if !signed {
        return StatusCode::UNAUTHORIZED;
    }
    let callback: Callback = serde_json::from_slice(&body).unwrap();
    let fail = receiver
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if fail {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    receiver.received.lock().unwrap().push(callback);
    StatusCode::NO_CONTENT
}

impl Receiver {
    fn callbacks(&self) -> Vec<Callback> {
        self.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Callback> {
        eventually(&format!("{count} callbacks"), || async {
            let callbacks = self.callbacks();
            (callbacks.len() >= count).then_some(callbacks)
        })
        .await
    }
}

/// Polls `check` until it yields a value, failing the test after [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Harness {
    db: Option<TestDatabase>,
    simulator: Option<Simulator>,
    receiver: Receiver,
    receiver_task: JoinHandle<()>,
    receiver_url: String,
    http: reqwest::Client,
}

impl Harness {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let receiver = Receiver::default();
        let app = axum::Router::new()
            .route("/custodian/callbacks", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver_url = format!(
            "http://{}/custodian/callbacks",
            listener.local_addr().unwrap()
        );
        let receiver_task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let mut harness = Self {
            db: Some(TestDatabase::create().await.unwrap()),
            simulator: None,
            receiver,
            receiver_task,
            receiver_url,
            http: reqwest::Client::new(),
        };
        harness.start_simulator(tweak).await;
        harness
    }

    async fn start_simulator(&mut self, tweak: impl FnOnce(&mut Config)) {
        let mut config = self.db.as_ref().unwrap().config();
        config.callback_url = Some(self.receiver_url.clone());
        config.callback_secret = Some(secret());
        config.start_date = Some(START.parse().unwrap());
        tweak(&mut config);
        self.simulator = Some(Simulator::start(config).await.unwrap());
    }

    async fn stop_simulator(&mut self) {
        self.simulator.take().unwrap().stop().await.unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.simulator.as_ref().unwrap().base_url())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    async fn place(&self, order: &Value) -> OrderStatus {
        let (status, body) = self.post("/orders", order).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        serde_json::from_value(body).unwrap()
    }

    async fn set_faults(&self, faults: Value) {
        let (status, body) = self.put("/admin/faults", &faults).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn advance(&self, days: u32) -> Value {
        let (status, body) = self
            .post("/admin/clock/advance", &json!({ "days": days }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn order(&self, order_ref: &str) -> OrderStatus {
        let (status, body) = self.get(&format!("/orders/{order_ref}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    async fn order_status_code(&self, order_ref: &str) -> StatusCode {
        self.get(&format!("/orders/{order_ref}")).await.0
    }

    async fn wait_for_state(&self, order_ref: &str, state: OrderState) -> OrderStatus {
        eventually(&format!("{order_ref} {state:?}"), || async {
            let order = self.order(order_ref).await;
            (order.status == state).then_some(order)
        })
        .await
    }

    async fn callback_records(&self) -> Vec<CallbackRecord> {
        let (_, body) = self.get("/admin/callbacks").await;
        serde_json::from_value(body).unwrap()
    }

    /// Waits until no callback is pending, so counts at the receiver are final.
    async fn wait_for_deliveries(&self, count: usize) -> Vec<CallbackRecord> {
        eventually("callbacks to finish", || async {
            let records = self.callback_records().await;
            let done = records.len() >= count && records.iter().all(|r| r.state != "pending");
            done.then_some(records)
        })
        .await
    }

    async fn finish(mut self) {
        if self.simulator.is_some() {
            self.stop_simulator().await;
        }
        self.receiver_task.abort();
        self.db.take().unwrap().drop_database().await.unwrap();
    }
}

fn buy(order_ref: &str, isin: &str, trade_date: &str, cash: &str) -> Value {
    json!({"msg_type": "setr.010", "order_ref": order_ref, "isin": isin,
           "trade_date": trade_date, "cash_amount": cash})
}

fn sell(order_ref: &str, isin: &str, trade_date: &str, units: &str) -> Value {
    json!({"msg_type": "setr.004", "order_ref": order_ref, "isin": isin,
           "trade_date": trade_date, "units": units})
}

/// The confirmation in the `priced` callback of an order, as JSON.
fn priced(callbacks: &[Callback], order_ref: &str) -> Value {
    let found = callbacks
        .iter()
        .find(|c| c.event() == "priced" && c.order_ref() == order_ref)
        .unwrap();
    serde_json::to_value(found).unwrap()["confirmation"].take()
}

#[tokio::test]
async fn orders_are_idempotent_and_bad_input_is_refused_with_a_code() {
    let h = Harness::start().await;
    assert_eq!(h.get("/health").await.0, StatusCode::OK);

    let order = buy("BUY-1", ISIN, START, "1000.50");
    let (status, first) = h.post("/orders", &order).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        first,
        json!({"msg_type": "setr.016", "order_ref": "BUY-1", "status": "RECEIVED",
               "reason": null, "confirmation": null})
    );
    assert_eq!(
        h.post("/orders", &order).await,
        (StatusCode::OK, first.clone())
    );
    // The same amount written with another trailing zero is the same order.
    let same = buy("BUY-1", ISIN, START, "1000.5");
    assert_eq!(h.post("/orders", &same).await, (StatusCode::OK, first));
    let (status, body) = h
        .post("/orders", &buy("BUY-1", ISIN, START, "999.00"))
        .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::CONFLICT, &json!("order.conflict"))
    );

    let long_ref = "R".repeat(36);
    let cases = [
        (
            buy("B-2", ISIN, START, "10.005"),
            "amount.too_many_decimals",
        ),
        (buy("B-2", ISIN, START, "0"), "amount.out_of_range"),
        (buy("B-2", ISIN, START, "-5.00"), "amount.out_of_range"),
        (buy("B-2", ISIN, START, "1e3"), "message.malformed"),
        (
            json!({"msg_type": "setr.010", "order_ref": "B-2", "isin": ISIN,
                "trade_date": START, "cash_amount": 10.5}),
            "message.malformed",
        ),
        (
            sell("S-2", ISIN, START, "1.0000001"),
            "amount.too_many_decimals",
        ),
        (buy(&long_ref, ISIN, START, "10.00"), "reference.too_long"),
        (buy("B/2", ISIN, START, "10.00"), "reference.invalid"),
        (buy("B-2", "not an isin", START, "10.00"), "isin.invalid"),
        (
            json!({"msg_type": "setr.999", "order_ref": "B-2"}),
            "message.unknown_type",
        ),
    ];
    for (order, code) in cases {
        let (status, body) = h.post("/orders", &order).await;
        assert_eq!(
            (status, &body["code"]),
            (StatusCode::BAD_REQUEST, &json!(code)),
            "{order}"
        );
    }
    let not_json = h
        .send(h.http.post(h.url("/orders")).body("{not json"))
        .await;
    assert_eq!(not_json.0, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.1["code"], "message.malformed");

    let (status, body) = h.get("/orders/NOPE").await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::NOT_FOUND, &json!("order.unknown"))
    );

    let late = h.place(&buy("LATE-1", ISIN, "2026-11-18", "10.00")).await;
    assert_eq!(late.status, OrderState::Rejected);
    assert_eq!(late.reason.as_deref(), Some("trade date closed"));
    h.finish().await;
}

#[tokio::test]
async fn a_day_prices_then_settles_with_exact_confirmations_and_statements() {
    let h = Harness::start().await;
    h.set_faults(json!({"partial_fill": "0.75", "dealing_charge_bps": 25}))
        .await;
    let (status, _) = h
        .put(
            &format!("/admin/prices/{ISIN}/{START}"),
            &json!({"price": "1.2345678"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    h.place(&buy("BUY-1", ISIN, START, "1000.00")).await;
    h.place(&sell("SELL-1", ISIN, START, "100.000000")).await;

    let clock = h.advance(1).await;
    assert_eq!(clock["business_date"], "2026-11-20");
    let callbacks = h.receiver.wait_for(2).await;
    assert_eq!(
        priced(&callbacks, "BUY-1"),
        json!({"msg_type": "setr.012", "order_ref": "BUY-1", "confirmation_ref": "CNF0000000001",
                "isin": ISIN, "trade_date": START, "price": "1.2345678", "units": "605.985349",
                "gross_amount": "750.00", "charges": "1.87", "net_amount": "748.13",
                "settlement_amount": "750.00", "settlement_date": "2026-11-23"})
    );
    assert_eq!(
        priced(&callbacks, "SELL-1"),
        json!({"msg_type": "setr.006", "order_ref": "SELL-1", "confirmation_ref": "CNF0000000002",
                "isin": ISIN, "trade_date": START, "price": "1.2345678", "units": "75.000000",
                "gross_amount": "92.59", "charges": "0.23", "net_amount": "92.36",
                "settlement_amount": "92.36", "settlement_date": "2026-11-23"})
    );
    let buy_status = h.order("BUY-1").await;
    assert_eq!(buy_status.status, OrderState::Priced);
    assert_eq!(
        serde_json::to_value(&buy_status.confirmation).unwrap(),
        priced(&callbacks, "BUY-1")
    );
    let (_, holdings) = h.get("/statements/holdings").await;
    assert_eq!(
        holdings["holdings"],
        json!([]),
        "nothing is held before settlement"
    );

    // Friday to Monday: T+2 from Thursday.
    assert_eq!(h.advance(1).await["business_date"], "2026-11-23");
    let callbacks = h.receiver.wait_for(4).await;
    let mut settled: Vec<Value> = callbacks[2..]
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    settled.sort_by_key(|c| c["order_ref"].as_str().unwrap().to_owned());
    assert_eq!(
        settled,
        [
            json!({"event": "settled", "order_ref": "BUY-1", "settlement_date": "2026-11-23"}),
            json!({"event": "settled", "order_ref": "SELL-1", "settlement_date": "2026-11-23"}),
        ]
    );
    assert_eq!(h.order("SELL-1").await.status, OrderState::Settled);

    let (_, holdings) = h.get("/statements/holdings").await;
    assert_eq!(
        holdings,
        json!({"msg_type": "semt.002", "as_of": "2026-11-23",
               "holdings": [{"isin": ISIN, "units": "530.985349"}]})
    );
    let (_, before) = h.get("/statements/holdings?as_of=2026-11-20").await;
    assert_eq!(before["holdings"], json!([]));
    let (_, cash) = h.get("/statements/cash").await;
    assert_eq!(
        cash,
        json!({"msg_type": "camt.053", "as_of": "2026-11-23", "currency": "GBP",
               "entries": [
                   {"order_ref": "BUY-1", "booking_date": "2026-11-23", "amount": "-750.00"},
                   {"order_ref": "SELL-1", "booking_date": "2026-11-23", "amount": "92.36"}],
               "closing_balance": "-657.64"})
    );
    let records = h.wait_for_deliveries(4).await;
    assert!(
        records
            .iter()
            .all(|r| r.state == "delivered" && r.attempts == 1)
    );
    h.finish().await;
}

#[tokio::test]
async fn duplicated_callbacks_arrive_twice() {
    let h = Harness::start().await;
    h.set_faults(json!({"duplicate_callbacks": true})).await;
    h.place(&buy("BUY-1", ISIN, START, "10.00")).await;
    h.advance(1).await;
    let records = h.wait_for_deliveries(1).await;
    assert_eq!((records[0].copies, records[0].attempts), (2, 2));
    let callbacks = h.receiver.callbacks();
    assert_eq!(callbacks.len(), 2);
    assert_eq!(callbacks[0], callbacks[1]);
    h.finish().await;
}

#[tokio::test]
async fn dropped_callbacks_leave_the_platform_to_poll() {
    let h = Harness::start().await;
    h.set_faults(json!({"drop_callbacks": true})).await;
    h.place(&buy("BUY-1", ISIN, START, "10.00")).await;
    h.advance(1).await;
    let order = h.wait_for_state("BUY-1", OrderState::Priced).await;
    let confirmation = order.confirmation.unwrap();
    assert_eq!(confirmation.gross_amount.to_string(), "10.00");
    let records = h.wait_for_deliveries(1).await;
    assert_eq!(
        (records[0].state.as_str(), records[0].attempts),
        ("dropped", 0)
    );
    assert!(h.receiver.callbacks().is_empty());
    h.finish().await;
}

#[tokio::test]
async fn an_error_burst_answers_503_then_recovers() {
    let h = Harness::start().await;
    h.set_faults(json!({"error_burst": 3})).await;
    let order = buy("BUY-1", ISIN, START, "10.00");
    for _ in 0..3 {
        let (status, body) = h.post("/orders", &order).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "custodian.unavailable");
    }
    assert_eq!(h.order_status_code("BUY-1").await, StatusCode::NOT_FOUND);
    assert_eq!(h.place(&order).await.status, OrderState::Received);

    h.set_faults(json!({"error_rate": "1"})).await;
    assert_eq!(
        h.order_status_code("BUY-1").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    h.set_faults(json!({})).await;
    assert_eq!(h.order_status_code("BUY-1").await, StatusCode::OK);
    h.finish().await;
}

#[tokio::test]
async fn rejected_isins_are_refused_with_a_reason() {
    let h = Harness::start().await;
    h.set_faults(json!({"reject_isins": ["GB00BAD00001"]}))
        .await;
    let order = buy("BUY-1", "GB00BAD00001", START, "10.00");
    let rejected = h.place(&order).await;
    assert_eq!(rejected.status, OrderState::Rejected);
    assert_eq!(
        rejected.reason.as_deref(),
        Some("isin GB00BAD00001 is not dealt by the custodian")
    );
    let (status, again) = h.post("/orders", &order).await;
    assert_eq!(
        (status, again["status"].as_str()),
        (StatusCode::OK, Some("REJECTED"))
    );
    h.advance(1).await;
    assert_eq!(h.order("BUY-1").await.status, OrderState::Rejected);
    h.finish().await;
}

#[tokio::test]
async fn a_failing_platform_gets_retries() {
    let h = Harness::start().await;
    h.receiver.fail_next.store(2, Ordering::SeqCst);
    h.place(&buy("BUY-1", ISIN, START, "10.00")).await;
    h.advance(1).await;
    let records = h.wait_for_deliveries(1).await;
    assert_eq!(
        (records[0].state.as_str(), records[0].attempts),
        ("delivered", 3)
    );
    assert_eq!(h.receiver.callbacks().len(), 1);
    h.finish().await;
}

#[tokio::test]
async fn a_restart_carries_on_where_it_stopped() {
    let mut h = Harness::start().await;
    h.place(&buy("BUY-1", ISIN, START, "10.00")).await;
    h.advance(1).await;
    h.receiver.wait_for(1).await;
    h.place(&buy("BUY-2", ISIN, "2026-11-20", "20.00")).await;
    h.stop_simulator().await;

    // The stored clock wins over a new start date.
    h.start_simulator(|config| config.start_date = Some("2027-01-04".parse().unwrap()))
        .await;
    let (_, clock) = h.get("/admin/clock").await;
    assert_eq!(clock["business_date"], "2026-11-20");
    assert_eq!(h.order("BUY-1").await.status, OrderState::Priced);
    assert_eq!(h.order("BUY-2").await.status, OrderState::Received);
    h.advance(1).await;
    let callbacks = h.receiver.wait_for(3).await;
    let events: Vec<(&str, &str)> = callbacks
        .iter()
        .map(|c| (c.event(), c.order_ref()))
        .collect();
    assert_eq!(
        events,
        [
            ("priced", "BUY-1"),
            ("priced", "BUY-2"),
            ("settled", "BUY-1")
        ]
    );
    h.finish().await;
}

#[tokio::test]
async fn the_automatic_clock_moves_by_itself_and_price_delay_holds_confirmations() {
    let h =
        Harness::start_with(|config| config.day_length = Some(Duration::from_millis(400))).await;
    let (_, clock) = h.get("/admin/clock").await;
    assert_eq!(clock["mode"], "automatic");
    // Monday is two days ahead, so the order is placed well before its trade date closes.
    h.place(&buy("BUY-1", ISIN, "2026-11-23", "10.00")).await;
    let callbacks = h.receiver.wait_for(1).await;
    assert_eq!(callbacks[0].event(), "priced");
    h.finish().await;

    let h = Harness::start().await;
    h.set_faults(json!({"price_delay_ms": 1500})).await;
    h.place(&buy("BUY-1", ISIN, START, "10.00")).await;
    h.advance(1).await;
    assert_eq!(h.order("BUY-1").await.status, OrderState::Received);
    h.wait_for_state("BUY-1", OrderState::Priced).await;
    h.finish().await;
}

#[tokio::test]
async fn callbacks_without_a_secret_to_sign_them_are_refused_at_start() {
    let db = TestDatabase::create().await.unwrap();
    let mut config = db.config();
    config.callback_url = Some("http://127.0.0.1:9/custodian/callbacks".to_owned());
    let error = Simulator::start(config).await.unwrap_err();
    assert!(
        error.to_string().contains("callbacks must be signed"),
        "{error}"
    );
    db.drop_database().await.unwrap();
}

/// The count of `series` (name and labels, as printed) in the simulator's `/metrics`, 0 if absent.
async fn metric(h: &Harness, series: &str) -> (u64, String) {
    let text = h
        .http
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0);
    (value, text)
}

#[tokio::test]
async fn metrics_count_requests_by_route_never_by_order() {
    let h = Harness::start().await;
    let series =
        r#"acme_custodian_sim_http_requests_total{code="404",route="/orders/{order_ref}"}"#;
    let (before, _) = metric(&h, series).await;
    for _ in 0..3 {
        assert_eq!(
            h.order_status_code("NO-SUCH-ORDER-METRICS").await,
            StatusCode::NOT_FOUND
        );
    }
    let (after, text) = metric(&h, series).await;
    // Other tests in this binary share the counters, so at least ours were counted.
    assert!(after >= before + 3, "{before} -> {after}:\n{text}");
    assert!(!text.contains("NO-SUCH-ORDER-METRICS"), "{text}");
    assert!(
        text.contains("acme_custodian_sim_http_request_duration_seconds_bucket"),
        "{text}"
    );
    h.finish().await;
}
