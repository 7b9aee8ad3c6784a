//! The contribution schedule file format (docs/contributions.md), as pure functions: the header,
//! and one row's fields checked into a [`Row`] or a [`Rejection`] naming the column and the
//! reason. Checks that need the database (an unknown member, one without a risk profile, a
//! member twice in one schedule) are made set-based by the import (`import.rs`).

use acme_sdk::MemberId;
use acme_sdk::money::{AmountError, Sign, parse_amount};
use chrono::{Datelike as _, NaiveDate};
use rust_decimal::Decimal;

/// The header line, exactly: these columns, in this order.
pub const COLUMNS: [&str; 4] = [
    "member_id",
    "employer_amount",
    "member_amount",
    "pay_period",
];
/// Decimal places of an amount (pounds and pence).
pub const AMOUNT_SCALE: u32 = 2;
/// The largest part (employer's or member's) one row may carry, in pounds: far above any monthly
/// contribution, and a bound on a typing error.
pub const MAX_PART_GBP: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 2);
/// The UTF-8 byte order mark, which spreadsheet programs put first; it is allowed and skipped.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One accepted row, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub member_id: MemberId,
    pub employer_amount: Decimal,
    pub member_amount: Decimal,
    /// The first day of the pay period's month.
    pub pay_period: NaiveDate,
}

/// Why a row was rejected: its line, the column at fault (`None` for the line as a whole), a
/// stable code and a reason a payroll clerk can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub line: u64,
    pub column: Option<&'static str>,
    pub code: &'static str,
    pub reason: String,
}

impl Rejection {
    fn new(line: u64, column: Option<&'static str>, code: &'static str, reason: String) -> Self {
        Self {
            line,
            column,
            code,
            reason,
        }
    }
}

/// Checks the header's fields; `Err` says what is wrong (the file is then not a schedule).
pub fn check_header<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> Result<(), String> {
    let found: Vec<String> = fields
        .into_iter()
        .map(|field| String::from_utf8_lossy(field).into_owned())
        .collect();
    if found.iter().map(String::as_str).eq(COLUMNS) {
        return Ok(());
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|column| !found.iter().any(|f| f == column))
        .collect();
    let unknown: Vec<&str> = found
        .iter()
        .map(String::as_str)
        .filter(|f| !COLUMNS.contains(f))
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing {}", missing.join(", ")));
    }
    if !unknown.is_empty() {
        problems.push(format!("unknown {}", unknown.join(", ")));
    }
    if problems.is_empty() {
        problems.push("columns out of order".to_owned());
    }
    Err(format!(
        "the header must be exactly {:?}: {}",
        COLUMNS.join(","),
        problems.join("; ")
    ))
}

/// Checks one data row's fields, `today` deciding which pay periods are in the future.
pub fn parse_row(line: u64, fields: &[&[u8]], today: NaiveDate) -> Result<Row, Rejection> {
    if fields.len() != COLUMNS.len() {
        return Err(Rejection::new(
            line,
            None,
            "row.field_count",
            format!(
                "expected {} fields, found {} (a comma inside a value must be quoted)",
                COLUMNS.len(),
                fields.len()
            ),
        ));
    }
    let mut text = [""; 4];
    for (slot, field) in text.iter_mut().zip(fields) {
        *slot = std::str::from_utf8(field).map_err(|_| {
            Rejection::new(
                line,
                None,
                "row.not_utf8",
                "the line is not valid UTF-8".to_owned(),
            )
        })?;
    }
    let [member, employer, member_part, period] = text;
    let member_id = MemberId::parse(member).map_err(|error| {
        Rejection::new(line, Some(COLUMNS[0]), "member.invalid_id", error.message)
    })?;
    let employer_amount = parse_part(line, COLUMNS[1], employer)?;
    let member_amount = parse_part(line, COLUMNS[2], member_part)?;
    if employer_amount.is_zero() && member_amount.is_zero() {
        return Err(Rejection::new(
            line,
            None,
            "amount.zero",
            "employer_amount and member_amount are both zero".to_owned(),
        ));
    }
    let pay_period = parse_pay_period(line, period, today)?;
    Ok(Row {
        line,
        member_id,
        employer_amount,
        member_amount,
        pay_period,
    })
}

/// One part of a contribution: pounds, at most two decimals, zero or more, at most
/// [`MAX_PART_GBP`]. Strict (`acme_sdk::money`): `1e5`, `1,000`, `NaN`, `+5` are refused.
fn parse_part(line: u64, column: &'static str, text: &str) -> Result<Decimal, Rejection> {
    let reject =
        |code: &'static str, reason: String| Rejection::new(line, Some(column), code, reason);
    if text.starts_with('-') {
        return Err(reject(
            "amount.negative",
            format!("amount {text:?} is negative; a schedule carries contributions only"),
        ));
    }
    let amount = match parse_amount(text, AMOUNT_SCALE, Sign::NonZero) {
        Ok(amount) => amount,
        Err(AmountError::Zero { .. }) => Decimal::ZERO,
        Err(error) => return Err(reject(error.code(), error.to_string())),
    };
    if amount > MAX_PART_GBP {
        return Err(reject(
            "amount.over_limit",
            format!("amount {text:?} is above the limit of {MAX_PART_GBP} per row"),
        ));
    }
    Ok(amount)
}

/// `YYYY-MM`, a month not after `today`'s.
fn parse_pay_period(line: u64, text: &str, today: NaiveDate) -> Result<NaiveDate, Rejection> {
    let column = Some(COLUMNS[3]);
    let period = text
        .split_once('-')
        .filter(|(year, month)| {
            year.len() == 4
                && month.len() == 2
                && year
                    .bytes()
                    .chain(month.bytes())
                    .all(|b| b.is_ascii_digit())
        })
        .and_then(|(year, month)| {
            NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)
        })
        .ok_or_else(|| {
            Rejection::new(
                line,
                column,
                "pay_period.malformed",
                format!("pay period {text:?} is not a month written YYYY-MM, e.g. 2026-11"),
            )
        })?;
    let this_month = today.with_day(1).unwrap_or(today);
    if period > this_month {
        return Err(Rejection::new(
            line,
            column,
            "pay_period.future",
            format!("pay period {text} is in the future (today is {today})"),
        ));
    }
    Ok(period)
}
