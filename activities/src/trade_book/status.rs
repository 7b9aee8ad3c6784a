//! The trade book's vocabulary as types: a trade's side and the statuses of member and external
//! trades. Each enum lists exactly what the table's check constraint allows (migrations 0002 and
//! 0003; a database test holds them together), so a status is never a loose string in Rust.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

use super::TradeBookError;

/// Implements text conversions, `Display`, `FromStr` and the sqlx text encoding for a
/// fieldless enum from its `(variant, "text")` table, so the table is the only spelling.
macro_rules! text_enum {
    ($name:ident, $what:literal, [$(($variant:ident, $text:literal)),+ $(,)?]) => {
        impl $name {
            /// Every value, in the order of the database's check constraint.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The value as the database spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = TradeBookError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(TradeBookError::Unreadable {
                        what: $what,
                        value: other.to_owned(),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <&str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as Type<Postgres>>::compatible(ty)
            }
        }

        impl Encode<'_, Postgres> for $name {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $name {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&str as Decode<Postgres>>::decode(value)?.parse()?)
            }
        }
    };
}

/// Buy (a cash amount) or sell (a number of units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

text_enum!(Side, "trade side", [(Buy, "buy"), (Sell, "sell")]);

/// Where a member trade stands (DESIGN.md §3): `pending → aggregated → priced → settled`, or
/// `cancelled` / `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberTradeStatus {
    Pending,
    Aggregated,
    Priced,
    Settled,
    Cancelled,
    Failed,
}

text_enum!(
    MemberTradeStatus,
    "member trade status",
    [
        (Pending, "pending"),
        (Aggregated, "aggregated"),
        (Priced, "priced"),
        (Settled, "settled"),
        (Cancelled, "cancelled"),
        (Failed, "failed"),
    ]
);

impl MemberTradeStatus {
    /// A status the trade never leaves (invariant 8: every trade ends in exactly one).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Settled | Self::Cancelled | Self::Failed)
    }
}

/// Where an external trade stands (DESIGN.md §3): `created → placed → priced → settled`, or
/// `rejected` / `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExternalTradeStatus {
    Created,
    Placed,
    Priced,
    Settled,
    Rejected,
    Failed,
}

text_enum!(
    ExternalTradeStatus,
    "external trade status",
    [
        (Created, "created"),
        (Placed, "placed"),
        (Priced, "priced"),
        (Settled, "settled"),
        (Rejected, "rejected"),
        (Failed, "failed"),
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_as_itself_and_nothing_else_reads() {
        for side in Side::ALL {
            assert_eq!(side.as_str().parse::<Side>().ok(), Some(*side));
        }
        for status in MemberTradeStatus::ALL {
            assert_eq!(
                status.as_str().parse::<MemberTradeStatus>().ok(),
                Some(*status)
            );
        }
        for status in ExternalTradeStatus::ALL {
            assert_eq!(
                status.as_str().parse::<ExternalTradeStatus>().ok(),
                Some(*status)
            );
        }
        // The ingress once read anything but "buy" as a sell.
        assert!("BUY".parse::<Side>().is_err());
        assert!("".parse::<Side>().is_err());
        assert!("settled ".parse::<MemberTradeStatus>().is_err());
    }

    #[test]
    fn serde_spells_values_as_the_database_does() {
        // Recorded workflow histories hold sides in this spelling.
        assert_eq!(
            serde_json::to_string(&Side::Sell).ok().as_deref(),
            Some("\"sell\"")
        );
        for status in ExternalTradeStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).ok(),
                Some(serde_json::Value::from(status.as_str()))
            );
        }
    }
}
