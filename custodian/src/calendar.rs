//! Business days: Monday to Friday. The simulator knows no bank holidays; a real custodian's
//! calendar would only change which days count, not the rules built on them.

use chrono::{Datelike, Days, NaiveDate, Weekday};

pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The date itself if it is a business day, else the next one.
pub fn roll_forward(date: NaiveDate) -> Option<NaiveDate> {
    let mut date = date;
    while !is_business_day(date) {
        date = date.checked_add_days(Days::new(1))?;
    }
    Some(date)
}

/// The `days`-th business day after `date` (`date` itself may be any day). `None` only past
/// the end of the calendar.
pub fn add_business_days(date: NaiveDate, days: u32) -> Option<NaiveDate> {
    let mut date = date;
    for _ in 0..days {
        date = roll_forward(date.checked_add_days(Days::new(1))?)?;
    }
    Some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn settlement_skips_the_weekend() {
        // 2026-11-19 is a Thursday.
        assert_eq!(
            add_business_days(day("2026-11-19"), 2),
            Some(day("2026-11-23"))
        );
        assert_eq!(
            add_business_days(day("2026-11-20"), 1),
            Some(day("2026-11-23"))
        );
        assert_eq!(
            add_business_days(day("2026-11-21"), 1),
            Some(day("2026-11-23"))
        );
        assert_eq!(
            add_business_days(day("2026-11-20"), 0),
            Some(day("2026-11-20"))
        );
    }

    #[test]
    fn weekends_roll_to_monday() {
        assert_eq!(roll_forward(day("2026-11-22")), Some(day("2026-11-23")));
        assert_eq!(roll_forward(day("2026-11-23")), Some(day("2026-11-23")));
    }
}
