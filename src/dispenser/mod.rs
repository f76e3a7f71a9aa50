//! Dispensers: Durable Objects that hold leased blocks of a pool's codes
//! and serve a busy layer's displays from them, so that one layer is not
//! limited to what its project's one store object can write.
//!
//! # The protocol
//!
//! - **States.** A code is `available`, `leased` (held by one dispenser
//!   under one lease, with a deadline), `assigned` or `redeemed`. The store
//!   stays the authority: a code becomes leased or available again only in
//!   the store's transactions.
//! - **Who serves.** A layer saved with `"dispensers": N` has its displays
//!   spread over N dispensers ([`slot`]): by customer id, so a
//!   `per_customer` customer always meets the same one.
//! - **Serving** ([`serving`], [`held`]). A dispenser serves a display the
//!   way the store would (layer active at that version, customer id and
//!   signature checked, all codes or none), in one transaction of its own
//!   storage, from codes it holds under a lease.
//! - **Exchanges** ([`protocol`]). A dispenser's one message to the store
//!   reports the codes it handed out, gives back leases it is done with
//!   and asks for more codes: a few seconds of its recent demand
//!   ([`demand`]), never more than a fair share of what the pool has left
//!   (`store::lease`), so blocks shrink to single codes near the end.
//!   Everything in it is idempotent by lease and code.
//! - **Nothing suppressed while a code is left.** A dispenser the store
//!   cannot fill recalls the leases of the other dispensers of that pool
//!   (they report and give back what they have not handed out) and asks
//!   again, before it answers that the pool is empty.
//! - **Deadlines.** A dispenser never hands out a code of a lease past its
//!   deadline; at the deadline it gives back what is left. The store never
//!   takes a lease back behind its holder's back, since only the holder
//!   knows what it handed out: it takes back only a lease the holder says
//!   it does not know (the answer granting it was lost), and only after the
//!   deadline plus [`SKEW_MARGIN_MS`], when no clock of the holder's can
//!   still let it use it.
//! - **Changes.** A changed, paused or deleted layer, or a new number of
//!   dispensers, has every lease of the layer given back: the Worker that
//!   changes it recalls them, and any dispenser that hears of it from the
//!   store gives back its own. The store grants no new lease of a layer
//!   while a lease of an older version of it is out.
//! - **Lag.** Codes handed out reach the store within [`REPORT_MS`] (a
//!   Durable Object alarm), so its counts, listing, export and log trail
//!   the dispensers by about that much.

pub mod demand;
pub mod held;
pub mod protocol;
pub mod serving;

pub use demand::Demand;
pub use held::{Held, Need, Served};
pub use protocol::{DispenserCall, Exchange, Exchanged, Handed, Holder, LayerTerms, Lease, Post};
pub use serving::{Serving, Step};

/// The most dispensers a layer may have.
pub const MAX_DISPENSERS: u32 = 64;
/// How long a lease may be used (milliseconds).
pub const LEASE_MS: i64 = 30_000;
/// How far apart a dispenser's clock and the store's may be: a lost lease
/// is taken back only this long after its deadline.
pub const SKEW_MARGIN_MS: i64 = 10_000;
/// Codes handed out are reported to the store within this long.
pub const REPORT_MS: i64 = 1_000;
/// How long a dispenser serves on the layer's terms (paused, signing key,
/// version) before it asks the store again; a change reaches it sooner
/// when the Worker that makes it recalls the layer's dispensers.
pub const TERMS_MS: i64 = 10_000;
/// The most codes one exchange reports.
pub const MAX_REPORT: usize = 4096;

/// The dispenser (0 to `dispensers - 1`) that serves a display: by the
/// customer id, so one customer always meets the same dispenser; a display
/// without one goes to the dispenser `anonymous` picks (a random number).
pub fn slot(customer_id: Option<&str>, dispensers: u32, anonymous: u32) -> u32 {
    let dispensers = dispensers.max(1);
    match customer_id {
        Some(id) => (fnv1a(id.as_bytes()) % u64::from(dispensers)) as u32,
        None => anonymous % dispensers,
    }
}

/// The name of a layer's dispenser: its Durable Object's name.
pub fn name(project: &str, layer: &str, slot: u32) -> String {
    format!("{project}/{layer}/{slot}")
}

/// The Durable Object location hint for a visitor (Cloudflare's
/// `request.cf` `continent` and `longitude`): a dispenser is created near
/// the first visitor who reaches it.
pub fn location_hint(continent: &str, longitude: Option<f64>) -> Option<&'static str> {
    Some(match continent {
        "NA" if longitude.is_some_and(|l| l < -100.0) => "wnam",
        "NA" => "enam",
        "SA" => "sam",
        "EU" if longitude.is_some_and(|l| l > 20.0) => "eeur",
        "EU" => "weur",
        "AS" => "apac",
        "OC" => "oc",
        "AF" => "afr",
        _ => return None,
    })
}

/// FNV-1a: a hash that stays the same across builds and platforms, so a
/// customer meets the same dispenser from any Worker.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_always_meets_the_same_dispenser() {
        assert_eq!(slot(Some("c-1"), 4, 0), slot(Some("c-1"), 4, 3));
        let slots: std::collections::BTreeSet<u32> = (0..200)
            .map(|i| slot(Some(&format!("c-{i}")), 4, 0))
            .collect();
        assert_eq!(slots.len(), 4);
        assert_eq!(slot(None, 4, 6), 2);
        assert_eq!(slot(Some("x"), 0, 0), 0);
    }

    #[test]
    fn visitors_place_dispensers_near_them() {
        assert_eq!(location_hint("NA", Some(-122.4)), Some("wnam"));
        assert_eq!(location_hint("NA", Some(-74.0)), Some("enam"));
        assert_eq!(location_hint("EU", Some(13.4)), Some("weur"));
        assert_eq!(location_hint("EU", Some(30.5)), Some("eeur"));
        assert_eq!(location_hint("OC", None), Some("oc"));
        assert_eq!(location_hint("AN", None), None);
    }
}
