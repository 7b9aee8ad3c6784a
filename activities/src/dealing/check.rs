//! `dealing.check_cycle`: invariants 5 and 8 for one dealing date, recomputed from the trade
//! book and the journal at the end of each cycle; and `progress`, how far a day's external
//! trades have come.

use std::collections::BTreeMap;

use acme_ledger::Ledger;
use chrono::NaiveDate;

use super::{ROUNDING_POT, Violation};
use crate::trade_book::TradeBookError;
use crate::trade_book::external_trades;
use crate::trade_book::invariants::{self, SettledTotals};

/// How many of a dealing date's closed external trades are in each status.
pub async fn progress(
    ledger: &Ledger,
    dealing_date: NaiveDate,
) -> Result<BTreeMap<String, i64>, TradeBookError> {
    let counts = external_trades::progress(ledger.pool(), dealing_date).await?;
    Ok(counts
        .into_iter()
        .map(|(status, count)| (status.as_str().to_owned(), count))
        .collect())
}

/// Invariants 5 and 8 for one dealing date (see [`super::DealingActivities::check_cycle`]).
pub async fn check_cycle(
    ledger: &Ledger,
    dealing_date: NaiveDate,
) -> Result<Vec<Violation>, TradeBookError> {
    let pool = ledger.pool();
    let mut violations = Vec::new();
    // 8: every member trade of the day ends in exactly one terminal state, in the one external
    // trade of its asset and side.
    let unfinished = invariants::unfinished(pool, dealing_date).await?;
    violations.extend(unfinished.into_iter().map(|(trade_id, status)| Violation {
        invariant: 8,
        detail: format!("member trade {trade_id} is still {status}"),
    }));
    let misfiled = invariants::misfiled(pool, dealing_date).await?;
    violations.extend(misfiled.into_iter().map(|(trade_id, order)| Violation {
        invariant: 8,
        detail: format!(
            "member trade {trade_id} is filed under {order}, of another asset, side or day"
        ),
    }));
    let miscounted = invariants::miscounted(pool, dealing_date).await?;
    violations.extend(
        miscounted
            .into_iter()
            .map(|(order, sealed, now)| Violation {
                invariant: 8,
                detail: format!("{order} was closed with {sealed:?} member trades but has {now}"),
            }),
    );
    // 5: per settled external trade, what reached member and rounding pots in its journal
    // entries equals what the custodian confirmed: all of the delivered asset, and the ordered
    // asset net of what the custodian consumed.
    for SettledTotals {
        order_ref: order,
        delivered,
        consumed,
        to_pots,
        ordered_net,
    } in invariants::settled_totals(pool, dealing_date, ROUNDING_POT).await?
    {
        let to_pots = to_pots.unwrap_or_default();
        let ordered_net = ordered_net.unwrap_or_default();
        if to_pots != delivered {
            violations.push(Violation {
                invariant: 5,
                detail: format!(
                    "{order}: allocations and residue total {to_pots}, confirmed {delivered}"
                ),
            });
        }
        if ordered_net != -consumed {
            violations.push(Violation {
                invariant: 5,
                detail: format!(
                    "{order}: pots gave {} of the ordered asset, the custodian took {consumed}",
                    -ordered_net
                ),
            });
        }
    }
    Ok(violations)
}
