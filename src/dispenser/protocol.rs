//! The messages between a dispenser and its project's store.
//!
//! There is one: an [`Exchange`] the dispenser sends, and the store's
//! [`Exchanged`] answer. An exchange reports what the dispenser handed out,
//! gives back leases it is done with, and asks for codes; the answer grants
//! leases, says the layer's current [`LayerTerms`] and the store's counts,
//! and names the dispensers to recall when the store is out of codes.
//! Everything in it is idempotent by lease and code, so an exchange sent
//! twice, or answers lost or reordered, change nothing twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::layer::Assignment;
use crate::pool::PoolCounts;

/// What a dispenser sends the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// The dispenser's name ([`super::name`]).
    pub dispenser: String,
    /// The layer it serves.
    pub layer: String,
    /// The layer version it asks codes for (the version of the displays
    /// it serves); the store grants only for the current one.
    #[serde(default)]
    pub version: i64,
    /// Codes handed out and not yet reported.
    #[serde(default)]
    pub handed: Vec<Handed>,
    /// Leases the dispenser is done with: none of their codes will be
    /// handed out any more, and every code it did hand out is in `handed`
    /// of this or an earlier exchange. What is left of them goes back.
    #[serde(default)]
    pub returned: Vec<i64>,
    /// Every lease the dispenser holds (returned ones included). A lease
    /// the store granted it that is not here, past its deadline and the
    /// skew margin, was lost on the way: the store takes it back.
    #[serde(default)]
    pub known: Vec<i64>,
    /// How many codes to lease, by pool.
    #[serde(default)]
    pub want: BTreeMap<String, usize>,
    /// Pools whose counts the dispenser needs (besides those in `want`).
    #[serde(default)]
    pub count: Vec<String>,
    /// Whether no other exchange of this dispenser awaits its answer (a
    /// dispenser that restarted has none: answers to calls of the instance
    /// before are lost with it). Then `known` is complete for good: a lease
    /// of its that is not there never reaches it, and the store takes it
    /// back at once rather than after its deadline and the skew margin.
    #[serde(default)]
    pub alone: bool,
    /// The dispenser's count of its exchanges, this one included: kept in
    /// its storage, so it only grows. An `alone` exchange takes back only
    /// leases granted by exchanges before it: one that arrives after a
    /// later exchange of the same dispenser (calls are not ordered) cannot
    /// take back what that one granted.
    #[serde(default)]
    pub seq: i64,
    /// A `per_customer` customer the dispenser has not met: the codes the
    /// store knows they hold from this layer, in the pools of `want`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<String>,
}

/// A code a dispenser handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handed {
    /// The lease it was held under.
    pub lease: i64,
    /// The code.
    pub code: String,
    /// Who it went to.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// When (Unix milliseconds).
    pub at: i64,
}

/// The store's answer to an [`Exchange`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchanged {
    /// The layer as it is now; `None` if it no longer exists.
    pub terms: Option<LayerTerms>,
    /// New leases.
    #[serde(default)]
    pub granted: Vec<Lease>,
    /// Counts of the pools asked for or counted, after this exchange.
    #[serde(default)]
    pub counts: BTreeMap<String, PoolCounts>,
    /// Codes the looked-up customer holds, by pool.
    #[serde(default)]
    pub found: BTreeMap<String, Vec<String>>,
    /// Dispensers holding leases of pools this exchange wanted more of
    /// than the store has, or leases of an older version of the layer:
    /// recall them, then exchange again.
    #[serde(default)]
    pub recall: Vec<String>,
    /// Codes of the dispenser's leases that are no longer leased to it
    /// (redeemed by a tracked event before it reported them): it must not
    /// hand them out.
    #[serde(default)]
    pub withdrawn: Vec<String>,
    /// Pools of the exchange's `want` and `count` that the project does
    /// not have (deleted while the layer uses them): nothing was granted
    /// or counted for them, and a display that takes from one fails as
    /// the store would fail it (`unknown_pool`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_pools: Vec<String>,
}

/// A block of a pool's codes leased to one dispenser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The store's id of the lease.
    pub id: i64,
    /// The pool.
    pub pool: String,
    /// The codes, in the order they are to be handed out.
    pub codes: Vec<String>,
    /// After this (Unix milliseconds, the store's clock), the dispenser
    /// hands none of them out; it gives back what is left.
    pub deadline: i64,
}

/// What a dispenser needs to know of its layer to serve a display the way
/// the store would: whether it may render, for whom, and checked how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerTerms {
    /// The layer's version.
    pub version: i64,
    /// Whether it is shown.
    pub active: bool,
    /// Its assignment mode.
    pub assignment: Assignment,
    /// Whether customer ids must be signed.
    pub signed_customer: bool,
    /// Whether the signature must carry `exp`.
    pub require_expiry: bool,
    /// The project's `customer_signing_key`, for signed layers.
    #[serde(default)]
    pub signing_key: Option<String>,
    /// How many dispensers serve it now.
    pub dispensers: u32,
    /// Whether the store may know codes of customers the dispenser has not
    /// met (`per_customer`): then the dispenser asks it.
    pub customers_at_store: bool,
}

/// A call from the Worker (or another dispenser) to a dispenser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum DispenserCall {
    /// Serve a display's reservation; answers a
    /// [`crate::render::Reservation`].
    Reserve {
        /// Who the dispenser is.
        at: Post,
        /// The display's reservation.
        request: crate::render::ReservationRequest,
    },
    /// Give back every lease (a layer changed, or another dispenser of the
    /// pool ran dry); answers once the store has them.
    Recall {
        /// Who the dispenser is.
        at: Post,
    },
    /// Forget these codes: an admin voided them after this dispenser
    /// handed them out, and a `per_customer` layer's dispenser would show
    /// each to its customer again ([`super::Held::forget`]).
    Forget {
        /// Who the dispenser is.
        at: Post,
        /// The codes, as the store has them.
        codes: Vec<String>,
    },
}

/// Where a dispenser serves: its project and layer, and its own name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// The project, whose store the dispenser exchanges with.
    pub project: String,
    /// The layer it serves.
    pub layer: String,
    /// Its name ([`super::name`]).
    pub dispenser: String,
}

/// A dispenser that holds leases of a pool, and the layer it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The dispenser's name.
    pub dispenser: String,
    /// Its layer.
    pub layer: String,
}
