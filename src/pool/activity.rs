//! A pool's activity: codes assigned and redeemed per day, for charts.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// Days a chart may ask for at most (a year, leap or not).
pub const MAX_ACTIVITY_DAYS: u32 = 366;

/// Days shown when the caller does not say.
pub const DEFAULT_ACTIVITY_DAYS: u32 = 30;

/// What happened to a pool's codes on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayActivity {
    /// The day, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Codes first handed to a customer that day (whether redeemed since or not).
    pub assigned: i64,
    /// Codes redeemed that day.
    pub redeemed: i64,
}

/// The answer of `GET /pools/{pool}/activity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolActivity {
    /// The pool's name.
    pub pool: String,
    /// Every day of the window, oldest first, today last; days without
    /// activity are there with zeros, so a chart needs no gap filling.
    pub days: Vec<DayActivity>,
}

/// Checks the number of days a chart asks for.
pub fn check_days(days: u32) -> Result<()> {
    if (1..=MAX_ACTIVITY_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidDays,
            format!("days must be a number from 1 to {MAX_ACTIVITY_DAYS}"),
        ))
    }
}
