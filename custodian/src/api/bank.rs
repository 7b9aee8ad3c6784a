//! The bank side of the simulator: ACME's bank account as its bank shows it. An employer's
//! payment can be staged (as if it had arrived), and the account statement (`camt.053`, in the
//! custodian cash statement's shape, so reconciliation reads both alike) lists every movement
//! booked up to its date: the staged payments, under the payer's reference, and the settlements
//! with the custodian, under the order reference (a buy's cash leaves the account, a sell's
//! arrives), read from the custodian's own settled orders.
//!
//! Staged payments live in memory: a restarted simulator's bank has none (the platform keeps
//! every statement it imported, as received).

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
/// Payments the bank holds at most: a bound on the simulator's memory.
const MAX_PAYMENTS: usize = 100_000;

/// `POST /bank/payments`: a payment into ACME's account. The same `payment_id` again with the
/// same reference and amount changes nothing; with others it is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedPayment {
    pub payment_id: String,
    /// The payer's reference, e.g. a contribution schedule's payment reference.
    pub reference: String,
    #[serde(with = "decimal_string")]
    pub amount: Decimal,
    /// The day it is booked; the simulator's business date if left out.
    #[serde(default)]
    pub booking_date: Option<NaiveDate>,
}

struct Bank {
    shared: Arc<Shared>,
    payments: Mutex<BTreeMap<String, StagedPayment>>,
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let bank = Arc::new(Bank {
        shared,
        payments: Mutex::new(BTreeMap::new()),
    });
    Router::new()
        .route("/bank/payments", post(stage_payment))
        .route("/bank/statement", get(statement))
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .with_state(bank)
}

fn check_text(field: &str, text: &str) -> ApiResult<()> {
    if text.is_empty() || text.chars().count() > MAX_REFERENCE_CHARS {
        return Err(ApiError::bad_request(
            "payment.invalid",
            format!("{field} {text:?} must be 1 to {MAX_REFERENCE_CHARS} characters"),
        ));
    }
    Ok(())
}

async fn stage_payment(
    State(bank): State<Arc<Bank>>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<StagedPayment>)> {
    let mut payment: StagedPayment = parse_json(&body)?;
    check_text("payment_id", &payment.payment_id)?;
    check_text("reference", &payment.reference)?;
    if payment.amount <= Decimal::ZERO || payment.amount.scale() > 2 {
        return Err(ApiError::bad_request(
            "payment.invalid",
            format!(
                "amount {} must be positive pounds with at most 2 decimals",
                payment.amount
            ),
        ));
    }
    let mut payments = bank.payments.lock().await;
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
            format!("the simulated bank holds at most {MAX_PAYMENTS} payments"),
        ));
    }
    if payment.booking_date.is_none() {
        payment.booking_date = Some(bank.shared.store.business_date().await?);
    }
    payments.insert(payment.payment_id.clone(), payment.clone());
    Ok((StatusCode::CREATED, Json(payment)))
}

/// `GET /bank/statement?as_of=D`: every movement booked up to `D` (default: the business date).
async fn statement(
    State(bank): State<Arc<Bank>>,
    Query(query): Query<AsOf>,
) -> ApiResult<Json<CashStatement>> {
    let as_of = as_of_date(&bank.shared, query).await?;
    let mut entries: Vec<CashEntry> = bank
        .payments
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
        .collect();
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
    entries.sort_by(|a, b| (a.booking_date, &a.order_ref).cmp(&(b.booking_date, &b.order_ref)));
    let closing_balance = entries
        .iter()
        .try_fold(Decimal::ZERO, |sum, entry| sum.checked_add(entry.amount))
        .ok_or_else(|| Error::Corrupt("bank statement overflows".to_owned()))?;
    Ok(Json(CashStatement {
        as_of,
        currency: CURRENCY.to_owned(),
        entries,
        closing_balance,
    }))
}
