//! The comparisons, set-based: positions are one aggregate over every member and house account
//! of every fund against the holdings statement's lines (fast at millions of pots: one scan of the
//! balances, no row leaves the database but one per fund); cash is one of our cash accounts'
//! movements against its account statement, per reference ([`CashAccount`]: the bank mirror's
//! settlement movements against the custodian's cash statement, its settlements and
//! contributions against the bank's, and members' own payments against the payment provider's). What differs is
//! classified here ([`BreakClass`]); [`super::breaks`] stores it.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;

use super::statements::Imported;

/// How reports and breaks name the account of the custodian's cash statement.
pub const CUSTODIAN_CASH: &str = "custodian-cash";
/// How reports and breaks name the account of the bank's cash statement.
pub const BANK_CASH: &str = "bank-cash";
/// How reports and breaks name the account of the payment provider's statement.
pub const PROVIDER_CASH: &str = "provider-cash";

/// A cash account of ours compared line by line with an account statement (`camt.053`): the GBP
/// account of an external pot, the journal entries that move it for this statement (by kind),
/// how an entry names the reference the statement quotes, and which way the statement signs a
/// movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CashAccount {
    /// How reports and breaks name the account (a break's `account`).
    pub name: &'static str,
    /// The scope of its breaks: each statement has its own, so the same order missing from both
    /// statements is two breaks.
    pub scope: Scope,
    /// The external pot (`pot.owner_ref`) whose GBP account is ours.
    pub pot: &'static str,
    /// The kinds of the journal entries compared.
    pub entry_kinds: &'static [&'static str],
    /// The SQL expression of an entry's (`e`) reference. Private: only this type's constants
    /// set it, never input.
    subject_sql: &'static str,
    /// Whether a statement line we have not booked may be money on its way to our books (a
    /// trade priced and not settled, a schedule not yet invested): timing, not missing. Not for
    /// members' payments, whose reference is the caller's request id and could equal an order
    /// or payment reference.
    may_be_on_its_way: bool,
    /// True when the statement signs a movement the other way from our posting on the account
    /// (the statements sign from ACME's side, money in is `+`; our bank mirror is the outside
    /// world's side of it, so money in is `-` there).
    pub statement_signs_opposite: bool,
}

impl CashAccount {
    /// Settlement cash: the bank mirror's `dealing.cash-settled` movements, per order
    /// reference, against the custodian's `camt.053`.
    pub const CUSTODIAN: CashAccount = CashAccount {
        name: CUSTODIAN_CASH,
        scope: Scope::Cash,
        pot: "bank",
        entry_kinds: &["dealing.cash-settled"],
        subject_sql: "e.metadata ->> 'order_ref'",
        may_be_on_its_way: true,
        statement_signs_opposite: true,
    };

    /// ACME's bank account: the same settlements per order reference, and employers'
    /// contributions per payment reference (`contribution.received`, one entry per schedule row,
    /// summed), against the bank's `camt.053`. A member's own `invest-cash` payment is not on it:
    /// the payment provider collected it, and [`Self::PROVIDER`] compares it (ADR 22, 29).
    pub const BANK: CashAccount = CashAccount {
        name: BANK_CASH,
        scope: Scope::BankCash,
        pot: "bank",
        entry_kinds: &["dealing.cash-settled", "contribution.received"],
        subject_sql: "coalesce(e.metadata ->> 'order_ref', e.metadata ->> 'payment_ref')",
        may_be_on_its_way: true,
        statement_signs_opposite: true,
    };

    /// Members' own payments: each `invest-cash` request's cash received (and its reversal, if
    /// the request was undone), per request id, against the payment provider's statement of
    /// what it collected. The request id is the second part of the entry's workflow id,
    /// `invest/<request id>` (request ids hold no `/`).
    pub const PROVIDER: CashAccount = CashAccount {
        name: PROVIDER_CASH,
        scope: Scope::ProviderCash,
        pot: "bank",
        entry_kinds: &["invest.cash-received", "invest.cash-received.reversed"],
        subject_sql: "split_part(e.workflow_id, '/', 2)",
        may_be_on_its_way: false,
        statement_signs_opposite: true,
    };
}

/// What kind of difference a break is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakClass {
    /// They have it, we do not.
    MissingOurs,
    /// We have it, they do not.
    MissingTheirs,
    /// Units differ beyond what trades in flight explain.
    QuantityMismatch,
    /// Cash differs.
    AmountMismatch,
    /// Differs only by trades priced but not yet settled: expected to clear by a known date.
    Timing,
    /// A line appears more than once on one side.
    Duplicate,
}

impl BreakClass {
    pub const ALL: [BreakClass; 6] = [
        Self::MissingOurs,
        Self::MissingTheirs,
        Self::QuantityMismatch,
        Self::AmountMismatch,
        Self::Timing,
        Self::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingOurs => "missing_ours",
            Self::MissingTheirs => "missing_theirs",
            Self::QuantityMismatch => "quantity_mismatch",
            Self::AmountMismatch => "amount_mismatch",
            Self::Timing => "timing",
            Self::Duplicate => "duplicate",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.as_str() == text)
    }
}

/// Positions, transactions (trades against the custodian's movements), the custodian's cash, the
/// bank's, or the payment provider's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Position,
    Transaction,
    Cash,
    BankCash,
    ProviderCash,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Position => "position",
            Self::Transaction => "transaction",
            Self::Cash => "cash",
            Self::BankCash => "bank_cash",
            Self::ProviderCash => "provider_cash",
        }
    }
}

/// One difference, before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub scope: Scope,
    /// The fund (positions), the order reference (cash, and transactions we have), the
    /// custodian's movement reference (transactions only they have, duplicates), the payment
    /// reference (the bank's cash) or the member's request id (the provider's).
    pub subject: String,
    /// The fund (positions, transactions), or [`CUSTODIAN_CASH`].
    pub account: String,
    pub class: BreakClass,
    pub ours: Option<Decimal>,
    pub theirs: Option<Decimal>,
    pub evidence: serde_json::Value,
    pub expected_clear_date: Option<NaiveDate>,
}

/// One compared line of the report: a fund, or an order reference on a cash account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    pub subject: String,
    pub account: String,
    pub ours: Option<Decimal>,
    pub theirs: Option<Decimal>,
    /// `None` when matched, else the break's class.
    pub class: Option<BreakClass>,
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub compared: Vec<Compared>,
    pub findings: Vec<Finding>,
}

impl Comparison {
    fn push(&mut self, compared: Compared, finding: Option<Finding>) {
        self.compared.push(compared);
        self.findings.extend(finding);
    }
}

/// Units per fund over every member and house account against the holdings statement, as of
/// `date`. Trades priced but not settled by `date` (units already in our pots for a buy, already
/// gone for a sell, the custodian's holdings moving only at settlement) explain a difference as
/// timing, expected to clear on their settlement date.
pub async fn positions(
    conn: &mut PgConnection,
    date: NaiveDate,
    holdings: &Imported,
) -> Result<Comparison, sqlx::Error> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        Option<Decimal>,
        Option<Decimal>,
        Option<i64>,
        Option<Decimal>,
        Option<NaiveDate>,
        Option<serde_json::Value>,
    )> = sqlx::query_as(
        "with ours as (
             select a.asset_code, sum(b.amount) as units
             from balance b
             join account a using (account_id)
             join pot p using (pot_id)
             join asset s on s.asset_code = a.asset_code
             where p.owner_kind in ('member', 'house') and s.kind = 'fund'
             group by a.asset_code
             having sum(b.amount) <> 0),
         theirs as (
             select subject as asset_code, sum(quantity) as units, count(*) as lines
             from recon_statement_line where statement_id = $1
             group by subject),
         in_flight as (
             select asset_code,
                    sum(case side when 'buy' then delivered else -consumed end) as units,
                    max(settlement_date) as clears,
                    jsonb_agg(order_ref order by order_ref) as orders
             from external_trade
             where status in ('priced', 'settled') and dealing_date <= $2
               and (settlement_date is null or settlement_date > $2)
             group by asset_code)
         select asset_code, o.units, t.units, t.lines, f.units, f.clears, f.orders
         from ours o full join theirs t using (asset_code)
         left join in_flight f using (asset_code)
         order by asset_code",
    )
    .bind(holdings.statement_id)
    .bind(date)
    .fetch_all(conn)
    .await?;
    let mut out = Comparison::default();
    for (fund, ours, theirs, lines, in_flight, clears, orders) in rows {
        let evidence = json!({
            "statement_id": holdings.statement_id,
            "statement_digest": holdings.digest,
            "ours_units": ours,
            "theirs_units": theirs,
            "statement_lines": lines,
            "in_flight_units": in_flight,
            "in_flight_orders": orders,
        });
        let class = classify_position(ours, theirs, lines.unwrap_or(0), in_flight);
        let finding = class.map(|class| Finding {
            scope: Scope::Position,
            subject: fund.clone(),
            account: fund.clone(),
            class,
            ours,
            theirs,
            evidence,
            expected_clear_date: if class == BreakClass::Timing {
                clears
            } else {
                None
            },
        });
        out.push(
            Compared {
                subject: fund.clone(),
                account: fund,
                ours,
                theirs,
                class,
            },
            finding,
        );
    }
    Ok(out)
}

/// How a fund's units compare: `None` when they match.
pub fn classify_position(
    ours: Option<Decimal>,
    theirs: Option<Decimal>,
    statement_lines: i64,
    in_flight: Option<Decimal>,
) -> Option<BreakClass> {
    if statement_lines > 1 {
        return Some(BreakClass::Duplicate);
    }
    let in_flight = in_flight.unwrap_or_default();
    match (ours, theirs) {
        (None, None) => None,
        (Some(ours), Some(theirs)) if ours == theirs => None,
        (ours, theirs) if ours.unwrap_or_default() - in_flight == theirs.unwrap_or_default() => {
            Some(BreakClass::Timing)
        }
        (None, Some(_)) => Some(BreakClass::MissingOurs),
        (Some(_), None) => Some(BreakClass::MissingTheirs),
        (Some(_), Some(_)) => Some(BreakClass::QuantityMismatch),
    }
}

/// `account`'s movements per reference, effective by `date`, against its statement, line by line
/// (the statements sign from ACME's side; our bank mirror moves the other way). A reversal counts
/// against what it reverses. A statement line whose reference is still on its way into our books
/// (a trade priced but not settled by `date`, a contribution schedule received or funded but not
/// yet invested; never for members' payments) is timing, expected to clear on the trade's
/// settlement date (a schedule's: within the age limit).
pub async fn cash(
    conn: &mut PgConnection,
    date: NaiveDate,
    statement: &Imported,
    account: &CashAccount,
) -> Result<Comparison, sqlx::Error> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        Option<Decimal>,
        Option<i64>,
        Option<i64>,
        Option<Decimal>,
        Option<i64>,
        Option<NaiveDate>,
        Option<String>,
        Option<NaiveDate>,
        Option<String>,
    )> = sqlx::query_as(&format!(
        "with ours_account as (
             select a.account_id from account a join pot p using (pot_id)
             where p.owner_kind = 'external' and p.owner_ref = $4 and a.asset_code = 'GBP'),
         ours as (
             select {subject} as subject,
                    case when $5 then -sum(po.amount) else sum(po.amount) end as amount,
                    count(*) as entries,
                    count(*) filter (where not e.metadata ?| array['line', 'reverses'])
                        as singles
             from posting po
             join journal_entry e using (entry_id)
             where po.account_id in (select account_id from ours_account)
               and e.kind = any($3) and e.effective_date <= $2
             group by 1),
         theirs as (
             select subject, sum(quantity) as amount,
                    count(*) - count(distinct (booking_date, quantity)) as repeats,
                    min(booking_date) as booked
             from recon_statement_line where statement_id = $1
             group by subject)
         select subject, o.amount, o.entries, o.singles, t.amount, t.repeats, t.booked, x.status,
                x.settlement_date, s.status
         from ours o full join theirs t using (subject)
         left join external_trade x on x.order_ref = subject
         left join contribution_schedule s on s.payment_reference = subject
         order by subject",
        subject = account.subject_sql
    ))
    .bind(statement.statement_id)
    .bind(date)
    .bind(account.entry_kinds)
    .bind(account.pot)
    .bind(account.statement_signs_opposite)
    .fetch_all(conn)
    .await?;
    let mut out = Comparison::default();
    for (subject, ours, entries, singles, theirs, repeats, booked, status, settles, schedule) in
        rows
    {
        let entries = entries.unwrap_or(0);
        let on_its_way = account.may_be_on_its_way
            && (status.as_deref() == Some("priced")
                || matches!(schedule.as_deref(), Some("received" | "funded")));
        // One posting on the account per entry (the ledger refuses an account twice in one
        // entry). An entry of one schedule row stands for that row, unique by its key, and a
        // reversal undoes another; any other (a settlement, a member's payment) stands for its
        // whole reference, so a second is a repeat.
        let class = classify_cash(
            ours,
            (singles.unwrap_or(0) - 1).max(0),
            theirs,
            repeats.unwrap_or(0),
            on_its_way,
        );
        let evidence = json!({
            "statement_id": statement.statement_id,
            "statement_digest": statement.digest,
            "ours_amount": ours,
            "ours_entries": entries,
            "theirs_amount": theirs,
            "statement_repeats": repeats,
            "booked": booked,
            "trade_status": status,
            "settlement_date": settles,
            "schedule_status": schedule,
        });
        let finding = class.map(|class| Finding {
            scope: account.scope,
            subject: subject.clone(),
            account: account.name.to_owned(),
            class,
            ours,
            theirs,
            evidence,
            expected_clear_date: if class == BreakClass::Timing {
                settles
            } else {
                None
            },
        });
        out.push(
            Compared {
                subject,
                account: account.name.to_owned(),
                ours,
                theirs,
                class,
            },
            finding,
        );
    }
    Ok(out)
}

/// How one reference's cash compares: `None` when it matches, or when ours nets to nothing and
/// they list nothing. `our_repeats` counts our entries beyond the one a settlement (or a member's
/// payment) has per reference (a contribution's entries are one per schedule row by their keys,
/// a reversal undoes another); `their_repeats` the statement's lines repeating another of the reference's (same date
/// and amount: an employer may pay a schedule in parts, never the same part twice a day);
/// `on_its_way` says the statement's money is known to us and not yet booked.
pub fn classify_cash(
    ours: Option<Decimal>,
    our_repeats: i64,
    theirs: Option<Decimal>,
    their_repeats: i64,
    on_its_way: bool,
) -> Option<BreakClass> {
    if their_repeats > 0 || our_repeats > 0 {
        return Some(BreakClass::Duplicate);
    }
    match (ours, theirs) {
        (None, None) => None,
        (Some(ours), Some(theirs)) if ours == theirs => None,
        (Some(_), Some(_)) => Some(BreakClass::AmountMismatch),
        // Booked and undone (a compensated request), with no line: nothing moved either side.
        (Some(ours), None) if ours.is_zero() => None,
        (Some(_), None) => Some(BreakClass::MissingTheirs),
        (None, Some(_)) if on_its_way => Some(BreakClass::Timing),
        (None, Some(_)) => Some(BreakClass::MissingOurs),
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::{BreakClass, classify_cash, classify_position};

    fn d(units: i64) -> Option<Decimal> {
        Some(Decimal::from(units))
    }

    #[test]
    fn positions_are_classified_by_what_differs() {
        assert_eq!(classify_position(d(5), d(5), 1, None), None);
        assert_eq!(classify_position(None, None, 0, None), None);
        assert_eq!(
            classify_position(d(5), d(5), 2, None),
            Some(BreakClass::Duplicate)
        );
        assert_eq!(
            classify_position(None, d(5), 1, None),
            Some(BreakClass::MissingOurs)
        );
        assert_eq!(
            classify_position(d(5), None, 0, None),
            Some(BreakClass::MissingTheirs)
        );
        assert_eq!(
            classify_position(d(6), d(5), 1, None),
            Some(BreakClass::QuantityMismatch)
        );
        // A buy priced, not settled: our 7 are their 5 and 2 in flight.
        assert_eq!(
            classify_position(d(7), d(5), 1, d(2)),
            Some(BreakClass::Timing)
        );
        assert_eq!(
            classify_position(d(2), None, 0, d(2)),
            Some(BreakClass::Timing)
        );
        // A sell priced, not settled: 3 left our pots, the custodian still holds them.
        assert_eq!(
            classify_position(d(2), d(5), 1, d(-3)),
            Some(BreakClass::Timing)
        );
        assert_eq!(
            classify_position(d(8), d(5), 1, d(2)),
            Some(BreakClass::QuantityMismatch)
        );
    }

    #[test]
    fn cash_lines_are_classified_by_what_differs() {
        assert_eq!(classify_cash(d(-10), 0, d(-10), 0, false), None);
        assert_eq!(
            classify_cash(d(-10), 0, d(-11), 0, false),
            Some(BreakClass::AmountMismatch)
        );
        assert_eq!(
            classify_cash(d(-10), 0, None, 0, false),
            Some(BreakClass::MissingTheirs)
        );
        // Received and reversed, never on the statement: nothing moved.
        assert_eq!(classify_cash(d(0), 0, None, 0, false), None);
        assert_eq!(
            classify_cash(d(0), 0, d(10), 0, false),
            Some(BreakClass::AmountMismatch)
        );
        assert_eq!(
            classify_cash(None, 0, d(-10), 0, false),
            Some(BreakClass::MissingOurs)
        );
        assert_eq!(
            classify_cash(None, 0, d(-10), 0, true),
            Some(BreakClass::Timing)
        );
        assert_eq!(
            classify_cash(d(-20), 0, d(-20), 1, false),
            Some(BreakClass::Duplicate)
        );
        // Two settlement entries for one order.
        assert_eq!(
            classify_cash(d(-20), 1, d(-20), 0, false),
            Some(BreakClass::Duplicate)
        );
    }
}
