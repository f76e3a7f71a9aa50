//! A pool's lifecycle on real SQLite: its window, codes' own expiry and
//! the margin before it, archiving, on every path that hands out or counts
//! codes (reservations, campaigns, dispensers' leases, counts, listing,
//! redemption).

use std::collections::BTreeMap;

use codepool::campaign::{CampaignReservationRequest, CustomerCodes, CustomerNeeds};
use codepool::dispenser::{Exchange, Exchanged, LEASE_MS};
use codepool::event::Redemption;
use codepool::layer::{Assignment, LayerSettings};
use codepool::pool::{CodeQuery, CodeState, PoolSettings, PoolStatus};
use codepool::render::Source;
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;
use codepool::time::rfc3339;
use codepool::ErrorKind;

use crate::common::{layer_taking, purchase, redeem_purchases, store_with, take, NOW};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A store with pool `p` holding `codes`, each with its own expiry.
fn expiring<'a>(
    db: &'a NativeDatabase,
    codes: &[(&str, Option<i64>)],
) -> Store<'a, NativeDatabase> {
    let store = store_with::<&str>(db, &[("p", &[])]);
    let import = store.begin_import("p", NOW).unwrap();
    let list: Vec<String> = codes.iter().map(|(c, _)| (*c).to_owned()).collect();
    let expires: Vec<Option<i64>> = codes.iter().map(|(_, e)| *e).collect();
    store.import_expiring("p", import, &list, &expires).unwrap();
    store
}

fn settings(f: impl FnOnce(&mut PoolSettings)) -> PoolSettings {
    let mut s = PoolSettings::default();
    f(&mut s);
    s
}

fn listed(store: &Store<'_, NativeDatabase>, state: Option<CodeState>, now: i64) -> Vec<String> {
    let query = CodeQuery {
        state,
        cursor: None,
        limit: 100,
    };
    let page = store.codes("p", &query, now).unwrap();
    page.codes
        .into_iter()
        .map(|c| format!("{}:{}", c.code, c.state.name()))
        .collect()
}

fn reserve_one(store: &Store<'_, NativeDatabase>, customer: &str, now: i64) -> Vec<String> {
    store
        .reserve(&take("p", 1, customer, Source::Render), now)
        .unwrap()
        .codes
        .remove("p")
        .unwrap_or_default()
}

#[test]
fn codes_past_their_expiry_or_its_margin_are_never_handed_out_and_count_apart() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = expiring(
        &db,
        &[
            ("GONE", Some(NOW - 1)),
            ("SOON", Some(NOW + 2 * DAY)),
            ("LATER", Some(NOW + 30 * DAY)),
            ("NEVER", None),
        ],
    );
    // Reading the pool marks what expired; the audit agrees.
    let pool = store.pool("p", NOW).unwrap();
    assert_eq!((pool.counts.available, pool.counts.expired), (3, 1));
    assert_eq!(store.audit().unwrap(), Vec::<String>::new());

    // Seven days of margin: SOON is held back too.
    store
        .put_pool(
            "p",
            &settings(|s| s.stop_assigning_before_expiry = Some("7d".into())),
            NOW,
        )
        .unwrap();
    let counts = store.counts(&["p".to_owned()], NOW).unwrap()["p"];
    assert_eq!((counts.unassigned(), counts.expired), (2, 2));
    assert_eq!(
        listed(&store, Some(CodeState::Expired), NOW),
        ["GONE:expired", "SOON:expired"]
    );
    let mut handed = vec![];
    for i in 0..4 {
        handed.extend(reserve_one(&store, &format!("c{i}"), NOW));
    }
    handed.sort();
    assert_eq!(handed, ["LATER", "NEVER"]);
    assert_eq!(store.audit().unwrap(), Vec::<String>::new());

    // A shorter margin gives SOON back; GONE stays expired.
    store.put_pool("p", &PoolSettings::default(), NOW).unwrap();
    assert_eq!(reserve_one(&store, "c9", NOW), ["SOON"]);
    assert_eq!(
        listed(&store, Some(CodeState::Expired), NOW),
        ["GONE:expired"]
    );
    assert_eq!(store.audit().unwrap(), Vec::<String>::new());
}

#[test]
fn codes_expire_as_time_passes_without_any_import() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = expiring(&db, &[("A", Some(NOW + HOUR)), ("B", Some(NOW + 2 * HOUR))]);
    assert_eq!(store.pool("p", NOW).unwrap().counts.available, 2);
    // An hour later A is expired, at the very millisecond.
    let later = NOW + HOUR;
    assert_eq!(store.pool("p", later - 1).unwrap().counts.available, 2);
    let pool = store.pool("p", later).unwrap();
    assert_eq!((pool.counts.available, pool.counts.expired), (1, 1));
    assert_eq!(reserve_one(&store, "x", later), ["B"]);
    assert!(reserve_one(&store, "y", later).is_empty());
    assert_eq!(store.audit().unwrap(), Vec::<String>::new());
}

#[test]
fn the_pools_window_gates_every_path_and_moving_it_moves_no_code() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"])]);
    let window = |from: i64, until: i64| {
        settings(|s| {
            s.valid_from = Some(rfc3339(from));
            s.expires_at = Some(rfc3339(until));
            s.stop_assigning_before_expiry = Some("1d".into());
        })
    };
    // Not valid yet: nothing handed out or counted, the codes stay available.
    let pool = store
        .put_pool("p", &window(NOW + DAY, NOW + 10 * DAY), NOW)
        .unwrap();
    assert_eq!(pool.status, PoolStatus::Scheduled);
    assert_eq!(pool.counts.available, 3);
    assert_eq!(
        store.counts(&["p".to_owned()], NOW).unwrap()["p"].unassigned(),
        0
    );
    assert!(reserve_one(&store, "x", NOW).is_empty());

    // Open: hands out.
    let open = NOW + 2 * DAY;
    assert_eq!(store.pool("p", open).unwrap().status, PoolStatus::Active);
    assert_eq!(reserve_one(&store, "x", open), ["A"]);

    // A day before its expiry it closes: what is left counts and lists as
    // expired, and a campaign gets nothing.
    let closed = NOW + 9 * DAY;
    let pool = store.pool("p", closed).unwrap();
    assert_eq!(pool.status, PoolStatus::Expired);
    assert_eq!(
        (
            pool.counts.available,
            pool.counts.expired,
            pool.counts.assigned
        ),
        (0, 2, 1)
    );
    assert_eq!(
        listed(&store, None, closed),
        ["A:assigned", "B:expired", "C:expired"]
    );
    assert_eq!(
        listed(&store, Some(CodeState::Available), closed),
        Vec::<String>::new()
    );
    assert!(reserve_one(&store, "y", closed).is_empty());
    let send = CampaignReservationRequest {
        campaign: "late".into(),
        customers: vec![CustomerNeeds {
            customer_id: "z".into(),
            take: BTreeMap::from([("p".to_owned(), 1)]),
            error: None,
        }],
    };
    let result = store.reserve_campaign(&send, closed).unwrap();
    assert!(matches!(result[0], CustomerCodes::Failed { .. }));

    // Moved later: open again, the same codes available.
    store
        .put_pool("p", &window(NOW, NOW + 20 * DAY), closed)
        .unwrap();
    assert_eq!(reserve_one(&store, "y", closed), ["B"]);
    assert_eq!(store.audit().unwrap(), Vec::<String>::new());

    // Archived: keeps its codes, hands out nothing.
    let pool = store
        .put_pool("p", &settings(|s| s.archived = true), closed)
        .unwrap();
    assert_eq!(
        (pool.status, pool.counts.available),
        (PoolStatus::Archived, 1)
    );
    assert!(reserve_one(&store, "w", closed).is_empty());
}

/// Saves layer `l`, taking from pool `p` through one dispenser.
fn dispensed_layer(store: &Store<'_, NativeDatabase>) {
    let settings = LayerSettings {
        dispensers: 1,
        ..layer_taking("p", Assignment::PerDisplay)
    };
    store.put_layer("l", &settings, NOW).unwrap();
}

/// The first exchange of layer `l`'s dispenser, asking `want` codes of `p`.
fn first_exchange(store: &Store<'_, NativeDatabase>, want: usize, now: i64) -> Exchanged {
    let exchange = Exchange {
        dispenser: "l#0".into(),
        layer: "l".into(),
        version: store.layer("l").unwrap().version,
        want: BTreeMap::from([("p".to_owned(), want)]),
        alone: true,
        seq: 1,
        ..Exchange::default()
    };
    store.exchange(&exchange, now).unwrap()
}

#[test]
fn dispensers_lease_only_codes_good_past_the_lease_and_never_past_the_pools_close() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = expiring(
        &db,
        &[
            ("EARLY", Some(NOW + LEASE_MS / 2)),
            ("A", None),
            ("B", Some(NOW + DAY)),
        ],
    );
    dispensed_layer(&store);
    let answer = first_exchange(&store, 3, NOW);
    let leased: Vec<&str> = answer
        .granted
        .iter()
        .flat_map(|l| l.codes.iter().map(String::as_str))
        .collect();
    // EARLY expires before the lease ends: left out.
    assert!(!leased.contains(&"EARLY"), "{leased:?}");
    assert!(!leased.is_empty());
    assert!(answer.granted.iter().all(|l| l.deadline == NOW + LEASE_MS));
    assert_eq!(store.audit().unwrap(), Vec::<String>::new());

    // A pool that closes in 10 s leases until then, not for the whole 30 s.
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["X", "Y"])]);
    let closes = settings(|s| s.expires_at = Some(rfc3339(NOW + 10_000)));
    store.put_pool("p", &closes, NOW).unwrap();
    dispensed_layer(&store);
    let answer = first_exchange(&store, 1, NOW);
    assert_eq!(answer.granted.len(), 1);
    assert_eq!(answer.granted[0].deadline, NOW + 10_000);
    // Closed: no grant, no recall.
    let answer = first_exchange(&store, 1, NOW + 10_000);
    assert!(answer.granted.is_empty() && answer.recall.is_empty());
}

#[test]
fn a_per_customer_customer_whose_code_expired_gets_a_fresh_one() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = expiring(&db, &[("OLD", Some(NOW + HOUR)), ("NEW", None)]);
    store
        .put_layer("l", &layer_taking("p", Assignment::PerCustomer), NOW)
        .unwrap();
    let show = |now: i64| {
        store
            .reserve(&take("p", 1, "ada", Source::Layer("l".into())), now)
            .unwrap()
            .codes["p"]
            .clone()
    };
    assert_eq!(show(NOW), ["OLD"]);
    assert_eq!(show(NOW + 1), ["OLD"]);
    assert_eq!(show(NOW + HOUR), ["NEW"]);
}

#[test]
fn redeeming_an_expired_code_is_logged_as_expired_and_changes_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = expiring(
        &db,
        &[("HELD", Some(NOW + HOUR)), ("UNUSED", Some(NOW + HOUR))],
    );
    redeem_purchases(&store);
    assert_eq!(reserve_one(&store, "ada", NOW), ["HELD"]);
    let late = (NOW + 2 * HOUR) / 1000;
    let results = store
        .track(
            &[
                purchase("ada", "HELD", late),
                purchase("bob", "unused", late),
            ],
            NOW + 2 * HOUR,
        )
        .unwrap();
    assert_eq!(results[0].redemption, Redemption::Expired);
    assert_eq!(results[1].redemption, Redemption::Expired);
    let pool = store.pool("p", NOW + 2 * HOUR).unwrap();
    assert_eq!(
        (
            pool.counts.redeemed,
            pool.counts.assigned,
            pool.counts.expired
        ),
        (0, 1, 1)
    );
    // In time, the same purchase redeems.
    let results = store
        .track(&[purchase("ada", "HELD", NOW / 1000 + 60)], NOW + 2 * HOUR)
        .unwrap();
    assert_eq!(results[0].redemption, Redemption::Redeemed);
    assert_eq!(store.audit().unwrap(), Vec::<String>::new());
}

#[test]
fn err_pool_settings_that_cannot_hold_change_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A"])]);
    for bad in [
        settings(|s| s.expires_at = Some("31.12.2026".into())),
        settings(|s| s.stop_assigning_before_expiry = Some("a week".into())),
        settings(|s| {
            s.valid_from = Some(rfc3339(NOW + DAY));
            s.expires_at = Some(rfc3339(NOW));
        }),
    ] {
        let err = store.put_pool("p", &bad, NOW).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidPoolSettings, "{bad:?}");
    }
    assert_eq!(store.pool("p", NOW).unwrap().status, PoolStatus::Active);
    assert_eq!(reserve_one(&store, "x", NOW), ["A"]);
}
