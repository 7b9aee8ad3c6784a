//! What the custodian reports: its holdings (`semt.002`), transaction (`semt.017`) and cash
//! (`camt.053`) statements as of a date, read from its books and then bent by the
//! reconciliation fault knobs ([`ReconFaults`]) the tests set. The bending is pure (the functions
//! below), so each knob's effect is stated, and tested, in one place.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use chrono::{Days, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::api::{ApiResult, AsOf, as_of_date, parse_json};
use crate::calendar;
use crate::engine::Shared;
use crate::messages::{CASH_SCALE, CashEntry, Holding, Side, UNITS_SCALE};
use crate::statements::{ReconFaults, Transaction, TransactionStatement};

/// Holdings as of `as_of`, as the custodian reports them.
pub async fn holdings(shared: &Shared, as_of: NaiveDate) -> ApiResult<Vec<Holding>> {
    let faults = shared.store.recon_faults().await?;
    let held = shared
        .store
        .holdings(as_of, faults.late_notice_of.as_deref())
        .await?;
    Ok(bend_holdings(held, &faults))
}

/// Cash movements as of `as_of`, as the custodian reports them.
pub async fn cash_entries(shared: &Shared, as_of: NaiveDate) -> ApiResult<Vec<CashEntry>> {
    let faults = shared.store.recon_faults().await?;
    let movements = shared
        .store
        .transactions(as_of, faults.late_notice_of.as_deref())
        .await?;
    let entries = movements
        .iter()
        .map(|m| CashEntry {
            order_ref: m.order_ref.clone().unwrap_or_default(),
            booking_date: m.settlement_date,
            amount: m.amount,
        })
        .collect();
    Ok(bend_cash(entries, &movements, &faults, as_of))
}

/// `GET /statements/transactions?as_of=`: `semt.017`.
pub async fn transaction_statement(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AsOf>,
) -> ApiResult<Json<TransactionStatement>> {
    let as_of = as_of_date(&shared, query).await?;
    let faults = shared.store.recon_faults().await?;
    let movements = shared
        .store
        .transactions(as_of, faults.late_notice_of.as_deref())
        .await?;
    Ok(Json(TransactionStatement {
        as_of,
        transactions: bend_transactions(movements, &faults, as_of),
    }))
}

pub async fn recon_faults(State(shared): State<Arc<Shared>>) -> ApiResult<Json<ReconFaults>> {
    Ok(Json(shared.store.recon_faults().await?))
}

pub async fn set_recon_faults(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> ApiResult<Json<ReconFaults>> {
    let faults: ReconFaults = parse_json(&body)?;
    faults.validate()?;
    shared.store.set_recon_faults(&faults).await?;
    tracing::info!(?faults, "reconciliation faults set");
    Ok(Json(faults))
}

fn phantom(isin: &str, as_of: NaiveDate) -> Transaction {
    let order_ref = ReconFaults::phantom_ref(isin);
    Transaction {
        transaction_ref: format!("TX{order_ref}"),
        order_ref: Some(order_ref),
        isin: isin.to_owned(),
        side: Side::Buy,
        units: Decimal::ONE,
        amount: Decimal::new(-100, CASH_SCALE),
        trade_date: as_of,
        settlement_date: as_of,
    }
}

/// The holdings with the knobs applied: `units_off` adds its delta to its ISIN, a phantom adds
/// its unit.
pub fn bend_holdings(held: Vec<Holding>, faults: &ReconFaults) -> Vec<Holding> {
    let mut units: BTreeMap<String, Decimal> =
        held.into_iter().map(|h| (h.isin, h.units)).collect();
    if let Some(skew) = &faults.units_off {
        *units.entry(skew.isin.clone()).or_default() += skew.delta;
    }
    if let Some(isin) = &faults.phantom_isin {
        *units.entry(isin.clone()).or_default() += Decimal::ONE;
    }
    units
        .into_iter()
        .map(|(isin, units)| Holding { isin, units })
        .collect()
}

/// The cash entries with the knobs applied: `amount_off` on the first settlement of its ISIN,
/// `duplicate_of` lists that ISIN's entries twice, a phantom adds its payment. `movements` says
/// which order is of which ISIN.
pub fn bend_cash(
    entries: Vec<CashEntry>,
    movements: &[Transaction],
    faults: &ReconFaults,
    as_of: NaiveDate,
) -> Vec<CashEntry> {
    let isin_of: BTreeMap<&str, &str> = movements
        .iter()
        .filter_map(|m| Some((m.order_ref.as_deref()?, m.isin.as_str())))
        .collect();
    let of = |entry: &CashEntry, isin: &Option<String>| {
        isin.as_deref()
            .is_some_and(|isin| isin_of.get(entry.order_ref.as_str()) == Some(&isin))
    };
    let mut out = Vec::with_capacity(entries.len() + 1);
    let mut skewed = false;
    for mut entry in entries {
        if let Some(skew) = &faults.amount_off
            && !skewed
            && of(&entry, &Some(skew.isin.clone()))
        {
            entry.amount += skew.delta;
            skewed = true;
        }
        if of(&entry, &faults.duplicate_of) {
            out.push(entry.clone());
        }
        out.push(entry);
    }
    if let Some(isin) = &faults.phantom_isin {
        let line = phantom(isin, as_of);
        out.push(CashEntry {
            order_ref: line.order_ref.unwrap_or_default(),
            booking_date: as_of,
            amount: line.amount,
        });
    }
    out.sort_by(|a, b| (a.booking_date, &a.order_ref).cmp(&(b.booking_date, &b.order_ref)));
    out
}

/// The settled movements with the knobs applied (see [`ReconFaults`] for each).
pub fn bend_transactions(
    movements: Vec<Transaction>,
    faults: &ReconFaults,
    as_of: NaiveDate,
) -> Vec<Transaction> {
    let is = |m: &Transaction, isin: &Option<String>| isin.as_deref() == Some(m.isin.as_str());
    let mut out = Vec::with_capacity(movements.len() + 1);
    let (mut units_skewed, mut amount_skewed) = (false, false);
    for mut m in movements {
        if is(&m, &faults.omit_transactions_of) {
            continue;
        }
        if let Some(skew) = faults.units_off.as_ref().filter(|s| s.isin == m.isin)
            && !units_skewed
        {
            m.units += skew.delta;
            units_skewed = true;
        }
        if let Some(skew) = faults.amount_off.as_ref().filter(|s| s.isin == m.isin)
            && !amount_skewed
        {
            m.amount += skew.delta;
            amount_skewed = true;
        }
        let mut parts = if is(&m, &faults.split_of) {
            split(m)
        } else {
            vec![m]
        };
        for part in &mut parts {
            if is(part, &faults.unreferenced_of) {
                part.order_ref = None;
                part.settlement_date = previous_business_day(part.settlement_date)
                    .filter(|day| *day >= part.trade_date)
                    .unwrap_or(part.trade_date);
            }
        }
        for part in parts {
            if is(&part, &faults.duplicate_of) {
                out.push(part.clone());
            }
            out.push(part);
        }
    }
    if let Some(isin) = &faults.phantom_isin {
        out.push(phantom(isin, as_of));
    }
    out.sort_by(|a, b| {
        (a.settlement_date, &a.transaction_ref).cmp(&(b.settlement_date, &b.transaction_ref))
    });
    out
}

/// One movement as two partial ones whose units and cash add up to it exactly.
fn split(whole: Transaction) -> Vec<Transaction> {
    let half = |value: Decimal, scale| {
        (value / Decimal::TWO).round_dp_with_strategy(scale, RoundingStrategy::ToZero)
    };
    let first = Transaction {
        transaction_ref: format!("{}-1", whole.transaction_ref),
        units: half(whole.units, UNITS_SCALE),
        amount: half(whole.amount, CASH_SCALE),
        ..whole.clone()
    };
    let second = Transaction {
        transaction_ref: format!("{}-2", whole.transaction_ref),
        units: whole.units - first.units,
        amount: whole.amount - first.amount,
        ..whole
    };
    vec![first, second]
}

fn previous_business_day(date: NaiveDate) -> Option<NaiveDate> {
    let mut day = date.checked_sub_days(Days::new(1))?;
    while !calendar::is_business_day(day) {
        day = day.checked_sub_days(Days::new(1))?;
    }
    Some(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statements::Skew;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn movement(n: u32, isin: &str) -> Transaction {
        Transaction {
            transaction_ref: format!("TXCNF{n}"),
            order_ref: Some(format!("ET-{n}")),
            isin: isin.to_owned(),
            side: Side::Buy,
            units: Decimal::new(10_000_001, 6),
            amount: Decimal::new(-10_001, 2),
            trade_date: day("2026-11-23"),
            settlement_date: day("2026-11-25"),
        }
    }

    #[test]
    fn each_knob_bends_only_its_own_isin() {
        let as_of = day("2026-11-25");
        let movements = vec![
            movement(1, "GB00A"),
            movement(2, "GB00B"),
            movement(3, "GB00C"),
        ];
        let faults = ReconFaults {
            omit_transactions_of: Some("GB00A".to_owned()),
            split_of: Some("GB00B".to_owned()),
            unreferenced_of: Some("GB00B".to_owned()),
            duplicate_of: Some("GB00C".to_owned()),
            ..ReconFaults::default()
        };
        let bent = bend_transactions(movements.clone(), &faults, as_of);
        let refs: Vec<(&str, Option<&str>)> = bent
            .iter()
            .map(|m| (m.transaction_ref.as_str(), m.order_ref.as_deref()))
            .collect();
        assert_eq!(
            refs,
            [
                ("TXCNF2-1", None),
                ("TXCNF2-2", None),
                ("TXCNF3", Some("ET-3")),
                ("TXCNF3", Some("ET-3"))
            ]
        );
        // The parts add up to the whole, a business day early.
        assert_eq!(bent[0].units + bent[1].units, movements[1].units);
        assert_eq!(bent[0].amount + bent[1].amount, movements[1].amount);
        assert_eq!(bent[0].settlement_date, day("2026-11-24"));

        let skews = ReconFaults {
            units_off: Some(Skew {
                isin: "GB00A".to_owned(),
                delta: Decimal::new(5, 1),
            }),
            amount_off: Some(Skew {
                isin: "GB00B".to_owned(),
                delta: Decimal::new(1, 2),
            }),
            phantom_isin: Some("GB00P".to_owned()),
            ..ReconFaults::default()
        };
        let bent = bend_transactions(movements.clone(), &skews, as_of);
        assert_eq!(bent.len(), 4);
        assert_eq!(bent[0].units - movements[0].units, Decimal::new(5, 1));
        assert_eq!(bent[1].amount - movements[1].amount, Decimal::new(1, 2));
        assert_eq!(bent[2], movements[2]);
        assert_eq!(bent[3].order_ref.as_deref(), Some("PHANTOM-GB00P"));

        let held = vec![Holding {
            isin: "GB00A".to_owned(),
            units: Decimal::TEN,
        }];
        let held = bend_holdings(held, &skews);
        assert_eq!(
            held,
            [
                Holding {
                    isin: "GB00A".to_owned(),
                    units: Decimal::new(105, 1)
                },
                Holding {
                    isin: "GB00P".to_owned(),
                    units: Decimal::ONE
                }
            ]
        );
        let entries: Vec<CashEntry> = movements
            .iter()
            .map(|m| CashEntry {
                order_ref: m.order_ref.clone().unwrap(),
                booking_date: m.settlement_date,
                amount: m.amount,
            })
            .collect();
        let cash = bend_cash(
            entries.clone(),
            &movements,
            &ReconFaults {
                duplicate_of: Some("GB00C".to_owned()),
                ..skews
            },
            as_of,
        );
        let amounts: Vec<(&str, Decimal)> = cash
            .iter()
            .map(|e| (e.order_ref.as_str(), e.amount))
            .collect();
        assert_eq!(
            amounts,
            [
                ("ET-1", Decimal::new(-10_001, 2)),
                ("ET-2", Decimal::new(-10_000, 2)),
                ("ET-3", Decimal::new(-10_001, 2)),
                ("ET-3", Decimal::new(-10_001, 2)),
                ("PHANTOM-GB00P", Decimal::new(-100, 2)),
            ]
        );
        // No knobs: the books as they are.
        assert_eq!(
            bend_transactions(movements.clone(), &ReconFaults::default(), as_of),
            movements
        );
        assert_eq!(
            bend_cash(entries.clone(), &movements, &ReconFaults::default(), as_of),
            entries
        );
    }
}
