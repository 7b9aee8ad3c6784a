//! Transaction matching: each of our external trades (priced or settled by the date) against the
//! custodian's settled movements (`semt.017`). Lines are matched in passes, each taking only what
//! the earlier ones left:
//!
//! 1. by reference: the lines quoting a trade's order reference (one-to-one, or one-to-many when
//!    the custodian settled the order in parts);
//! 2. by amount and date: a line and a trade of the same ISIN with the same signed units and cash,
//!    settling within [`DATE_WINDOW_DAYS`] of each other (the nearest first);
//! 3. many-to-one: a line equal to the sum of several trades of its ISIN within the window (a
//!    netted or block settlement);
//! 4. one-to-many: a trade equal to the sum of several lines of its ISIN within the window.
//!
//! A movement listed twice (the same custodian reference) is a `duplicate`, and one copy takes
//! part in the matching. A matched group whose units differ is a `quantity_mismatch`, whose cash
//! differs an `amount_mismatch`; one whose trade our books have not yet settled is `timing`
//! (it clears when our settlement runs); a line left over is `missing_ours`, a trade settled in
//! our books and left over is `missing_theirs`. A trade not yet settled on either side is not
//! compared. The matching is pure ([`match_transactions`]); [`transactions`] loads both sides.
//! A day has a handful of external trades (one per fund and side), so the matching runs in the
//! worker; the subset passes look at no more than [`MAX_SUBSET_CANDIDATES`] candidates.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;

use super::compare::{BreakClass, Compared, Comparison, Finding, Scope};
use super::statements::Imported;

/// How far apart, in calendar days either way, a line and a trade may settle and still be
/// matched by amount (a business day either side, across a weekend).
pub const DATE_WINDOW_DAYS: i64 = 3;
/// The most candidates a subset pass tries combinations of (2^12 combinations at most).
pub const MAX_SUBSET_CANDIDATES: usize = 12;

/// One of our external trades, signed as the custodian's statements sign it: units received
/// positive, cash paid out negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurTrade {
    pub order_ref: String,
    pub isin: String,
    pub units: Decimal,
    pub amount: Decimal,
    pub settlement_date: NaiveDate,
    /// Settled in our books by the reconciliation date.
    pub settled: bool,
}

/// One of the custodian's settled movements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TheirLine {
    pub transaction_ref: String,
    pub order_ref: Option<String>,
    pub isin: String,
    pub units: Decimal,
    pub amount: Decimal,
    pub settlement_date: NaiveDate,
}

/// How a group was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Reference,
    AmountAndDate,
}

/// Trades and lines matched together (indexes into the inputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub ours: Vec<usize>,
    pub theirs: Vec<usize>,
    pub by: MatchedBy,
}

/// What the matching found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matching {
    pub groups: Vec<Group>,
    /// Custodian references listed more than once: the first line's index and the copies.
    pub duplicates: Vec<(usize, usize)>,
    pub unmatched_ours: Vec<usize>,
    pub unmatched_theirs: Vec<usize>,
}

fn within_window(a: NaiveDate, b: NaiveDate) -> bool {
    (a - b).num_days().abs() <= DATE_WINDOW_DAYS
}

/// Sums of units and cash, `None` on overflow (then nothing can match it).
fn sums(figures: impl IntoIterator<Item = (Decimal, Decimal)>) -> Option<(Decimal, Decimal)> {
    figures
        .into_iter()
        .try_fold((Decimal::ZERO, Decimal::ZERO), |(units, amount), (u, a)| {
            Some((units.checked_add(u)?, amount.checked_add(a)?))
        })
}

/// The smallest combination (two or more) of `candidates` whose units and cash add up to
/// `target`, as indexes into `candidates`; the first such in candidate order on a tie.
fn combination(
    candidates: &[(Decimal, Decimal)],
    target: (Decimal, Decimal),
) -> Option<Vec<usize>> {
    let n = candidates.len().min(MAX_SUBSET_CANDIDATES);
    let mut best: Option<(u32, u32)> = None;
    for mask in 1_u32..(1 << n) {
        let size = mask.count_ones();
        if size < 2 || best.is_some_and(|(best_size, _)| best_size <= size) {
            continue;
        }
        let picked = (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| candidates[i]);
        if sums(picked) == Some(target) {
            best = Some((size, mask));
        }
    }
    best.map(|(_, mask)| (0..n).filter(|i| mask & (1 << i) != 0).collect())
}

/// Matches `ours` against `theirs` (see the module's passes). Deterministic for inputs in the
/// same order.
pub fn match_transactions(ours: &[OurTrade], theirs: &[TheirLine]) -> Matching {
    let mut out = Matching::default();
    let mut ours_used = vec![false; ours.len()];
    let mut theirs_used = vec![false; theirs.len()];

    // Duplicates: the first copy stays in; the others are set aside.
    let mut first_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut copies: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, line) in theirs.iter().enumerate() {
        match first_of.get(line.transaction_ref.as_str()) {
            Some(&first) => {
                theirs_used[i] = true;
                *copies.entry(first).or_insert(1) += 1;
            }
            None => {
                first_of.insert(&line.transaction_ref, i);
            }
        }
    }
    out.duplicates = copies.into_iter().collect();

    // 1. By reference.
    let by_ref: BTreeMap<&str, usize> = ours
        .iter()
        .enumerate()
        .map(|(i, trade)| (trade.order_ref.as_str(), i))
        .collect();
    let mut referenced: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, line) in theirs.iter().enumerate() {
        if theirs_used[i] {
            continue;
        }
        if let Some(&o) = line.order_ref.as_deref().and_then(|r| by_ref.get(r)) {
            referenced.entry(o).or_default().push(i);
            theirs_used[i] = true;
        }
    }
    for (o, lines) in referenced {
        ours_used[o] = true;
        out.groups.push(Group {
            ours: vec![o],
            theirs: lines,
            by: MatchedBy::Reference,
        });
    }

    // 2. One line, one trade: same ISIN, units and cash, the nearest date within the window.
    for (i, line) in theirs.iter().enumerate() {
        if theirs_used[i] {
            continue;
        }
        let nearest = ours
            .iter()
            .enumerate()
            .filter(|&(o, trade)| {
                !ours_used[o]
                    && trade.isin == line.isin
                    && trade.units == line.units
                    && trade.amount == line.amount
                    && within_window(trade.settlement_date, line.settlement_date)
            })
            .min_by_key(|(_, trade)| {
                (
                    (trade.settlement_date - line.settlement_date)
                        .num_days()
                        .abs(),
                    trade.order_ref.clone(),
                )
            })
            .map(|(o, _)| o);
        if let Some(o) = nearest {
            ours_used[o] = true;
            theirs_used[i] = true;
            out.groups.push(Group {
                ours: vec![o],
                theirs: vec![i],
                by: MatchedBy::AmountAndDate,
            });
        }
    }

    // 3. One line, several trades; 4. one trade, several lines.
    let our_figures: Vec<Figures> = ours
        .iter()
        .map(|t| Figures {
            isin: &t.isin,
            units: t.units,
            amount: t.amount,
            date: t.settlement_date,
        })
        .collect();
    let their_figures: Vec<Figures> = theirs
        .iter()
        .map(|l| Figures {
            isin: &l.isin,
            units: l.units,
            amount: l.amount,
            date: l.settlement_date,
        })
        .collect();
    let netted = sums_of_several(
        &their_figures,
        &mut theirs_used,
        &our_figures,
        &mut ours_used,
    );
    out.groups
        .extend(netted.into_iter().map(|(i, group)| Group {
            ours: group,
            theirs: vec![i],
            by: MatchedBy::AmountAndDate,
        }));
    let split = sums_of_several(
        &our_figures,
        &mut ours_used,
        &their_figures,
        &mut theirs_used,
    );
    out.groups.extend(split.into_iter().map(|(o, group)| Group {
        ours: vec![o],
        theirs: group,
        by: MatchedBy::AmountAndDate,
    }));

    out.unmatched_ours = (0..ours.len()).filter(|&o| !ours_used[o]).collect();
    out.unmatched_theirs = (0..theirs.len()).filter(|&i| !theirs_used[i]).collect();
    out
}

/// What the amount passes compare, on either side.
#[derive(Debug, Clone, Copy)]
struct Figures<'a> {
    isin: &'a str,
    units: Decimal,
    amount: Decimal,
    date: NaiveDate,
}

/// Each `one` not yet used that equals the sum of a combination (two or more) of `many` not yet
/// used, of its ISIN, within the window: the groups `(one, its many)`, in `one`'s order, each
/// marked used.
fn sums_of_several(
    one: &[Figures],
    one_used: &mut [bool],
    many: &[Figures],
    many_used: &mut [bool],
) -> Vec<(usize, Vec<usize>)> {
    let mut found = Vec::new();
    for (i, target) in one.iter().enumerate() {
        if one_used[i] {
            continue;
        }
        let candidates = nearest_first(
            many.iter()
                .enumerate()
                .filter(|&(k, m)| {
                    !many_used[k] && m.isin == target.isin && within_window(m.date, target.date)
                })
                .map(|(k, m)| (k, m.date)),
            target.date,
        );
        let figures: Vec<_> = candidates
            .iter()
            .map(|&k| (many[k].units, many[k].amount))
            .collect();
        if let Some(picked) = combination(&figures, (target.units, target.amount)) {
            let group: Vec<usize> = picked.into_iter().map(|k| candidates[k]).collect();
            for &k in &group {
                many_used[k] = true;
            }
            one_used[i] = true;
            found.push((i, group));
        }
    }
    found
}

/// Indexes ordered by how far their date is from `date`, then by index.
fn nearest_first(items: impl Iterator<Item = (usize, NaiveDate)>, date: NaiveDate) -> Vec<usize> {
    let mut items: Vec<(i64, usize)> = items
        .map(|(i, day)| ((day - date).num_days().abs(), i))
        .collect();
    items.sort_unstable();
    items.into_iter().map(|(_, i)| i).collect()
}

/// How a matched group compares: `None` when it matches.
pub fn classify_group(
    ours: (Decimal, Decimal),
    theirs: (Decimal, Decimal),
    all_settled_in_our_books: bool,
) -> Option<BreakClass> {
    if ours.0 != theirs.0 {
        Some(BreakClass::QuantityMismatch)
    } else if ours.1 != theirs.1 {
        Some(BreakClass::AmountMismatch)
    } else if !all_settled_in_our_books {
        Some(BreakClass::Timing)
    } else {
        None
    }
}

/// Classifies what [`match_transactions`] found: one compared line per group (its subject our
/// first order reference), per duplicated movement and per line or settled trade left over.
pub fn compare(ours: &[OurTrade], theirs: &[TheirLine], statement: &Imported) -> Comparison {
    let matching = match_transactions(ours, theirs);
    let mut out = Comparison::default();
    let evidence = |extra: serde_json::Value| {
        let mut evidence = json!({
            "statement_id": statement.statement_id,
            "statement_digest": statement.digest,
        });
        if let (Some(evidence), serde_json::Value::Object(extra)) =
            (evidence.as_object_mut(), extra)
        {
            evidence.extend(extra);
        }
        evidence
    };
    let mut push = |subject: String,
                    isin: &str,
                    figures: (Option<Decimal>, Option<Decimal>),
                    class: Option<BreakClass>,
                    expected_clear_date: Option<NaiveDate>,
                    evidence: serde_json::Value| {
        let finding = class.map(|class| Finding {
            scope: Scope::Transaction,
            subject: subject.clone(),
            account: isin.to_owned(),
            class,
            ours: figures.0,
            theirs: figures.1,
            evidence,
            expected_clear_date,
        });
        out.compared.push(Compared {
            subject,
            account: isin.to_owned(),
            ours: figures.0,
            theirs: figures.1,
            class,
        });
        out.findings.extend(finding);
    };
    let mut groups = matching.groups;
    groups.sort_by(|a, b| ours[a.ours[0]].order_ref.cmp(&ours[b.ours[0]].order_ref));
    for group in groups {
        let first = &ours[group.ours[0]];
        let (Some(our_sums), Some(their_sums)) = (
            sums(group.ours.iter().map(|&o| (ours[o].units, ours[o].amount))),
            sums(
                group
                    .theirs
                    .iter()
                    .map(|&i| (theirs[i].units, theirs[i].amount)),
            ),
        ) else {
            continue;
        };
        let settled = group.ours.iter().all(|&o| ours[o].settled);
        let class = classify_group(our_sums, their_sums, settled);
        // The figures shown are the ones that differ: cash for an amount mismatch, else units.
        let figures = if class == Some(BreakClass::AmountMismatch) {
            (Some(our_sums.1), Some(their_sums.1))
        } else {
            (Some(our_sums.0), Some(their_sums.0))
        };
        let clears = group
            .ours
            .iter()
            .filter(|&&o| !ours[o].settled)
            .map(|&o| ours[o].settlement_date)
            .max();
        let ours_refs: Vec<&str> = group
            .ours
            .iter()
            .map(|&o| ours[o].order_ref.as_str())
            .collect();
        let theirs_refs: Vec<&str> = group
            .theirs
            .iter()
            .map(|&i| theirs[i].transaction_ref.as_str())
            .collect();
        push(
            first.order_ref.clone(),
            &first.isin,
            figures,
            class,
            clears.filter(|_| class == Some(BreakClass::Timing)),
            evidence(json!({
                "matched_by": group.by,
                "orders": ours_refs,
                "movements": theirs_refs,
                "ours_units": our_sums.0, "ours_amount": our_sums.1,
                "theirs_units": their_sums.0, "theirs_amount": their_sums.1,
                "settled_in_our_books": settled,
            })),
        );
    }
    for (i, copies) in matching.duplicates {
        let line = &theirs[i];
        push(
            line.transaction_ref.clone(),
            &line.isin,
            (None, Some(Decimal::from(copies))),
            Some(BreakClass::Duplicate),
            None,
            evidence(json!({
                "movement": line.transaction_ref, "order_ref": line.order_ref,
                "copies": copies, "units": line.units, "amount": line.amount,
            })),
        );
    }
    for i in matching.unmatched_theirs {
        let line = &theirs[i];
        push(
            line.transaction_ref.clone(),
            &line.isin,
            (None, Some(line.units)),
            Some(BreakClass::MissingOurs),
            None,
            evidence(json!({
                "movement": line.transaction_ref, "order_ref": line.order_ref,
                "units": line.units, "amount": line.amount,
                "settlement_date": line.settlement_date,
            })),
        );
    }
    for o in matching.unmatched_ours {
        let trade = &ours[o];
        if !trade.settled {
            continue;
        }
        push(
            trade.order_ref.clone(),
            &trade.isin,
            (Some(trade.units), None),
            Some(BreakClass::MissingTheirs),
            None,
            evidence(json!({
                "order_ref": trade.order_ref, "units": trade.units, "amount": trade.amount,
                "settlement_date": trade.settlement_date,
            })),
        );
    }
    out
}

/// Loads our external trades priced by `date` and the statement's movements, and compares them.
pub async fn transactions(
    conn: &mut PgConnection,
    date: NaiveDate,
    statement: &Imported,
) -> Result<Comparison, sqlx::Error> {
    let ours: Vec<(String, String, Decimal, Decimal, NaiveDate, bool)> = sqlx::query_as(
        "select order_ref, asset_code,
                case side when 'buy' then delivered else -consumed end,
                case side when 'buy' then -consumed else delivered end,
                settlement_date, status = 'settled' and settlement_date <= $1
         from external_trade
         where status in ('priced', 'settled') and dealing_date <= $1
           and delivered is not null and consumed is not null and settlement_date is not null
         order by order_ref",
    )
    .bind(date)
    .fetch_all(&mut *conn)
    .await?;
    let ours: Vec<OurTrade> = ours
        .into_iter()
        .map(
            |(order_ref, isin, units, amount, settlement_date, settled)| OurTrade {
                order_ref,
                isin,
                units,
                amount,
                settlement_date,
                settled,
            },
        )
        .collect();
    let theirs: Vec<(String, Option<String>, String, Decimal, Decimal, NaiveDate)> =
        sqlx::query_as(
            "select subject, order_ref, isin, quantity, amount, booking_date
             from recon_statement_line
             where statement_id = $1
               and isin is not null and amount is not null and booking_date is not null
             order by line_no",
        )
        .bind(statement.statement_id)
        .fetch_all(&mut *conn)
        .await?;
    let theirs: Vec<TheirLine> = theirs
        .into_iter()
        .map(
            |(transaction_ref, order_ref, isin, units, amount, settlement_date)| TheirLine {
                transaction_ref,
                order_ref,
                isin,
                units,
                amount,
                settlement_date,
            },
        )
        .collect();
    Ok(compare(&ours, &theirs, statement))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, n).unwrap()
    }

    fn d(units: i64, scale: u32) -> Decimal {
        Decimal::new(units, scale)
    }

    fn trade(order_ref: &str, isin: &str, units: i64, pence: i64, settles: u32) -> OurTrade {
        OurTrade {
            order_ref: order_ref.to_owned(),
            isin: isin.to_owned(),
            units: d(units, 0),
            amount: d(pence, 2),
            settlement_date: day(settles),
            settled: true,
        }
    }

    fn line(
        tx: &str,
        order_ref: Option<&str>,
        isin: &str,
        units: i64,
        pence: i64,
        settles: u32,
    ) -> TheirLine {
        TheirLine {
            transaction_ref: tx.to_owned(),
            order_ref: order_ref.map(str::to_owned),
            isin: isin.to_owned(),
            units: d(units, 0),
            amount: d(pence, 2),
            settlement_date: day(settles),
        }
    }

    fn statement() -> Imported {
        Imported {
            statement_id: 7,
            kind: super::super::statements::StatementKind::Transactions,
            as_of: day(25),
            digest: "00".repeat(32),
            lines: 0,
            new: true,
        }
    }

    /// (subject, class) of every compared line, in order.
    fn verdicts(ours: &[OurTrade], theirs: &[TheirLine]) -> Vec<(String, Option<BreakClass>)> {
        compare(ours, theirs, &statement())
            .compared
            .into_iter()
            .map(|c| (c.subject, c.class))
            .collect()
    }

    fn v(subject: &str, class: Option<BreakClass>) -> (String, Option<BreakClass>) {
        (subject.to_owned(), class)
    }

    #[test]
    fn lines_quoting_an_order_match_it_one_to_one_or_one_to_many() {
        let ours = [
            trade("ET-1", "A", 10, -10_000, 25),
            trade("ET-2", "B", 4, -4_000, 25),
        ];
        let theirs = [
            line("TX1", Some("ET-1"), "A", 10, -10_000, 25),
            line("TX2a", Some("ET-2"), "B", 1, -1_000, 25),
            line("TX2b", Some("ET-2"), "B", 3, -3_000, 25),
        ];
        let matching = match_transactions(&ours, &theirs);
        assert_eq!(
            matching.groups,
            [
                Group {
                    ours: vec![0],
                    theirs: vec![0],
                    by: MatchedBy::Reference
                },
                Group {
                    ours: vec![1],
                    theirs: vec![1, 2],
                    by: MatchedBy::Reference
                },
            ]
        );
        assert_eq!(verdicts(&ours, &theirs), [v("ET-1", None), v("ET-2", None)]);
    }

    #[test]
    fn lines_without_a_reference_match_by_amount_and_date_within_the_window() {
        let ours = [
            trade("ET-1", "A", 10, -10_000, 25),
            trade("ET-2", "A", 10, -10_000, 20),
            trade("ET-3", "A", 7, -7_000, 25),
        ];
        // Two days early matches the nearer of two equal trades; a week away matches nothing.
        let theirs = [
            line("TX1", None, "A", 10, -10_000, 23),
            line("TX3", Some("UNKNOWN"), "A", 7, -7_000, 18),
        ];
        let matching = match_transactions(&ours, &theirs);
        assert_eq!(
            matching.groups,
            [Group {
                ours: vec![0],
                theirs: vec![0],
                by: MatchedBy::AmountAndDate
            }]
        );
        assert_eq!(
            verdicts(&ours, &theirs),
            [
                v("ET-1", None),
                v("TX3", Some(BreakClass::MissingOurs)),
                v("ET-2", Some(BreakClass::MissingTheirs)),
                v("ET-3", Some(BreakClass::MissingTheirs)),
            ]
        );
    }

    #[test]
    fn a_netted_line_matches_many_trades_and_a_split_trade_many_lines() {
        // A buy of 10 and a sell of 4 settled as one net receipt of 6.
        let ours = [
            trade("ET-B", "A", 10, -10_000, 25),
            trade("ET-S", "A", -4, 4_000, 25),
            trade("ET-X", "A", 3, -3_000, 26),
            trade("ET-Y", "B", 9, -9_000, 25),
        ];
        let theirs = [
            line("NET1", None, "A", 6, -6_000, 25),
            line("Y1", None, "B", 5, -5_000, 25),
            line("Y2", None, "B", 4, -4_000, 25),
        ];
        let matching = match_transactions(&ours, &theirs);
        assert_eq!(
            matching.groups,
            [
                Group {
                    ours: vec![0, 1],
                    theirs: vec![0],
                    by: MatchedBy::AmountAndDate
                },
                Group {
                    ours: vec![3],
                    theirs: vec![1, 2],
                    by: MatchedBy::AmountAndDate
                },
            ]
        );
        assert_eq!(matching.unmatched_ours, [2]);
        assert_eq!(
            verdicts(&ours, &theirs),
            [
                v("ET-B", None),
                v("ET-Y", None),
                v("ET-X", Some(BreakClass::MissingTheirs))
            ]
        );
    }

    #[test]
    fn differences_in_a_match_are_classified() {
        let mut unsettled = trade("ET-4", "D", 5, -5_000, 25);
        unsettled.settled = false;
        let mut not_due = trade("ET-5", "E", 5, -5_000, 27);
        not_due.settled = false;
        let ours = [
            trade("ET-1", "A", 10, -10_000, 25),
            trade("ET-2", "B", 10, -10_000, 25),
            trade("ET-3", "C", 10, -10_000, 25),
            unsettled,
            not_due,
        ];
        let theirs = [
            line("TX1", Some("ET-1"), "A", 11, -10_000, 25),
            line("TX2", Some("ET-2"), "B", 10, -10_001, 25),
            line("TX3", Some("ET-3"), "C", 10, -10_000, 25),
            line("TX3", Some("ET-3"), "C", 10, -10_000, 25),
            line("TX4", Some("ET-4"), "D", 5, -5_000, 25),
        ];
        let comparison = compare(&ours, &theirs, &statement());
        let found: Vec<_> = comparison
            .findings
            .iter()
            .map(|f| (f.subject.as_str(), f.class, f.expected_clear_date))
            .collect();
        assert_eq!(
            found,
            [
                ("ET-1", BreakClass::QuantityMismatch, None),
                ("ET-2", BreakClass::AmountMismatch, None),
                ("ET-4", BreakClass::Timing, Some(day(25))),
                ("TX3", BreakClass::Duplicate, None),
            ]
        );
        // The amount mismatch shows the cash, the duplicate its copies; ET-5 (not due, not on
        // the statement) is not compared at all.
        assert_eq!(comparison.findings[1].theirs, Some(d(-10_001, 2)));
        assert_eq!(comparison.findings[3].theirs, Some(d(2, 0)));
        assert_eq!(comparison.compared.len(), 5);
    }

    #[test]
    fn combinations_are_the_smallest_that_add_up() {
        let figures = [(d(1, 0), d(1, 0)), (d(2, 0), d(2, 0)), (d(3, 0), d(3, 0))];
        assert_eq!(combination(&figures, (d(3, 0), d(3, 0))), Some(vec![0, 1]));
        assert_eq!(
            combination(&figures, (d(6, 0), d(6, 0))),
            Some(vec![0, 1, 2])
        );
        assert_eq!(combination(&figures, (d(3, 0), d(4, 0))), None);
        // One candidate alone is never a combination (that is the one-to-one pass).
        assert_eq!(combination(&figures, (d(2, 0), d(2, 0))), None);
    }
}
