//! The batch-shaped reservation interface between a render and the store.
//!
//! One call takes *n* codes from each of *k* pools for one customer and one
//! source, atomically, and reads the counts a template asked for. Keeping it
//! batch-shaped lets a later sharding step change where codes come from
//! without changing callers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::pool::PoolCounts;

/// What asked for a code: recorded with every assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Source {
    /// A stored web layer, by name.
    Layer(String),
    /// A campaign send, by campaign id.
    Campaign(String),
    /// An ad-hoc `POST /render` by an admin.
    Render,
}

impl Source {
    /// The form stored in the `codes.source` column, e.g. `layer:welcome`.
    pub fn stored(&self) -> String {
        match self {
            Source::Layer(name) => format!("layer:{name}"),
            Source::Campaign(name) => format!("campaign:{name}"),
            Source::Render => "render".to_owned(),
        }
    }
}

/// A request to reserve codes and read counts, as one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReservationRequest {
    /// Who the codes are for (`None`: an anonymous display).
    pub customer_id: Option<String>,
    /// What is rendering.
    pub source: Source,
    /// For a layer: the version the caller planned with. The store refuses
    /// with `layer_changed` if the layer changed since, so a stale cached
    /// template never hands out codes.
    #[serde(default)]
    pub layer_version: Option<i64>,
    /// The `sig` a layer requiring signed customer ids was called with.
    #[serde(default)]
    pub customer_signature: Option<String>,
    /// The `exp` that signature is good until (Unix seconds), if it has one.
    #[serde(default)]
    pub signature_expiry: Option<i64>,
    /// How many codes to take from which pool.
    pub take: BTreeMap<String, usize>,
    /// Pools whose counts the template reads.
    #[serde(default)]
    pub count: Vec<String>,
    /// Codes this same render reserved in an earlier round and did not show:
    /// they go back to available in the same transaction.
    #[serde(default)]
    pub release: Vec<String>,
}

/// What the store answered to a [`ReservationRequest`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    /// The codes taken (or, in `per_customer` mode, found again), by pool.
    /// Empty if any pool was short.
    pub codes: BTreeMap<String, Vec<String>>,
    /// The codes newly assigned by this call (a subset of `codes`): only
    /// these may be released again.
    pub fresh: Vec<String>,
    /// Counts of every pool taken from or counted, read before this call's
    /// own assignments.
    pub counts: BTreeMap<String, PoolCounts>,
    /// Pools that had fewer available codes than asked for. If not empty,
    /// nothing was taken.
    pub short: Vec<String>,
}

impl Reservation {
    /// Whether every code asked for was reserved.
    pub fn is_complete(&self) -> bool {
        self.short.is_empty()
    }
}
