//! Pools: named sets of codes, and their counts; the codes themselves
//! ([`code`]: what text is a code, its states), listing them ([`listing`]),
//! exporting them ([`export`]) and their activity per day ([`activity`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::{AlertKind, AlertSettings, AlertState};

pub mod activity;
pub mod code;
pub mod export;
pub mod listing;

pub use code::{code_key, normalize_code, CodeState, InvalidCode};
pub use listing::{CodeEntry, CodePage, CodeQuery};

/// How many codes a pool holds, by state.
///
/// `total = available + leased + assigned + redeemed` always holds: the counters are
/// updated in the same transaction as the codes they count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCounts {
    /// Every code ever imported into the pool.
    pub total: i64,
    /// Codes not yet handed to anyone.
    pub available: i64,
    /// Codes held by the dispensers of layers ([`crate::dispenser`]), not
    /// yet handed out.
    #[serde(default)]
    pub leased: i64,
    /// Codes handed to a customer and not (yet) redeemed.
    pub assigned: i64,
    /// Codes a tracked event marked as used.
    pub redeemed: i64,
}

impl PoolCounts {
    /// Codes not yet handed out: available in the store, or held by a
    /// dispenser. What `count_available_codes()` answers.
    pub fn unassigned(&self) -> i64 {
        self.available + self.leased
    }
}

/// A pool as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// The pool's name, unique in the project.
    pub name: String,
    /// Free text for marketers ("10% off, spring campaign").
    pub description: String,
    /// When the pool was created (RFC 3339).
    pub created_at: String,
    /// Counts by state.
    #[serde(flatten)]
    pub counts: PoolCounts,
    /// How many dispensers hold its `leased` codes.
    #[serde(default)]
    pub dispensers: i64,
    /// Its alerts ([`crate::alert`]), if any is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertSettings>,
    /// Each alert's state, by kind: armed or fired, its last delivery.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alert_state: BTreeMap<AlertKind, AlertState>,
}

/// The body of `PUT /pools/{pool}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSettings {
    /// Free text for marketers.
    #[serde(default)]
    pub description: String,
    /// Alerts to its project's webhook ([`crate::alert`]); absent or
    /// `null`: none.
    #[serde(default)]
    pub alerts: Option<AlertSettings>,
}
