//! Matching a schedule to the money received: what ACME's latest bank statement
//! (reconciliation's store, `camt.053`) shows under the schedule's payment reference, against what is due (the
//! accepted rows' total). Equal: the schedule is funded and may be invested. Short or over: a
//! break, and the schedule is held (never invested pro rata, never in part) until a later
//! statement makes the two equal (ADR 19). Every distinct finding is recorded.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::ContributionError;
use crate::recon::statements;

/// What the bank statements show against what is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Unpaid,
    Short,
    Over,
    Matched,
}

impl Outcome {
    fn of(due: Decimal, paid: Decimal) -> Self {
        if paid == due {
            Self::Matched
        } else if paid.is_zero() {
            Self::Unpaid
        } else if paid < due {
            Self::Short
        } else {
            Self::Over
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Unpaid => "unpaid",
            Self::Short => "short",
            Self::Over => "over",
            Self::Matched => "matched",
        }
    }
}

/// One check of a schedule's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentCheck {
    pub schedule_id: Uuid,
    pub payment_reference: String,
    pub due: Decimal,
    pub paid: Decimal,
    pub outcome: Outcome,
    /// The bank statement the figure came from (`None` before any).
    pub statement_id: Option<i64>,
}

/// Checks the schedule's payment, records the finding (once per distinct amount paid) and moves
/// the schedule: `received`/`held` → `funded` when matched, `received` → `held` when short or
/// over. A funded or invested schedule stays so. Idempotent.
pub async fn check_payment(
    pool: &PgPool,
    schedule_id: Uuid,
) -> Result<PaymentCheck, ContributionError> {
    let schedule: Option<(i64, String, Decimal)> = sqlx::query_as(
        "select schedule_no, payment_reference, employer_total + member_total
         from contribution_schedule where schedule_id = $1",
    )
    .bind(schedule_id)
    .fetch_optional(pool)
    .await?;
    let Some((schedule_no, reference, due)) = schedule else {
        return Err(ContributionError::refused(
            "schedule.unknown",
            format!("no schedule {schedule_id}"),
        ));
    };
    let (paid, statement_id) = statements::bank_total(pool, &reference).await?;
    let outcome = Outcome::of(due, paid);
    let mut tx = pool.begin().await?;
    sqlx::query(
        "insert into contribution_payment_check
             (schedule_no, due, paid, outcome, statement_id)
         values ($1, $2, $3, $4, $5) on conflict (schedule_no, paid) do nothing",
    )
    .bind(schedule_no)
    .bind(due)
    .bind(paid)
    .bind(outcome.as_str())
    .bind(statement_id)
    .execute(&mut *tx)
    .await?;
    let (from, to): (&[&str], &str) = match outcome {
        Outcome::Matched => (&["received", "held"], "funded"),
        Outcome::Short | Outcome::Over => (&["received"], "held"),
        Outcome::Unpaid => (&[], "received"),
    };
    sqlx::query(
        "update contribution_schedule set status = $2
         where schedule_no = $1 and status = any($3)",
    )
    .bind(schedule_no)
    .bind(to)
    .bind(from)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(PaymentCheck {
        schedule_id,
        payment_reference: reference,
        due,
        paid,
        outcome,
        statement_id,
    })
}
