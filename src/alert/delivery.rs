//! Webhook deliveries: the body an alert sends, the retry schedule, and
//! the knobs of the Worker that sends them.
//!
//! The project's Durable Object delivers from its alarm: it claims the
//! deliveries that are due ([`crate::store::Store::claim_deliveries`]),
//! POSTs each [`Delivery`] with its signed headers and a timeout, and
//! records each [`Outcome`] ([`crate::store::Store::record_delivery`]),
//! which schedules the next attempt by [`retry_delay`] or, after
//! [`MAX_ATTEMPTS`], gives up and logs the failure.
//!
//! Delivery is at least once: an answer lost on its way back, or a restart
//! while a POST was out, sends the same alert again, with the same `id`.

use serde::{Deserialize, Serialize};

use super::signature;
use super::AlertKind;
use crate::pool::PoolCounts;

/// The production wait before the first retry (`ALERT_RETRY_BASE_MS`);
/// later retries wait multiples of it ([`retry_delay`]).
pub const DEFAULT_RETRY_BASE_MS: i64 = 10_000;
/// How long a webhook may take to answer in production
/// (`WEBHOOK_TIMEOUT_MS`) before the attempt counts as failed.
pub const DEFAULT_TIMEOUT_MS: i64 = 10_000;
/// Attempts per alert, the first included; then it is logged `failed`.
pub const MAX_ATTEMPTS: u32 = 6;
/// Deliveries sent by one alarm at most; the alarm comes again for more.
pub const BATCH: usize = 20;

/// The waits before retries 1, 2, … as multiples of the base: with the
/// production base, 10 s, 30 s, 2 min, 10 min, 1 h.
const STEPS: [i64; MAX_ATTEMPTS as usize - 1] = [1, 3, 12, 60, 360];

/// How long to wait after `attempts` failed attempts before the next one,
/// or `None` when that was the last.
pub fn retry_delay(attempts: u32, base_ms: i64) -> Option<i64> {
    let step = STEPS.get(usize::try_from(attempts.checked_sub(1)?).ok()?)?;
    Some(step.saturating_mul(base_ms.max(1)))
}

/// How the Worker delivers: its environment's `ALERT_RETRY_BASE_MS` and
/// `WEBHOOK_TIMEOUT_MS`, production defaults when unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// The wait before the first retry, in ms.
    pub retry_base_ms: i64,
    /// How long one POST may take, in ms.
    pub timeout_ms: i64,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            retry_base_ms: DEFAULT_RETRY_BASE_MS,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }
}

impl DeliveryPolicy {
    /// The policy from the Worker's variables (text, as the environment
    /// holds them); one missing or unreadable keeps its default.
    pub fn from_vars(retry_base_ms: Option<&str>, timeout_ms: Option<&str>) -> Self {
        let read = |v: Option<&str>, default: i64| {
            v.and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|&ms| (1..=86_400_000).contains(&ms))
                .unwrap_or(default)
        };
        DeliveryPolicy {
            retry_base_ms: read(retry_base_ms, DEFAULT_RETRY_BASE_MS),
            timeout_ms: read(timeout_ms, DEFAULT_TIMEOUT_MS),
        }
    }

    /// How long a claimed delivery stays claimed: past its timeout, so
    /// that one whose POST a restart cut off is sent again then.
    pub fn claim_ms(&self) -> i64 {
        self.timeout_ms.saturating_mul(2).saturating_add(1_000)
    }
}

/// The JSON body of a webhook (and the properties of the alert's entry in
/// the event log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertBody {
    /// The alert's id, the same on every attempt: receivers dedupe on it.
    pub id: String,
    /// What it is about.
    pub alert: AlertKind,
    /// The project; filled in when it is delivered (the store does not
    /// know its own name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The pool.
    pub pool: String,
    /// When it fired (RFC 3339).
    pub fired_at: String,
    /// The pool's counts when it fired.
    pub counts: AlertCounts,
    /// `low_stock`: the threshold in codes (a percentage worked out on the
    /// total); `out_of_codes`: 0; `near_expiry`: `null`.
    pub threshold: Option<i64>,
    /// The alert's setting as made: `100`, `"10%"`, `true`, `"7d"`.
    pub setting: serde_json::Value,
    /// `near_expiry`: the earliest expiry among the codes left (RFC 3339);
    /// `null` for the other kinds.
    pub earliest_expiry: Option<String>,
}

/// A pool's counts in an alert, with what is left to hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCounts {
    /// The counts by state.
    #[serde(flatten)]
    pub counts: PoolCounts,
    /// Codes not yet handed out: `available + leased`.
    pub unassigned: i64,
}

impl From<PoolCounts> for AlertCounts {
    fn from(counts: PoolCounts) -> Self {
        AlertCounts {
            unassigned: counts.unassigned(),
            counts,
        }
    }
}

/// One POST to make: claimed by [`crate::store::Store::claim_deliveries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its row in the outbox: where [`Outcome`]s are recorded.
    pub outbox_id: i64,
    /// The alert's id (the body's `id`).
    pub alert_id: String,
    /// The project's webhook URL.
    pub url: String,
    /// The project's webhook secret.
    pub secret: String,
    /// The JSON body, project filled in.
    pub body: String,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}

impl Delivery {
    /// The headers of the POST at `unix_seconds`: the JSON type, the
    /// signature and its timestamp ([`signature`]), the alert's id and
    /// the attempt's number.
    pub fn headers(&self, unix_seconds: i64) -> Vec<(&'static str, String)> {
        vec![
            ("content-type", "application/json".into()),
            ("user-agent", "codepool-webhooks/1".into()),
            (signature::TIMESTAMP_HEADER, unix_seconds.to_string()),
            (
                signature::SIGNATURE_HEADER,
                signature::sign(&self.secret, unix_seconds, &self.body),
            ),
            ("x-codepool-alert-id", self.alert_id.clone()),
            ("x-codepool-attempt", self.attempt.to_string()),
        ]
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The webhook answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// Any other answer, a timeout, or no answer.
    Failed {
        /// The status, if it answered.
        status: Option<u16>,
        /// What went wrong, for the log.
        error: String,
    },
}

impl Outcome {
    /// The outcome of an answer with this status.
    pub fn of_status(status: u16) -> Outcome {
        if (200..300).contains(&status) {
            Outcome::Delivered { status }
        } else {
            Outcome::Failed {
                status: Some(status),
                error: format!("the webhook answered {status}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_schedule() {
        let base = DEFAULT_RETRY_BASE_MS;
        let waits: Vec<Option<i64>> = (0..=MAX_ATTEMPTS).map(|n| retry_delay(n, base)).collect();
        assert_eq!(
            waits,
            [
                None,
                Some(10_000),
                Some(30_000),
                Some(120_000),
                Some(600_000),
                Some(3_600_000),
                None
            ]
        );
        assert_eq!(retry_delay(2, 100), Some(300));
    }

    #[test]
    fn policy_from_vars() {
        assert_eq!(
            DeliveryPolicy::from_vars(None, None),
            DeliveryPolicy::default()
        );
        let p = DeliveryPolicy::from_vars(Some("50"), Some(" 300 "));
        assert_eq!((p.retry_base_ms, p.timeout_ms), (50, 300));
        let p = DeliveryPolicy::from_vars(Some("-1"), Some("soon"));
        assert_eq!(p, DeliveryPolicy::default());
    }
}
