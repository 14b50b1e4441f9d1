//! Human-readable durations (`3h7m`, `5d21h`) as Kubernetes' `HumanDuration` prints them, and
//! RFC 3339 timestamps as the API writes them (`2026-11-21T11:26:23Z`, second precision, UTC).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const YEAR: i64 = 365 * DAY;

/// `HumanDuration(d)` for a signed number of whole seconds.
///
/// Slightly negative values (clock skew of up to one second) print as `0s`; anything more negative
/// is `<invalid>`. The precision shrinks as the duration grows: seconds up to 10 minutes, minutes up
/// to 8 hours, hours up to 8 days, days up to 8 years.
pub fn human_duration_secs(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".to_string();
    }
    if secs < 0 {
        return "0s".to_string();
    }
    if secs < 2 * MINUTE {
        return format!("{secs}s");
    }
    let minutes = secs / MINUTE;
    if minutes < 10 {
        return with_remainder(minutes, "m", secs % MINUTE, "s");
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = secs / HOUR;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = secs / DAY;
    if hours < 8 * 24 {
        return with_remainder(days, "d", hours % 24, "h");
    }
    if secs < 2 * YEAR {
        return format!("{days}d");
    }
    let years = secs / YEAR;
    if secs < 8 * YEAR {
        return with_remainder(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

/// `{major}{unit}` or `{major}{unit}{minor}{minor_unit}` when the remainder is not zero.
fn with_remainder(major: i64, unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{unit}")
    } else {
        format!("{major}{unit}{minor}{minor_unit}")
    }
}

/// The current Unix time in whole seconds.
pub fn now_unix() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        // A clock before 1970 is broken; report the negative offset rather than panic.
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The time now as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    format_rfc3339(now_unix())
}

/// Format Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC, no fraction).
///
/// Values outside the years 0000–9999 are clamped to that range, since RFC 3339 cannot express them.
pub fn format_rfc3339(unix_secs: i64) -> String {
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let t = OffsetDateTime::from_unix_timestamp(unix_secs.clamp(MIN, MAX))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parse an RFC 3339 timestamp (fractional seconds and numeric offsets allowed) into Unix seconds.
/// Fractions are dropped (rounded towards the past). `None` when the text is not RFC 3339.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_kubernetes_table() {
        let cases: &[(i64, &str)] = &[
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (1, "1s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (9 * MINUTE + 59, "9m59s"),
            (10 * MINUTE, "10m"),
            (10 * MINUTE + 30, "10m"),
            (179 * MINUTE + 59, "179m"),
            (3 * HOUR, "3h"),
            (3 * HOUR + 7 * MINUTE + 5, "3h7m"),
            (7 * HOUR + 59 * MINUTE, "7h59m"),
            (8 * HOUR, "8h"),
            (47 * HOUR + 59 * MINUTE, "47h"),
            (48 * HOUR, "2d"),
            (5 * DAY + 21 * HOUR + 3, "5d21h"),
            (7 * DAY + 23 * HOUR, "7d23h"),
            (8 * DAY, "8d"),
            (2 * YEAR - 1, "729d"),
            (2 * YEAR, "2y"),
            (2 * YEAR + 10 * DAY, "2y10d"),
            (8 * YEAR - 1, "7y364d"),
            (8 * YEAR, "8y"),
            (30 * YEAR + 200 * DAY, "30y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration_secs(*secs), *want, "for {secs}s");
        }
    }

    #[test]
    fn formats_utc_second_precision() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_795_260_383), "2026-11-21T11:26:23Z");
    }

    #[test]
    fn format_clamps_out_of_range_years() {
        assert_eq!(format_rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(i64::MIN), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn parses_zulu_fraction_and_offsets() {
        assert_eq!(parse_rfc3339("2026-11-21T11:26:23Z"), Some(1_795_260_383));
        assert_eq!(
            parse_rfc3339("2026-11-21T11:26:23.999Z"),
            Some(1_795_260_383)
        );
        assert_eq!(
            parse_rfc3339("2026-11-21T14:26:23+03:00"),
            Some(1_795_260_383)
        );
        assert_eq!(parse_rfc3339("2026-11-21"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn format_and_parse_round_trip() {
        let now = now_unix();
        assert_eq!(parse_rfc3339(&format_rfc3339(now)), Some(now));
        assert!(now > 1_700_000_000, "the clock should be past 2023");
    }
}
