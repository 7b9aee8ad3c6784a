//! The HTTP API: orders and statements as the platform sees them, the bank's side and the
//! payment provider's (`/bank`, `/provider`, in `api/bank.rs`), and `/admin` for the clock, prices and fault knobs. Every refusal is a JSON
//! [`ErrorBody`] with a stable code.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::engine::Shared;
use crate::error::{Error, chain};
use crate::messages::{
    self, AdvanceClock, CURRENCY, CallbackRecord, CashStatement, ClockState, ErrorBody, Faults,
    HoldingsStatement, MessageError, OrderRequest, OrderState, OrderStatus, PriceQuote,
    RejectOrder,
};
use crate::store::Inserted;
use crate::{calendar, reporting};

mod bank;

/// The most business days one `POST /admin/clock/advance` may move.
const MAX_ADVANCE_DAYS: u32 = 30;
/// The highest closing price accepted, which keeps pricing arithmetic far from overflow.
const MAX_PRICE: i64 = 1_000_000;
/// Rows returned by `GET /admin/callbacks`.
const MAX_CALLBACK_RECORDS: i64 = 10_000;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/orders", post(place_order))
        .route("/orders/{order_ref}", get(order_status))
        .route("/prices/closing", get(crate::price_feed::published))
        .route("/statements/holdings", get(holdings_statement))
        .route("/statements/cash", get(cash_statement))
        .route(
            "/statements/transactions",
            get(reporting::transaction_statement),
        )
        .route("/admin/clock", get(clock))
        .route("/admin/clock/advance", post(advance_clock))
        .route("/admin/faults", get(faults).put(set_faults))
        .route(
            "/admin/recon-faults",
            get(reporting::recon_faults).put(reporting::set_recon_faults),
        )
        .route("/admin/prices/{isin}/{date}", put(set_price))
        .route("/admin/orders/{order_ref}/reject", post(reject_order))
        .route("/admin/callbacks", get(callbacks))
        .route("/metrics", get(crate::metrics::render))
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .with_state(shared.clone())
        .merge(bank::router(shared))
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.to_owned(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<MessageError> for ApiError {
    fn from(error: MessageError) -> Self {
        Self::bad_request(error.code(), error.to_string())
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        tracing::error!(error = %chain(&error), "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "custodian.internal",
            "internal error; see the simulator's log",
        )
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("message.malformed", format!("malformed body: {e}")))
}

pub(crate) fn parse_date(text: &str) -> ApiResult<NaiveDate> {
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "date.invalid",
            format!("{text:?} is not a date (YYYY-MM-DD)"),
        )
    })
}

/// The fault knobs `error_burst` and `error_rate`: answer 503 before doing anything.
async fn fail_if_unavailable(shared: &Shared) -> ApiResult<()> {
    if shared.store.take_error_burst().await?
        || shared.roll(shared.store.faults().await?.error_rate)
    {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "custodian.unavailable",
            "the custodian is unavailable; retry later",
        ));
    }
    Ok(())
}

/// Why a new order is refused on receipt, if it is.
fn rejection(order: &OrderRequest, business_date: NaiveDate, faults: &Faults) -> Option<String> {
    let trade_date = order.trade_date();
    if trade_date < business_date {
        Some("trade date closed".to_owned())
    } else if !calendar::is_business_day(trade_date) {
        Some(format!("trade date {trade_date} is not a business day"))
    } else if faults.reject_isins.iter().any(|isin| isin == order.isin()) {
        Some(format!(
            "isin {} is not dealt by the custodian",
            order.isin()
        ))
    } else {
        None
    }
}

/// `POST /orders`: idempotent by `order_ref`. A repeat with the same content answers 200 with
/// the current status; with different content, 409.
async fn place_order(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<OrderStatus>)> {
    fail_if_unavailable(&shared).await?;
    let order = messages::parse_order_request(&body)?;
    let store = &shared.store;
    let faults = store.faults().await?;
    let settlement_date =
        calendar::add_business_days(order.trade_date(), shared.settlement_lag_days)
            .ok_or_else(|| ApiError::bad_request("date.invalid", "trade date is out of range"))?;
    let inserted = store
        .insert_order(&order, settlement_date, |business_date| {
            rejection(&order, business_date, &faults)
        })
        .await?;
    if let Inserted::New { reason } = inserted {
        tracing::info!(order_ref = order.order_ref(), rejected = ?reason, "order received");
        let status = OrderStatus {
            order_ref: order.order_ref().to_owned(),
            status: match reason {
                Some(_) => OrderState::Rejected,
                None => OrderState::Received,
            },
            reason,
            confirmation: None,
        };
        return Ok((StatusCode::CREATED, Json(status)));
    }
    let existing = store
        .find_order(order.order_ref())
        .await?
        .ok_or_else(|| Error::Corrupt(format!("order {} vanished", order.order_ref())))?;
    if existing.request.0 != order {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "order.conflict",
            format!(
                "order {} was already placed with different content",
                order.order_ref()
            ),
        ));
    }
    Ok((StatusCode::OK, Json(existing.status()?)))
}

/// `GET /orders/{order_ref}`: the platform's polling fallback.
async fn order_status(
    State(shared): State<Arc<Shared>>,
    Path(order_ref): Path<String>,
) -> ApiResult<Json<OrderStatus>> {
    fail_if_unavailable(&shared).await?;
    match shared.store.find_order(&order_ref).await? {
        Some(order) => Ok(Json(order.status()?)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "order.unknown",
            format!("no order {order_ref:?}"),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct AsOf {
    as_of: Option<String>,
}

pub(crate) async fn as_of_date(shared: &Shared, query: AsOf) -> ApiResult<NaiveDate> {
    match query.as_of {
        Some(text) => parse_date(&text),
        None => Ok(shared.store.business_date().await?),
    }
}

async fn holdings_statement(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AsOf>,
) -> ApiResult<Json<HoldingsStatement>> {
    let as_of = as_of_date(&shared, query).await?;
    let holdings = crate::reporting::holdings(&shared, as_of).await?;
    Ok(Json(HoldingsStatement { as_of, holdings }))
}

async fn cash_statement(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AsOf>,
) -> ApiResult<Json<CashStatement>> {
    let as_of = as_of_date(&shared, query).await?;
    let entries = crate::reporting::cash_entries(&shared, as_of).await?;
    let closing_balance = entries
        .iter()
        .try_fold(Decimal::ZERO, |sum, entry| sum.checked_add(entry.amount))
        .ok_or_else(|| Error::Corrupt("cash statement overflows".to_owned()))?;
    Ok(Json(CashStatement {
        as_of,
        currency: CURRENCY.to_owned(),
        entries,
        closing_balance,
    }))
}

async fn clock_state(shared: &Shared) -> ApiResult<ClockState> {
    Ok(ClockState {
        business_date: shared.store.business_date().await?,
        mode: if shared.day_length.is_some() {
            "automatic"
        } else {
            "manual"
        }
        .to_owned(),
        day_length_ms: shared
            .day_length
            .map(|length| u64::try_from(length.as_millis()).unwrap_or(u64::MAX)),
    })
}

async fn clock(State(shared): State<Arc<Shared>>) -> ApiResult<Json<ClockState>> {
    Ok(Json(clock_state(&shared).await?))
}

/// `POST /admin/clock/advance`: the date moves at once; pricing, settlement and callbacks
/// follow in the background within moments.
async fn advance_clock(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> ApiResult<Json<ClockState>> {
    let AdvanceClock { days } = parse_json(&body)?;
    if !(1..=MAX_ADVANCE_DAYS).contains(&days) {
        return Err(ApiError::bad_request(
            "clock.invalid_days",
            format!("days must be between 1 and {MAX_ADVANCE_DAYS}, got {days}"),
        ));
    }
    let date = shared.store.advance_clock(days).await?;
    tracing::info!(business_date = %date, days, "clock advanced");
    shared.wake_clock.notify_one();
    Ok(Json(clock_state(&shared).await?))
}

async fn faults(State(shared): State<Arc<Shared>>) -> ApiResult<Json<Faults>> {
    Ok(Json(shared.store.faults().await?))
}

async fn set_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Json<Faults>> {
    let faults: Faults = parse_json(&body)?;
    faults.validate()?;
    shared.store.set_faults(&faults).await?;
    tracing::info!(?faults, "faults set");
    Ok(Json(faults))
}

async fn set_price(
    State(shared): State<Arc<Shared>>,
    Path((isin, date)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    messages::validate_isin(&isin)?;
    let trade_date = parse_date(&date)?;
    let PriceQuote { price } = parse_json(&body)?;
    messages::validate_amount("price", price, messages::MAX_PRICE_SCALE)?;
    if price > Decimal::from(MAX_PRICE) {
        return Err(ApiError::bad_request(
            "amount.out_of_range",
            format!("price must be at most {MAX_PRICE}, got {price}"),
        ));
    }
    shared.store.set_price(&isin, trade_date, price).await?;
    Ok(Json(serde_json::json!({
        "isin": isin, "trade_date": trade_date, "price": price.to_string(),
    })))
}

/// `POST /admin/orders/{order_ref}/reject`: only an order not yet priced can be refused.
async fn reject_order(
    State(shared): State<Arc<Shared>>,
    Path(order_ref): Path<String>,
    body: Bytes,
) -> ApiResult<Json<OrderStatus>> {
    let RejectOrder { reason } = parse_json(&body)?;
    if reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "reject.no_reason",
            "a rejection needs a reason",
        ));
    }
    let rejected = shared.store.reject_received(&order_ref, &reason).await?;
    // Read after the attempt, so a refusal names the state that stopped it.
    let Some(order) = shared.store.find_order(&order_ref).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "order.unknown",
            format!("no order {order_ref:?}"),
        ));
    };
    let status = order.status()?;
    if !rejected {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "order.not_rejectable",
            format!(
                "order {order_ref:?} is {}; only an order not yet priced can be rejected",
                serde_json::to_string(&status.status).unwrap_or_default()
            ),
        ));
    }
    tracing::info!(%order_ref, %reason, "order rejected after acceptance");
    Ok(Json(status))
}

async fn callbacks(State(shared): State<Arc<Shared>>) -> ApiResult<Json<Vec<CallbackRecord>>> {
    Ok(Json(
        shared.store.callback_records(MAX_CALLBACK_RECORDS).await?,
    ))
}
