//! Redemption from tracked events, and the event log, on native SQLite.

use codepool::event::{EventFilter, Redemption, TrackedEvent};
use codepool::render::Source;
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

use crate::common::{purchase, redeem_purchases, store_with, take, NOW};

/// When the purchases happen: 2025-11-25T19:46:40Z in Unix seconds.
const PAID_AT: i64 = 1_764_100_000;

/// A store whose pool `p` holds `A` (assigned to `ada`) and `B` (available),
/// with purchases mapped to redemptions.
fn setup(db: &NativeDatabase) -> Store<'_, NativeDatabase> {
    let store = store_with(db, &[("p", &["A", "B"])]);
    store
        .reserve(&take("p", 1, "ada", Source::Render), NOW)
        .unwrap();
    redeem_purchases(&store);
    store
}

#[test]
fn a_purchase_redeems_its_code_once() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = setup(&db);
    let results = store
        .track(&[purchase("ada", " A ", PAID_AT)], NOW)
        .unwrap();
    assert_eq!(results[0].redemption, Redemption::Redeemed);
    assert_eq!(results[0].code.as_deref(), Some("A"));
    let pool = store.pool("p", NOW).unwrap();
    assert_eq!(
        (
            pool.counts.assigned,
            pool.counts.redeemed,
            pool.counts.available
        ),
        (0, 1, 1)
    );
    let again = store.track(&[purchase("ada", "A", PAID_AT)], NOW).unwrap();
    assert_eq!(again[0].redemption, Redemption::AlreadyRedeemed);
    assert_eq!(store.pool("p", NOW).unwrap().counts.redeemed, 1);
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn unknown_and_unassigned_codes_are_logged_not_applied() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = setup(&db);
    let results = store
        .track(
            &[
                purchase("bob", "NOPE", PAID_AT),
                purchase("bob", "B", PAID_AT),
            ],
            NOW,
        )
        .unwrap();
    assert_eq!(results[0].redemption, Redemption::UnknownCode);
    assert_eq!(results[1].redemption, Redemption::NotAssigned);
    let pool = store.pool("p", NOW).unwrap();
    assert_eq!((pool.counts.available, pool.counts.redeemed), (1, 0));
    let log = store.events(&EventFilter::default()).unwrap();
    let statuses: Vec<_> = log
        .events
        .iter()
        .map(|e| e.status.as_deref().unwrap())
        .collect();
    assert_eq!(statuses, ["not_assigned", "unknown_code"]);
    assert_eq!(log.events[0].timestamp, "2025-11-25T19:46:40.000Z");
}

#[test]
fn events_of_other_types_are_logged_without_redeeming() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = setup(&db);
    let mut view = purchase("ada", "A", PAID_AT);
    view.event_type = "page_view".into();
    assert_eq!(
        store.track(&[view], NOW).unwrap()[0].redemption,
        Redemption::NotMapped
    );
    assert_eq!(store.pool("p", NOW).unwrap().counts.redeemed, 0);
}

#[test]
fn a_bad_event_in_a_batch_records_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = setup(&db);
    let mut bad = purchase("ada", "A", PAID_AT);
    bad.timestamp = Some(serde_json::json!("yesterday"));
    let err = store
        .track(&[purchase("ada", "A", PAID_AT), bad], NOW)
        .unwrap_err();
    assert_eq!(err.code(), "invalid_event");
    assert!(err.message().starts_with("event 1:"));
    assert!(store
        .events(&EventFilter::default())
        .unwrap()
        .events
        .is_empty());
    assert_eq!(store.pool("p", NOW).unwrap().counts.redeemed, 0);
}

#[test]
fn the_log_pages_newest_first() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = setup(&db);
    let events: Vec<TrackedEvent> = (0..5)
        .map(|i| purchase(&format!("c{i}"), "X", PAID_AT))
        .collect();
    store.track(&events, NOW).unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .events(&EventFilter {
                limit: Some(2),
                cursor: cursor.clone(),
                ..Default::default()
            })
            .unwrap();
        seen.extend(page.events.iter().map(|e| e.customer_id.clone().unwrap()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ["c4", "c3", "c2", "c1", "c0"]);
    let only = store
        .events(&EventFilter {
            customer_id: Some("c3".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(only.events.len(), 1);
}
