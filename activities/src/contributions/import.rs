//! Importing a contribution schedule: the file is streamed (memory stays a few batches whatever
//! its size), stored exactly as received with its sha256 digest, every row checked, and all of
//! it committed in one transaction before the caller hears "accepted": a schedule is either
//! entirely there or not at all, and an acknowledged schedule is durable.
//!
//! Two halves work at once: a blocking thread reads the bytes (hashing them, keeping them for the
//! store, holding the limits) and parses CSV into batches of rows and rejections; the async half
//! writes each batch into the import's transaction as it comes (`COPY`). Checks needing the
//! database (unknown member, no risk profile, a member twice) then run set-based over the whole
//! schedule. The same bytes imported again (under any name) find the schedule already stored and
//! store nothing.

use std::io::{BufRead as _, BufReader, Read};

use acme_ledger::copy::copy_rows;
use acme_sdk::EmployerId;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::{PgConnection, PgPool};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;
use uuid::Uuid;

use super::ContributionError;
use super::schedule::{self, Rejection, Row, UTF8_BOM};

/// Bounds on one file. A 5,000,000-row schedule is about 250 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_rows: u64,
}

/// The limits every import runs under unless a test lowers them.
pub const LIMITS: Limits = Limits {
    max_bytes: 1 << 30,
    max_rows: 10_000_000,
};
/// The longest line (bytes between line ends): a schedule's are under 100; anything longer is
/// not a schedule, and the bound keeps one record's memory small.
pub const MAX_LINE_BYTES: usize = 4096;
/// Rows (accepted or rejected) per batch handed from the parser to the writer.
const BATCH_ROWS: usize = 20_000;
/// Batches in flight between the parser and the writer.
const BATCHES_IN_FLIGHT: usize = 2;
/// The largest part the file is stored in.
const PART_BYTES: usize = 4 << 20;
/// Namespace of schedule ids (uuid5 of the digest's hex).
const SCHEDULE_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_3c0a_8b5e_4c2d_9a7f_0e1b_2c3d_4e5f);

/// Who sent a file, under which name, and the day that decides which pay periods are future.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub employer_id: EmployerId,
    pub file_name: String,
    pub today: NaiveDate,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub schedule_id: Uuid,
    pub employer_id: String,
    /// The name it first arrived under.
    pub file_name: String,
    /// The reference the employer pays the schedule's total under.
    pub payment_reference: String,
    /// `received`, `held` (the money received differs from what is due), `funded`, `invested`.
    pub status: String,
    /// sha256 of the file, hex.
    pub digest: String,
    pub byte_count: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub employer_total: Decimal,
    pub member_total: Decimal,
    pub received_at: DateTime<Utc>,
}

/// What an import did: the schedule, and whether this import stored it (`false` when the same
/// file had been imported before: nothing was stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub schedule: Schedule,
    pub new: bool,
}

/// A rejected row as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    pub line: i64,
    pub column: Option<String>,
    pub code: String,
    pub reason: String,
}

/// The id a file with this digest is stored under.
pub fn schedule_id(digest: &[u8]) -> Uuid {
    Uuid::new_v5(&SCHEDULE_NAMESPACE, hex::encode(digest).as_bytes())
}

/// Imports one schedule from `reader`; see the module's comment. A file that is not a schedule
/// (empty, no data rows, wrong header, not UTF-8, too large, truncated, a line too long) is
/// refused whole and nothing is stored.
pub async fn import(
    pool: &PgPool,
    upload: &Upload,
    reader: impl AsyncRead + Unpin + Send + 'static,
    limits: Limits,
) -> Result<Imported, ContributionError> {
    if upload.file_name.is_empty() || upload.file_name.len() > 255 {
        return Err(ContributionError::refused(
            "schedule.file_name",
            "the file name must be 1-255 bytes",
        ));
    }
    let mut tx = pool.begin().await?;
    let schedule_no: i64 = sqlx::query_scalar(
        "insert into contribution_schedule (employer_id, file_name) values ($1, $2)
         returning schedule_no",
    )
    .bind(upload.employer_id.as_str())
    .bind(&upload.file_name)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "create temp table contribution_stage (line_no bigint not null, member_id text not null,
             employer_amount numeric not null, member_amount numeric not null,
             pay_period date not null) on commit drop",
    )
    .execute(&mut *tx)
    .await?;

    let (sender, mut batches) = mpsc::channel(BATCHES_IN_FLIGHT);
    let today = upload.today;
    let parser = tokio::task::spawn_blocking(move || {
        parse(SyncIoBridge::new(reader), today, limits, &sender)
    });
    let mut part_no = 0;
    let mut written = Ok(());
    while let Some(batch) = batches.recv().await {
        written = write_batch(&mut tx, schedule_no, &mut part_no, batch).await;
        if written.is_err() {
            // Dropping the receiver stops the parser at its next batch.
            break;
        }
    }
    drop(batches);
    let parsed = parser
        .await
        .map_err(|error| ContributionError::Database(sqlx::Error::Protocol(error.to_string())))?;
    written?;
    let read = parsed?;

    if let Some(existing) = find_by_digest(&mut tx, &read.digest).await? {
        tx.rollback().await?;
        return same_file(existing, upload);
    }
    judge_members(&mut tx, schedule_no).await?;
    let id = schedule_id(&read.digest);
    let sealed = sqlx::query(
        "update contribution_schedule s set schedule_id = $2, digest = $3, byte_count = $4,
             payment_reference = 'CS' || upper(left(replace($2::text, '-', ''), 16)),
             accepted_count = r.accepted, rejected_count = j.rejected,
             employer_total = r.employer_total, member_total = r.member_total,
             status = 'received'
         from (select count(*) as accepted, coalesce(sum(employer_amount), 0) as employer_total,
                      coalesce(sum(member_amount), 0) as member_total
               from contribution_row where schedule_no = $1) r,
              (select count(*) as rejected from contribution_rejection where schedule_no = $1) j
         where s.schedule_no = $1",
    )
    .bind(schedule_no)
    .bind(id)
    .bind(read.digest.as_slice())
    .bind(i64::try_from(read.bytes).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await;
    match sealed {
        Ok(_) => {}
        // The same file committed by a concurrent import while this one ran.
        Err(sqlx::Error::Database(error))
            if error.constraint() == Some("contribution_schedule_digest_key") =>
        {
            tx.rollback().await?;
            let mut conn = pool.acquire().await?;
            let existing = find_by_digest(&mut conn, &read.digest)
                .await?
                .ok_or_else(|| sqlx::Error::Protocol("the concurrent import vanished".into()))?;
            return same_file(existing, upload);
        }
        Err(error) => return Err(error.into()),
    }
    tx.commit().await?;
    let schedule = find(pool, id)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol("the committed schedule is not found".into()))?;
    Ok(Imported {
        schedule,
        new: true,
    })
}

/// The same file again: the schedule already stored, if it is the same employer's.
fn same_file(existing: Schedule, upload: &Upload) -> Result<Imported, ContributionError> {
    if existing.employer_id != upload.employer_id.as_str() {
        return Err(ContributionError::refused(
            "schedule.other_employer",
            format!(
                "this file was already imported as schedule {} for employer {}, not {}",
                existing.schedule_id, existing.employer_id, upload.employer_id
            ),
        ));
    }
    Ok(Imported {
        schedule: existing,
        new: false,
    })
}

/// A stored schedule by id.
pub async fn find(pool: &PgPool, schedule_id: Uuid) -> Result<Option<Schedule>, sqlx::Error> {
    sqlx::query_as(&format!("{SCHEDULE} where schedule_id = $1"))
        .bind(schedule_id)
        .fetch_optional(pool)
        .await
        .map(|row: Option<ScheduleRow>| row.map(Schedule::from))
}

async fn find_by_digest(
    conn: &mut PgConnection,
    digest: &[u8],
) -> Result<Option<Schedule>, sqlx::Error> {
    sqlx::query_as(&format!("{SCHEDULE} where digest = $1"))
        .bind(digest)
        .fetch_optional(conn)
        .await
        .map(|row: Option<ScheduleRow>| row.map(Schedule::from))
}

const SCHEDULE: &str = "select schedule_id, employer_id, file_name, payment_reference, status,
        digest, byte_count, accepted_count, rejected_count, employer_total, member_total,
        received_at
    from contribution_schedule";

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    schedule_id: Uuid,
    employer_id: String,
    file_name: String,
    payment_reference: String,
    status: String,
    digest: Vec<u8>,
    byte_count: i64,
    accepted_count: i64,
    rejected_count: i64,
    employer_total: Decimal,
    member_total: Decimal,
    received_at: DateTime<Utc>,
}

impl From<ScheduleRow> for Schedule {
    fn from(row: ScheduleRow) -> Self {
        Self {
            schedule_id: row.schedule_id,
            employer_id: row.employer_id,
            file_name: row.file_name,
            payment_reference: row.payment_reference,
            status: row.status,
            digest: hex::encode(row.digest),
            byte_count: row.byte_count,
            accepted: row.accepted_count,
            rejected: row.rejected_count,
            employer_total: row.employer_total,
            member_total: row.member_total,
            received_at: row.received_at,
        }
    }
}

/// The rejection report of a schedule, in line order, `limit` lines after line `after`.
pub async fn rejections(
    pool: &PgPool,
    schedule_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<RejectedRow>, sqlx::Error> {
    let rows: Vec<(i64, Option<String>, String, String)> = sqlx::query_as(
        "select r.line_no, r.column_name, r.code, r.reason
         from contribution_rejection r
         join contribution_schedule s using (schedule_no)
         where s.schedule_id = $1 and r.line_no > $2
         order by r.line_no limit $3",
    )
    .bind(schedule_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(line, column, code, reason)| RejectedRow {
            line,
            column,
            code,
            reason,
        })
        .collect())
}

/// Writes the stored file, exactly as received, to `out`, part by part (bounded memory).
pub async fn copy_file(
    pool: &PgPool,
    schedule_id: Uuid,
    out: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> Result<u64, ContributionError> {
    use tokio::io::AsyncWriteExt as _;
    let mut part_no = -1;
    let mut written = 0;
    loop {
        let part: Option<(i32, Vec<u8>)> = sqlx::query_as(
            "select p.part_no, p.bytes from contribution_file_part p
             join contribution_schedule s using (schedule_no)
             where s.schedule_id = $1 and p.part_no > $2
             order by p.part_no limit 1",
        )
        .bind(schedule_id)
        .bind(part_no)
        .fetch_optional(pool)
        .await?;
        let Some((no, bytes)) = part else {
            break;
        };
        out.write_all(&bytes)
            .await
            .map_err(|error| ContributionError::Database(sqlx::Error::Io(error)))?;
        written += u64::try_from(bytes.len()).unwrap_or(0);
        part_no = no;
    }
    Ok(written)
}

/// One batch from the parser: rows that passed the file's own checks, rejected rows, and the
/// file's bytes read since the last batch.
#[derive(Debug, Default)]
struct Batch {
    rows: Vec<Row>,
    rejections: Vec<Rejection>,
    part: Vec<u8>,
}

async fn write_batch(
    conn: &mut PgConnection,
    schedule_no: i64,
    part_no: &mut i32,
    batch: Batch,
) -> Result<(), ContributionError> {
    if !batch.part.is_empty() {
        sqlx::query(
            "insert into contribution_file_part (schedule_no, part_no, bytes) values ($1, $2, $3)",
        )
        .bind(schedule_no)
        .bind(*part_no)
        .bind(&batch.part)
        .execute(&mut *conn)
        .await?;
        *part_no += 1;
    }
    if !batch.rows.is_empty() {
        copy_rows(
            conn,
            "copy contribution_stage (line_no, member_id, employer_amount, member_amount,
                 pay_period) from stdin",
            &batch.rows,
            |out, row| {
                out.plain(row.line)
                    .plain(&row.member_id)
                    .plain(row.employer_amount)
                    .plain(row.member_amount)
                    .plain(row.pay_period);
            },
        )
        .await?;
    }
    if !batch.rejections.is_empty() {
        copy_rows(
            conn,
            "copy contribution_rejection (schedule_no, line_no, column_name, code, reason)
             from stdin",
            &batch.rejections,
            |out, rejection| {
                out.plain(schedule_no).plain(rejection.line);
                match rejection.column {
                    Some(column) => out.plain(column),
                    None => out.plain("\\N"),
                };
                out.plain(rejection.code).text(&rejection.reason);
            },
        )
        .await?;
    }
    Ok(())
}

/// Moves the staged rows into the schedule, set-based: a row whose member is unknown, has no risk
/// profile, or appears on another line too goes to the rejection report instead (every line of a
/// duplicated member: which one is right is the employer's to say). Reads `member`, owned by the
/// trade book, only to judge.
async fn judge_members(conn: &mut PgConnection, schedule_no: i64) -> Result<(), sqlx::Error> {
    sqlx::query("analyze contribution_stage")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "with duplicate as (
             select member_id, count(*) as times,
                    array_to_string((array_agg(line_no order by line_no))[1:5], ', ') as lines
             from contribution_stage group by member_id having count(*) > 1),
         judged as materialized (
             select s.*, d.times, d.lines,
                    case when m.member_id is null then 'member.unknown'
                         when m.portfolio_code is null then 'member.no_risk_profile'
                         when d.member_id is not null then 'member.duplicate' end as code
             from contribution_stage s
             left join member m on m.member_id = s.member_id
             left join duplicate d on d.member_id = s.member_id),
         rejected as (
             insert into contribution_rejection (schedule_no, line_no, column_name, code, reason)
             select $1, line_no, 'member_id', code, case code
                 when 'member.unknown' then
                     format('member %s is not a member of the scheme', member_id)
                 when 'member.no_risk_profile' then
                     format('member %s has no risk profile yet, so nothing can be invested',
                            member_id)
                 else format('member %s is on %s lines (%s%s); a schedule has one line per member',
                             member_id, times, lines, case when times > 5 then ', …' else '' end)
                 end
             from judged where code is not null)
         insert into contribution_row (schedule_no, line_no, member_id, employer_amount,
             member_amount, pay_period)
         select $1, line_no, member_id, employer_amount, member_amount, pay_period
         from judged where code is null",
    )
    .bind(schedule_no)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the parser received: the file's digest and size.
#[derive(Debug)]
struct Received {
    digest: [u8; 32],
    bytes: u64,
}

fn not_a_schedule(reason: impl Into<String>) -> ContributionError {
    ContributionError::refused("schedule.not_a_schedule", reason)
}

/// Reads and parses the whole file, sending batches; stops early (with the refusal) when the
/// file is not a schedule or the writer has gone.
fn parse(
    reader: impl Read,
    today: NaiveDate,
    limits: Limits,
    batches: &mpsc::Sender<Batch>,
) -> Result<Received, ContributionError> {
    let mut input = BufReader::new(Tee::new(reader, limits.max_bytes));
    let start = input.fill_buf().map_err(read_failure)?;
    if start.is_empty() {
        return Err(ContributionError::refused(
            "schedule.empty",
            "the file is empty",
        ));
    }
    if start.starts_with(b"\xFF\xFE") || start.starts_with(b"\xFE\xFF") {
        return Err(not_a_schedule("the file is UTF-16; a schedule is UTF-8"));
    }
    if start.starts_with(UTF8_BOM) {
        input.consume(UTF8_BOM.len());
    }
    // Records end at LF; a CR before it is taken off the last field (`fields`). The reader's own
    // CRLF handling miscounts lines, and the report names lines.
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    if !csv.read_byte_record(&mut record).map_err(csv_failure)? {
        return Err(ContributionError::refused(
            "schedule.empty",
            "the file has no lines",
        ));
    }
    schedule::check_header(fields(&record)).map_err(not_a_schedule)?;
    let mut batch = Batch::default();
    let mut data_rows: u64 = 0;
    while csv.read_byte_record(&mut record).map_err(csv_failure)? {
        let fields = fields(&record);
        if let [blank] = fields.as_slice()
            && blank.is_empty()
        {
            continue;
        }
        data_rows += 1;
        if data_rows > limits.max_rows {
            return Err(ContributionError::refused(
                "schedule.too_many_rows",
                format!("the file has more than {} rows", limits.max_rows),
            ));
        }
        let line = record.position().map_or(0, csv::Position::line);
        match schedule::parse_row(line, &fields, today) {
            Ok(row) => batch.rows.push(row),
            Err(rejection) => batch.rejections.push(rejection),
        }
        let tee = csv.get_mut().get_mut();
        if batch.rows.len() + batch.rejections.len() >= BATCH_ROWS || tee.part.len() >= PART_BYTES {
            batch.part = std::mem::take(&mut tee.part);
            send(batches, std::mem::take(&mut batch))?;
        }
    }
    if data_rows == 0 {
        return Err(ContributionError::refused(
            "schedule.no_rows",
            "the file has a header but no rows",
        ));
    }
    let mut tee = csv.into_inner().into_inner();
    if tee.last != Some(b'\n') {
        return Err(ContributionError::refused(
            "schedule.truncated",
            "the last line has no line end: the file was cut short (a schedule ends with a line end)",
        ));
    }
    batch.part = std::mem::take(&mut tee.part);
    send(batches, batch)?;
    Ok(Received {
        digest: tee.hasher.finalize().into(),
        bytes: tee.bytes,
    })
}

/// A record's fields, a CR ending the line taken off the last one.
fn fields(record: &csv::ByteRecord) -> Vec<&[u8]> {
    let mut fields: Vec<&[u8]> = record.iter().collect();
    if let Some(last) = fields.last_mut() {
        *last = last.strip_suffix(b"\r").unwrap_or(last);
    }
    fields
}

fn send(batches: &mpsc::Sender<Batch>, batch: Batch) -> Result<(), ContributionError> {
    batches.blocking_send(batch).map_err(|_| {
        ContributionError::Database(sqlx::Error::Protocol("the import's writer stopped".into()))
    })
}

/// Reading failed: a limit the tee holds, or the upload itself broke off.
fn read_failure(error: std::io::Error) -> ContributionError {
    match error.get_ref().and_then(|e| e.downcast_ref::<LimitHit>()) {
        Some(limit) => ContributionError::refused(limit.code(), limit.to_string()),
        None => ContributionError::refused(
            "schedule.truncated",
            format!("the upload broke off before its end ({error}); nothing was stored"),
        ),
    }
}

fn csv_failure(error: csv::Error) -> ContributionError {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => read_failure(error),
        other => not_a_schedule(format!("the file is not readable as CSV: {other:?}")),
    }
}

/// A limit hit while reading.
#[derive(Debug, thiserror::Error)]
enum LimitHit {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("line {0} is longer than {MAX_LINE_BYTES} bytes: this is not a schedule")]
    LineTooLong(u64),
}

impl LimitHit {
    fn code(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "schedule.too_large",
            Self::LineTooLong(_) => "schedule.not_a_schedule",
        }
    }
}

/// Reads through to the parser, on the way hashing every byte, keeping the bytes for the store,
/// and holding the file's size and line-length limits.
struct Tee<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    max_bytes: u64,
    /// Bytes of the current line so far, and its number.
    line_bytes: usize,
    line: u64,
    last: Option<u8>,
    part: Vec<u8>,
}

impl<R> Tee<R> {
    fn new(inner: R, max_bytes: u64) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            max_bytes,
            line_bytes: 0,
            line: 1,
            last: None,
            part: Vec::new(),
        }
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = &buf[..n];
        self.bytes += u64::try_from(n).unwrap_or(u64::MAX);
        if self.bytes > self.max_bytes {
            return Err(std::io::Error::other(LimitHit::TooLarge(self.max_bytes)));
        }
        for (i, segment) in data.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                self.line += 1;
                self.line_bytes = 0;
            }
            self.line_bytes += segment.len();
            if self.line_bytes > MAX_LINE_BYTES {
                return Err(std::io::Error::other(LimitHit::LineTooLong(self.line)));
            }
        }
        self.hasher.update(data);
        self.part.extend_from_slice(data);
        if let Some(&last) = data.last() {
            self.last = Some(last);
        }
        Ok(n)
    }
}
