//! What alerts a pool has (`alerts` in `PUT /pools/{pool}`), and the
//! checks of the project's webhook (`webhook_url`, `webhook_secret` in
//! `PUT /settings`).
//!
//! A pool's alerts arrive as [`AlertSettings`], loosely typed so that a
//! wrong value is answered `invalid_alerts` with what would do, rather than
//! a JSON shape error; [`PoolAlerts`] is what they mean. The store keeps
//! the canonical [`AlertSettings`] of a [`PoolAlerts`] (`"10%"`, `"7d"`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::pool::PoolCounts;

/// A pool's alerts as sent and shown: `{"low_stock": 100 | "10%",
/// "out_of_codes": true, "near_expiry": "7d"}`, every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Fires when the codes not yet handed out fall to this many, or to
    /// this percentage of the pool's total (`"10%"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_stock: Option<ThresholdInput>,
    /// Fires when no code is left to hand out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub out_of_codes: bool,
    /// Fires when the earliest expiry among the codes left is this close:
    /// a number of hours, days or weeks (`"12h"`, `"7d"`, `"2w"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near_expiry: Option<String>,
}

/// A low-stock threshold as sent: a count, or text (`"10%"`, `"100"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ThresholdInput {
    /// A count of codes (any JSON number; only whole ones are accepted).
    Count(serde_json::Number),
    /// A percentage of the pool's total, or a count written as text.
    Text(String),
}

/// A pool's alerts, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolAlerts {
    /// The low-stock threshold, if set.
    pub low_stock: Option<Threshold>,
    /// Whether running out of codes alerts.
    pub out_of_codes: bool,
    /// The near-expiry window in milliseconds, if set.
    pub near_expiry: Option<i64>,
}

/// Where low stock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// At most this many codes left.
    Count(i64),
    /// At most this share of the pool's total left, in hundredths of a
    /// percent (`"2.5%"` is 250), so that no rounding decides a crossing.
    Percent(i64),
}

/// The largest count threshold: more codes than any pool holds.
pub const MAX_COUNT: i64 = 1_000_000_000_000;
/// The shortest near-expiry window.
pub const MIN_WINDOW_MS: i64 = HOUR_MS;
/// The longest near-expiry window: a year.
pub const MAX_WINDOW_MS: i64 = 365 * DAY_MS;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

impl Threshold {
    /// The threshold in codes for a pool of `total` codes (a percentage
    /// rounds down: `unassigned <= codes` is the crossing).
    pub fn codes(self, total: i64) -> i64 {
        match self {
            Threshold::Count(n) => n,
            Threshold::Percent(hundredths) => total.saturating_mul(hundredths) / 10_000,
        }
    }

    /// Whether the pool's codes not yet handed out are at or below it.
    pub fn reached(self, counts: &PoolCounts) -> bool {
        counts.unassigned() <= self.codes(counts.total)
    }

    fn input(self) -> ThresholdInput {
        match self {
            Threshold::Count(n) => ThresholdInput::Count(n.into()),
            Threshold::Percent(h) if h % 100 == 0 => ThresholdInput::Text(format!("{}%", h / 100)),
            Threshold::Percent(h) => {
                let text = format!("{}.{:02}", h / 100, h % 100);
                ThresholdInput::Text(format!("{}%", text.trim_end_matches('0')))
            }
        }
    }
}

impl AlertSettings {
    /// Checks the settings and says what they mean; `invalid_alerts`
    /// names the field and what it accepts.
    pub fn parse(&self) -> Result<PoolAlerts> {
        Ok(PoolAlerts {
            low_stock: self.low_stock.as_ref().map(parse_threshold).transpose()?,
            out_of_codes: self.out_of_codes,
            near_expiry: self.near_expiry.as_deref().map(parse_window).transpose()?,
        })
    }
}

impl PoolAlerts {
    /// Whether no alert is set (stored as none at all).
    pub fn is_empty(&self) -> bool {
        self.low_stock.is_none() && !self.out_of_codes && self.near_expiry.is_none()
    }

    /// The kinds set, as bits (see [`super::AlertKind::bit`]).
    pub fn kinds(&self) -> u8 {
        let mut bits = 0;
        if self.low_stock.is_some() {
            bits |= super::AlertKind::LowStock.bit();
        }
        if self.out_of_codes {
            bits |= super::AlertKind::OutOfCodes.bit();
        }
        if self.near_expiry.is_some() {
            bits |= super::AlertKind::NearExpiry.bit();
        }
        bits
    }

    /// The canonical settings: what the store keeps and the API shows.
    pub fn settings(&self) -> AlertSettings {
        AlertSettings {
            low_stock: self.low_stock.map(Threshold::input),
            out_of_codes: self.out_of_codes,
            near_expiry: self.near_expiry.map(format_window),
        }
    }

    /// Reads the settings the store kept (written by [`PoolAlerts::settings`]).
    pub fn from_stored(json: &str) -> Result<PoolAlerts> {
        serde_json::from_str::<AlertSettings>(json)
            .map_err(|e| Error::internal(format!("stored alerts: {e}")))?
            .parse()
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidAlerts, message)
}

const THRESHOLD_HELP: &str =
    "a count of codes (e.g. 100) or a percentage of the pool's total (e.g. \"10%\")";

fn parse_threshold(input: &ThresholdInput) -> Result<Threshold> {
    let bad = || invalid(format!("alerts.low_stock must be {THRESHOLD_HELP}"));
    let threshold = match input {
        ThresholdInput::Count(n) => Threshold::Count(n.as_i64().ok_or_else(bad)?),
        ThresholdInput::Text(text) => {
            let text = text.trim();
            match text.strip_suffix('%') {
                Some(percent) => {
                    Threshold::Percent(parse_hundredths(percent.trim_end()).ok_or_else(bad)?)
                }
                None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                    Threshold::Count(text.parse().map_err(|_| bad())?)
                }
                None => return Err(bad()),
            }
        }
    };
    match threshold {
        Threshold::Count(n) if !(1..=MAX_COUNT).contains(&n) => Err(invalid(format!(
            "alerts.low_stock must be at least 1 code (for none left, set \"out_of_codes\": true); got {n}"
        ))),
        Threshold::Percent(h) if !(1..10_000).contains(&h) => Err(invalid(
            "alerts.low_stock as a percentage must be above 0% and below 100%, e.g. \"10%\"".into(),
        )),
        t => Ok(t),
    }
}

/// `"10"` → 1000, `"2.5"` → 250: at most two decimals.
fn parse_hundredths(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || fraction.len() > 2
        || !digits(whole)
        || !digits(fraction)
    {
        return None;
    }
    let fraction = format!("{fraction:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + fraction.parse::<i64>().ok()?)
}

/// Reads a duration: a whole number of hours (`h`), days (`d`) or weeks
/// (`w`), e.g. `"12h"`, `"7d"`; answers milliseconds. No minutes or
/// months: `"1m"` would read as either.
pub fn parse_duration(text: &str) -> Option<i64> {
    crate::time::parse_duration_in(text, "hdw")
}

fn parse_window(text: &str) -> Result<i64> {
    let ms = parse_duration(text).ok_or_else(|| {
        invalid(format!(
            "alerts.near_expiry must be a duration in hours, days or weeks, e.g. \"12h\", \"7d\", \"2w\"; got {text:?}"
        ))
    })?;
    if !(MIN_WINDOW_MS..=MAX_WINDOW_MS).contains(&ms) {
        return Err(invalid(format!(
            "alerts.near_expiry must be between 1h and 365d; got {text:?}"
        )));
    }
    Ok(ms)
}

/// A window as the shortest text: `"7d"` rather than `"168h"` or `"1w"`.
pub fn format_window(ms: i64) -> String {
    // Windows are whole hours: in days when they divide, else in hours.
    crate::time::format_duration(ms)
}

/// The longest webhook URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// The shortest webhook secret accepted, in characters.
pub const MIN_SECRET_CHARS: usize = 32;
/// The longest webhook secret accepted, in characters.
pub const MAX_SECRET_CHARS: usize = 256;

/// Checks a webhook URL: `http://` or `https://`, a host, no spaces or
/// control characters, at most [`MAX_URL_BYTES`].
pub fn check_webhook_url(url: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::new(
            ErrorKind::InvalidSettings,
            format!("webhook_url {why}: send an http:// or https:// URL, e.g. \"https://example.com/hooks/codepool\""),
        ))
    };
    if url.len() > MAX_URL_BYTES {
        return bad(&format!("is longer than {MAX_URL_BYTES} bytes"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("holds spaces or control characters");
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return bad("is not an http or https URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if authority.contains('@') {
        return bad("holds a user name or password (GET /settings would show it)");
    }
    let host_only = host.strip_prefix('[').map_or_else(
        || host.split(':').next().unwrap_or(""),
        |h| h.split(']').next().unwrap_or(""),
    );
    if host_only.is_empty() {
        return bad("has no host");
    }
    Ok(())
}

/// Checks a webhook secret as sent: `""` (remove) or
/// [`MIN_SECRET_CHARS`]..=[`MAX_SECRET_CHARS`] printable characters.
pub fn check_webhook_secret(secret: &str) -> Result<()> {
    let n = secret.chars().count();
    if secret.is_empty() {
        return Ok(());
    }
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&n) || secret.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorKind::InvalidSettings,
            format!(
                "webhook_secret must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters without control characters (or \"\" to remove it), e.g. from `openssl rand -hex 32`"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> ThresholdInput {
        ThresholdInput::Text(s.into())
    }

    #[test]
    fn thresholds_read_and_print_canonically() {
        assert_eq!(
            parse_threshold(&text("10%")).unwrap(),
            Threshold::Percent(1000)
        );
        assert_eq!(
            parse_threshold(&text(" 2.5 %")).unwrap(),
            Threshold::Percent(250)
        );
        assert_eq!(
            parse_threshold(&text("100")).unwrap(),
            Threshold::Count(100)
        );
        assert_eq!(Threshold::Percent(250).input(), text("2.5%"));
        assert_eq!(Threshold::Percent(1000).input(), text("10%"));
        assert_eq!(Threshold::Percent(1005).input(), text("10.05%"));
        for bad in ["0%", "100%", "-1%", "1.234%", "%", "ten", "", "1e3"] {
            assert!(parse_threshold(&text(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_percentage_crosses_without_rounding() {
        let counts = |unassigned| PoolCounts {
            total: 1000,
            available: unassigned,
            assigned: 1000 - unassigned,
            ..PoolCounts::default()
        };
        let t = Threshold::Percent(250); // 25 codes of 1000
        assert!(!t.reached(&counts(26)));
        assert!(t.reached(&counts(25)));
        assert_eq!(Threshold::Percent(1000).codes(15), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Some(7 * DAY_MS));
        assert_eq!(parse_duration("12h"), Some(12 * HOUR_MS));
        assert_eq!(parse_duration("2w"), Some(14 * DAY_MS));
        for bad in ["7", "d", "1m", "7 d", "-1d", "1.5d", "7D"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(format_window(14 * DAY_MS), "14d");
        assert_eq!(format_window(36 * HOUR_MS), "36h");
    }

    #[test]
    fn webhook_urls() {
        for good in [
            "https://example.com/hook",
            "http://127.0.0.1:8080/x?y=1",
            "HTTPS://[::1]:9/",
        ] {
            assert!(check_webhook_url(good).is_ok(), "{good}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        for bad in [
            "ftp://example.com",
            "https://",
            "https:///path",
            "https://exa mple.com",
            "https://user:pw@example.com/",
            "example.com",
            long.as_str(),
        ] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
    }
}
