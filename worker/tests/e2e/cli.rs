//! `acme`, the binary operators type, against a real stack: a local Temporal server, a ledger
//! database, the worker assembly and (for dealing) the custodian simulator. Each command's JSON
//! output is parsed and checked; refusals must leave the audit log as it was.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use acme_sdk::testkit::eventually;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::dealing_support::{Dealing, FUNDS, book_buys, give_units};
use crate::support::{Platform, on_local_set};

/// The `acme` binary cargo built beside this test (`cargo test --workspace` builds it, as the
/// cli crate's own tests need it).
pub fn acme_binary() -> PathBuf {
    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("acme");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p acme-cli` (ops/test does)",
        binary.display()
    );
    binary
}

/// `acme` pointed at a test's platform, acting as `operator`, starting runs on `queue`.
pub struct Acme<'a> {
    platform: &'a Platform,
    operator: &'a str,
    queue: String,
    /// `ACME_PAYLOAD_KEYS`, if this operator holds payload keys.
    payload_keys: Option<String>,
}

impl<'a> Acme<'a> {
    pub fn new(platform: &'a Platform) -> Self {
        Self {
            platform,
            operator: "alice",
            queue: platform.temporal.queues.workflows.clone(),
            payload_keys: None,
        }
    }

    /// The same operator holding payload keys.
    fn with_payload_keys(&self, keys: &str) -> Self {
        Self {
            queue: self.queue.clone(),
            payload_keys: Some(keys.to_owned()),
            ..*self
        }
    }

    fn as_operator(&self, operator: &'a str) -> Self {
        Self {
            operator,
            queue: self.queue.clone(),
            payload_keys: self.payload_keys.clone(),
            ..*self
        }
    }

    /// The same, starting runs on queues no worker polls (so they stay running).
    fn on_idle_queues(&self) -> Self {
        Self {
            queue: format!("{}-idle", self.queue),
            payload_keys: self.payload_keys.clone(),
            ..*self
        }
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        let db = self.platform.db.app_url();
        tokio::process::Command::new(acme_binary())
            .args(args)
            .env("TEMPORAL_ADDRESS", self.platform.temporal.address())
            .env("TEMPORAL_NAMESPACE", "default")
            .env("DATABASE_URL", &db)
            .env("ACME_READONLY_DATABASE_URL", &db)
            .env("ACME_TASK_QUEUE", &self.queue)
            .env("ACME_OPERATOR", self.operator)
            .env(
                acme_sdk::codec::KEYS_VAR,
                self.payload_keys.as_deref().unwrap_or_default(),
            )
            .output()
            .await
            .unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "acme {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub async fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args).await;
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("acme {args:?}: {e}: {stdout}"))
    }

    /// Asks until `done` holds (runs finish and visibility catches up eventually), for at
    /// most 30 s.
    pub async fn eventually(&self, args: &[&str], done: impl Fn(&Value) -> bool) -> Value {
        eventually(Duration::from_secs(30), || async {
            let value = self.json(args).await;
            if done(&value) {
                Ok(value)
            } else {
                Err(format!("acme {args:?} never got there: {value:#}"))
            }
        })
        .await
    }

    /// `acme describe` of the dealing cycle of `date`, once it has closed.
    pub async fn closed_cycle(&self, date: &str) -> Value {
        let cycle = format!("dealing/{date}");
        self.eventually(&["describe", &cycle, "--output", "json"], |run| {
            run["status"] != "running"
        })
        .await
    }

    /// Runs a command that must be refused with exit code 2; returns its stderr.
    pub async fn refused(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(2), "acme {args:?}: {stderr}");
        stderr
    }
}

/// A dealing day of `day` on which one member has a pending £100.00 buy of the first fund.
pub async fn one_member_buys(day: chrono::NaiveDate, tag: &str) -> Dealing {
    let dealing = Dealing::start(1, day).await;
    let buy = ("m-0".to_owned(), FUNDS[0], Decimal::new(10_000, 2));
    book_buys(dealing.ledger(), tag, &[buy]).await;
    dealing
}

pub fn runs(listing: &Value) -> Vec<&str> {
    listing["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["workflow_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn payloads_are_ciphertext_in_temporal_and_acme_with_the_keys_reads_them() {
    on_local_set(async {
        let member = "m-sealed-4711";
        let platform = Platform::start(&[(member, Some("balanced"))]).await;
        let keys = acme_sdk::codec::PayloadKeys::generate("test-1");
        let _worker = platform.spawn_worker_process_with(&[(acme_sdk::codec::KEYS_VAR, &keys)]);
        let acme = Acme::new(&platform).with_payload_keys(&keys);

        let member_field = format!("member_id={member}");
        acme.ok(&[
            "start",
            "invest-cash",
            "-f",
            "request_id=r-sealed",
            "-f",
            &member_field,
            "-f",
            "amount=123.45",
        ])
        .await;
        acme.eventually(
            &["describe", "invest/r-sealed", "--output", "json"],
            |run| run["status"] == "completed",
        )
        .await;

        // What Temporal stores, read without the keys, byte for byte: the member id and the
        // amount are nowhere (inputs, results, heartbeats, search attributes, summary), the
        // payloads say they are sealed, and what is not a payload (the workflow id) is there.
        let events = platform
            .temporal
            .client()
            .get_workflow_handle::<temporalio_client::UntypedWorkflow>("invest/r-sealed".to_owned())
            .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .unwrap();
        let stored: Vec<u8> = events
            .iter()
            .flat_map(prost::Message::encode_to_vec)
            .collect();
        let holds = |text: &str| stored.windows(text.len()).any(|w| w == text.as_bytes());
        assert!(holds("invest/r-sealed"), "the scan sees clear fields");
        assert!(holds("binary/encrypted"), "no sealed payload");
        assert!(!holds(member), "the member id is in clear in the history");
        assert!(!holds("123.45"), "the amount is in clear in the history");

        // With the keys, acme reads the run: its query answer, and the run found by member.
        let status = acme
            .json(&["query", "invest/r-sealed", "status", "--output", "json"])
            .await;
        assert_eq!(status["trade_ids"].as_array().unwrap().len(), 3);
        acme.eventually(
            &["list", "--member", member, "--output", "json"],
            |listing| runs(listing) == ["invest/r-sealed"],
        )
        .await;
        // Without them, the answer cannot be read.
        let without = Acme::new(&platform);
        assert!(
            !without
                .run(&["query", "invest/r-sealed", "status", "--output", "json"])
                .await
                .status
                .success()
        );
        platform.finish().await;
    })
    .await;
}

#[tokio::test]
async fn operators_start_inspect_and_stop_runs_and_every_action_is_audited() {
    on_local_set(async {
        let platform = Platform::start(&[("m-1", Some("balanced"))]).await;
        let worker = platform.spawn_worker("worker-1");
        let acme = Acme::new(&platform);

        let catalog = acme.json(&["process", "list", "--output", "json"]).await;
        let trade = catalog
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "external-trade")
            .unwrap();
        assert_eq!(trade["signals"], serde_json::json!(["priced", "settled"]));
        assert_eq!(trade["queries"], serde_json::json!(["status"]));

        let started = acme
            .ok(&[
                "start",
                "invest-cash",
                "-f",
                "request_id=r-cli",
                "-f",
                "member_id=m-1",
                "-f",
                "amount=100.00",
            ])
            .await;
        assert!(started.contains("workflow invest/r-cli"), "{started}");
        let run = acme
            .eventually(&["describe", "invest/r-cli", "--output", "json"], |run| {
                run["status"] == "completed"
            })
            .await;
        assert_eq!(run["process"], "invest-cash");
        assert_eq!(run["summary"], "invest £100.00 for member m-1");
        assert!(run["ui"].as_str().unwrap().ends_with("invest%2Fr-cli"));

        let status = acme
            .json(&["query", "invest/r-cli", "status", "--output", "json"])
            .await;
        assert_eq!(status["trade_ids"].as_array().unwrap().len(), 3);

        let listing = acme
            .eventually(
                &[
                    "list",
                    "--member",
                    "m-1",
                    "--status",
                    "completed",
                    "--output",
                    "json",
                ],
                |listing| runs(listing) == ["invest/r-cli"],
            )
            .await;
        assert_eq!(
            listing["query"],
            "AcmeMemberId = 'm-1' AND ExecutionStatus = 'Completed' AND AcmeProcess IS NOT NULL"
        );
        assert!(
            listing["ui"]
                .as_str()
                .unwrap()
                .contains("query=AcmeMemberId")
        );
        let none = acme
            .json(&["list", "--process", "sell-units", "--output", "json"])
            .await;
        assert!(runs(&none).is_empty());

        let member = acme
            .json(&["member", "show", "m-1", "--output", "json"])
            .await;
        assert_eq!(member["portfolio"], "balanced");
        assert_eq!(member["latest_trades"].as_array().unwrap().len(), 3);
        let reserved: Vec<&Value> = member["balances"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["asset_code"] == "GBP" && b["purpose"] == "reserved")
            .collect();
        assert_eq!(reserved.len(), 1);
        assert_eq!(
            reserved[0]["amount"]
                .as_str()
                .unwrap()
                .parse::<Decimal>()
                .unwrap(),
            Decimal::new(10_000, 2)
        );
        let pot = member["pot_id"].to_string();
        let balances = acme
            .json(&["ledger", "balance", "--pot", &pot, "--output", "json"])
            .await;
        assert_eq!(balances, member["balances"]);
        let journal = acme
            .json(&[
                "ledger",
                "journal",
                "--workflow",
                "invest/r-cli",
                "--output",
                "json",
            ])
            .await;
        assert_eq!(journal.as_array().unwrap().len(), 2, "receive and reserve");
        let statement = acme
            .json(&["ledger", "statement", "--pot", &pot, "--output", "json"])
            .await;
        assert_eq!(
            statement.as_array().unwrap().len(),
            3,
            "received, then reserved"
        );

        // The typed commands go the same way as `acme start`.
        acme.ok(&[
            "member",
            "onboard",
            "--member",
            "m-2",
            "--portfolio",
            "cautious",
        ])
        .await;
        let invested = acme
            .ok(&[
                "invest",
                "--member",
                "m-2",
                "--amount",
                "1.00",
                "--request-id",
                "r-typed",
                "--wait",
            ])
            .await;
        assert!(invested.contains("reserved £1.00"), "{invested}");
        let verified = acme.json(&["ledger", "verify", "--output", "json"]).await;
        assert_eq!(verified["first_break"], Value::Null);
        // The head signed into a file outside the database, and checked again; a checkpoint
        // altered in the file breaks the check (exit 1).
        let folder =
            std::env::temp_dir().join(format!("acme-checkpoints-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&folder).unwrap();
        let (key, file) = (folder.join("key"), folder.join("checkpoints.jsonl"));
        std::fs::write(&key, [42_u8; 32]).unwrap();
        let (key, file) = (key.to_str().unwrap(), file.to_str().unwrap());
        let taken = acme
            .json(&[
                "ledger",
                "checkpoint",
                "--append-to",
                file,
                "--key-file",
                key,
                "--output",
                "json",
            ])
            .await;
        assert!(taken["entry_id"].as_i64().unwrap() > 0, "{taken}");
        let checked = acme
            .ok(&["ledger", "verify", "--checkpoints", file, "--key-file", key])
            .await;
        assert!(checked.contains("checkpoints hold: all 1"), "{checked}");
        let text = std::fs::read_to_string(file).unwrap();
        let forged = text.replace(
            &format!("\"entry_id\":{}", taken["entry_id"]),
            "\"entry_id\":1",
        );
        assert_ne!(forged, text);
        std::fs::write(file, forged).unwrap();
        let broken = acme
            .run(&["ledger", "verify", "--checkpoints", file, "--key-file", key])
            .await;
        assert_eq!(broken.status.code(), Some(1), "{broken:?}");
        assert!(
            String::from_utf8_lossy(&broken.stdout).contains("CHECKPOINT BROKEN"),
            "{broken:?}"
        );
        std::fs::remove_dir_all(&folder).unwrap();
        acme.json(&["ledger", "invariants", "--output", "json"])
            .await;

        // Refusals: nothing is done and nothing is recorded.
        let unknown_signal = acme.refused(&["signal", "invest/r-cli", "nope"]).await;
        assert!(
            unknown_signal.contains("invest-cash has no signal \"nope\""),
            "{unknown_signal}"
        );
        let no_run = acme.refused(&["describe", "invest/never"]).await;
        assert!(no_run.contains("no run \"invest/never\" found"), "{no_run}");

        // A run no worker picks up, cancelled by one operator and terminated by another.
        let idle = acme.on_idle_queues();
        idle.ok(&[
            "start",
            "invest-cash",
            "--input",
            r#"{"request_id": "r-idle", "member_id": "m-1", "amount": "5.00"}"#,
        ])
        .await;
        // Starting it again attaches to the running run, and says so (and so does the audit).
        let again = idle
            .ok(&[
                "start",
                "invest-cash",
                "--input",
                r#"{"request_id": "r-idle", "member_id": "m-1", "amount": "5.00"}"#,
            ])
            .await;
        assert!(again.contains("already running (run "), "{again}");
        idle.refused(&["terminate", "invest/r-idle"]).await;
        idle.ok(&[
            "cancel",
            "invest/r-idle",
            "--reason",
            "member withdrew (ticket 7)",
        ])
        .await;
        idle.as_operator("bob")
            .ok(&[
                "terminate",
                "invest/r-idle",
                "--reason",
                "never picked up (ticket 8)",
            ])
            .await;
        let run = acme
            .json(&["describe", "invest/r-idle", "--output", "json"])
            .await;
        assert_eq!(run["status"], "terminated");
        let too_late = idle
            .refused(&["cancel", "invest/r-idle", "--reason", "too late"])
            .await;
        assert!(
            too_late.contains("invest/r-idle is terminated: only a running run can be cancelled"),
            "{too_late}"
        );
        // An action Temporal itself refuses (a workflow id over its length limit) is recorded
        // as refused, with Temporal's answer.
        let long_id = format!(
            r#"{{"request_id": "{}", "member_id": "m-1", "amount": "5.00"}}"#,
            "r".repeat(2_000)
        );
        let refused = idle
            .refused(&["start", "invest-cash", "--input", &long_id])
            .await;
        assert!(refused.contains("cannot start invest/rrr"), "{refused}");

        let long_workflow_id = format!("invest/{}", "r".repeat(2_000));
        let audit = acme.json(&["audit", "--output", "json"]).await;
        let rows: Vec<(&str, &str, &str, &str)> = audit
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["operator"].as_str().unwrap(),
                    row["action"].as_str().unwrap(),
                    row["workflow_id"].as_str().unwrap(),
                    row["reason"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("alice", "start", long_workflow_id.as_str(), ""),
                (
                    "bob",
                    "terminate",
                    "invest/r-idle",
                    "never picked up (ticket 8)"
                ),
                (
                    "alice",
                    "cancel",
                    "invest/r-idle",
                    "member withdrew (ticket 7)"
                ),
                ("alice", "start", "invest/r-idle", ""),
                ("alice", "start", "invest/r-idle", ""),
                ("alice", "start", "invest/r-typed", ""),
                ("alice", "start", "invest/r-cli", ""),
            ]
        );
        let audit = audit.as_array().unwrap();
        assert_eq!(audit[0]["accepted"], false);
        assert!(
            audit[0]["error"]
                .as_str()
                .unwrap()
                .contains("cannot start invest/rrr"),
            "{:?}",
            audit[0]
        );
        assert!(audit[1..].iter().all(|row| row["accepted"] == true));
        let (attached, first) = (&audit[3]["detail"], &audit[4]["detail"]);
        assert!(attached["running_before_start"].is_string(), "{attached}");
        assert!(first.get("running_before_start").is_none(), "{first}");
        let by_bob = acme
            .json(&["audit", "--operator", "bob", "--output", "json"])
            .await;
        assert_eq!(by_bob.as_array().unwrap().len(), 1);
        // That nobody can edit these rows is the ledger's own test (ledger/tests/ledger/audit.rs).

        // The dealing schedule is made, then changed in place; both are operator actions.
        let created = acme.ok(&["dealing", "schedule", "--at", "16:00"]).await;
        assert!(
            created.contains("schedule dealing-cutoff created"),
            "{created}"
        );
        let updated = acme
            .ok(&["dealing", "schedule", "--at", "16:30", "--poll-every", "60"])
            .await;
        assert!(
            updated.contains("schedule dealing-cutoff updated"),
            "{updated}"
        );
        let schedule = platform
            .temporal
            .client()
            .get_schedule_handle("dealing-cutoff")
            .describe(Default::default())
            .await
            .unwrap();
        assert_eq!(
            schedule
                .raw()
                .schedule
                .as_ref()
                .unwrap()
                .state
                .as_ref()
                .unwrap()
                .notes,
            "dealing-cutoff, weekdays at 16:30:00 Europe/London"
        );
        let scheduled = acme
            .json(&["audit", "--workflow", "dealing-cutoff", "--output", "json"])
            .await;
        let scheduled = scheduled.as_array().unwrap();
        assert_eq!(scheduled.len(), 2);
        assert_eq!(scheduled[0]["action"], "schedule");
        assert_eq!(scheduled[0]["detail"]["input"]["poll_every_secs"], 60);

        worker.stop().await;
        platform.finish().await;
    })
    .await;
}

#[tokio::test]
async fn set_up_seeding_selling_and_the_ledger_tour_run_against_a_real_stack() {
    on_local_set(async {
        let platform = Platform::start(&[]).await;
        let worker = platform.spawn_worker("worker-1");
        let acme = Acme::new(&platform);

        let setup = acme.ok(&["temporal", "setup"]).await;
        assert!(
            setup.contains("AcmeProcess") && setup.contains("AcmeDealingDate"),
            "{setup}"
        );
        // Seeded with a buy each, in chunks of 7 (the last one short); a second run writes
        // nothing, and what the first booked verifies.
        let seed = [
            "member", "seed", "--count", "20", "--prefix", "s", "--buys", "--chunk", "7",
        ];
        let seeded = acme.ok(&seed).await;
        assert!(seeded.starts_with("20 new members (20 asked)"), "{seeded}");
        assert!(seeded.contains("20 new buys booked"), "{seeded}");
        let again = acme.ok(&seed).await;
        assert!(again.starts_with("0 new members (20 asked)"), "{again}");
        assert!(again.contains("0 new buys booked"), "{again}");
        assert_eq!(platform.count("journal_entry").await, 40);
        acme.ok(&["ledger", "verify"]).await;
        let member = acme
            .json(&["member", "show", "s-20", "--output", "json"])
            .await;
        assert_eq!(member["portfolio"], "balanced");

        // A sale of units the member holds reserves them; one of units it does not hold fails
        // with its business code and writes nothing.
        give_units(&platform.db.ledger, "s-1", FUNDS[0], Decimal::new(4, 0)).await;
        let sell = |request_id: &'static str, units: &'static str| {
            [
                "sell",
                "--member",
                "s-1",
                "--asset",
                FUNDS[0],
                "--units",
                units,
                "--request-id",
                request_id,
                "--wait",
            ]
        };
        let sold = acme.ok(&sell("s-some", "1.5")).await;
        assert!(sold.contains("sell/s-some"), "{sold}");
        let entries = platform.count("journal_entry").await;
        // The command retried with its request id attaches to the closed run: no second run.
        let describe = ["describe", "sell/s-some", "--output", "json"];
        let first_run = acme.json(&describe).await["run_id"].clone();
        let again = acme.ok(&sell("s-some", "1.5")).await;
        assert!(again.contains("sell/s-some"), "{again}");
        assert_eq!(acme.json(&describe).await["run_id"], first_run);
        assert_eq!(platform.count("journal_entry").await, entries);
        // There is no request id by default: a retry without one could sell twice.
        let no_id = acme
            .refused(&[
                "sell", "--member", "s-1", "--asset", FUNDS[0], "--units", "1",
            ])
            .await;
        assert!(no_id.contains("--request-id"), "{no_id}");
        let no_id = acme
            .refused(&["invest", "--member", "s-1", "--amount", "1.00"])
            .await;
        assert!(no_id.contains("--request-id"), "{no_id}");
        let refused = acme.refused(&sell("s-none", "100")).await;
        assert!(
            refused.contains("sell/s-none failed [ledger.overdraft]"),
            "{refused}"
        );
        assert_eq!(platform.count("journal_entry").await, entries);
        let member = acme
            .json(&["member", "show", "s-1", "--output", "json"])
            .await;
        assert!(member.to_string().contains("1.5"), "{member:#}");

        // A correction under four eyes: alice asks for a holding posted in error to be
        // reversed; she cannot approve it herself; bob does, and the units go back.
        give_units(&platform.db.ledger, "s-2", FUNDS[1], Decimal::new(3, 0)).await;
        let posted: i64 = sqlx::query_scalar(
            "select max(entry_id) from journal_entry where workflow_id = 'fixture/holding/s-2/' || $1",
        )
        .bind(FUNDS[1])
        .fetch_one(platform.db.ledger.pool())
        .await
        .unwrap();
        let posted = posted.to_string();
        let refused = acme
            .refused(&["ledger", "reverse", &posted, "--reason", " "])
            .await;
        assert!(refused.contains("--reason"), "{refused}");
        let asked = acme
            .ok(&["ledger", "reverse", &posted, "--reason", "fixture posted twice"])
            .await;
        assert!(asked.contains("acme ledger approve"), "{asked}");
        let pending = acme
            .json(&["ledger", "reversals", "--output", "json"])
            .await;
        let request = pending[0]["request_id"].to_string();
        let entries = platform.count("journal_entry").await;
        let own = acme.refused(&["ledger", "approve", &request]).await;
        assert!(own.contains("another operator must approve"), "{own}");
        assert_eq!(platform.count("journal_entry").await, entries);
        let bob = acme.as_operator("bob");
        let approved = bob.ok(&["ledger", "approve", &request]).await;
        assert!(approved.contains(&format!("reverses entry {posted}")), "{approved}");
        assert_eq!(platform.count("journal_entry").await, entries + 1);
        let held: Decimal = sqlx::query_scalar(
            "select b.amount from pot p join account a using (pot_id)
             join balance b using (account_id)
             where p.owner_ref = 's-2' and a.asset_code = $1",
        )
        .bind(FUNDS[1])
        .fetch_one(platform.db.ledger.pool())
        .await
        .unwrap();
        assert_eq!(held, Decimal::ZERO);
        let trail = acme
            .json(&["audit", "--workflow", &format!("ledger-reversal/{posted}"), "--output", "json"])
            .await;
        let actions: Vec<(&str, &str, bool)> = trail
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["operator"].as_str().unwrap(),
                    a["action"].as_str().unwrap(),
                    a["accepted"].as_bool().unwrap(),
                )
            })
            .collect();
        // Newest first: bob's approval, alice's refused approval, her request, and her
        // request refused for want of a reason.
        assert_eq!(
            actions,
            [
                ("bob", "approve", true),
                ("alice", "approve", false),
                ("alice", "reverse", true),
                ("alice", "reverse", false),
            ]
        );

        // The tour writes demo entries: a database not marked as a dev one is refused.
        let db = &platform.db;
        let mark = |sql: String| async move {
            let mut owner = db.owner_connection().await.unwrap();
            sqlx::query(&sql).execute(&mut owner).await.unwrap();
        };
        let name = platform.db.name.clone();
        mark(format!("comment on database {name} is null")).await;
        let entries = platform.count("journal_entry").await;
        let refused = acme.refused(&["ledger", "tour", "--members", "10"]).await;
        assert!(refused.contains("not marked as a dev one"), "{refused}");
        assert_eq!(platform.count("journal_entry").await, entries);
        mark(format!(
            "comment on database {name} is 'acme.environment=dev'"
        ))
        .await;
        let tour = acme.ok(&["ledger", "tour", "--members", "10"]).await;
        assert!(tour.contains("journal chain: sound"), "{tour}");
        let invariants = acme
            .json(&["ledger", "invariants", "--output", "json"])
            .await;
        assert!(
            invariants["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|check| check["violation_count"] == 0),
            "{invariants:#}"
        );

        worker.stop().await;
        platform.finish().await;
    })
    .await;
}
