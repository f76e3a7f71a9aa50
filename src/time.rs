//! Timestamps: stored as Unix milliseconds, shown as RFC 3339.

/// Formats Unix milliseconds as RFC 3339 in UTC with millisecond precision.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses RFC 3339 into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Parses a code's expiry as import files give it: RFC 3339
/// (`2026-12-31T23:59:59Z`), or a date (`2026-12-31`), which means the end
/// of that day in UTC (the code is good through it).
pub fn parse_expiry(s: &str) -> Option<i64> {
    let s = s.trim();
    parse_rfc3339(s).or_else(|| {
        let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        let next = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
        Some(next.and_utc().timestamp_millis())
    })
}

/// The longest duration a setting takes: a year.
pub const MAX_DURATION_MS: i64 = 366 * DAY_MS;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Parses a duration such as `7d`, `12h`, `30m`, `45s` or `2w` (one number
/// and one unit, `0` alone for none) into milliseconds, at most
/// [`MAX_DURATION_MS`]; `None` for anything else.
pub fn parse_duration(s: &str) -> Option<i64> {
    if s.trim() == "0" {
        return Some(0);
    }
    parse_duration_in(s, "smhdw").filter(|ms| *ms <= MAX_DURATION_MS)
}

/// Parses one number of at most six digits and one unit among `units`
/// (of `s m h d w`, e.g. `"hdw"`), trimmed, into milliseconds; the caller
/// bounds the result.
pub fn parse_duration_in(s: &str, units: &str) -> Option<i64> {
    let s = s.trim();
    let last = s.chars().last().filter(|c| units.contains(*c))?;
    let unit = match last {
        's' => 1000,
        'm' => 60 * 1000,
        'h' => 60 * 60 * 1000,
        'd' => DAY_MS,
        'w' => 7 * DAY_MS,
        _ => return None,
    };
    let number = &s[..s.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || number.len() > 6 {
        return None;
    }
    Some(number.parse::<i64>().ok()? * unit)
}

/// A duration in milliseconds as [`parse_duration`] reads it, in the
/// largest unit up to days that divides it (`604800000` is `7d`, as
/// marketers count expiry margins, `3600000` `1h`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0".to_owned();
    }
    for (unit, size) in [("d", DAY_MS), ("h", 3_600_000), ("m", 60_000)] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{}s", ms / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = rfc3339(1_764_097_200_123);
        assert_eq!(s, "2025-11-25T19:00:00.123Z");
        assert_eq!(parse_rfc3339(&s), Some(1_764_097_200_123));
    }

    #[test]
    fn expiries() {
        assert_eq!(
            parse_expiry("2026-12-31"),
            parse_rfc3339("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_expiry(" 2026-12-31T12:00:00+01:00 "),
            parse_rfc3339("2026-12-31T11:00:00Z")
        );
        for bad in ["", "31.12.2026", "12/31/2026", "2026-13-01", "tomorrow"] {
            assert_eq!(parse_expiry(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Some(7 * DAY_MS));
        assert_eq!(parse_duration(" 12h "), Some(12 * 3_600_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("2w"), Some(14 * DAY_MS));
        for bad in ["", "d", "7", "7x", "-1d", "1.5d", "7 d", "367d", "9999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        for text in ["3d", "14d", "12h", "30m", "45s", "0"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(parse_duration("1w").unwrap()), "7d");
    }
}
