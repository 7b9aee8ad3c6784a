//! Custodian callbacks as received (migration 0014): the ingress stores each authenticated
//! callback here before it signals the trade's run, so none is lost when the run has closed or
//! Temporal does not take the signal; operators read them by order reference. Append-only.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::TradeBookError;

/// One stored callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StoredCallback {
    pub callback_id: i64,
    pub received_at: DateTime<Utc>,
    pub order_ref: String,
    /// `priced` or `settled`.
    pub kind: String,
    pub body_sha256: String,
}

/// Stores a callback's `body` exactly as received, with its digest; returns its id.
pub async fn record(
    pool: &PgPool,
    order_ref: &str,
    kind: &str,
    body: &[u8],
) -> Result<i64, TradeBookError> {
    Ok(sqlx::query_scalar(
        "insert into custodian_callback (order_ref, kind, body, body_sha256)
         values ($1, $2, $3, $4) returning callback_id",
    )
    .bind(order_ref)
    .bind(kind)
    .bind(body)
    .bind(hex::encode(Sha256::digest(body)))
    .fetch_one(pool)
    .await?)
}

/// The callbacks received for an order, oldest first.
pub async fn for_order(
    pool: &PgPool,
    order_ref: &str,
) -> Result<Vec<StoredCallback>, TradeBookError> {
    Ok(sqlx::query_as(
        "select callback_id, received_at, order_ref, kind, body_sha256
         from custodian_callback where order_ref = $1 order by callback_id",
    )
    .bind(order_ref)
    .fetch_all(pool)
    .await?)
}
