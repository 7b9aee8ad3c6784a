//! `POST /v1/investments`: one member's investment (request id, member, amount), exactly what
//! `acme invest` sends, stored as an intent and handled by the same `invest-cash` process.
//! `GET /v1/investments/{request_id}`: its run and outcome.

use acme_activities::intake::{self as intents, IntentKind};
use acme_sdk::{BusinessError, RequestId};
use acme_workflows::invest_cash::{self, InvestCash};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::{
    Accepted, ApiError, ErrorBody, Intake, RunFailure, RunStatus, answer, ensure_sent_by,
    idempotency_key, lock_and_find, path_id, record, replay, request_digest, run_outcome, start,
};

pub const COLLECTION: &str = "/v1/investments";
/// The largest investment request body: its three fields are far smaller.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// One member's investment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvestmentRequest {
    /// The caller's id for this request, 1-40 letters, digits or '-': the same id never
    /// invests twice.
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = "^[A-Za-z0-9][A-Za-z0-9-]{0,39}$"
    )]
    pub request_id: String,
    /// The investing member's id.
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = "^[A-Za-z0-9][A-Za-z0-9-]{0,39}$"
    )]
    pub member_id: String,
    /// Pounds, a decimal string with at most two places (e.g. "100.00"); a JSON number is
    /// refused, since it may lose digits.
    #[schema(value_type = String, pattern = "^[0-9]+(\\.[0-9]{1,2})?$")]
    pub amount: serde_json::Value,
}

/// An investment's run and outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvestmentStatus {
    pub workflow_id: String,
    pub run: RunStatus,
    /// Once completed: pounds reserved (a decimal string) and the buy trades created.
    pub invested: Option<InvestmentOutcome>,
    pub failure: Option<RunFailure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvestmentOutcome {
    pub reserved_gbp: String,
    pub trade_ids: Vec<String>,
}

/// Invest cash for a member.
///
/// The request is stored before the answer and handled by the `invest-cash` process; the
/// status URL shows its outcome.
#[utoipa::path(
    post,
    path = "/v1/investments",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "The client's name for this request, 1-255 visible ASCII characters: sent again, it gets the same answer"),
    ),
    request_body(content = InvestmentRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Stored; being invested", body = Accepted),
        (status = 400, description = "The body is not the JSON object described", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 409, description = "The request id was used for another request", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "A field is invalid, or the Idempotency-Key reused for another request", body = ErrorBody),
        (status = 503, description = "The database or Temporal cannot be reached: send it again", body = ErrorBody),
    )
)]
pub async fn submit(
    State(intake): State<Intake>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::too_large(MAX_BODY_BYTES as u64))?;
    let request: InvestmentRequest = serde_json::from_slice(&bytes).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.malformed",
            format!(
                "the body must be a JSON object with request_id, member_id and amount: {error}"
            ),
        )
    })?;
    let input = parse(request).map_err(ApiError::unprocessable)?;
    let request_id = input.request_id.clone();
    // Checked above: the amount is a decimal string.
    let amount = input.amount.as_str().unwrap_or_default();
    let digest = request_digest(
        IntentKind::Investment,
        &[&request_id, &input.member_id, amount],
    );
    let workflow_id = invest_cash::workflow_id(&request_id);
    let (lock, stored) = lock_and_find(&intake, &caller, key.as_deref()).await?;
    let accepted = match stored {
        Some(stored) => replay(&stored, IntentKind::Investment, &digest)?,
        None => {
            // A request id is a global business key: a second request under it must be the
            // same request from the same client, or it would attach to someone else's run.
            let first = intents::first_for_workflow(&intake.pool, &workflow_id)
                .await
                .map_err(|e| ApiError::database(&e))?;
            match first {
                Some(first) if first.client_id == caller && first.request_sha256 == digest => {
                    replay(&first, IntentKind::Investment, &digest)?
                }
                Some(_) => {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "request_id.reused",
                        format!(
                            "request id {request_id} was used for another request; use a new \
                             request id for a new investment"
                        ),
                    ));
                }
                None => {
                    let accepted = Accepted {
                        status_url: format!("{COLLECTION}/{request_id}"),
                        workflow_id,
                        schedule: None,
                    };
                    record(
                        &intake,
                        &caller,
                        key.as_deref(),
                        IntentKind::Investment,
                        &digest,
                        &accepted,
                    )
                    .await?;
                    accepted
                }
            }
        }
    };
    // Started after the intent is stored; a replay starts a run a failed start left unstarted.
    start::<InvestCash>(&intake, input).await?;
    answer(lock, accepted).await
}

/// An investment's run and outcome, for the client that sent it.
#[utoipa::path(
    get,
    path = "/v1/investments/{request_id}",
    params(("request_id" = String, Path, description = "The request id the investment was sent with")),
    responses(
        (status = 200, description = "The investment's run and outcome", body = InvestmentStatus),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "This client sent no such investment", body = ErrorBody),
        (status = 503, description = "The database or Temporal cannot be reached", body = ErrorBody),
    )
)]
pub async fn status(
    State(intake): State<Intake>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<InvestmentStatus>, ApiError> {
    let request_id = path_id(path)?;
    let unknown =
        || ApiError::not_found("investment.unknown", format!("investment {request_id:?}"));
    let request_id = RequestId::parse(&request_id).map_err(|_| unknown())?;
    let workflow_id = invest_cash::workflow_id(request_id.as_str());
    ensure_sent_by(&intake, &caller, &workflow_id, unknown).await?;
    let (run, output, failure) = run_outcome::<InvestCash>(&intake, &workflow_id).await?;
    Ok(Json(InvestmentStatus {
        workflow_id,
        run,
        invested: output.map(|o| InvestmentOutcome {
            reserved_gbp: o.reserved_gbp.to_string(),
            trade_ids: o.trade_ids.iter().map(ToString::to_string).collect(),
        }),
        failure,
    }))
}

/// The request as `invest-cash` takes it, checked as the run checks it (the same codes), so bad
/// input is refused here and nothing is stored.
fn parse(request: InvestmentRequest) -> Result<invest_cash::Input, BusinessError> {
    let input = invest_cash::Input {
        request_id: request.request_id,
        member_id: request.member_id,
        amount: request.amount,
    };
    invest_cash::check_input(&input)?;
    Ok(input)
}
