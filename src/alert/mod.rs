//! Alerts: a pool tells its project's webhook when it runs low, runs out,
//! or its codes near their expiry, so nobody has to poll its counts.
//!
//! - [`settings`]: what a marketer sets per pool (`alerts` of
//!   `PUT /pools/{pool}`: a low-stock threshold, out of codes, a near-expiry
//!   window), and the checks of the project's webhook URL and secret.
//! - [`firing`]: when an alert fires and when it is re-armed, as pure rules
//!   over a pool's counts and earliest expiry: once per crossing.
//! - [`delivery`]: the webhook's body, the retry schedule, the defaults of
//!   the Worker's knobs.
//! - [`signature`]: the `X-Codepool-Signature` of a delivery.
//! - [`state`]: a pool's alert state as the API shows it.
//!
//! The store keeps each pool's alert state in the same transaction as the
//! counts that crossed (`store/alerts.rs`), writes every alert to the event
//! log and, when the project has a webhook, to an outbox that the project's
//! Durable Object delivers from its alarm (`worker/src/alerts.rs`), with
//! retries that survive a restart. Delivery is at least once: receivers
//! dedupe on the body's `id`.

use serde::{Deserialize, Serialize};

pub mod delivery;
pub mod firing;
pub mod settings;
pub mod signature;
pub mod state;

pub use delivery::{AlertBody, Delivery, DeliveryPolicy, Outcome};
pub use settings::{AlertSettings, PoolAlerts, Threshold};
pub use state::{AlertState, Arming, DeliveryState, DeliveryStatus};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The codes not yet handed out fell to the low-stock threshold.
    LowStock,
    /// No code is left to hand out.
    OutOfCodes,
    /// The earliest expiry among the codes left is within the window.
    NearExpiry,
}

impl AlertKind {
    /// Every kind, in the order of their bits.
    pub const ALL: [AlertKind; 3] = [
        AlertKind::LowStock,
        AlertKind::OutOfCodes,
        AlertKind::NearExpiry,
    ];

    /// The kind's name, as in the API, the log and webhook bodies.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertKind::LowStock => "low_stock",
            AlertKind::OutOfCodes => "out_of_codes",
            AlertKind::NearExpiry => "near_expiry",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind's bit in a pool's set of conditions that hold
    /// (`pools.alert_held`).
    pub const fn bit(self) -> u8 {
        match self {
            AlertKind::LowStock => 1,
            AlertKind::OutOfCodes => 2,
            AlertKind::NearExpiry => 4,
        }
    }

    /// Whether the pool's counts alone decide it (the expiry needs a query).
    pub const fn on_counts(self) -> bool {
        !matches!(self, AlertKind::NearExpiry)
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
