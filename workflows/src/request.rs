//! Checks shared by every member-request process: ids and amounts as they arrive from outside.
//! Each failure is a business error with a stable code, raised before anything is written.

use acme_sdk::{BusinessError, Sign, parse_amount};
use rust_decimal::Decimal;

/// An id from outside (request, member): 1-40 letters, digits or '-', not starting with '-'.
pub fn check_id(field: &str, code: &str, id: &str) -> Result<(), BusinessError> {
    let well_formed = (1..=40).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !id.starts_with('-');
    if well_formed {
        Ok(())
    } else {
        Err(BusinessError::new(
            code,
            format!("{field} {id:?} must be 1-40 letters, digits or '-'"),
        ))
    }
}

/// The run must be under the workflow id its business key gives, so a repeat attaches to it.
pub fn check_workflow_id(expected: &str, actual: &str, key: &str) -> Result<(), BusinessError> {
    if expected == actual {
        Ok(())
    } else {
        Err(BusinessError::new(
            "request.workflow_id_mismatch",
            format!("request {key:?} must run as workflow {expected:?}"),
        ))
    }
}

/// A positive amount sent as a decimal string with at most `scale` places. A JSON number (or
/// anything else) is refused: it may already have lost digits on the way.
pub fn positive_amount(
    field: &str,
    value: &serde_json::Value,
    scale: u32,
    example: &str,
) -> Result<Decimal, BusinessError> {
    let Some(text) = value.as_str() else {
        return Err(BusinessError::new(
            format!("{field}.not_a_string"),
            format!("{field} must be a decimal string such as \"{example}\", got {value}"),
        ));
    };
    parse_amount(text, scale, Sign::Positive).map_err(|e| {
        BusinessError::new(format!("{field}.{}", code_suffix(e.code())), e.to_string())
    })
}

/// `amount.too_many_decimals` → `too_many_decimals`, so each field keeps the same reasons.
fn code_suffix(code: &str) -> &str {
    code.split_once('.').map_or(code, |(_, reason)| reason)
}
