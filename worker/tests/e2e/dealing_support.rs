//! A platform that deals: a real custodian simulator (its own database, HTTP, callbacks), the
//! callback ingress and the worker assembly beside a local Temporal server and the ledger
//! database; fixtures that book member trades as the member processes leave them; checks of the
//! allocation rule and of units against the custodian. Shared by the dealing tests and
//! `examples/dealing_bench.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use acme_activities::dealing::{CUSTODIAN_POT, Side};
use acme_activities::seeding::{self, Booking, Buy, Seed};
use acme_activities::trade_book::member_trades;
use acme_custodian::messages::{
    AdvanceClock, CallbackSecret, Faults, HoldingsStatement, PriceQuote, RejectOrder,
};
use acme_custodian::{Simulator, testkit::TestDatabase as CustodianDatabase};
use acme_ledger::{Ledger, NewEntry, NewPosting, OwnerKind};
use acme_sdk::AssetCode;
use acme_sdk::allocation::pro_rata;
use acme_sdk::testkit::{TestTemporal, eventually};
use acme_worker::ingress;
use acme_workflows::dealing_cycle::{self, DealingCycle, Status};
use acme_workflows::sell_units::{self, SellUnits};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use rust_decimal::Decimal;
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowHandle};
use uuid::Uuid;

use crate::support::{InProcessWorker, Platform};

pub const FUNDS: [&str; 3] = ["GB00ACMEGLB1", "GB00ACMEBND1", "GB00ACMEPRP1"];

/// The secret the test's custodian signs callbacks with, and its ingress checks.
const CALLBACK_SECRET: &str = "test-callback-secret-of-32-bytes-or-more";

/// A minute, and 2 ms more per member (about 35 minutes at a million members).
fn patience_for(members: usize) -> Duration {
    let per_member = Duration::from_millis(2) * u32::try_from(members).unwrap_or(u32::MAX);
    Duration::from_secs(60) + per_member
}

/// Members `m-0` to `m-<last>` with the balanced portfolio, as [`Dealing::start`] seeds them.
pub fn member_seed(last: u64) -> Seed {
    Seed {
        prefix: "m".into(),
        numbers: 0..=last,
        portfolio: Some("balanced".into()),
        chunk: seeding::MEMBER_CHUNK,
    }
}

pub fn callback_secret() -> CallbackSecret {
    CallbackSecret::new(CALLBACK_SECRET).unwrap()
}

/// A platform with a custodian simulator whose callbacks reach the platform's ingress.
pub struct Dealing {
    pub platform: Platform,
    /// How long a phase of the day may take before a wait gives up: it grows with the number of
    /// members, so no fixed deadline caps the scale a benchmark can show.
    pub patience: Duration,
    simulator: Simulator,
    custodian_db: CustodianDatabase,
    /// Where the custodian posts callbacks (the ingress).
    pub callback_url: String,
    pub http: reqwest::Client,
    stop_ingress: tokio::sync::oneshot::Sender<()>,
}

impl Dealing {
    pub async fn start(members: usize, first_day: NaiveDate) -> Dealing {
        Self::start_on(members, first_day, TestTemporal::start().await.unwrap()).await
    }

    /// The same on a Temporal server of the caller's (the soak's, kept on disk).
    pub async fn start_on(members: usize, first_day: NaiveDate, temporal: TestTemporal) -> Dealing {
        let mut platform = Platform::start_on(&[], temporal).await;
        if let Some(last) = u64::try_from(members).unwrap().checked_sub(1) {
            seeding::seed_members(&platform.db.ledger, &member_seed(last), |_, _| {})
                .await
                .unwrap();
        }
        let listener = ingress::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let callback_url = format!(
            "http://{}{}",
            listener.local_addr().unwrap(),
            ingress::CALLBACK_PATH
        );
        let (stop_ingress, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(ingress::serve(
            listener,
            platform.temporal.client().clone(),
            platform.db.ledger.clone(),
            callback_secret(),
            async {
                let _ = stopped.await;
            },
        ));
        let custodian_db = CustodianDatabase::create().await.unwrap();
        let mut config = custodian_db.config();
        config.callback_url = Some(callback_url.clone());
        config.callback_secret = Some(callback_secret());
        config.start_date = Some(first_day);
        let simulator = Simulator::start(config).await.unwrap();
        platform.custodian_url = simulator.base_url();
        Dealing {
            platform,
            patience: patience_for(members),
            simulator,
            custodian_db,
            callback_url,
            http: reqwest::Client::new(),
            stop_ingress,
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.platform.db.ledger
    }

    pub async fn faults(&self, faults: &Faults) {
        let url = format!("{}/admin/faults", self.simulator.base_url());
        let response = self.http.put(url).json(faults).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    pub async fn price(&self, isin: &str, date: NaiveDate, price: &str) {
        let url = format!("{}/admin/prices/{isin}/{date}", self.simulator.base_url());
        let quote = PriceQuote {
            price: price.parse().unwrap(),
        };
        let response = self.http.put(url).json(&quote).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    /// The custodian refuses `order_ref` after accepting it; the error is its answer's body.
    pub async fn reject_order(&self, order_ref: &str, reason: &str) -> Result<(), String> {
        let url = format!(
            "{}/admin/orders/{order_ref}/reject",
            self.simulator.base_url()
        );
        let body = RejectOrder {
            reason: reason.to_owned(),
        };
        let response = self.http.post(url).json(&body).send().await.unwrap();
        if response.status().is_success() {
            Ok(())
        } else {
            Err(response.text().await.unwrap())
        }
    }

    pub async fn advance_one_day(&self) {
        let url = format!("{}/admin/clock/advance", self.simulator.base_url());
        let response = self
            .http
            .post(url)
            .json(&AdvanceClock { days: 1 })
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    pub async fn sell(
        &self,
        request_id: &str,
        member: &str,
        asset: &str,
        units: serde_json::Value,
    ) -> Result<sell_units::Output, WorkflowGetResultError> {
        acme_sdk::start::<SellUnits>(
            self.platform.temporal.client(),
            &self.platform.temporal.queues,
            sell_units::Input {
                request_id: request_id.to_owned(),
                member_id: member.to_owned(),
                asset: asset.to_owned(),
                units,
            },
        )
        .await
        .unwrap()
        .get_result(WorkflowGetResultOptions::default())
        .await
    }

    /// A `GET` of the custodian's API, e.g. `/orders/<ref>`.
    pub async fn custodian<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let url = format!("{}{path}", self.simulator.base_url());
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn holdings(&self) -> BTreeMap<String, Decimal> {
        let statement: HoldingsStatement = self.custodian("/statements/holdings").await;
        statement
            .holdings
            .into_iter()
            .map(|holding| (holding.isin, holding.units))
            .collect()
    }

    /// Runs a dealing day: the cycle closes and places the day's trades, then the custodian's
    /// clock moves a day at a time (priced, then settled) until the cycle ends.
    /// Starts (or attaches to) the dealing cycle of `date`, polling the custodian every second.
    pub async fn start_cycle(&self, date: NaiveDate) -> WorkflowHandle<Client, DealingCycle> {
        acme_sdk::start::<DealingCycle>(
            self.platform.temporal.client(),
            &self.platform.temporal.queues,
            dealing_cycle::Input {
                dealing_date: date.to_string(),
                poll_every_secs: Some(1),
                expect_within_secs: None,
            },
        )
        .await
        .unwrap()
    }

    pub async fn deal(&self, date: NaiveDate) -> Result<Status, String> {
        let handle = self.start_cycle(date).await;
        // Orders must reach the custodian before its day moves on.
        self.wait_until_none_in(date, "created").await;
        self.finish_cycle(date, handle).await
    }

    /// The rest of [`Dealing::deal`] once the day's orders are placed.
    pub async fn finish_cycle(
        &self,
        date: NaiveDate,
        handle: WorkflowHandle<Client, DealingCycle>,
    ) -> Result<Status, String> {
        self.finish_cycle_with(date, handle, async || {}).await
    }

    /// [`Dealing::finish_cycle`], calling `after_each_day` each time the custodian's clock has
    /// moved on (pricing, then settlement, are then under way): the soak kills a worker there.
    pub async fn finish_cycle_with(
        &self,
        date: NaiveDate,
        handle: WorkflowHandle<Client, DealingCycle>,
        mut after_each_day: impl AsyncFnMut(),
    ) -> Result<Status, String> {
        self.advance_one_day().await;
        after_each_day().await;
        self.wait_until_none_in(date, "placed").await;
        self.advance_one_day().await;
        after_each_day().await;
        let result = tokio::time::timeout(
            self.patience * 2,
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the dealing cycle did not finish within {:?}",
                self.patience * 2
            )
        });
        result.map_err(|e| format!("{e:?}"))
    }

    pub async fn wait_until_none_in(&self, date: NaiveDate, status: &str) {
        eventually(self.patience, || async {
            let counts = acme_activities::dealing::progress(self.ledger(), date)
                .await
                .unwrap();
            if !counts.is_empty() && !counts.contains_key(status) {
                Ok(())
            } else {
                Err(format!(
                    "external trades of {date}: {counts:?}, some still {status}"
                ))
            }
        })
        .await;
    }

    pub async fn finish(self) {
        let _ = self.stop_ingress.send(());
        self.simulator.stop().await.unwrap();
        self.custodian_db.drop_database().await.unwrap();
        self.platform.finish().await;
    }
}

/// Books member buys as invest-cash leaves them (cash received and reserved, a pending trade),
/// set-based and chunked through the library's bulk booking (`acme member seed --buys` runs the
/// same), so a test can deal for a thousand members without a thousand workflows. Origins are
/// `fixture/<tag>/<member>/<asset>`.
pub async fn book_buys(ledger: &Ledger, tag: &str, buys: &[(String, &str, Decimal)]) {
    let booking = fixture_booking(tag);
    let buys: Vec<Buy> = buys
        .iter()
        .map(|(member, asset, cash)| Buy {
            member_id: member.clone(),
            asset: AssetCode::parse(asset).unwrap(),
            cash: *cash,
        })
        .collect();
    for chunk in buys.chunks(seeding::BUY_CHUNK) {
        seeding::book_buys(ledger, &booking, chunk).await.unwrap();
    }
}

/// Where fixture bookings say they come from: `fixture/<tag>/...`, effective on no particular
/// day.
pub fn fixture_booking(tag: &str) -> Booking {
    Booking {
        process: "fixture".into(),
        tag: tag.to_owned(),
        effective_date: NaiveDate::default(),
    }
}

/// Books member sells as sell-units leaves them (units reserved, a pending trade).
pub async fn book_sells(ledger: &Ledger, tag: &str, sells: &[(String, &str, Decimal)]) {
    let mut entries = Vec::new();
    for (member, asset, units) in sells {
        let asset_code = AssetCode::parse(asset).unwrap();
        let accounts = ledger
            .open_pots_in_bulk(
                OwnerKind::Member,
                std::slice::from_ref(member),
                &[(asset_code.clone(), "available"), (asset_code, "reserved")],
            )
            .await
            .unwrap();
        let workflow_id = format!("fixture/{tag}/{member}/{asset}");
        entries.push(fixture_entry(
            &workflow_id,
            "reserve",
            vec![(accounts[0][0], -*units), (accounts[0][1], *units)],
        ));
    }
    ledger.post_batch(&entries).await.unwrap();
    insert_trades(ledger, tag, Side::Sell, sells).await;
}

pub fn fixture_entry(
    workflow_id: &str,
    step: &str,
    legs: Vec<(acme_ledger::AccountId, Decimal)>,
) -> NewEntry {
    NewEntry {
        idempotency_key: format!("{workflow_id}/{step}"),
        kind: format!("fixture.{step}"),
        process: "fixture".into(),
        workflow_id: workflow_id.to_owned(),
        effective_date: NaiveDate::default(),
        metadata: BTreeMap::new(),
        postings: legs
            .into_iter()
            .map(|(account_id, amount)| NewPosting { account_id, amount })
            .collect(),
    }
}

pub async fn insert_trades(
    ledger: &Ledger,
    tag: &str,
    side: Side,
    trades: &[(String, &str, Decimal)],
) {
    let origins: Vec<String> = trades
        .iter()
        .map(|(m, a, _)| format!("fixture/{tag}/{m}/{a}"))
        .collect();
    let members: Vec<String> = trades.iter().map(|(m, _, _)| m.clone()).collect();
    let assets: Vec<&str> = trades.iter().map(|(_, a, _)| *a).collect();
    let amounts: Vec<Decimal> = trades.iter().map(|(_, _, q)| *q).collect();
    member_trades::create_in_bulk(
        ledger.pool(),
        "fixture",
        side,
        &origins,
        &members,
        &assets,
        &amounts,
    )
    .await
    .unwrap();
}

#[derive(sqlx::FromRow)]
struct SettledTrade {
    external_trade_id: Uuid,
    asset_code: String,
    side: String,
    ordered_total: Decimal,
    delivered: Decimal,
    consumed: Decimal,
    residue_delivered: Decimal,
    residue_refunded: Decimal,
}

/// Checks every settled external trade of the day against the allocation rule, recomputed
/// here from the confirmation and the member trades.
pub async fn assert_allocations_follow_the_rule(ledger: &Ledger, date: NaiveDate) -> usize {
    let trades: Vec<SettledTrade> = sqlx::query_as(
        "select external_trade_id, asset_code, side, ordered_total, delivered, consumed,
                    residue_delivered, residue_refunded
             from external_trade where dealing_date = $1 and status = 'settled'",
    )
    .bind(date)
    .fetch_all(ledger.pool())
    .await
    .unwrap();
    for SettledTrade {
        external_trade_id: id,
        asset_code: asset,
        side,
        ordered_total: ordered,
        delivered,
        consumed,
        residue_delivered,
        residue_refunded,
    } in &trades
    {
        let rows: Vec<(Decimal, Decimal, Decimal, String)> = sqlx::query_as(
            "select coalesce(cash_amount, units), delivered, refunded, status from member_trade
             where external_trade_id = $1 order by trade_id",
        )
        .bind(id)
        .fetch_all(ledger.pool())
        .await
        .unwrap();
        let put_in: Vec<Decimal> = rows.iter().map(|r| r.0).collect();
        let (delivered_scale, ordered_scale) = if side == "buy" { (6, 2) } else { (2, 6) };
        let shares = pro_rata(*delivered, &put_in, *ordered, delivered_scale).unwrap();
        let refunds = pro_rata(*ordered - *consumed, &put_in, *ordered, ordered_scale).unwrap();
        for (row, (share, refund)) in rows.iter().zip(shares.iter().zip(&refunds)) {
            assert_eq!(
                (row.1, row.2, row.3.as_str()),
                (*share, *refund, "settled"),
                "{asset} {side}"
            );
        }
        let allocated: Decimal = shares.iter().sum();
        let refunded: Decimal = refunds.iter().sum();
        assert_eq!(allocated + *residue_delivered, *delivered, "{asset} {side}");
        assert_eq!(
            refunded + *residue_refunded,
            *ordered - *consumed,
            "{asset} {side}"
        );
    }
    trades.len()
}

/// Units of each fund across every internal pot (members, dealing, rounding).
pub async fn internal_units(ledger: &Ledger) -> BTreeMap<String, Decimal> {
    let rows: Vec<(String, Decimal)> = sqlx::query_as(
        "select a.asset_code, sum(b.amount) from balance b
         join account a using (account_id) join pot p using (pot_id)
         where p.owner_kind in ('member', 'house') and a.asset_code <> 'GBP'
         group by a.asset_code having sum(b.amount) <> 0",
    )
    .fetch_all(ledger.pool())
    .await
    .unwrap();
    rows.into_iter().collect()
}

pub async fn reserved_total(ledger: &Ledger) -> Decimal {
    sqlx::query_scalar(
        "select coalesce(sum(b.amount), 0) from balance b join account a using (account_id)
         where a.purpose in ('reserved', 'unsettled')",
    )
    .fetch_one(ledger.pool())
    .await
    .unwrap()
}

/// The first Monday after today: its cut-off (16:00 London) is still ahead, so the trades a
/// test creates now are dealt on it (a cycle never deals what came in after its date's cut-off).
pub fn monday() -> NaiveDate {
    let mut day = acme_sdk::cutoff::london_date(chrono::Utc::now()) + Days::new(1);
    while day.weekday() != Weekday::Mon {
        day = day + Days::new(1);
    }
    day
}

/// Fifty members each buy all three funds.
pub async fn small_day(dealing: &Dealing) {
    let buys: Vec<(String, &str, Decimal)> = (0..50_i64)
        .flat_map(|i| FUNDS.map(|fund| (format!("m-{i}"), fund, Decimal::new(10_000 + i * 101, 2))))
        .collect();
    book_buys(dealing.ledger(), "small", &buys).await;
}

/// The small day booked for 50 members, with a worker running.
pub async fn small_day_with_worker() -> (Dealing, InProcessWorker) {
    let dealing = Dealing::start(50, monday()).await;
    let worker = dealing.platform.spawn_worker("worker-1");
    small_day(&dealing).await;
    (dealing, worker)
}

/// Deals the small day with the custodian's `faults` set, and checks that every allocation
/// follows the rule and our units match the custodian's holdings.
pub async fn deal_small_day_despite(faults: Faults) -> (Dealing, InProcessWorker) {
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
pub async fn entries_by_kind(ledger: &Ledger) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select kind, count(*) from journal_entry where process = 'external-trade' group by kind",
    )
    .fetch_all(ledger.pool())
    .await
    .unwrap();
    rows.into_iter().collect()
}

/// Gives `member` `units` of `asset` available, as if bought and settled earlier (from the
/// custodian's mirror, which may go negative).
pub async fn give_units(ledger: &Ledger, member: &str, asset: &str, units: Decimal) {
    let asset_code = AssetCode::parse(asset).unwrap();
    let accounts = ledger
        .open_pots_in_bulk(
            OwnerKind::Member,
            &[member.to_owned()],
            &[(asset_code.clone(), "available")],
        )
        .await
        .unwrap();
    let custodian_pot = ledger
        .open_pot(OwnerKind::External, CUSTODIAN_POT)
        .await
        .unwrap();
    let custodian = ledger
        .open_account(custodian_pot, &asset_code, "available", true)
        .await
        .unwrap();
    let workflow_id = format!("fixture/holding/{member}/{asset}");
    let entry = fixture_entry(
        &workflow_id,
        "hold",
        vec![(custodian, -units), (accounts[0][0], units)],
    );
    ledger.post(&entry).await.unwrap();
}

/// A booking date `days` before today: the run reads the bank's statement as of its own (UTC)
/// day, so the test's payments are booked on days already come, whatever the dealing date.
pub fn booked_days_ago(days: u64) -> NaiveDate {
    chrono::Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(days))
        .unwrap()
}

/// An employer's payment into ACME's bank account, staged at the simulator's bank.
pub async fn pay(
    dealing: &Dealing,
    payment_id: &str,
    reference: &str,
    on: NaiveDate,
    amount: Decimal,
) {
    stage_payment(dealing, "bank", payment_id, reference, on, amount).await;
}

/// A member's payment, quoting their request id, collected by the simulator's payment provider.
pub async fn pay_provider(
    dealing: &Dealing,
    payment_id: &str,
    request_id: &str,
    on: NaiveDate,
    amount: Decimal,
) {
    stage_payment(dealing, "provider", payment_id, request_id, on, amount).await;
}

async fn stage_payment(
    dealing: &Dealing,
    party: &str,
    payment_id: &str,
    reference: &str,
    on: NaiveDate,
    amount: Decimal,
) {
    let response = dealing
        .http
        .post(format!(
            "{}/{party}/payments",
            dealing.platform.custodian_url
        ))
        .json(&serde_json::json!({
            "payment_id": payment_id,
            "reference": reference,
            "amount": amount.to_string(),
            "booking_date": on,
        }))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
}
