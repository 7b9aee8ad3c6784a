//! The simulator's background work: the clock loop that prices and settles orders as the
//! business date moves, the delivery loop that posts callbacks, and the automatic day clock.
//!
//! They are separate tasks so that a platform that does not answer callbacks can never hold
//! the clock back. Each loop derives its work from the database on every pass (woken early by
//! a [`Notify`], else by a short tick), so a restart simply carries on.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use tokio::sync::{Notify, watch};

use crate::error::{Error, chain};
use crate::messages::{CallbackSecret, Faults, OrderRequest, SIGNATURE_HEADER, sign_callback};
use crate::price_feed;
use crate::pricing::{self, Terms};
use crate::store::Store;

/// How often the loops look for work when nobody woke them.
const TICK: Duration = Duration::from_millis(250);
/// Orders priced per pass, and callbacks delivered per pass.
const BATCH: i64 = 500;
/// Attempts per callback copy, the first backoff (doubling) and each request's time limit.
const CALLBACK_ATTEMPTS: i16 = 4;
const CALLBACK_BACKOFF: Duration = Duration::from_millis(100);
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(2);

/// Where callbacks go, and the secret they are signed with.
#[derive(Debug)]
pub struct Callbacks {
    pub url: reqwest::Url,
    pub secret: CallbackSecret,
}

/// What the HTTP handlers and the loops share.
#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    pub settlement_lag_days: u32,
    pub day_length: Option<Duration>,
    pub callbacks: Option<Callbacks>,
    pub wake_clock: Notify,
    pub wake_delivery: Notify,
    /// The seed of the random draws and of the price feed (`price_feed`).
    pub seed: u64,
    rng: Mutex<StdRng>,
}

impl Shared {
    pub fn new(
        store: Store,
        settlement_lag_days: u32,
        day_length: Option<Duration>,
        callbacks: Option<Callbacks>,
        seed: u64,
    ) -> Self {
        Self {
            store,
            settlement_lag_days,
            day_length,
            callbacks,
            wake_clock: Notify::new(),
            wake_delivery: Notify::new(),
            seed,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// True for about `rate` of calls (rate has at most 6 decimals).
    pub fn roll(&self, rate: Decimal) -> bool {
        if rate <= Decimal::ZERO {
            return false;
        }
        let draw = self
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .random_range(0..1_000_000_u32);
        rate.checked_mul(Decimal::from(1_000_000))
            .is_some_and(|threshold| Decimal::from(draw) < threshold)
    }

    /// Copies of each callback to send under these faults: none without a URL or when dropped.
    fn callback_copies(&self, faults: &Faults) -> i16 {
        match (
            &self.callbacks,
            faults.drop_callbacks,
            faults.duplicate_callbacks,
        ) {
            (None, _, _) | (_, true, _) => 0,
            (_, false, true) => 2,
            (_, false, false) => 1,
        }
    }
}

/// Prices the orders whose trade date has closed, then settles those whose settlement date has
/// come. Returns how many callbacks were queued.
pub async fn step(shared: &Shared) -> Result<usize, Error> {
    let store = &shared.store;
    let business_date = store.business_date().await?;
    let faults = store.faults().await?;
    let copies = shared.callback_copies(&faults);
    let terms = Terms {
        fill_fraction: faults.partial_fill,
        charge_bps: faults.dealing_charge_bps,
    };
    let mut queued = 0;
    for order in store
        .orders_to_price(business_date, faults.price_delay_ms, BATCH)
        .await?
    {
        let request = &order.request.0;
        let price =
            price_feed::closing_price(store, shared.seed, request.isin(), request.trade_date())
                .await?
                .unwrap_or(Decimal::ZERO);
        // A zero price (past the feed's end) is refused by the fill below, so the order is.
        let fill = match request {
            OrderRequest::Subscription { cash_amount, .. } => {
                pricing::fill_buy(*cash_amount, price, terms)
            }
            OrderRequest::Redemption { units, .. } => pricing::fill_sell(*units, price, terms),
        };
        match fill {
            Ok(fill) => {
                if let Some(confirmation) =
                    store.record_priced(&order, price, &fill, copies).await?
                {
                    tracing::info!(order_ref = %confirmation.order_ref, %price,
                        units = %confirmation.units, "order priced");
                    queued += 1;
                }
            }
            Err(error) => {
                // Validation bounds every order, so this is a bug; refuse rather than guess.
                tracing::error!(order_ref = request.order_ref(), %error, "cannot price order");
                let reason = format!("cannot price: {error}");
                store.reject_received(request.order_ref(), &reason).await?;
            }
        }
    }
    let late_notice_of = store.recon_faults().await?.late_notice_of;
    let settled = store
        .settle_due(business_date, copies, late_notice_of.as_deref())
        .await?;
    if settled > 0 {
        tracing::info!(settled, %business_date, "orders settled");
    }
    queued += settled;
    if queued > 0 {
        shared.wake_delivery.notify_one();
    }
    Ok(queued)
}

pub async fn run_clock_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(error) = step(&shared).await {
            tracing::warn!(error = %chain(&error), "clock step failed; will retry");
        }
        tokio::select! {
            () = shared.wake_clock.notified() => {}
            () = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Moves the business date on by one day every `day_length` (automatic mode).
pub async fn run_day_clock(
    shared: Arc<Shared>,
    day_length: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let start = tokio::time::Instant::now() + day_length;
    let mut days = tokio::time::interval_at(start, day_length);
    days.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = days.tick() => match shared.store.advance_clock(1).await {
                Ok(date) => {
                    tracing::info!(business_date = %date, "business day started");
                    shared.wake_clock.notify_one();
                }
                Err(error) => tracing::warn!(error = %chain(&error), "cannot advance the clock"),
            },
            _ = shutdown.changed() => return,
        }
    }
}

pub async fn run_delivery_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let Some(callbacks) = &shared.callbacks else {
        return; // Nothing is ever queued for delivery without a URL.
    };
    let client = match reqwest::Client::builder().timeout(CALLBACK_TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %chain(&error), "cannot build the callback client");
            return;
        }
    };
    loop {
        if let Err(error) = deliver_pending(&shared, &client, callbacks, &shutdown).await {
            tracing::warn!(error = %chain(&error), "callback delivery failed; will retry");
        }
        tokio::select! {
            () = shared.wake_delivery.notified() => {}
            () = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Sends the outbox in order. A callback whose copies all got a 2xx is `delivered`; one that
/// still fails after the retries is `failed` and left to the platform's polling.
async fn deliver_pending(
    shared: &Shared,
    client: &reqwest::Client,
    callbacks: &Callbacks,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), Error> {
    for (callback_id, copies, body) in shared.store.pending_callbacks(BATCH).await? {
        let mut delivered = true;
        for copy_no in 1..=copies {
            delivered &=
                deliver_copy(shared, client, callbacks, callback_id, copy_no, &body).await?;
        }
        shared.store.finish_callback(callback_id, delivered).await?;
        if *shutdown.borrow() {
            break;
        }
    }
    Ok(())
}

async fn deliver_copy(
    shared: &Shared,
    client: &reqwest::Client,
    callbacks: &Callbacks,
    callback_id: i64,
    copy_no: i16,
    body: &serde_json::Value,
) -> Result<bool, Error> {
    let body = body.to_string().into_bytes();
    let signature = sign_callback(&callbacks.secret, &body);
    let mut backoff = CALLBACK_BACKOFF;
    for attempt_no in 1..=CALLBACK_ATTEMPTS {
        let request = client
            .post(callbacks.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, &signature)
            .body(body.clone());
        let outcome = match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(error) => Err(chain(&error)),
        };
        crate::metrics::callback_attempt(&outcome);
        let success = matches!(outcome, Ok(status) if (200..300).contains(&status));
        if !success {
            tracing::warn!(callback_id, attempt_no, ?outcome, "callback not accepted");
        }
        shared
            .store
            .record_attempt(callback_id, copy_no, attempt_no, outcome)
            .await?;
        if success {
            return Ok(true);
        }
        if attempt_no < CALLBACK_ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    tracing::warn!(callback_id, "giving up on callback; the platform must poll");
    Ok(false)
}
