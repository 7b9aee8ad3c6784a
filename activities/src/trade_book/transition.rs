//! Named status changes. A trade's status only ever moves by one of these transitions, each of
//! which says where it comes from and where it goes; anything else is refused
//! ([`TradeBookError::Refused`](super::TradeBookError::Refused)). Every move is recorded in
//! `trade_transition` (migration 0007) by the same statement that makes it.

use std::fmt;

use serde::{Deserialize, Serialize};
use temporalio_sdk::activities::ActivityContext;
use uuid::Uuid;

use super::status::{ExternalTradeStatus, MemberTradeStatus};
use super::{Moved, TradeBookError};

/// Which of the two trade tables a transition is about (`trade_transition.trade_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TradeKind {
    Member,
    External,
}

impl TradeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::External => "external",
        }
    }
}

impl fmt::Display for TradeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name recorded for a trade's creation (`from_status` null).
pub const CREATE: &str = "create";

/// The status changes of a member trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberTransition {
    /// `pending → aggregated`: the trade joins its day's external trade at the cut-off.
    Aggregate,
    /// `aggregated → priced`: the trade is given its share of what the custodian confirmed.
    Price,
    /// `priced → settled`: what the trade bought or raised is the member's to use.
    Settle,
    /// `aggregated → failed`: its external trade was rejected and what it reserved released.
    Release,
}

impl MemberTransition {
    pub fn name(self) -> &'static str {
        match self {
            Self::Aggregate => "aggregate",
            Self::Price => "price",
            Self::Settle => "settle",
            Self::Release => "release",
        }
    }

    pub fn from(self) -> MemberTradeStatus {
        match self {
            Self::Aggregate => MemberTradeStatus::Pending,
            Self::Price | Self::Release => MemberTradeStatus::Aggregated,
            Self::Settle => MemberTradeStatus::Priced,
        }
    }

    pub fn to(self) -> MemberTradeStatus {
        match self {
            Self::Aggregate => MemberTradeStatus::Aggregated,
            Self::Price => MemberTradeStatus::Priced,
            Self::Settle => MemberTradeStatus::Settled,
            Self::Release => MemberTradeStatus::Failed,
        }
    }
}

impl fmt::Display for MemberTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} → {})", self.name(), self.from(), self.to())
    }
}

/// The status changes of an external trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExternalTransition {
    /// `created → placed`: the custodian has the order.
    Place,
    /// `created | placed → priced`: the custodian's confirmation is recorded (a confirmation can
    /// overtake the placement's own bookkeeping).
    Price,
    /// `priced → settled`.
    Settle,
    /// `created | placed → rejected`: the custodian said no.
    Reject,
}

impl ExternalTransition {
    pub fn name(self) -> &'static str {
        match self {
            Self::Place => "place",
            Self::Price => "price",
            Self::Settle => "settle",
            Self::Reject => "reject",
        }
    }

    pub fn from(self) -> &'static [ExternalTradeStatus] {
        use ExternalTradeStatus::{Created, Placed, Priced};
        match self {
            Self::Place => &[Created],
            Self::Price | Self::Reject => &[Created, Placed],
            Self::Settle => &[Priced],
        }
    }

    pub fn to(self) -> ExternalTradeStatus {
        match self {
            Self::Place => ExternalTradeStatus::Placed,
            Self::Price => ExternalTradeStatus::Priced,
            Self::Settle => ExternalTradeStatus::Settled,
            Self::Reject => ExternalTradeStatus::Rejected,
        }
    }

    /// What this transition does to the external trade `trade_id` when it is in `actual`: it
    /// moves it, finds it already there (a repeat), or is refused.
    pub fn applied_to(
        self,
        trade_id: Uuid,
        actual: ExternalTradeStatus,
    ) -> Result<Moved, TradeBookError> {
        if self.from().contains(&actual) {
            Ok(Moved::Moved)
        } else if actual == self.to() {
            Ok(Moved::AlreadyThere)
        } else {
            Err(TradeBookError::Refused {
                kind: TradeKind::External,
                trade_id,
                transition: self.to_string(),
                actual: actual.to_string(),
            })
        }
    }
}

impl fmt::Display for ExternalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from: Vec<&str> = self.from().iter().map(|s| s.as_str()).collect();
        write!(f, "{} ({} → {})", self.name(), from.join(" | "), self.to())
    }
}

/// Who changes a status, and in which workflow: what the history records beside the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub workflow_id: String,
    /// `activity:<activity name>` for an activity, the command for the CLI.
    pub who: String,
}

impl Actor {
    pub fn new(workflow_id: impl Into<String>, who: impl Into<String>) -> Self {
        Self {
            workflow_id: workflow_id.into(),
            who: who.into(),
        }
    }

    /// The running activity, in the workflow that scheduled it (`workflow_id` when it runs on
    /// its own, outside any workflow).
    pub fn activity(ctx: &ActivityContext, workflow_id: &str) -> Self {
        let info = ctx.info();
        Self::new(
            info.workflow_id.as_deref().unwrap_or(workflow_id),
            format!("activity:{}", info.activity_type),
        )
    }
}

/// The head of every statement that records transitions; the select that follows gives, per
/// row: kind, trade id, from (null on creation), to, transition name, workflow id, actor. A
/// macro so that the statements stay `&'static str` (`concat!`).
macro_rules! record_transitions {
    () => {
        "insert into trade_transition
             (trade_kind, trade_id, from_status, to_status, transition, workflow_id, actor) "
    };
}
pub(crate) use record_transitions;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_name_where_they_come_from() {
        assert_eq!(
            MemberTransition::Aggregate.to_string(),
            "aggregate (pending → aggregated)"
        );
        assert_eq!(
            ExternalTransition::Price.to_string(),
            "price (created | placed → priced)"
        );
    }

    #[test]
    fn no_transition_leaves_a_terminal_member_status() {
        for transition in [
            MemberTransition::Aggregate,
            MemberTransition::Price,
            MemberTransition::Settle,
            MemberTransition::Release,
        ] {
            assert!(!transition.from().is_terminal(), "{transition}");
            assert_ne!(transition.from(), transition.to(), "{transition}");
        }
    }
}
