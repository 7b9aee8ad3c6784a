//! Asset codes: `GBP` for cash, an ISIN-like code for a fund. Parsed once at the edge so that an
//! invalid code cannot travel further into the platform.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest code we accept: an ISIN is 12 characters.
const MAX_LEN: usize = 12;
/// Shortest: an ISO 4217 currency code is 3 characters.
const MIN_LEN: usize = 3;

/// An asset's code: 3 to 12 upper-case ASCII letters or digits, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AssetCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid asset code {text:?}: expected {MIN_LEN} to {MAX_LEN} upper-case letters or digits, starting with a letter"
)]
pub struct AssetCodeError {
    pub text: String,
}

impl AssetCode {
    pub fn parse(text: &str) -> Result<Self, AssetCodeError> {
        let well_formed = (MIN_LEN..=MAX_LEN).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_uppercase())
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(AssetCodeError {
                text: text.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AssetCode {
    type Err = AssetCodeError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for AssetCode {
    type Error = AssetCodeError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<AssetCode> for String {
    fn from(code: AssetCode) -> Self {
        code.0
    }
}

impl fmt::Display for AssetCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_currency_and_isin() {
        assert_eq!(
            AssetCode::parse("GBP").map(|c| c.to_string()),
            Ok("GBP".into())
        );
        assert!(AssetCode::parse("GB00B3X7QG63").is_ok());
    }

    #[test]
    fn rejects_malformed_codes() {
        for bad in [
            "",
            "gb",
            "GB",
            "gbp",
            "1GBP",
            "GB-P",
            "GB00B3X7QG63X",
            "GBP ",
        ] {
            assert!(AssetCode::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<AssetCode>("\"gbp\"").is_err());
        assert!(serde_json::from_str::<AssetCode>("\"GBP\"").is_ok());
    }
}
