//! `POST /v1/contribution-schedules`: an employer's schedule file, streamed into the same import
//! as `acme contributions import` (stored as received and committed before the answer), then
//! `invest-contributions` started for it, as `acme contributions invest` does. `GET
//! /v1/contribution-schedules/{schedule_id}`: the schedule and its run.

use acme_activities::contributions::ContributionError;
use acme_activities::contributions::import::{self, Limits, Upload};
use acme_activities::intake::IntentKind;
use acme_sdk::{BusinessError, EmployerId};
use acme_workflows::invest_contributions::{self, InvestContributions};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio_util::io::StreamReader;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Caller;
use super::{
    Accepted, ApiError, ErrorBody, Intake, RunFailure, RunStatus, answer, ensure_sent_by,
    idempotency_key, lock_and_find, path_id, record, replay, request_digest, run_outcome, start,
};

pub const COLLECTION: &str = "/v1/contribution-schedules";
/// The name a schedule is stored under when the request gives none.
const DEFAULT_FILE_NAME: &str = "upload.csv";
/// Rejected rows a status shows; the whole report is `acme contributions rejections`.
const REJECTIONS_SHOWN: i64 = 100;

/// A stored schedule: what was received and what is due.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduleSummary {
    pub schedule_id: String,
    pub employer_id: String,
    /// `received`, `held` (paid short or over), `funded` or `invested`.
    pub status: String,
    /// sha256 of the file as received, hex: the same bytes are the same schedule.
    pub digest: String,
    pub accepted_rows: i64,
    pub rejected_rows: i64,
    /// Pounds due (the accepted rows' employer and member parts), a decimal string.
    pub due: String,
    /// The reference the employer pays `due` under.
    pub payment_reference: String,
}

impl From<import::Schedule> for ScheduleSummary {
    fn from(s: import::Schedule) -> Self {
        Self {
            schedule_id: s.schedule_id.to_string(),
            employer_id: s.employer_id,
            status: s.status,
            digest: s.digest,
            accepted_rows: s.accepted,
            rejected_rows: s.rejected,
            due: (s.employer_total + s.member_total).to_string(),
            payment_reference: s.payment_reference,
        }
    }
}

/// A rejected row of the schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowRejection {
    pub line: i64,
    pub column: Option<String>,
    pub code: String,
    pub reason: String,
}

/// A schedule and its run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleStatus {
    pub workflow_id: String,
    pub run: RunStatus,
    pub schedule: ScheduleSummary,
    /// The first rejected rows (at most 100), by line.
    pub rejections: Vec<RowRejection>,
    /// Once invested: rows, pounds (a decimal string) and buy trades.
    pub invested: Option<InvestedSummary>,
    pub failure: Option<RunFailure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvestedSummary {
    pub rows: i64,
    pub amount: String,
    pub trades: i64,
}

/// Submit a contribution schedule.
///
/// The body is the CSV file exactly as docs/contributions.md describes it. The schedule is
/// stored as received and every row checked before the answer; a file that is not a schedule is
/// refused whole. The schedule is then invested once its payment shows on ACME's bank statement.
#[utoipa::path(
    post,
    path = "/v1/contribution-schedules",
    params(
        ("employer" = String, Query, description = "The employer the schedule is from: 1-40 letters, digits or '-'"),
        ("file_name" = Option<String>, Query, description = "The file's name, kept with it (default upload.csv)"),
        ("Idempotency-Key" = Option<String>, Header, description = "The client's name for this request, 1-255 visible ASCII characters: sent again, it gets the same answer"),
    ),
    request_body(content = String, content_type = "text/csv", description = "The schedule file"),
    responses(
        (status = 202, description = "Stored; invested once paid", body = Accepted),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 403, description = "This client may not send schedules for this employer", body = ErrorBody),
        (status = 409, description = "The same file was sent for another employer", body = ErrorBody),
        (status = 413, description = "The file is too large", body = ErrorBody),
        (status = 422, description = "Not a schedule (refused whole), a bad parameter, or the Idempotency-Key reused for another request", body = ErrorBody),
        (status = 503, description = "The database or Temporal cannot be reached: send it again", body = ErrorBody),
    )
)]
pub async fn submit(
    State(intake): State<Intake>,
    Caller(caller): Caller,
    query: Result<Query<SubmitQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (employer, file_name) = parameters(query)?;
    if !intake.keys.may_send_for(&caller, employer.as_str()) {
        return Err(ApiError::employer_not_allowed(&caller, employer.as_str()));
    }
    let key = idempotency_key(&headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > intake.max_schedule_bytes) {
        return Err(ApiError::too_large(intake.max_schedule_bytes));
    }
    let (lock, stored) = lock_and_find(&intake, &caller, key.as_deref()).await?;
    let accepted = match stored {
        // The same key again: the body is only hashed (nothing stored) to tell the same request
        // from another.
        Some(stored) => {
            let digest = body_digest(body, intake.max_schedule_bytes).await?;
            let accepted = replay(
                &stored,
                IntentKind::ContributionSchedule,
                &digest_of(&employer, &digest),
            )?;
            let schedule_id = accepted.schedule.as_ref().map(|s| s.schedule_id.clone());
            start_investing(&intake, schedule_id.unwrap_or_default()).await?;
            accepted
        }
        None => {
            let upload = Upload {
                employer_id: employer.clone(),
                file_name,
                today: chrono::Utc::now().date_naive(),
            };
            let limits = Limits {
                max_bytes: intake.max_schedule_bytes,
                ..import::LIMITS
            };
            let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
            let imported = import::import(&intake.pool, &upload, reader, limits)
                .await
                .map_err(refused)?;
            let schedule_id = imported.schedule.schedule_id.to_string();
            let digest = digest_of(&employer, &imported.schedule.digest);
            let workflow_id = invest_contributions::workflow_id(&schedule_id);
            let accepted = Accepted {
                status_url: format!("{COLLECTION}/{schedule_id}"),
                workflow_id,
                schedule: Some(imported.schedule.into()),
            };
            record(
                &intake,
                &caller,
                key.as_deref(),
                IntentKind::ContributionSchedule,
                &digest,
                &accepted,
            )
            .await?;
            start_investing(&intake, schedule_id).await?;
            accepted
        }
    };
    answer(lock, accepted).await
}

/// A schedule and its run, for the client that sent it.
#[utoipa::path(
    get,
    path = "/v1/contribution-schedules/{schedule_id}",
    params(("schedule_id" = String, Path, description = "The schedule's id, as the 202 gave it")),
    responses(
        (status = 200, description = "The schedule and its run", body = ScheduleStatus),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 404, description = "This client sent no such schedule", body = ErrorBody),
        (status = 503, description = "The database or Temporal cannot be reached", body = ErrorBody),
    )
)]
pub async fn status(
    State(intake): State<Intake>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ScheduleStatus>, ApiError> {
    let schedule_id = path_id(path)?;
    let unknown = || ApiError::not_found("schedule.unknown", format!("schedule {schedule_id:?}"));
    let id = Uuid::parse_str(&schedule_id)
        .ok()
        .filter(|id| id.to_string() == schedule_id)
        .ok_or_else(unknown)?;
    let workflow_id = invest_contributions::workflow_id(&schedule_id);
    ensure_sent_by(&intake, &caller, &workflow_id, unknown).await?;
    let schedule = import::find(&intake.pool, id)
        .await
        .map_err(|e| ApiError::database(&e))?
        .ok_or_else(unknown)?;
    let rejections = import::rejections(&intake.pool, id, 0, REJECTIONS_SHOWN)
        .await
        .map_err(|e| ApiError::database(&e))?
        .into_iter()
        .map(|r| RowRejection {
            line: r.line,
            column: r.column,
            code: r.code,
            reason: r.reason,
        })
        .collect();
    let (run, invested, failure) =
        run_outcome::<InvestContributions>(&intake, &workflow_id).await?;
    Ok(Json(ScheduleStatus {
        workflow_id,
        run,
        schedule: schedule.into(),
        rejections,
        invested: invested.map(|i| InvestedSummary {
            rows: i.rows,
            amount: i.amount.to_string(),
            trades: i.trades,
        }),
        failure,
    }))
}

/// The query of a submission.
#[derive(Debug, Deserialize)]
pub struct SubmitQuery {
    employer: Option<String>,
    file_name: Option<String>,
}

/// The query's `employer` (required) and `file_name`.
fn parameters(
    query: Result<Query<SubmitQuery>, QueryRejection>,
) -> Result<(EmployerId, String), ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::unprocessable(BusinessError::new("query.malformed", rejection.body_text()))
    })?;
    let employer = query.employer.ok_or_else(|| {
        ApiError::unprocessable(BusinessError::new(
            "employer.missing",
            "name the employer the schedule is from: ?employer=<employer id>",
        ))
    })?;
    let employer = EmployerId::parse(&employer).map_err(ApiError::unprocessable)?;
    Ok((
        employer,
        query
            .file_name
            .unwrap_or_else(|| DEFAULT_FILE_NAME.to_owned()),
    ))
}

/// What identifies a schedule request: the employer and the file's digest.
fn digest_of(employer: &EmployerId, file_sha256: &str) -> String {
    request_digest(
        IntentKind::ContributionSchedule,
        &[employer.as_str(), file_sha256],
    )
}

/// The file's sha256 (hex), read to its end within `limit` bytes.
async fn body_digest(body: Body, limit: u64) -> Result<String, ApiError> {
    let mut stream = body.into_data_stream();
    let mut hasher = Sha256::new();
    let mut read: u64 = 0;
    while let Some(chunk) = stream.try_next().await.map_err(|_| {
        ApiError::unprocessable(BusinessError::new(
            "schedule.truncated",
            "the upload broke off; send the file again",
        ))
    })? {
        read = read.saturating_add(chunk.len() as u64);
        if read > limit {
            return Err(ApiError::too_large(limit));
        }
        hasher.update(&chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Starts (or attaches to) the schedule's `invest-contributions` run, as `acme contributions
/// invest` does.
async fn start_investing(intake: &Intake, schedule_id: String) -> Result<(), ApiError> {
    start::<InvestContributions>(
        intake,
        invest_contributions::Input {
            schedule_id,
            poll_every_secs: None,
            chunk_rows: None,
        },
    )
    .await
}

/// An import's refusal as an HTTP answer: too large 413, another employer's file 409, any other
/// refusal 422; a database fault 503.
fn refused(error: ContributionError) -> ApiError {
    match error {
        ContributionError::Refused(refusal) => {
            let status = match refusal.code.as_str() {
                "schedule.too_large" | "schedule.too_many_rows" => StatusCode::PAYLOAD_TOO_LARGE,
                "schedule.other_employer" => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            ApiError::new(status, &refusal.code, refusal.message)
        }
        ContributionError::Database(error) => ApiError::database(&error),
    }
}
