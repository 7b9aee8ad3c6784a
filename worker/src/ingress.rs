//! The callback ingress: the one HTTP endpoint the custodian calls. It validates a callback,
//! finds the external trade by our order reference and signals that trade's workflow.
//!
//! - no valid signature (`x-custodian-signature`, HMAC-SHA256 of the body under the shared
//!   secret) → 401, before anything else is read: only the custodian can price or settle;
//! - malformed body → 400 with a code; unknown order reference → 404;
//! - a callback for a known order is stored as received (`custodian_callback`) before the run
//!   is signalled; a repeat (the workflow ignores it) → 202; a callback whose run has closed →
//!   200 with the code `callback.run_closed`: kept for an operator, logged, not acted on;
//! - Temporal unreachable → 503, so the custodian retries (and the workflow's polling covers
//!   a callback that never arrives).
//!
//! Every callback is counted: `acme_callbacks_received_total{kind}` when acted on (or a repeat),
//! `acme_callbacks_refused_total{reason}` when refused (on the worker's `/metrics`).

use std::net::SocketAddr;

use acme_activities::dealing::external_trade_workflow_id;
use acme_activities::trade_book::{TradeBookError, callbacks, external_trades};
use acme_custodian::messages::{
    Callback, CallbackSecret, ErrorBody, SIGNATURE_HEADER, callback_signature_holds,
};
use acme_ledger::Ledger;
use acme_workflows::external_trade::{ExternalTradeWorkflow, SettledNotice};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use temporalio_client::errors::WorkflowInteractionError;
use temporalio_client::{Client, WorkflowSignalOptions};

/// Where the custodian posts callbacks.
pub const CALLBACK_PATH: &str = "/custodian/callbacks";

#[derive(Clone)]
struct Ingress {
    client: Client,
    ledger: Ledger,
    /// The secret the custodian signs callbacks with.
    secret: CallbackSecret,
}

/// The ingress's routes, ready to serve.
pub fn router(client: Client, ledger: Ledger, secret: CallbackSecret) -> Router {
    Router::new()
        .route(CALLBACK_PATH, post(receive))
        .with_state(Ingress {
            client,
            ledger,
            secret,
        })
}

/// Serves the ingress on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    client: Client,
    ledger: Ledger,
    secret: CallbackSecret,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(client, ledger, secret))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds the ingress's address, with a clear error when it is taken.
pub async fn bind(address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for custodian callbacks on {address}: {e}"))
}

async fn receive(
    State(ingress): State<Ingress>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let signed = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|signature| callback_signature_holds(&ingress.secret, &body, signature));
    if !signed {
        return refuse(
            "unauthenticated",
            StatusCode::UNAUTHORIZED,
            "callback.unauthenticated",
            format!(
                "no valid {SIGNATURE_HEADER} header: callbacks must be signed by the custodian"
            ),
        );
    }
    let callback: Callback = match serde_json::from_slice(&body) {
        Ok(callback) => callback,
        Err(e) => {
            return refuse(
                "malformed",
                StatusCode::BAD_REQUEST,
                "callback.malformed",
                e.to_string(),
            );
        }
    };
    let order_ref = callback.order_ref().to_owned();
    let trade = match external_trades::by_order_ref(ingress.ledger.pool(), &order_ref).await {
        Ok(Some(trade)) => trade,
        Ok(None) => {
            return refuse(
                "unknown_order",
                StatusCode::NOT_FOUND,
                "order.unknown",
                format!("no external trade has order reference {order_ref:?}"),
            );
        }
        // A trade the book cannot read (an unknown side, say) is not guessed at.
        Err(TradeBookError::Database(e)) => {
            return refuse(
                "ledger_unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "ledger.unavailable",
                e.to_string(),
            );
        }
        Err(e) => {
            return refuse(
                "unreadable",
                StatusCode::INTERNAL_SERVER_ERROR,
                "external_trade.unreadable",
                e.to_string(),
            );
        }
    };
    let handle =
        ingress
            .client
            .get_workflow_handle::<ExternalTradeWorkflow>(external_trade_workflow_id(
                trade.dealing_date,
                &trade.asset_code,
                trade.side,
            ));
    let kind = match &callback {
        Callback::Priced { .. } => "priced",
        Callback::Settled { .. } => "settled",
    };
    // Stored before the run hears of it: whatever happens to the signal, the callback is kept.
    // The signature above is why it may be trusted as the custodian's.
    let stored = match callbacks::record(ingress.ledger.pool(), &order_ref, kind, &body).await {
        Ok(stored) => stored,
        Err(e) => {
            return refuse(
                "ledger_unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "ledger.unavailable",
                e.to_string(),
            );
        }
    };
    let signalled = match callback {
        Callback::Priced { confirmation } => {
            handle
                .signal(
                    ExternalTradeWorkflow::priced,
                    confirmation,
                    WorkflowSignalOptions::default(),
                )
                .await
        }
        Callback::Settled {
            order_ref,
            settlement_date,
        } => {
            let notice = SettledNotice {
                order_ref,
                settlement_date,
            };
            handle
                .signal(
                    ExternalTradeWorkflow::settled,
                    notice,
                    WorkflowSignalOptions::default(),
                )
                .await
        }
    };
    match signalled {
        Ok(()) => {
            acme_sdk::metrics::callback(Ok(kind));
            StatusCode::ACCEPTED.into_response()
        }
        // The trade's run has closed (usually it found the same fact by polling first): nothing
        // will act on this callback. It is kept (above) for an operator, logged and counted, and
        // the custodian is told so; the delivery itself succeeded, so it is not asked to retry.
        Err(WorkflowInteractionError::NotFound(_)) => refuse(
            "run_closed",
            StatusCode::OK,
            "callback.run_closed",
            format!(
                "the run of order {order_ref} has closed: {kind} callback kept as \
                 custodian_callback {stored} for an operator, not acted on"
            ),
        ),
        Err(e) => refuse(
            "temporal_unavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            "temporal.unavailable",
            e.to_string(),
        ),
    }
}

/// Refuses a callback (does not act on it), counted in `acme_callbacks_refused_total{reason}`.
fn refuse(reason: &str, status: StatusCode, code: &str, message: String) -> Response {
    acme_sdk::metrics::callback(Err(reason));
    tracing::warn!(%status, code, message, "custodian callback refused");
    (
        status,
        Json(ErrorBody {
            code: code.to_owned(),
            message,
        }),
    )
        .into_response()
}
