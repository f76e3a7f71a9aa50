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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = rfc3339(1_764_097_200_123);
        assert_eq!(s, "2025-11-25T19:00:00.123Z");
        assert_eq!(parse_rfc3339(&s), Some(1_764_097_200_123));
    }
}
