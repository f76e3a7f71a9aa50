//! A pool's alert state as the API and the console show it
//! (`alert_state` of a pool): per kind set, armed or fired, and how its
//! last webhook delivery went.

use serde::{Deserialize, Serialize};

/// One alert kind of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    /// Where it stands.
    pub state: Arming,
    /// How many times it fired.
    pub fired: i64,
    /// When it last fired (RFC 3339), if ever.
    pub fired_at: Option<String>,
    /// When it was last re-armed by a refill (RFC 3339), if ever.
    pub rearmed_at: Option<String>,
    /// The id of the alert it last fired (the webhook body's `id`).
    pub alert_id: Option<String>,
    /// How the last alert's delivery went; `null` before any fired.
    pub delivery: Option<DeliveryState>,
}

/// Whether an alert will fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arming {
    /// Its condition does not hold: it fires when it comes to hold.
    Armed,
    /// Its condition holds and it fired: it is re-armed when the pool is
    /// refilled past it (or, near expiry, when the earliest expiry moves
    /// out of the window).
    Fired,
    /// Its condition holds and it did not fire: the pool held no code when
    /// it came to hold (a new pool), so it fires only after a refill past
    /// it and a new crossing.
    Unarmed,
}

/// The last delivery of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// Its status.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    /// When it was delivered, given up or skipped, or when the next
    /// attempt is due (RFC 3339).
    pub at: Option<String>,
    /// What went wrong at the last failed attempt.
    pub last_error: Option<String>,
}

/// How a delivery stands; also the `status` of its entries in the event
/// log (`type` `alert`), `pending` aside, which is logged `retrying` after
/// a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or for a retry.
    Pending,
    /// The webhook answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// The project has no webhook: only logged.
    Skipped,
}

impl DeliveryStatus {
    /// The status as stored and logged.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
        }
    }

    /// The status stored as `text`, if it is one.
    pub fn from_stored(text: &str) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
            DeliveryStatus::Skipped,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}
