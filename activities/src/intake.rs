//! The HTTP intake's intents (ADR 25): the one owner of `api_intent` (migration 0016). Every
//! request the intake accepts is stored here before it is answered, under the client that sent
//! it and its `Idempotency-Key`, with a digest of what was asked and the answer given, so a
//! replay gets the same answer and a reused key with another request is refused.

use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};

/// What kind of request an intent is; the intake's two resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntentKind {
    ContributionSchedule,
    Investment,
}

impl IntentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContributionSchedule => "contribution-schedule",
            Self::Investment => "investment",
        }
    }
}

/// A request to store: who sent it, under which key, what it asked, the run that handles it
/// and the answer it is given.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIntent<'a> {
    pub client_id: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub kind: IntentKind,
    /// SHA-256 (hex) of the request: kind, parameters and body.
    pub request_sha256: &'a str,
    pub workflow_id: &'a str,
    pub response: &'a serde_json::Value,
}

/// A stored intent, as a replay needs it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Intent {
    pub intent_id: i64,
    pub client_id: String,
    pub kind: String,
    pub request_sha256: String,
    pub workflow_id: String,
    pub response: serde_json::Value,
}

/// Serialises the requests of one client under one key: held (a transaction-scoped advisory
/// lock) while the first is handled, so a concurrent twin waits and then finds its intent
/// instead of doing the work again. Dropping it releases the lock.
#[derive(Debug)]
pub struct KeyLock(Transaction<'static, Postgres>);

impl KeyLock {
    pub async fn release(self) -> Result<(), sqlx::Error> {
        self.0.rollback().await
    }
}

/// Takes the lock of `(client_id, idempotency_key)`, waiting while another request holds it.
pub async fn lock_key(
    pool: &PgPool,
    client_id: &str,
    idempotency_key: &str,
) -> Result<KeyLock, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "select pg_advisory_xact_lock(hashtextextended('api_intent/' || $1 || '/' || $2, 0))",
    )
    .bind(client_id)
    .bind(idempotency_key)
    .execute(&mut *tx)
    .await?;
    Ok(KeyLock(tx))
}

/// The intent `client_id` stored under `idempotency_key`, if any.
pub async fn by_key(
    pool: &PgPool,
    client_id: &str,
    idempotency_key: &str,
) -> Result<Option<Intent>, sqlx::Error> {
    sqlx::query_as(
        "select intent_id, client_id, kind, request_sha256, workflow_id, response
         from api_intent where client_id = $1 and idempotency_key = $2",
    )
    .bind(client_id)
    .bind(idempotency_key)
    .fetch_optional(pool)
    .await
}

/// The first intent (by any client) handled by `workflow_id`, if any: a business key is
/// global, so a second request for it must be the same request.
pub async fn first_for_workflow(
    pool: &PgPool,
    workflow_id: &str,
) -> Result<Option<Intent>, sqlx::Error> {
    sqlx::query_as(
        "select intent_id, client_id, kind, request_sha256, workflow_id, response
         from api_intent where workflow_id = $1 order by intent_id limit 1",
    )
    .bind(workflow_id)
    .fetch_optional(pool)
    .await
}

/// Whether `client_id` sent a request handled by `workflow_id` (a client sees only its own).
pub async fn client_sent(
    pool: &PgPool,
    client_id: &str,
    workflow_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from api_intent where client_id = $1 and workflow_id = $2)",
    )
    .bind(client_id)
    .bind(workflow_id)
    .fetch_one(pool)
    .await
}

/// Stores an intent and returns its id. The caller holds the key's lock (if it has a key) and
/// has looked it up first, so the unique `(client_id, idempotency_key)` is a last guard.
pub async fn record(pool: &PgPool, intent: &NewIntent<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into api_intent
             (client_id, idempotency_key, kind, request_sha256, workflow_id, response)
         values ($1, $2, $3, $4, $5, $6) returning intent_id",
    )
    .bind(intent.client_id)
    .bind(intent.idempotency_key)
    .bind(intent.kind.as_str())
    .bind(intent.request_sha256)
    .bind(intent.workflow_id)
    .bind(intent.response)
    .fetch_one(pool)
    .await
}
