//! The HTTP intake (issue 15 point 4, ADR 25): clients (employers' payroll systems, the member
//! portal) send contribution schedules and single investments over HTTP. Each request is
//! authenticated by its client's API key, checked, **stored before it is answered** (a schedule
//! as received, every request as an intent in `api_intent` under its `Idempotency-Key`), answered
//! `202 Accepted` with the workflow id and a status URL, and handled by the same process as the
//! CLI's (`invest-contributions`, `invest-cash`): there is no second path.
//!
//! - `POST /v1/contribution-schedules?employer=E` (body: the CSV file), `GET …/{schedule_id}`;
//! - `POST /v1/investments` (JSON: request id, member, amount), `GET …/{request_id}`;
//! - `GET /v1/openapi.json`: this API's OpenAPI document, generated from the code below.
//!
//! Errors are JSON `{code, message}` with a stable code (docs/bad-input.md lists them).

mod auth;
mod investments;
mod schedules;

use std::net::SocketAddr;
use std::sync::Arc;

use acme_activities::intake::{self, IntentKind, NewIntent};
use acme_sdk::TaskQueues;
use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use temporalio_client::Client;
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_common::error::IncomingError;
use utoipa::OpenApi as _;
use utoipa::ToSchema;

pub use auth::ApiKeys;

/// The header a client names a request by, to send it again safely.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Longest `Idempotency-Key` (`api_intent.idempotency_key`).
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// The largest schedule file accepted unless configured otherwise (as `acme contributions
/// import`'s limit).
pub const DEFAULT_MAX_SCHEDULE_BYTES: u64 =
    acme_activities::contributions::import::LIMITS.max_bytes;

/// What the intake needs besides its connections.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    pub keys: ApiKeys,
    /// Where the processes it starts run (the workers' queues).
    pub queues: TaskQueues,
    /// The largest schedule body, in bytes; larger is refused with 413.
    pub max_schedule_bytes: u64,
}

#[derive(Clone)]
struct Intake {
    client: Client,
    pool: PgPool,
    keys: Arc<ApiKeys>,
    queues: TaskQueues,
    max_schedule_bytes: u64,
}

/// The intake's routes, ready to serve.
pub fn router(client: Client, pool: PgPool, config: IntakeConfig) -> Router {
    Router::new()
        .route(
            schedules::COLLECTION,
            axum::routing::post(schedules::submit),
        )
        .route(
            &format!("{}/{{schedule_id}}", schedules::COLLECTION),
            get(schedules::status),
        )
        .route(
            investments::COLLECTION,
            axum::routing::post(investments::submit),
        )
        .route(
            &format!("{}/{{request_id}}", investments::COLLECTION),
            get(investments::status),
        )
        .route("/v1/openapi.json", get(openapi))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "route.unknown",
                "no such resource; the API is described at /v1/openapi.json",
            )
        })
        .with_state(Intake {
            client,
            pool,
            keys: Arc::new(config.keys),
            queues: config.queues,
            max_schedule_bytes: config.max_schedule_bytes,
        })
}

/// Binds the intake's address, with a clear error when it is taken.
pub async fn bind(address: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for the HTTP intake on {address}: {e}"))
}

/// The OpenAPI document of this API, generated from the handlers and types.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    info(
        title = "ACME intake",
        version = "1",
        description = "Contribution schedules and investments, stored before they are answered \
                       and handled by ACME's processes (ADR 25)."
    ),
    paths(schedules::submit, schedules::status, investments::submit, investments::status),
    modifiers(&BearerKeys),
    security(("api_key" = []))
)]
pub struct ApiDoc;

struct BearerKeys;

impl utoipa::Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the client's API key: `Authorization: Bearer <key>`"))
                    .build(),
            ),
        );
    }
}

async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// An error as every response carries it: a stable code and a message saying what to do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, for programs (e.g. `schedule.truncated`); docs/bad-input.md lists them.
    pub code: String,
    /// For people: what is wrong and what to do.
    pub message: String,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code: code.to_owned(),
                message: message.into(),
            },
        }
    }

    fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "auth.unauthenticated",
            "send your client's API key as `Authorization: Bearer <key>`",
        )
    }

    /// Bad input with a business code: nothing was stored.
    fn unprocessable(error: acme_sdk::BusinessError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, &error.code, error.message)
    }

    fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request.too_large",
            format!("the body is larger than this endpoint's limit of {limit} bytes"),
        )
    }

    fn database(error: &sqlx::Error) -> Self {
        tracing::error!(%error, "intake: the ledger database failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ledger.unavailable",
            "the ledger database cannot be reached; nothing was accepted, send the request again",
        )
    }

    fn temporal(workflow_id: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, workflow_id, "intake: Temporal failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporal.unavailable",
            format!(
                "the request is stored but its run {workflow_id} could not be started or read; \
                 send the same request again (same Idempotency-Key) to start it"
            ),
        )
    }

    fn employer_not_allowed(client: &str, employer: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "employer.not_allowed",
            format!(
                "client {client} may not send schedules for employer {employer}; ask ACME to \
                 add the employer to your client's list"
            ),
        )
    }

    fn not_found(code: &str, what: String) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code,
            format!("{what}: not found for this client"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The `202 Accepted` answer to a request: where it is handled and where to look.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Accepted {
    /// The run handling the request (its business key).
    pub workflow_id: String,
    /// Where the request's progress and outcome are (`GET`).
    pub status_url: String,
    /// What was received, for a schedule: its id, counts and what is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<schedules::ScheduleSummary>,
}

/// A run's progress and outcome, as a status URL shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Stored, its run not started yet (send the request again to start it).
    Accepted,
    Running,
    Completed,
    Failed,
    /// Cancelled, terminated or timed out by an operator or a limit.
    Stopped,
}

/// The code and message of a failed run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunFailure {
    pub code: String,
    pub message: String,
}

/// The `Idempotency-Key` header, if sent: 1-255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| {
            (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(|key| Some(key.to_owned()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key.invalid",
                format!(
                    "the Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_LEN} visible ASCII \
                     characters"
                ),
            )
        })
}

/// The SHA-256 (hex) of a request: its kind and its fields, each on its own line.
fn request_digest(kind: IntentKind, fields: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_str());
    for field in fields {
        hasher.update(b"\n");
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// An earlier request under the same key: the same request gets the stored answer; another is
/// refused, and nothing is done.
fn replay(stored: &intake::Intent, kind: IntentKind, digest: &str) -> Result<Accepted, ApiError> {
    if stored.kind != kind.as_str() || stored.request_sha256 != digest {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key.reused",
            format!(
                "this Idempotency-Key was used for another request (intent {}, run {}); use a \
                 new key for a new request",
                stored.intent_id, stored.workflow_id
            ),
        ));
    }
    serde_json::from_value(stored.response.clone()).map_err(|error| {
        tracing::error!(%error, intent = stored.intent_id, "intake: a stored answer is unreadable");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "intent.unreadable",
            format!(
                "the answer stored as intent {} cannot be read",
                stored.intent_id
            ),
        )
    })
}

/// The lock of a request's `Idempotency-Key` and what was stored under it, if it has one:
/// held until [`answer`], so a concurrent twin waits and then finds the intent.
async fn lock_and_find(
    intake: &Intake,
    caller: &str,
    key: Option<&str>,
) -> Result<(Option<intake::KeyLock>, Option<intake::Intent>), ApiError> {
    let Some(key) = key else {
        return Ok((None, None));
    };
    let lock = intake::lock_key(&intake.pool, caller, key)
        .await
        .map_err(|e| ApiError::database(&e))?;
    let stored = intake::by_key(&intake.pool, caller, key)
        .await
        .map_err(|e| ApiError::database(&e))?;
    Ok((Some(lock), stored))
}

/// Releases the key's lock and answers `202 Accepted`, the status URL as `Location`.
async fn answer(lock: Option<intake::KeyLock>, accepted: Accepted) -> Result<Response, ApiError> {
    if let Some(lock) = lock {
        lock.release().await.map_err(|e| ApiError::database(&e))?;
    }
    let location = HeaderValue::from_str(&accepted.status_url).ok();
    let mut response = (StatusCode::ACCEPTED, Json(accepted)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Refuses with `unknown` (404) unless `caller` sent the request `workflow_id` handles: a client
/// sees only its own requests.
async fn ensure_sent_by(
    intake: &Intake,
    caller: &str,
    workflow_id: &str,
    unknown: impl FnOnce() -> ApiError,
) -> Result<(), ApiError> {
    let sent = intake::client_sent(&intake.pool, caller, workflow_id)
        .await
        .map_err(|e| ApiError::database(&e))?;
    if sent { Ok(()) } else { Err(unknown()) }
}

/// Stores the intent of an accepted request (the caller holds its key's lock).
async fn record(
    intake: &Intake,
    caller: &str,
    key: Option<&str>,
    kind: IntentKind,
    digest: &str,
    accepted: &Accepted,
) -> Result<(), ApiError> {
    let response = serde_json::to_value(accepted).map_err(|error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "intent.unwritable",
            error.to_string(),
        )
    })?;
    intake::record(
        &intake.pool,
        &NewIntent {
            client_id: caller,
            idempotency_key: key,
            kind,
            request_sha256: digest,
            workflow_id: &accepted.workflow_id,
            response: &response,
        },
    )
    .await
    .map_err(|e| ApiError::database(&e))?;
    Ok(())
}

/// A closed run's failure as a status URL shows it.
fn run_failure(error: &WorkflowGetResultError) -> (RunStatus, RunFailure) {
    match error {
        WorkflowGetResultError::Failed(failure) => {
            let code = match failure.as_ref() {
                IncomingError::Application(app) => app.type_name().unwrap_or("run.failed"),
                _ => "run.failed",
            };
            (
                RunStatus::Failed,
                RunFailure {
                    code: code.to_owned(),
                    message: failure.failure().message.clone(),
                },
            )
        }
        other => (
            RunStatus::Stopped,
            RunFailure {
                code: "run.stopped".to_owned(),
                message: other.to_string(),
            },
        ),
    }
}

/// Starts `P` for an accepted request, or attaches to the run already at it (a replay makes
/// sure a stored request's run exists).
async fn start<P: acme_sdk::Process>(
    intake: &Intake,
    input: <P as temporalio_common::WorkflowDefinition>::Input,
) -> Result<(), ApiError> {
    let workflow_id = P::workflow_id(&input);
    acme_sdk::start::<P>(&intake.client, &intake.queues, input)
        .await
        .map(drop)
        .map_err(|e| ApiError::temporal(&workflow_id, &e))
}

/// A run's status, and its output or failure once it has closed.
async fn run_outcome<P: acme_sdk::Process>(
    intake: &Intake,
    workflow_id: &str,
) -> Result<
    (
        RunStatus,
        Option<<P as temporalio_common::WorkflowDefinition>::Output>,
        Option<RunFailure>,
    ),
    ApiError,
> {
    use temporalio_client::errors::WorkflowInteractionError;
    use temporalio_client::{WorkflowExecutionStatus, WorkflowGetResultOptions};
    let handle = intake
        .client
        .get_workflow_handle::<P>(workflow_id.to_owned());
    let status = match handle.describe(Default::default()).await {
        Ok(description) => description.status(),
        Err(WorkflowInteractionError::NotFound(_)) => return Ok((RunStatus::Accepted, None, None)),
        Err(e) => return Err(ApiError::temporal(workflow_id, &e)),
    };
    let closed = matches!(
        status,
        WorkflowExecutionStatus::Completed
            | WorkflowExecutionStatus::Failed
            | WorkflowExecutionStatus::Canceled
            | WorkflowExecutionStatus::Terminated
            | WorkflowExecutionStatus::TimedOut
    );
    if !closed {
        return Ok((RunStatus::Running, None, None));
    }
    match handle.get_result(WorkflowGetResultOptions::default()).await {
        Ok(output) => Ok((RunStatus::Completed, Some(output), None)),
        Err(error) => {
            let (status, failure) = run_failure(&error);
            Ok((status, None, Some(failure)))
        }
    }
}

/// A resource id from the path; a path that does not decode is a 404 like any unknown id.
fn path_id(
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    path.map(|axum::extract::Path(id)| id).map_err(|rejection| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "route.unknown",
            rejection.body_text(),
        )
    })
}
