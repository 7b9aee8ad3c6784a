//! Values as they arrive from outside, parsed at the edge (zero-to-production's
//! `SubscriberName::parse`): a process turns its raw input into these before anything is written,
//! so an invalid id or amount cannot exist past its first line. Each failure is a
//! [`BusinessError`] with a stable code naming the field and the reason.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Sign, parse_amount};
use crate::{BusinessError, step_key};

/// Longest id a caller may send: it becomes part of workflow ids and journal keys.
pub const MAX_ID_LEN: usize = 40;

macro_rules! external_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $code:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// 1-40 letters, digits or '-', not starting with '-'; otherwise
            #[doc = concat!("`", $code, "`.")]
            pub fn parse(text: &str) -> Result<Self, BusinessError> {
                parse_id($field, $code, text).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

external_id!(
    /// The caller's id for one request: the same id never does the work twice.
    RequestId,
    "request id",
    "request.invalid_id"
);
external_id!(
    /// A member of the scheme.
    MemberId,
    "member id",
    "member.invalid_id"
);
external_id!(
    /// An employer paying contributions for its staff.
    EmployerId,
    "employer id",
    "employer.invalid_id"
);
external_id!(
    /// The caller's id for one bulk run.
    BatchId,
    "batch id",
    "batch.invalid_id"
);

fn parse_id(field: &str, code: &str, text: &str) -> Result<String, BusinessError> {
    let well_formed = (1..=MAX_ID_LEN).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !text.starts_with('-');
    if well_formed {
        Ok(text.to_owned())
    } else {
        Err(BusinessError::new(
            code,
            format!("{field} {text:?} must be 1-{MAX_ID_LEN} letters, digits or '-'"),
        ))
    }
}

/// The workflow id of a run, which must be the one its business key gives: a run started under
/// any other id could do the same work twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkflowId(String);

impl WorkflowId {
    /// `actual` (the run's own id) if it equals `expected` (what `key` gives); otherwise
    /// `request.workflow_id_mismatch`.
    pub fn of_run(expected: String, actual: &str, key: &str) -> Result<Self, BusinessError> {
        if expected == actual {
            Ok(Self(expected))
        } else {
            Err(BusinessError::new(
                "request.workflow_id_mismatch",
                format!("request {key:?} must run as workflow {expected:?}"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The idempotency key of one of the run's steps: `<workflow id>/<step>`.
    pub fn step_key(&self, step: &str) -> String {
        step_key(&self.0, step)
    }
}

/// A business date given as text (`YYYY-MM-DD`, exactly: no other spelling of the same day),
/// or `date.invalid`.
pub fn business_date(text: &str) -> Result<chrono::NaiveDate, BusinessError> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|date| date.to_string() == text)
        .ok_or_else(|| {
            BusinessError::new("date.invalid", format!("date {text:?} must be YYYY-MM-DD"))
        })
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ids every member request carries, parsed: the run's workflow id (which must be the one
/// its request id gives) and the member it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRequestIds {
    pub workflow_id: WorkflowId,
    pub member_id: MemberId,
}

impl MemberRequestIds {
    /// `workflow_id_of` is the process's `workflow_id` function; `run_workflow_id` the run's own.
    pub fn parse(
        request_id: &str,
        member_id: &str,
        workflow_id_of: fn(&str) -> String,
        run_workflow_id: &str,
    ) -> Result<Self, BusinessError> {
        let request_id = RequestId::parse(request_id)?;
        let workflow_id = WorkflowId::of_run(
            workflow_id_of(request_id.as_str()),
            run_workflow_id,
            request_id.as_str(),
        )?;
        Ok(Self {
            workflow_id,
            member_id: MemberId::parse(member_id)?,
        })
    }
}

/// Pounds sterling, at most 2 decimal places, greater than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cash(Decimal);

/// Units of a fund, at most the fund's decimal places, greater than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Units(Decimal);

/// The scale of cash (GBP) amounts.
pub const CASH_SCALE: u32 = 2;

impl Cash {
    /// `field` of a request, sent as a decimal string such as "100.00". A JSON number (or
    /// anything else) is refused: it may already have lost digits on the way.
    pub fn from_json(field: &str, value: &serde_json::Value) -> Result<Self, BusinessError> {
        positive_amount(field, value, CASH_SCALE, "100.00").map(Self)
    }

    pub fn amount(self) -> Decimal {
        self.0
    }
}

impl Units {
    /// `field` of a request, a decimal string with at most `scale` places, e.g. "12.5".
    pub fn from_json(
        field: &str,
        value: &serde_json::Value,
        scale: u32,
    ) -> Result<Self, BusinessError> {
        positive_amount(field, value, scale, "12.5").map(Self)
    }

    pub fn amount(self) -> Decimal {
        self.0
    }
}

fn positive_amount(
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
        // `amount.too_many_decimals` → `<field>.too_many_decimals`: each field keeps the reasons.
        let reason = e.code().split_once('.').map_or(e.code(), |(_, r)| r);
        BusinessError::new(format!("{field}.{reason}"), e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_are_parsed_with_their_own_codes() {
        assert_eq!(MemberId::parse("m-1").unwrap().as_str(), "m-1");
        for bad in ["", "-m", "m 1", "m/1", &"m".repeat(41)] {
            assert_eq!(MemberId::parse(bad).unwrap_err().code, "member.invalid_id");
            assert_eq!(
                RequestId::parse(bad).unwrap_err().code,
                "request.invalid_id"
            );
            assert_eq!(BatchId::parse(bad).unwrap_err().code, "batch.invalid_id");
        }
    }

    #[test]
    fn a_run_must_be_under_the_id_its_key_gives() {
        let id = WorkflowId::of_run("invest/r-1".into(), "invest/r-1", "r-1").unwrap();
        assert_eq!(id.step_key("reserve"), "invest/r-1/reserve");
        let error = WorkflowId::of_run("invest/r-1".into(), "invest/r-2", "r-1").unwrap_err();
        assert_eq!(error.code, "request.workflow_id_mismatch");
    }

    #[test]
    fn amounts_keep_the_field_in_their_codes() {
        assert_eq!(
            Cash::from_json("amount", &json!("1.25")).unwrap().amount(),
            Decimal::new(125, 2)
        );
        let code = |v| Cash::from_json("amount", &v).unwrap_err().code;
        assert_eq!(code(json!(1.25)), "amount.not_a_string");
        assert_eq!(code(json!("1.255")), "amount.too_many_decimals");
        assert_eq!(code(json!("-1")), "amount.sign");
        let units = Units::from_json("units", &json!("0.1234567"), 6).unwrap_err();
        assert_eq!(units.code, "units.too_many_decimals");
    }
}
