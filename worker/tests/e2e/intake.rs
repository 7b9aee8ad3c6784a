//! The HTTP intake (ADR 25) over real HTTP, against a real database, Temporal server, worker and
//! (for schedules) the custodian simulator's bank: each request is stored before the `202`, a
//! replay gets the same answer, a key reused for another body is refused, a caller without a
//! key is refused, bodies are size-limited, a file that is not a schedule is refused whole, and
//! a schedule lands exactly as `acme contributions import` lands it and is invested once paid.

use std::time::Duration;

use acme_sdk::testkit::eventually;
use acme_worker::intake::{self, ApiKeys, IntakeConfig};
use acme_workflows::invest_contributions::InvestContributions;
use reqwest::{RequestBuilder, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use temporalio_client::WorkflowSignalOptions;

use crate::cli::Acme;
use crate::dealing_support::{Dealing, booked_days_ago, monday, pay};
use crate::support::{Platform, on_local_set};

const PAYROLL_KEY: &str = "payroll-key-0123456789abcdef0123456789";
const PORTAL_KEY: &str = "portal-key-0123456789abcdef0123456789ab";
/// The schedule limit the tests' intake runs with, so a too-large file is small to send.
const MAX_SCHEDULE_BYTES: u64 = 4_096;

/// An intake on an ephemeral port, for the clients `payroll` and `portal`.
pub struct TestIntake {
    pub url: String,
    pub http: reqwest::Client,
}

impl TestIntake {
    pub async fn serve(platform: &Platform) -> TestIntake {
        let digest = |key: &str| hex::encode(Sha256::digest(key.as_bytes()));
        let keys = ApiKeys::parse(&format!(
            "payroll:{}:acme-ltd|other-ltd,portal:{}",
            digest(PAYROLL_KEY),
            digest(PORTAL_KEY)
        ))
        .unwrap();
        let listener = intake::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = intake::router(
            platform.temporal.client().clone(),
            platform.db.ledger.pool().clone(),
            IntakeConfig {
                keys,
                queues: platform.temporal.queues.clone(),
                max_schedule_bytes: MAX_SCHEDULE_BYTES,
            },
        );
        tokio::spawn(acme_worker::serve(listener, router, std::future::pending()));
        TestIntake {
            url,
            http: reqwest::Client::new(),
        }
    }

    /// `POST path` as the payroll client.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(PAYROLL_KEY)
    }

    pub fn get_as(&self, key: &str, path: &str) -> RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(key)
    }

    /// A schedule file posted for `acme-ltd` under `key`.
    pub async fn schedule(&self, key: &str, file: &str) -> (StatusCode, Value) {
        answer(
            self.post("/v1/contribution-schedules?employer=acme-ltd&file_name=november.csv")
                .header("idempotency-key", key)
                .header("content-type", "text/csv")
                .body(file.to_owned()),
        )
        .await
    }

    /// `GET url` as the payroll client until `done` holds (runs finish in their own time).
    pub async fn status_until(&self, url: &str, done: impl Fn(&Value) -> bool) -> Value {
        eventually(Duration::from_secs(60), || async {
            let (status, body) = answer(self.get_as(PAYROLL_KEY, url)).await;
            if status == StatusCode::OK && done(&body) {
                Ok(body)
            } else {
                Err(format!("{url}: {status} {body:#}"))
            }
        })
        .await
    }
}

/// Sends a request; its status and JSON body (every answer of the intake is JSON).
pub async fn answer(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text:?}"));
    (status, body)
}

async fn intents(platform: &Platform) -> i64 {
    platform.count("api_intent").await
}

#[tokio::test]
async fn an_investment_is_stored_answered_202_and_its_status_url_shows_the_outcome() {
    on_local_set(async {
        let platform = Platform::start(&[("m-1", Some("balanced"))]).await;
        let worker = platform.spawn_worker("worker-1");
        let api = TestIntake::serve(&platform).await;
        let investment = json!({"request_id": "r-1", "member_id": "m-1", "amount": "25.00"});
        let invest = |key: &str, body: &Value| {
            api.post("/v1/investments")
                .header("idempotency-key", key)
                .json(body)
        };

        // No key, or a key nobody was given: 401 before anything is read or stored.
        let (status, body) = answer(
            api.http
                .post(format!("{}/v1/investments", api.url))
                .json(&investment),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("auth.unauthenticated"))
        );
        let (status, _) = answer(
            api.http
                .post(format!("{}/v1/investments", api.url))
                .bearer_auth("payroll-key-but-not-quite")
                .json(&investment),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(intents(&platform).await, 0);

        // Bad input is refused with the run's own codes, and nothing is stored.
        let number = json!({"request_id": "r-1", "member_id": "m-1", "amount": 25.0});
        let (status, body) = answer(invest("k-0", &number)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("amount.not_a_string")
            ),
            "{body}"
        );
        let (status, body) = answer(api.post("/v1/investments").body("{\"request_id\":")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("request.malformed"))
        );
        let huge = json!({"request_id": "r-1", "member_id": "m-1", "amount": "1".repeat(20_000)});
        let (status, body) = answer(invest("k-0", &huge)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("request.too_large"))
        );
        assert_eq!(intents(&platform).await, 0);

        // Accepted: stored first, then 202 with the run and where to look.
        let (status, accepted) = answer(invest("k-1", &investment)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        assert_eq!(accepted["workflow_id"], "invest/r-1");
        assert_eq!(accepted["status_url"], "/v1/investments/r-1");
        assert_eq!(intents(&platform).await, 1);

        // The same key and body: the same answer, nothing more stored, no second run.
        let (status, replayed) = answer(invest("k-1", &investment)).await;
        assert_eq!((status, &replayed), (StatusCode::ACCEPTED, &accepted));
        assert_eq!(intents(&platform).await, 1);
        // The same key with another body: refused, and nothing done.
        let other = json!({"request_id": "r-2", "member_id": "m-1", "amount": "26.00"});
        let (status, body) = answer(invest("k-1", &other)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("idempotency_key.reused")
            )
        );
        // The same request id with another amount, under a new key: refused as well.
        let reused = json!({"request_id": "r-1", "member_id": "m-1", "amount": "99.00"});
        let (status, body) = answer(invest("k-2", &reused)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("request_id.reused"))
        );
        assert_eq!(intents(&platform).await, 1);

        let outcome = api
            .status_until("/v1/investments/r-1", |s| s["run"] == "completed")
            .await;
        assert_eq!(outcome["invested"]["reserved_gbp"], "25.00");
        assert_eq!(
            outcome["invested"]["trade_ids"].as_array().unwrap().len(),
            3,
            "{outcome}"
        );
        assert_eq!(
            platform.cash("m-1", "reserved").await,
            Decimal::new(2_500, 2)
        );
        // Invested once, whatever was sent twice.
        assert_eq!(platform.count("member_trade").await, 3);
        // Another client does not see it.
        let (status, body) = answer(api.get_as(PORTAL_KEY, "/v1/investments/r-1")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("investment.unknown"))
        );

        // An unknown member: accepted (the run decides), and the status shows its refusal.
        let ghost = json!({"request_id": "r-3", "member_id": "ghost", "amount": "5.00"});
        let (status, _) = answer(invest("k-3", &ghost)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let failed = api
            .status_until("/v1/investments/r-3", |s| s["run"] == "failed")
            .await;
        assert_eq!(failed["failure"]["code"], "member.unknown", "{failed}");

        // The OpenAPI document is served and names every operation.
        let (status, document) = answer(api.http.get(format!("{}/v1/openapi.json", api.url))).await;
        assert_eq!(status, StatusCode::OK);
        for path in [
            "/v1/contribution-schedules",
            "/v1/contribution-schedules/{schedule_id}",
            "/v1/investments",
            "/v1/investments/{request_id}",
        ] {
            assert!(document["paths"][path].is_object(), "{path} missing");
        }
        worker.stop().await;
        platform.finish().await;
    })
    .await;
}

const HEADER: &str = "member_id,employer_amount,member_amount,pay_period\n";

#[tokio::test]
async fn a_schedule_is_stored_as_the_cli_imports_it_then_invested_once_paid() {
    on_local_set(async {
        let dealing = Dealing::start(3, monday()).await;
        let platform = &dealing.platform;
        let worker = platform.spawn_worker("worker-1");
        let api = TestIntake::serve(platform).await;
        let schedules = || platform.count("contribution_schedule");

        // Not a schedule: refused whole, with the import's code; nothing stored.
        for (file, code) in [
            ("member_id,amount\nm-0,1.00\n", "schedule.not_a_schedule"),
            ("member_id,employer_amount,member_amount,pay_period\nm-0,1.00,0,2026-11", "schedule.truncated"),
            ("", "schedule.empty"),
        ] {
            let (status, body) = api.schedule("k-bad", file).await;
            assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{body}");
        }
        let too_large = format!("{HEADER}{}", "m-0,1.00,0,2026-11\n".repeat(300));
        let (status, body) = api.schedule("k-big", &too_large).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("request.too_large")));
        let (status, body) = answer(
            api.post("/v1/contribution-schedules").body(format!("{HEADER}m-0,1.00,0,2026-11\n")),
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("employer.missing")));
        assert_eq!((schedules().await, intents(platform).await), (0, 0));
        // An employer not on the client's list, and a client with no list: 403, nothing stored.
        let file = format!("{HEADER}m-0,1.00,0,2026-11\n");
        let (status, body) = answer(api.post("/v1/contribution-schedules?employer=stranger-ltd").body(file.clone())).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("employer.not_allowed")));
        let portal = api
            .http
            .post(format!("{}/v1/contribution-schedules?employer=acme-ltd", api.url))
            .bearer_auth(PORTAL_KEY)
            .body(file);
        let (status, body) = answer(portal).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("employer.not_allowed")));
        assert_eq!((schedules().await, intents(platform).await), (0, 0));

        // A schedule with a line for nobody: stored, its rows checked, 202.
        let file = format!("{HEADER}m-0,100.00,25.50,2026-11\nm-1,98.40,0,2026-11\n\"m-2\",\"12.5\",\"12.50\",2026-10\nghost-1,10.00,0,2026-11\n");
        let (status, accepted) = api.schedule("k-1", &file).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        let schedule_id = accepted["schedule"]["schedule_id"].as_str().unwrap().to_owned();
        assert_eq!(accepted["workflow_id"], format!("contributions/{schedule_id}"));
        assert_eq!(
            (&accepted["schedule"]["accepted_rows"], &accepted["schedule"]["rejected_rows"], &accepted["schedule"]["due"]),
            (&json!(3), &json!(1), &json!("248.90"))
        );
        // The same key and file: the same answer. The same key, another file: refused, nothing
        // stored.
        let (status, replayed) = api.schedule("k-1", &file).await;
        assert_eq!((status, &replayed), (StatusCode::ACCEPTED, &accepted));
        let (status, body) = api.schedule("k-1", &format!("{HEADER}m-0,1.00,0,2026-11\n")).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_key.reused")));
        // The same file for another employer: 409; a malformed Idempotency-Key: 422. Nothing
        // stored either way.
        let (status, body) = answer(
            api.post("/v1/contribution-schedules?employer=other-ltd")
                .body(file.clone()),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("schedule.other_employer"))
        );
        let (status, body) = api.schedule("two words", &file).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_key.invalid"))
        );
        assert_eq!((schedules().await, intents(platform).await), (1, 1));

        // Exactly as `acme contributions import` lands it: the same file is the same schedule,
        // and the file is kept byte for byte.
        let dir = std::env::temp_dir().join(format!("intake-{schedule_id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("november.csv");
        std::fs::write(&path, &file).unwrap();
        let acme = Acme::new(platform);
        let output = acme
            .run(&["contributions", "import", path.to_str().unwrap(), "--employer", "acme-ltd", "--output", "json"])
            .await;
        let imported: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(imported["imported"]["new"], false, "{imported}");
        assert_eq!(imported["imported"]["schedule"]["schedule_id"], schedule_id.as_str());
        assert_eq!(acme.ok(&["contributions", "file", &schedule_id]).await, file);
        let rows: Vec<(i64, String, Decimal, Decimal)> = sqlx::query_as(
            "select line_no, member_id, employer_amount, member_amount
             from contribution_row order by line_no",
        )
        .fetch_all(platform.db.ledger.pool())
        .await
        .unwrap();
        let expected = [(2, "m-0", "100.00", "25.50"), (3, "m-1", "98.40", "0.00"), (4, "m-2", "12.50", "12.50")];
        let expected: Vec<_> = expected
            .iter()
            .map(|(l, m, e, p)| (*l, (*m).to_owned(), e.parse().unwrap(), p.parse().unwrap()))
            .collect();
        assert_eq!(rows, expected);
        std::fs::remove_dir_all(&dir).unwrap();

        // The status URL: received and waiting for the money, the rejected line named.
        let status_url = accepted["status_url"].as_str().unwrap();
        let waiting = api.status_until(status_url, |s| s["run"] == "running").await;
        assert_eq!(waiting["rejections"][0]["code"], "member.unknown");
        assert_eq!(waiting["schedule"]["status"], "received");

        // Paid exactly: invested, and the status URL says so.
        let reference = accepted["schedule"]["payment_reference"].as_str().unwrap();
        pay(&dealing, "p-1", reference, booked_days_ago(1), Decimal::new(24_890, 2)).await;
        platform
            .temporal
            .client()
            .get_workflow_handle::<InvestContributions>(format!("contributions/{schedule_id}"))
            .signal(InvestContributions::payment_advised, reference.to_owned(), WorkflowSignalOptions::default())
            .await
            .unwrap();
        let invested = api.status_until(status_url, |s| s["run"] == "completed").await;
        assert_eq!(invested["schedule"]["status"], "invested");
        assert_eq!((&invested["invested"]["rows"], &invested["invested"]["amount"]), (&json!(3), &json!("248.90")));
        worker.stop().await;
        dealing.finish().await;
    })
    .await;
}
