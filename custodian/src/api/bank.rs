//! The money coming in from outside, as the outside shows it: ACME's bank account and the payment
//! provider that collects members' own payments.
//!
//! - The bank: an employer's payment can be staged (as if it had arrived), and the account
//!   statement (`camt.053`, in the custodian cash statement's shape, so reconciliation reads all
//!   alike) lists every movement booked up to its date: the staged payments, under the payer's
//!   reference, and the settlements with the custodian, under the order reference (a buy's cash
//!   leaves the account, a sell's arrives), read from the custodian's own settled orders.
//! - The payment provider: a member's payment can be staged the same way, under the reference
//!   the member's request quotes (its request id, up to 40 characters, so longer than ISO
//!   20022's 35), and its settlement statement lists each payment it collected up to its date,
//!   in the same shape. Its payouts to the bank are not modelled (ADR 29).
//!
//! Staged payments live in memory: a restarted simulator has none (the platform keeps every
//! statement it imported, as received).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{ApiError, ApiResult, AsOf, as_of_date, parse_json};
use crate::engine::Shared;
use crate::error::Error;
use crate::messages::{CURRENCY, CashEntry, CashStatement, decimal_string};

/// ISO 20022 references are at most 35 characters.
const MAX_REFERENCE_CHARS: usize = 35;
/// The provider quotes the member's request id, which may be 40 characters.
const MAX_PROVIDER_REFERENCE_CHARS: usize = 40;
/// Payments each book holds at most: a bound on the simulator's memory.
const MAX_PAYMENTS: usize = 100_000;

/// `POST /bank/payments` (a payment into ACME's account) or `POST /provider/payments` (a
/// member's payment the provider collected). The same `payment_id` again with the same reference
/// and amount changes nothing; with others it is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedPayment {
    pub payment_id: String,
    /// The payer's reference: a contribution schedule's payment reference at the bank, the
    /// member's request id at the provider.
    pub reference: String,
    #[serde(with = "decimal_string")]
    pub amount: Decimal,
    /// The day it is booked; the simulator's business date if left out.
    #[serde(default)]
    pub booking_date: Option<NaiveDate>,
}

/// The payments staged at one outside party, by payment id.
struct PaymentBook {
    shared: Arc<Shared>,
    max_reference_chars: usize,
    payments: Mutex<BTreeMap<String, StagedPayment>>,
}

impl PaymentBook {
    fn new(shared: Arc<Shared>, max_reference_chars: usize) -> Arc<Self> {
        Arc::new(Self {
            shared,
            max_reference_chars,
            payments: Mutex::new(BTreeMap::new()),
        })
    }

    fn check_text(&self, field: &str, text: &str) -> ApiResult<()> {
        let max = self.max_reference_chars;
        if text.is_empty() || text.chars().count() > max {
            return Err(ApiError::bad_request(
                "payment.invalid",
                format!("{field} {text:?} must be 1 to {max} characters"),
            ));
        }
        Ok(())
    }

    /// The payments booked up to `as_of`, as statement lines under their reference.
    async fn entries(&self, as_of: NaiveDate) -> Vec<CashEntry> {
        self.payments
            .lock()
            .await
            .values()
            .filter_map(|payment| {
                let booking_date = payment.booking_date.filter(|date| *date <= as_of)?;
                Some(CashEntry {
                    order_ref: payment.reference.clone(),
                    booking_date,
                    amount: payment.amount,
                })
            })
            .collect()
    }
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let bank = PaymentBook::new(shared.clone(), MAX_REFERENCE_CHARS);
    let provider = PaymentBook::new(shared, MAX_PROVIDER_REFERENCE_CHARS);
    Router::new()
        .route("/bank/payments", post(stage_payment))
        .route("/bank/statement", get(bank_statement))
        .with_state(bank)
        .merge(
            Router::new()
                .route("/provider/payments", post(stage_payment))
                .route("/provider/statement", get(provider_statement))
                .with_state(provider),
        )
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
}

async fn stage_payment(
    State(book): State<Arc<PaymentBook>>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<StagedPayment>)> {
    let mut payment: StagedPayment = parse_json(&body)?;
    book.check_text("payment_id", &payment.payment_id)?;
    book.check_text("reference", &payment.reference)?;
    if payment.amount <= Decimal::ZERO || payment.amount.scale() > 2 {
        return Err(ApiError::bad_request(
            "payment.invalid",
            format!(
                "amount {} must be positive pounds with at most 2 decimals",
                payment.amount
            ),
        ));
    }
    let mut payments = book.payments.lock().await;
    if let Some(existing) = payments.get(&payment.payment_id) {
        let same = existing.reference == payment.reference
            && existing.amount == payment.amount
            && payment
                .booking_date
                .is_none_or(|date| Some(date) == existing.booking_date);
        return if same {
            Ok((StatusCode::OK, Json(existing.clone())))
        } else {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "payment.conflict",
                format!("payment {} exists with other content", payment.payment_id),
            ))
        };
    }
    if payments.len() >= MAX_PAYMENTS {
        return Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "payment.too_many",
            format!("the simulator holds at most {MAX_PAYMENTS} payments per book"),
        ));
    }
    if payment.booking_date.is_none() {
        payment.booking_date = Some(book.shared.store.business_date().await?);
    }
    payments.insert(payment.payment_id.clone(), payment.clone());
    Ok((StatusCode::CREATED, Json(payment)))
}

/// `GET /bank/statement?as_of=D`: every movement booked up to `D` (default: the business date).
async fn bank_statement(
    State(bank): State<Arc<PaymentBook>>,
    Query(query): Query<AsOf>,
) -> ApiResult<Json<CashStatement>> {
    let as_of = as_of_date(&bank.shared, query).await?;
    let mut entries = bank.entries(as_of).await;
    // The settlements as they happened: the custodian's reporting faults bend only its own
    // statements, never the bank's.
    entries.extend(
        bank.shared
            .store
            .transactions(as_of, None)
            .await?
            .into_iter()
            .map(|movement| CashEntry {
                order_ref: movement.order_ref.unwrap_or_default(),
                booking_date: movement.settlement_date,
                amount: movement.amount,
            }),
    );
    cash_statement(as_of, entries).map(Json)
}

/// `GET /provider/statement?as_of=D`: every member payment collected up to `D` (default: the
/// business date).
async fn provider_statement(
    State(provider): State<Arc<PaymentBook>>,
    Query(query): Query<AsOf>,
) -> ApiResult<Json<CashStatement>> {
    let as_of = as_of_date(&provider.shared, query).await?;
    let entries = provider.entries(as_of).await;
    cash_statement(as_of, entries).map(Json)
}

fn cash_statement(as_of: NaiveDate, mut entries: Vec<CashEntry>) -> ApiResult<CashStatement> {
    entries.sort_by(|a, b| (a.booking_date, &a.order_ref).cmp(&(b.booking_date, &b.order_ref)));
    let closing_balance = entries
        .iter()
        .try_fold(Decimal::ZERO, |sum, entry| sum.checked_add(entry.amount))
        .ok_or_else(|| Error::Corrupt("cash statement overflows".to_owned()))?;
    Ok(CashStatement {
        as_of,
        currency: CURRENCY.to_owned(),
        entries,
        closing_balance,
    })
}
