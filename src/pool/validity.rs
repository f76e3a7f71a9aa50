//! When a pool hands out codes: its window (`valid_from`, `expires_at`), how
//! long before a code's expiry it stops handing it out
//! (`stop_assigning_before_expiry`), and whether it is archived.
//!
//! Two mechanisms, chosen for what each costs:
//!
//! - **The pool's window is a gate.** Outside it the pool hands out
//!   nothing and counts nothing as available, but no code changes state:
//!   moving `expires_at` later opens the pool again at once, and closing a
//!   pool of a million codes writes nothing.
//! - **A code's own expiry is a state.** A code whose `expires_at` is at or
//!   before `now + stop_before` becomes `expired` (a counted state) the
//!   next time its pool is read. So the next available code stays one seek
//!   on the `(pool_id, state)` index, however many expired codes lie
//!   before it; the pool's `next_expiry` tells when a sweep is due, so a
//!   pool without expiring codes pays nothing.

use serde::{Deserialize, Serialize};

use super::PoolSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::time::{format_duration, parse_duration, parse_rfc3339, rfc3339};

/// A pool's lifecycle as stored (Unix milliseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Before this, the pool hands out nothing.
    pub valid_from: Option<i64>,
    /// From this on (less `stop_before`), the pool hands out nothing and
    /// its codes not handed out count as expired.
    pub expires_at: Option<i64>,
    /// How long before an expiry codes stop being handed out.
    pub stop_before: i64,
    /// Archived: hands out nothing, kept for its redemptions.
    pub archived: bool,
}

/// Whether a pool hands out codes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolStatus {
    /// Hands out codes.
    Active,
    /// Not valid yet (`valid_from` is ahead).
    Scheduled,
    /// Past its `expires_at` (less `stop_assigning_before_expiry`): its
    /// codes not handed out count as expired.
    Expired,
    /// Archived by an admin: hands out nothing, keeps its codes for
    /// redemption.
    Archived,
}

impl Lifecycle {
    /// The pool's status at `now`.
    pub fn status(&self, now: i64) -> PoolStatus {
        if self.archived {
            PoolStatus::Archived
        } else if self.valid_from.is_some_and(|from| now < from) {
            PoolStatus::Scheduled
        } else if self.closes_at().is_some_and(|closes| closes <= now) {
            PoolStatus::Expired
        } else {
            PoolStatus::Active
        }
    }

    /// When the pool stops handing out codes by its own expiry.
    pub fn closes_at(&self) -> Option<i64> {
        self.expires_at.map(|at| at - self.stop_before)
    }

    /// Codes expiring at or before this are not handed out at `now`.
    pub fn cutoff(&self, now: i64) -> i64 {
        now.saturating_add(self.stop_before)
    }

    /// Until when a code handed out by `now + hold` is still good to hand
    /// out: the end of a dispenser's lease, cut short by the pool's own
    /// expiry. `None` when the pool hands out nothing now.
    pub fn hand_out_until(&self, now: i64, hold: i64) -> Option<i64> {
        if self.status(now) != PoolStatus::Active {
            return None;
        }
        let until = now.saturating_add(hold);
        Some(self.closes_at().map_or(until, |closes| closes.min(until)))
    }
}

impl PoolSettings {
    /// Checks the lifecycle settings and reads them as stored.
    pub fn lifecycle(&self) -> Result<Lifecycle> {
        let time = |name: &str, value: &Option<String>| -> Result<Option<i64>> {
            value
                .as_deref()
                .map(|text| {
                    parse_rfc3339(text).ok_or_else(|| {
                        invalid(format!(
                            "{name} must be an RFC 3339 time, e.g. \"2026-12-31T23:59:59Z\"; \
                             got {text:?}"
                        ))
                    })
                })
                .transpose()
        };
        let valid_from = time("valid_from", &self.valid_from)?;
        let expires_at = time("expires_at", &self.expires_at)?;
        if let (Some(from), Some(until)) = (valid_from, expires_at) {
            if until <= from {
                return Err(invalid("expires_at must come after valid_from".to_owned()));
            }
        }
        let stop_before = match &self.stop_assigning_before_expiry {
            None => 0,
            Some(text) => parse_duration(text).ok_or_else(|| {
                invalid(format!(
                    "stop_assigning_before_expiry must be a duration such as \"7d\", \"12h\" \
                     or \"30m\" (at most a year); got {text:?}"
                ))
            })?,
        };
        Ok(Lifecycle {
            valid_from,
            expires_at,
            stop_before,
            archived: self.archived,
        })
    }
}

impl Lifecycle {
    /// Writes the lifecycle into settings, as `GET /pools/{pool}` shows it.
    pub fn show_in(&self, settings: &mut PoolSettings) {
        settings.valid_from = self.valid_from.map(rfc3339);
        settings.expires_at = self.expires_at.map(rfc3339);
        settings.stop_assigning_before_expiry =
            (self.stop_before > 0).then(|| format_duration(self.stop_before));
        settings.archived = self.archived;
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidPoolSettings, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn settings(from: Option<&str>, until: Option<&str>, stop: Option<&str>) -> PoolSettings {
        PoolSettings {
            valid_from: from.map(str::to_owned),
            expires_at: until.map(str::to_owned),
            stop_assigning_before_expiry: stop.map(str::to_owned),
            ..PoolSettings::default()
        }
    }

    #[test]
    fn status_follows_the_window() {
        let l = settings(
            Some("2026-12-01T00:00:00Z"),
            Some("2026-12-31T00:00:00Z"),
            Some("7d"),
        )
        .lifecycle()
        .unwrap();
        let dec = |d: i64| parse_rfc3339("2026-12-01T00:00:00Z").unwrap() + (d - 1) * DAY;
        assert_eq!(l.status(dec(1) - 1), PoolStatus::Scheduled);
        assert_eq!(l.status(dec(1)), PoolStatus::Active);
        assert_eq!(l.status(dec(24) - 1), PoolStatus::Active);
        // Seven days before the 31st it stops.
        assert_eq!(l.status(dec(24)), PoolStatus::Expired);
        assert_eq!(l.cutoff(dec(1)), dec(8));
        assert_eq!(l.hand_out_until(dec(24) - 10, 30_000), Some(dec(24)));
        assert_eq!(l.hand_out_until(dec(2), 30_000), Some(dec(2) + 30_000));
        assert_eq!(l.hand_out_until(dec(25), 30_000), None);
        let archived = Lifecycle {
            archived: true,
            ..l
        };
        assert_eq!(archived.status(dec(2)), PoolStatus::Archived);
    }

    #[test]
    fn round_trips_as_shown() {
        let s = settings(None, Some("2026-12-31T00:00:00.000Z"), Some("7d"));
        let mut shown = PoolSettings::default();
        s.lifecycle().unwrap().show_in(&mut shown);
        assert_eq!(shown, s);
        Lifecycle::default().show_in(&mut shown);
        assert_eq!(shown, PoolSettings::default());
    }

    #[test]
    fn err_cases_say_what_is_wrong() {
        for (s, needle) in [
            (settings(Some("tomorrow"), None, None), "valid_from must be"),
            (
                settings(None, Some("2026-13-01"), None),
                "expires_at must be",
            ),
            (
                settings(
                    Some("2026-12-02T00:00:00Z"),
                    Some("2026-12-01T00:00:00Z"),
                    None,
                ),
                "after valid_from",
            ),
            (settings(None, None, Some("7 days")), "stop_assigning"),
            (settings(None, None, Some("400d")), "at most a year"),
        ] {
            let err = s.lifecycle().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidPoolSettings);
            assert!(err.message().contains(needle), "{}", err.message());
        }
    }
}
