//! Statements in, kept as received: the body exactly as it arrived, its sha256 digest (one
//! statement per digest, so a second import of the same statement stores nothing), and its lines
//! parsed once. A statement that does not parse, or whose figures do not add up, is refused whole
//! with the reason and nothing is stored.

use acme_custodian::messages::{CashStatement, HoldingsStatement};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;

use super::ReconError;

/// The most lines one statement may have (a holdings statement has one per fund, a cash statement
/// one per settled order): far above a day's, and a limit on what one import holds in memory.
pub const MAX_LINES: usize = 1_000_000;
/// The most bytes of one statement body.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// ISO 20022 references and ISINs are at most 35 characters.
const MAX_SUBJECT_CHARS: usize = 35;

/// Which statement it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatementKind {
    /// The custodian's holdings statement, `semt.002`: settled units per ISIN.
    Holdings,
    /// The custodian's cash statement, `camt.053`: settled cash movements per order.
    CustodianCash,
    /// ACME's bank account statement, `camt.053` in the same shape: employers' payments (under
    /// their payment reference) and settlements with the custodian (under the order reference).
    BankCash,
}

impl StatementKind {
    pub fn source(self) -> &'static str {
        match self {
            Self::Holdings | Self::CustodianCash => "custodian",
            Self::BankCash => "bank",
        }
    }

    pub fn msg_type(self) -> &'static str {
        match self {
            Self::Holdings => "semt.002",
            Self::CustodianCash | Self::BankCash => "camt.053",
        }
    }
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub subject: String,
    pub booking_date: Option<NaiveDate>,
    pub quantity: Decimal,
}

/// A statement parsed and checked, not yet stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub kind: StatementKind,
    pub as_of: NaiveDate,
    pub lines: Vec<Line>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub statement_id: i64,
    pub kind: StatementKind,
    pub as_of: NaiveDate,
    /// sha256 of the body, hex.
    pub digest: String,
    pub lines: i64,
    /// False when the same statement had been imported before (nothing was stored).
    pub new: bool,
}

fn malformed(kind: StatementKind, reason: impl std::fmt::Display) -> ReconError {
    ReconError::refused(
        "statement.malformed",
        format!("{} statement refused: {reason}", kind.msg_type()),
    )
}

fn subject(kind: StatementKind, line: usize, text: &str) -> Result<String, ReconError> {
    if text.is_empty() || text.chars().count() > MAX_SUBJECT_CHARS {
        return Err(malformed(
            kind,
            format!("line {line}: reference {text:?} must be 1 to {MAX_SUBJECT_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// Parses `body` as a statement of `kind` for `as_of`. Amounts are read with the protocol's
/// strict decimal strings (never a JSON number, which may have lost digits). Refused: not JSON,
/// another message type or date, too many lines, a reference too long, negative holdings, a cash
/// statement in another currency or whose closing balance is not the sum of its entries, an
/// entry booked after the statement's date.
pub fn parse(kind: StatementKind, as_of: NaiveDate, body: &str) -> Result<Parsed, ReconError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(malformed(
            kind,
            format!("{} bytes is over the limit of {MAX_BODY_BYTES}", body.len()),
        ));
    }
    // The protocol types accept any `msg_type` tag; a statement must say what it is.
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| malformed(kind, e))?;
    let msg_type = value.get("msg_type").and_then(serde_json::Value::as_str);
    if msg_type != Some(kind.msg_type()) {
        return Err(malformed(
            kind,
            format!("msg_type is {msg_type:?}, not {:?}", kind.msg_type()),
        ));
    }
    let (date, lines) = match kind {
        StatementKind::Holdings => {
            let statement: HoldingsStatement =
                serde_json::from_value(value).map_err(|e| malformed(kind, e))?;
            let mut lines = Vec::with_capacity(statement.holdings.len());
            for (n, holding) in statement.holdings.iter().enumerate() {
                if holding.units.is_sign_negative() {
                    return Err(malformed(
                        kind,
                        format!(
                            "line {n}: {} holds negative units {}",
                            holding.isin, holding.units
                        ),
                    ));
                }
                lines.push(Line {
                    subject: subject(kind, n, &holding.isin)?,
                    booking_date: None,
                    quantity: holding.units,
                });
            }
            (statement.as_of, lines)
        }
        StatementKind::CustodianCash | StatementKind::BankCash => {
            let statement: CashStatement =
                serde_json::from_value(value).map_err(|e| malformed(kind, e))?;
            if statement.currency != crate::members::CASH {
                return Err(malformed(
                    kind,
                    format!("currency {:?} is not GBP", statement.currency),
                ));
            }
            let mut lines = Vec::with_capacity(statement.entries.len());
            let mut sum = Decimal::ZERO;
            for (n, entry) in statement.entries.iter().enumerate() {
                if entry.booking_date > statement.as_of {
                    return Err(malformed(
                        kind,
                        format!(
                            "line {n}: {} is booked on {}, after the statement's date {}",
                            entry.order_ref, entry.booking_date, statement.as_of
                        ),
                    ));
                }
                sum = sum
                    .checked_add(entry.amount)
                    .ok_or_else(|| malformed(kind, "the entries' sum overflows"))?;
                lines.push(Line {
                    subject: subject(kind, n, &entry.order_ref)?,
                    booking_date: Some(entry.booking_date),
                    quantity: entry.amount,
                });
            }
            if sum != statement.closing_balance {
                return Err(malformed(
                    kind,
                    format!(
                        "closing balance {} is not the sum of its entries {sum}",
                        statement.closing_balance
                    ),
                ));
            }
            (statement.as_of, lines)
        }
    };
    if date != as_of {
        return Err(malformed(
            kind,
            format!("it is as of {date}, not {as_of} as asked"),
        ));
    }
    if lines.len() > MAX_LINES {
        return Err(malformed(
            kind,
            format!("{} lines is over the limit of {MAX_LINES}", lines.len()),
        ));
    }
    Ok(Parsed { kind, as_of, lines })
}

/// The sha256 of a statement body.
pub fn digest(body: &str) -> [u8; 32] {
    Sha256::digest(body.as_bytes()).into()
}

/// Stores `body` as received with its lines, or finds it already stored (same digest: nothing is
/// written). A malformed statement is refused before anything is written.
pub async fn import(
    pool: &PgPool,
    kind: StatementKind,
    as_of: NaiveDate,
    body: &str,
) -> Result<Imported, ReconError> {
    let parsed = parse(kind, as_of, body)?;
    let digest = digest(body);
    let mut tx = pool.begin().await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into recon_statement (source, msg_type, as_of, digest, body, line_count)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (digest) do nothing returning statement_id",
    )
    .bind(kind.source())
    .bind(kind.msg_type())
    .bind(as_of)
    .bind(digest.as_slice())
    .bind(body)
    .bind(i32::try_from(parsed.lines.len()).unwrap_or(i32::MAX))
    .fetch_optional(&mut *tx)
    .await?;
    let new = inserted.is_some();
    let statement_id = match inserted {
        Some(id) => {
            let (subjects, dates, quantities): (Vec<String>, Vec<Option<NaiveDate>>, Vec<Decimal>) =
                parsed.lines.into_iter().fold(
                    (Vec::new(), Vec::new(), Vec::new()),
                    |(mut s, mut d, mut q), line| {
                        s.push(line.subject);
                        d.push(line.booking_date);
                        q.push(line.quantity);
                        (s, d, q)
                    },
                );
            sqlx::query(
                "insert into recon_statement_line
                     (statement_id, line_no, subject, booking_date, quantity)
                 select $1, (n - 1)::int, subject, booking_date, quantity
                 from unnest($2::text[], $3::date[], $4::numeric[])
                     with ordinality as line(subject, booking_date, quantity, n)",
            )
            .bind(id)
            .bind(&subjects)
            .bind(&dates)
            .bind(&quantities)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            // The same bytes as a statement already stored: it must be the same statement.
            let (id, source, msg_type, stored_as_of): (i64, String, String, NaiveDate) =
                sqlx::query_as(
                    "select statement_id, source, msg_type, as_of from recon_statement
                     where digest = $1",
                )
                .bind(digest.as_slice())
                .fetch_one(&mut *tx)
                .await?;
            if source != kind.source() || msg_type != kind.msg_type() || stored_as_of != as_of {
                return Err(ReconError::refused(
                    "statement.conflict",
                    format!(
                        "statement {id} has these bytes but is a {source} {msg_type} of \
                         {stored_as_of}"
                    ),
                ));
            }
            id
        }
    };
    let lines: i64 =
        sqlx::query_scalar("select count(*) from recon_statement_line where statement_id = $1")
            .bind(statement_id)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(Imported {
        statement_id,
        kind,
        as_of,
        digest: hex::encode(digest),
        lines,
        new,
    })
}

/// What ACME's bank statement shows under `reference` (an employer's payment reference): the
/// sum of its lines on the latest bank statement (the latest date, and of that date the last
/// stored, a re-sent statement replacing the earlier one). A `camt.053` lists every movement
/// booked up to its date, as the custodian's does, so the latest holds them all. Returns the
/// statement read too (`None` before any).
pub async fn bank_total(
    pool: &PgPool,
    reference: &str,
) -> Result<(Decimal, Option<i64>), sqlx::Error> {
    sqlx::query_as(
        "with latest as (
             select statement_id from recon_statement
             where source = 'bank' and msg_type = 'camt.053'
             order by as_of desc, statement_id desc limit 1)
         select coalesce((select sum(l.quantity) from recon_statement_line l
                          where l.statement_id = s.statement_id and l.subject = $1), 0),
                s.statement_id
         from (select 1) one left join latest s on true",
    )
    .bind(reference)
    .fetch_one(pool)
    .await
}
