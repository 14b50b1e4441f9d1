//! A small cron expression parser for `dvcr.gc.schedule` (pure).
//!
//! Five fields, `minute hour day-of-month month day-of-week`, each a comma-separated list of
//! `*`, `N`, `A-B`, with an optional `/STEP`; month and weekday names (`jan`, `mon`) and the
//! `@hourly`/`@daily`/`@midnight`/`@weekly`/`@monthly`/`@yearly`/`@annually` shorthands.
//! Day 7 is Sunday, like 0. When both day fields are restricted a day matching either one
//! matches (classic cron). Times are UTC.

use std::fmt;
use std::str::FromStr;

/// The schedule DVCR garbage collection runs on unless configured: daily at 02:00.
pub const DEFAULT_GC_SCHEDULE: &str = "0 2 * * *";

/// How far ahead [`Schedule::next_after`] looks before giving up (covers leap-day schedules).
const SEARCH_YEARS: i64 = 10;

/// A parsed cron schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    source: String,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// True when the day-of-month field was `*`-based (then only the weekday field restricts).
    dom_unrestricted: bool,
    dow_unrestricted: bool,
}

/// Why a cron expression is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "cron schedule {0:?} must have 5 fields (minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\""
    )]
    FieldCount(String),
    #[error("cron field {field} ({text:?}): {reason}")]
    Field {
        field: &'static str,
        text: String,
        reason: String,
    },
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

impl Schedule {
    /// Parses a five-field cron expression or an `@` shorthand.
    pub fn parse(expression: &str) -> Result<Schedule, CronError> {
        let trimmed = expression.trim();
        let expanded = match trimmed {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields.as_slice() else {
            return Err(CronError::FieldCount(expression.to_string()));
        };
        let mut days_of_week = parse_field(dow, &DAY_OF_WEEK)?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week = (days_of_week & !(1 << 7)) | 1;
        }
        Ok(Schedule {
            source: trimmed.to_string(),
            minutes: parse_field(minute, &MINUTE)?,
            hours: parse_field(hour, &HOUR)?,
            days_of_month: parse_field(dom, &DAY_OF_MONTH)?,
            months: parse_field(month, &MONTH)?,
            days_of_week,
            dom_unrestricted: dom.starts_with('*'),
            dow_unrestricted: dow.starts_with('*'),
        })
    }

    /// The first matching minute strictly after `unix_seconds`, as Unix seconds (UTC); `None`
    /// when nothing matches within ten years (e.g. `0 0 30 2 *`).
    pub fn next_after(&self, unix_seconds: i64) -> Option<i64> {
        let mut minute_index = unix_seconds.div_euclid(60) + 1;
        let limit = minute_index + SEARCH_YEARS * 366 * 24 * 60;
        while minute_index < limit {
            let days = minute_index.div_euclid(24 * 60);
            let minute_of_day = minute_index.rem_euclid(24 * 60);
            let (year, month, day) = civil_from_days(days);
            if !bit(self.months, month) {
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                minute_index = days_from_civil(next_year, next_month, 1) * 24 * 60;
                continue;
            }
            if !self.day_matches(day, weekday(days)) {
                minute_index = (days + 1) * 24 * 60;
                continue;
            }
            let hour = (minute_of_day / 60) as u32;
            if !bit(self.hours, hour) {
                minute_index = days * 24 * 60 + (i64::from(hour) + 1) * 60;
                continue;
            }
            if !bit(self.minutes, (minute_of_day % 60) as u32) {
                minute_index += 1;
                continue;
            }
            return Some(minute_index * 60);
        }
        None
    }

    fn day_matches(&self, day_of_month: u32, day_of_week: u32) -> bool {
        let dom = bit(self.days_of_month, day_of_month);
        let dow = bit(self.days_of_week, day_of_week);
        match (self.dom_unrestricted, self.dow_unrestricted) {
            (false, false) => dom || dow,
            _ => dom && dow,
        }
    }
}

impl FromStr for Schedule {
    type Err = CronError;
    fn from_str(s: &str) -> Result<Schedule, CronError> {
        Schedule::parse(s)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule::parse(DEFAULT_GC_SCHEDULE).expect("the default schedule parses")
    }
}

fn bit(set: u64, value: u32) -> bool {
    set & (1u64 << value) != 0
}

fn parse_field(text: &str, spec: &FieldSpec) -> Result<u64, CronError> {
    let error = |reason: String| CronError::Field {
        field: spec.name,
        text: text.to_string(),
        reason,
    };
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| error(format!("step {step:?} is not a positive number")))?;
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, spec).map_err(&error)?,
                value(b, spec).map_err(&error)?,
            )
        } else {
            let low = value(range, spec).map_err(&error)?;
            // `N/STEP` means from N to the end of the range.
            (low, if item.contains('/') { spec.max } else { low })
        };
        if low > high {
            return Err(error(format!("range {low}-{high} is reversed")));
        }
        for v in (low..=high).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

fn value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = spec.names.iter().position(|n| *n == lower) {
        return Ok(index as u32 + if spec.min == 1 { 1 } else { 0 });
    }
    let v: u32 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if v < spec.min || v > spec.max {
        return Err(format!("{v} is outside {}-{}", spec.min, spec.max));
    }
    Ok(v)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// 0 = Sunday. 1970-01-01 was a Thursday.
fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds of a UTC date and time.
    fn at(year: i64, month: u32, day: u32, hour: i64, minute: i64) -> i64 {
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60
    }

    fn next(expr: &str, from: i64) -> Option<i64> {
        Schedule::parse(expr).unwrap().next_after(from)
    }

    #[test]
    fn civil_conversion_round_trips_across_leap_years_and_the_epoch() {
        for days in [-1, 0, 59, 365, 11_016, 19_782, 47_541, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn default_schedule_fires_at_two_the_same_night_or_the_next() {
        let s = Schedule::default();
        assert_eq!(
            s.next_after(at(2025, 3, 10, 1, 30)),
            Some(at(2025, 3, 10, 2, 0))
        );
        assert_eq!(
            s.next_after(at(2025, 3, 10, 2, 0)),
            Some(at(2025, 3, 11, 2, 0))
        );
        assert_eq!(
            s.next_after(at(2025, 12, 31, 3, 0)),
            Some(at(2026, 1, 1, 2, 0))
        );
    }

    #[test]
    fn next_is_strictly_after_even_within_the_matching_minute() {
        assert_eq!(
            next("* * * * *", at(2025, 1, 1, 0, 0) + 30),
            Some(at(2025, 1, 1, 0, 1))
        );
    }

    #[test]
    fn steps_ranges_and_lists_combine() {
        let s = Schedule::parse("*/15 9-17/4 * * *").unwrap();
        assert_eq!(
            s.next_after(at(2025, 1, 1, 9, 50)),
            Some(at(2025, 1, 1, 13, 0))
        );
        assert_eq!(
            s.next_after(at(2025, 1, 1, 17, 45)),
            Some(at(2025, 1, 2, 9, 0))
        );
        assert_eq!(
            next("5,10 0 * * *", at(2025, 1, 1, 0, 5)),
            Some(at(2025, 1, 1, 0, 10))
        );
        assert_eq!(
            next("30/10 * * * *", at(2025, 1, 1, 0, 55)),
            Some(at(2025, 1, 1, 1, 30))
        );
    }

    #[test]
    fn weekday_names_and_seven_mean_sunday() {
        // 2025-03-10 is a Monday.
        let sunday = Some(at(2025, 3, 16, 0, 0));
        assert_eq!(next("0 0 * * sun", at(2025, 3, 10, 12, 0)), sunday);
        assert_eq!(next("0 0 * * 7", at(2025, 3, 10, 12, 0)), sunday);
        assert_eq!(next("@weekly", at(2025, 3, 10, 12, 0)), sunday);
    }

    #[test]
    fn restricted_day_of_month_and_weekday_match_either() {
        // The 13th or any Friday: after Monday 2025-03-10, Friday the 14th comes after the 13th.
        assert_eq!(
            next("0 0 13 * fri", at(2025, 3, 10, 0, 0)),
            Some(at(2025, 3, 13, 0, 0))
        );
        assert_eq!(
            next("0 0 13 * fri", at(2025, 3, 13, 0, 0)),
            Some(at(2025, 3, 14, 0, 0))
        );
    }

    #[test]
    fn month_names_skip_to_the_right_month() {
        assert_eq!(
            next("0 0 1 jun *", at(2025, 7, 1, 0, 0)),
            Some(at(2026, 6, 1, 0, 0))
        );
    }

    #[test]
    fn leap_day_schedule_finds_the_next_leap_year() {
        assert_eq!(
            next("0 0 29 2 *", at(2025, 1, 1, 0, 0)),
            Some(at(2028, 2, 29, 0, 0))
        );
    }

    #[test]
    fn impossible_date_yields_none() {
        assert_eq!(next("0 0 30 2 *", at(2025, 1, 1, 0, 0)), None);
    }

    #[test]
    fn malformed_expressions_name_the_problem() {
        assert!(matches!(
            Schedule::parse("0 2 * *"),
            Err(CronError::FieldCount(_))
        ));
        for (expr, field) in [
            ("60 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day-of-month"),
            ("* * * 13 *", "month"),
            ("* * * * 8", "day-of-week"),
            ("*/0 * * * *", "minute"),
            ("5-1 * * * *", "minute"),
            ("x * * * *", "minute"),
        ] {
            match Schedule::parse(expr) {
                Err(CronError::Field { field: f, .. }) => assert_eq!(f, field, "{expr}"),
                other => panic!("{expr}: {other:?}"),
            }
        }
    }
}
