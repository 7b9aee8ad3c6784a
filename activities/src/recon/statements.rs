//! Statements in, kept as received: the body exactly as it arrived, its sha256 digest (one
//! statement per digest, so a second import of the same statement stores nothing), and its lines
//! parsed once. A statement that does not parse, or whose figures do not add up, is refused whole
//! with the reason and nothing is stored.

use acme_custodian::messages::{CashStatement, HoldingsStatement};
use acme_custodian::statements::TransactionStatement;
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
/// The payment provider quotes a member's request id (`acme_sdk::MAX_ID_LEN`).
const MAX_PROVIDER_SUBJECT_CHARS: usize = acme_sdk::MAX_ID_LEN;

/// Which statement it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatementKind {
    /// The custodian's holdings statement, `semt.002`: settled units per ISIN.
    Holdings,
    /// The custodian's cash statement, `camt.053`: settled cash movements per order.
    CustodianCash,
    /// The custodian's transaction statement, `semt.017`: settled movements of units and cash.
    Transactions,
    /// ACME's bank account statement, `camt.053` in the same shape: employers' payments (under
    /// their payment reference) and settlements with the custodian (under the order reference).
    BankCash,
    /// The payment provider's settlement statement, in the same shape: each member's payment it
    /// collected, under the member's request id.
    ProviderCash,
}

impl StatementKind {
    pub fn source(self) -> &'static str {
        match self {
            Self::Holdings | Self::CustodianCash | Self::Transactions => "custodian",
            Self::BankCash => "bank",
            Self::ProviderCash => "payment-provider",
        }
    }

    pub fn msg_type(self) -> &'static str {
        match self {
            Self::Holdings => "semt.002",
            Self::CustodianCash | Self::BankCash | Self::ProviderCash => "camt.053",
            Self::Transactions => "semt.017",
        }
    }
}

/// One parsed line: a holding (subject ISIN, quantity units), a cash movement (subject order
/// reference, booking date, quantity the signed amount) or a settled movement (subject the
/// custodian's movement reference, booking date its settlement date, quantity the signed units,
/// with our order reference if quoted, the ISIN and the signed amount).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    pub subject: String,
    pub booking_date: Option<NaiveDate>,
    pub quantity: Decimal,
    pub order_ref: Option<String>,
    pub isin: Option<String>,
    pub amount: Option<Decimal>,
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
    let max = if kind == StatementKind::ProviderCash {
        MAX_PROVIDER_SUBJECT_CHARS
    } else {
        MAX_SUBJECT_CHARS
    };
    if text.is_empty() || text.chars().count() > max {
        return Err(malformed(
            kind,
            format!("line {line}: reference {text:?} must be 1 to {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// Refuses line `n` (`reference`) if it is booked after the statement's date.
fn not_after(
    kind: StatementKind,
    n: usize,
    reference: &str,
    booked: NaiveDate,
    as_of: NaiveDate,
) -> Result<(), ReconError> {
    if booked > as_of {
        return Err(malformed(
            kind,
            format!(
                "line {n}: {reference} is booked on {booked}, after the statement's date {as_of}"
            ),
        ));
    }
    Ok(())
}

/// Parses `body` as a statement of `kind` for `as_of`. Amounts are read with the protocol's
/// strict decimal strings (never a JSON number, which may have lost digits). Refused: not JSON,
/// another message type or date, too many lines, a reference too long, negative holdings, a cash
/// statement in another currency or whose closing balance is not the sum of its entries, an
/// entry booked (or a movement settled) after the statement's date, a movement whose units are
/// negative or whose cash goes the wrong way for its side.
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
                    quantity: holding.units,
                    ..Line::default()
                });
            }
            (statement.as_of, lines)
        }
        StatementKind::CustodianCash | StatementKind::BankCash | StatementKind::ProviderCash => {
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
                not_after(
                    kind,
                    n,
                    &entry.order_ref,
                    entry.booking_date,
                    statement.as_of,
                )?;
                sum = sum
                    .checked_add(entry.amount)
                    .ok_or_else(|| malformed(kind, "the entries' sum overflows"))?;
                lines.push(Line {
                    subject: subject(kind, n, &entry.order_ref)?,
                    booking_date: Some(entry.booking_date),
                    quantity: entry.amount,
                    ..Line::default()
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
        StatementKind::Transactions => {
            let statement: TransactionStatement =
                serde_json::from_value(value).map_err(|e| malformed(kind, e))?;
            let mut lines = Vec::with_capacity(statement.transactions.len());
            for (n, movement) in statement.transactions.iter().enumerate() {
                movement
                    .validate()
                    .map_err(|e| malformed(kind, format!("line {n}: {e}")))?;
                not_after(
                    kind,
                    n,
                    &movement.transaction_ref,
                    movement.settlement_date,
                    statement.as_of,
                )?;
                lines.push(Line {
                    subject: movement.transaction_ref.clone(),
                    booking_date: Some(movement.settlement_date),
                    quantity: movement.signed_units(),
                    order_ref: movement.order_ref.clone(),
                    isin: Some(movement.isin.clone()),
                    amount: Some(movement.amount),
                });
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

/// Lines as columns, for one `unnest` insert.
#[derive(Default)]
struct Columns {
    subjects: Vec<String>,
    dates: Vec<Option<NaiveDate>>,
    quantities: Vec<Decimal>,
    order_refs: Vec<Option<String>>,
    isins: Vec<Option<String>>,
    amounts: Vec<Option<Decimal>>,
}

impl Columns {
    fn push(&mut self, line: Line) {
        self.subjects.push(line.subject);
        self.dates.push(line.booking_date);
        self.quantities.push(line.quantity);
        self.order_refs.push(line.order_ref);
        self.isins.push(line.isin);
        self.amounts.push(line.amount);
    }
}

/// The sha256 of a statement body.
pub fn digest(body: &str) -> [u8; 32] {
    Sha256::digest(body.as_bytes()).into()
}

/// Stores `body` as received with its lines, or finds it already stored (same source and
/// digest: nothing is written; the bank and the custodian may send the very same bytes, and those
/// are two statements). A malformed statement is refused before anything is written.
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
         on conflict (source, digest) do nothing returning statement_id",
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
            let mut columns = Columns::default();
            for line in parsed.lines {
                columns.push(line);
            }
            sqlx::query(
                "insert into recon_statement_line
                     (statement_id, line_no, subject, booking_date, quantity, order_ref, isin,
                      amount)
                 select $1, (n - 1)::int, subject, booking_date, quantity, order_ref, isin, amount
                 from unnest($2::text[], $3::date[], $4::numeric[], $5::text[], $6::text[],
                             $7::numeric[])
                     with ordinality as line(subject, booking_date, quantity, order_ref, isin,
                                             amount, n)",
            )
            .bind(id)
            .bind(&columns.subjects)
            .bind(&columns.dates)
            .bind(&columns.quantities)
            .bind(&columns.order_refs)
            .bind(&columns.isins)
            .bind(&columns.amounts)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => {
            // The same bytes from the same source as a statement already stored: it must be
            // the same statement.
            let (id, source, msg_type, stored_as_of): (i64, String, String, NaiveDate) =
                sqlx::query_as(
                    "select statement_id, source, msg_type, as_of from recon_statement
                     where source = $1 and digest = $2",
                )
                .bind(kind.source())
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

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::{StatementKind, parse};

    fn cash_statement(reference: &str) -> String {
        json!({
            "msg_type": "camt.053",
            "as_of": "2026-11-23",
            "currency": "GBP",
            "entries": [{"order_ref": reference, "booking_date": "2026-11-23", "amount": "5.00"}],
            "closing_balance": "5.00",
        })
        .to_string()
    }

    #[test]
    fn the_provider_quotes_request_ids_longer_than_a_bank_reference_may_be() {
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let request_id = "0b67faf3-5bb6-439d-85da-db90ab730425";
        let parsed = parse(
            StatementKind::ProviderCash,
            as_of,
            &cash_statement(request_id),
        )
        .unwrap();
        assert_eq!(parsed.lines[0].subject, request_id);
        let refused = parse(StatementKind::BankCash, as_of, &cash_statement(request_id));
        assert!(refused.is_err(), "a bank reference stops at 35 characters");
        let too_long = parse(
            StatementKind::ProviderCash,
            as_of,
            &cash_statement(&"r".repeat(41)),
        );
        assert!(too_long.is_err(), "a request id stops at 40 characters");
    }
}
