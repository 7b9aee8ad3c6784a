//! The dealing cut-off: the moment a dealing date stops taking member trades. It is 16:00 on the
//! dealing date in London (GMT in winter, BST in summer, from the IANA tz database pinned with
//! `chrono-tz`), never the moment a run happens to start nor a UTC date: a cycle run late for a
//! past date must not deal trades that came in after that date's cut-off, at a price already
//! known (late trading). A trade created after a date's cut-off is not refused: it stays pending
//! and rolls to the next dealing date's cycle (ADR 20).
//!
//! Pure functions of their arguments, so workflow code may call them with its own clock.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// The dealing desk's time zone.
pub const TIME_ZONE: Tz = chrono_tz::Europe::London;

/// The cut-off's time of day, in [`TIME_ZONE`]; also the default time of the weekday schedule.
pub const CUTOFF_TIME: NaiveTime = match NaiveTime::from_hms_opt(16, 0, 0) {
    Some(time) => time,
    None => NaiveTime::MIN,
};

/// The cut-off of `dealing_date`: 16:00 London time on that date, as an instant.
pub fn cutoff_of(dealing_date: NaiveDate) -> DateTime<Utc> {
    let local = dealing_date.and_time(CUTOFF_TIME);
    // London's clocks change at 01:00 UTC, so the offset in force at 16:00 local is the one in
    // force at 16:00 UTC: asking for it by the UTC reading never meets a skipped or repeated hour.
    let offset = TIME_ZONE.offset_from_utc_datetime(&local).fix();
    Utc.from_utc_datetime(&(local - offset))
}

/// The instant a dealing cycle for `dealing_date` closes its trades at, when it starts at
/// `started`: the date's cut-off, or its start if that is earlier (an early close; the trades
/// after it roll to the next date). Never later than the cut-off, so a run started late for a
/// past date takes nothing that came in after that date's cut-off.
pub fn close_at(dealing_date: NaiveDate, started: DateTime<Utc>) -> DateTime<Utc> {
    started.min(cutoff_of(dealing_date))
}

/// The calendar date in London at `instant`: the dealing date of a cut-off firing at it.
pub fn london_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&TIME_ZONE).date_naive()
}

/// The dealing date a trade created at `instant` is dealt on: the first weekday (Monday to
/// Friday; no bank holidays are known) whose cut-off is after `instant`.
pub fn next_dealing_date(instant: DateTime<Utc>) -> NaiveDate {
    let mut date = london_date(instant);
    while cutoff_of(date) <= instant || matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        date = date + Days::new(1);
    }
    date
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn instant(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_cutoff_is_four_pm_london_time_in_winter_and_in_summer() {
        // GMT: 16:00 London is 16:00 UTC.
        assert_eq!(
            cutoff_of(date("2026-11-23")),
            instant("2026-11-23T16:00:00Z")
        );
        // BST: 16:00 London is 15:00 UTC.
        assert_eq!(
            cutoff_of(date("2026-07-06")),
            instant("2026-07-06T15:00:00Z")
        );
        // The days the clocks change (29 March, 25 October 2026).
        assert_eq!(
            cutoff_of(date("2026-03-29")),
            instant("2026-03-29T15:00:00Z")
        );
        assert_eq!(
            cutoff_of(date("2026-10-25")),
            instant("2026-10-25T16:00:00Z")
        );
    }

    #[test]
    fn a_late_run_closes_at_its_dates_cutoff_not_at_its_start() {
        let yesterday = date("2026-11-23");
        let today_noon = instant("2026-11-24T12:00:00Z");
        assert_eq!(close_at(yesterday, today_noon), cutoff_of(yesterday));
        // A run before its own cut-off closes early, at its start.
        let today = date("2026-11-24");
        assert_eq!(close_at(today, today_noon), today_noon);
    }

    #[test]
    fn the_london_date_is_not_the_utc_date_around_midnight_in_summer() {
        // 23:30 UTC on 6 July is 00:30 BST on 7 July.
        assert_eq!(
            london_date(instant("2026-07-06T23:30:00Z")),
            date("2026-07-07")
        );
        assert_eq!(
            london_date(instant("2026-11-23T23:30:00Z")),
            date("2026-11-23")
        );
    }

    #[test]
    fn a_trade_after_the_cutoff_is_dealt_on_the_next_weekday() {
        // Monday before and after the cut-off, then Friday after it.
        assert_eq!(
            next_dealing_date(instant("2026-11-23T15:59:59Z")),
            date("2026-11-23")
        );
        assert_eq!(
            next_dealing_date(instant("2026-11-23T16:00:00Z")),
            date("2026-11-24")
        );
        assert_eq!(
            next_dealing_date(instant("2026-11-27T17:00:00Z")),
            date("2026-11-30")
        );
        // In summer the cut-off is 15:00 UTC.
        assert_eq!(
            next_dealing_date(instant("2026-07-06T15:30:00Z")),
            date("2026-07-07")
        );
    }
}
