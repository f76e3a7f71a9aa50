//! Pools: named sets of codes, and their counts; the codes themselves
//! ([`code`]: what text is a code, its states), listing them ([`listing`]),
//! exporting them ([`export`]) and their activity per day ([`activity`]);
//! when a pool hands codes out ([`validity`]: its window, code expiry,
//! archiving); voiding codes, rolling redemptions back and deleting pools
//! ([`void`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::{AlertKind, AlertSettings, AlertState};

pub mod activity;
pub mod code;
pub mod export;
pub mod listing;
pub mod validity;
pub mod void;

pub use code::{code_key, normalize_code, CodeState, InvalidCode};
pub use listing::{CodeEntry, CodePage, CodeQuery};
pub use validity::{Lifecycle, PoolStatus};
pub use void::VoidOutcome;

/// How many codes a pool holds, by state.
///
/// `total = available + leased + assigned + redeemed + expired + void`
/// always holds: the counters are updated in the same transaction as the
/// codes they count.
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
    /// Codes not handed out that are past their expiry or too close to it
    /// ([`validity`]); in a pool past its own expiry, also every code it
    /// had left to hand out.
    #[serde(default)]
    pub expired: i64,
    /// Codes an admin voided: never handed out, never redeemed.
    #[serde(default)]
    pub void: i64,
}

impl PoolCounts {
    /// Codes not yet handed out: available in the store, or held by a
    /// dispenser. What `count_available_codes()` answers.
    pub fn unassigned(&self) -> i64 {
        self.available + self.leased
    }

    /// The counts as a pool of this status shows them: one past its own
    /// expiry counts what it had left to hand out as expired.
    ///
    /// Leased codes stay leased: a dispenser hands them out only until
    /// the pool closes ([`Lifecycle::hand_out_until`]), then gives back
    /// what is left, which this counts then.
    pub fn as_shown(mut self, status: PoolStatus) -> Self {
        if status == PoolStatus::Expired {
            self.expired += self.available;
            self.available = 0;
        }
        self
    }

    /// The counts as a render sees them: a pool that is not active has
    /// nothing available (one not valid yet, or archived, still shows its
    /// codes as available in the API, with its status).
    pub fn to_hand_out(self, status: PoolStatus) -> Self {
        let mut counts = self.as_shown(status);
        if status != PoolStatus::Active {
            counts.available = 0;
        }
        counts
    }
}

/// A pool as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pool {
    /// The pool's name, unique in the project.
    pub name: String,
    /// Its settings, as `PUT /pools/{pool}` takes them.
    #[serde(flatten)]
    pub settings: PoolSettings,
    /// When the pool was created (RFC 3339).
    pub created_at: String,
    /// Counts by state.
    #[serde(flatten)]
    pub counts: PoolCounts,
    /// How many dispensers hold its `leased` codes.
    #[serde(default)]
    pub dispensers: i64,
    /// Whether it hands out codes now.
    pub status: PoolStatus,
    /// Each alert's state, by kind: armed or fired, its last delivery.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alert_state: BTreeMap<AlertKind, AlertState>,
}

/// The body of `PUT /pools/{pool}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSettings {
    /// Free text for marketers ("10% off, spring campaign").
    #[serde(default)]
    pub description: String,
    /// RFC 3339; before it the pool hands out nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// RFC 3339; from it on the pool hands out nothing, and what it had
    /// left to hand out counts as expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// A duration (`7d`, `12h`): codes, and the pool, stop being handed out
    /// this long before they expire, so no customer gets a code too late
    /// to use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_assigning_before_expiry: Option<String>,
    /// Archived pools hand out nothing and keep their codes for redemption
    /// (a pool with assigned codes cannot be deleted).
    #[serde(default)]
    pub archived: bool,
    /// Alerts to its project's webhook ([`crate::alert`]); absent or
    /// `null`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertSettings>,
}
