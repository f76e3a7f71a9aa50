//! A pool's activity per day (for the console's chart), on native SQLite.

use std::collections::BTreeMap;

use codepool::event::TrackedEvent;
use codepool::pool::activity::DayActivity;
use codepool::pool::PoolSettings;
use codepool::render::{ReservationRequest, Source};
use codepool::settings::{RedemptionMapping, Settings};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

/// 2025-11-25T19:00:00Z.
const NOW: i64 = 1_764_097_200_000;
const DAY: i64 = 86_400_000;

fn take(store: &Store<'_, NativeDatabase>, pool: &str, n: usize, at: i64) {
    let request = ReservationRequest {
        customer_id: Some("ada".into()),
        source: Source::Render,
        layer_version: None,
        take: BTreeMap::from([(pool.to_owned(), n)]),
        count: vec![],
        release: vec![],
        customer_signature: None,
    };
    store.reserve(&request, at).unwrap();
}

fn day(date: &str, assigned: i64, redeemed: i64) -> DayActivity {
    DayActivity {
        date: date.into(),
        assigned,
        redeemed,
    }
}

fn purchase(code: &str, unix_seconds: i64) -> TrackedEvent {
    TrackedEvent {
        customer_id: "ada".into(),
        event_type: "purchase".into(),
        timestamp: Some(serde_json::json!(unix_seconds)),
        properties: serde_json::json!({ "voucher_code": code })
            .as_object()
            .cloned()
            .unwrap(),
    }
}

#[test]
fn counts_assignments_and_redemptions_per_utc_day() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = Store::new(&db);
    store.migrate().unwrap();
    for (pool, codes) in [
        ("p", ["P1", "P2", "P3", "P4", "P5"].as_slice()),
        ("q", &["Q1", "Q2"]),
    ] {
        store.put_pool(pool, &PoolSettings::default(), NOW).unwrap();
        let import = store.begin_import(pool, NOW).unwrap();
        let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        store.import_batch(pool, import, &codes).unwrap();
    }
    store
        .put_settings(&Settings {
            redemption: Some(RedemptionMapping {
                event_type: "purchase".into(),
                property: "voucher_code".into(),
                require_holder: false,
            }),
            customer_signing_key: None,
        })
        .unwrap();
    // Two codes on Nov 23 (P1, P2: first in, first out), one on Nov 25 (P3);
    // another pool's code the same day must not count.
    take(&store, "p", 2, NOW - 2 * DAY);
    take(&store, "p", 1, NOW);
    take(&store, "q", 1, NOW);
    // P1 redeemed on Nov 24 at 23:59:59 UTC: the day boundary is UTC midnight.
    let nov_24_last_second = (NOW - DAY) / 1000 + 4 * 3600 + 59 * 60 + 59;
    store
        .track(&[purchase("P1", nov_24_last_second)], NOW)
        .unwrap();

    let activity = store.pool_activity("p", 3, NOW).unwrap();
    assert_eq!(activity.pool, "p");
    assert_eq!(
        activity.days,
        vec![
            day("2025-11-23", 2, 0),
            day("2025-11-24", 0, 1),
            day("2025-11-25", 1, 0),
        ]
    );
    // A shorter window leaves out what came before it, and lists every day.
    assert_eq!(
        store.pool_activity("p", 2, NOW).unwrap().days,
        vec![day("2025-11-24", 0, 1), day("2025-11-25", 1, 0)]
    );
    let month = store.pool_activity("p", 30, NOW).unwrap().days;
    assert_eq!(month.len(), 30);
    assert_eq!(month[0].date, "2025-10-27");
    assert_eq!(month.iter().map(|d| d.assigned).sum::<i64>(), 3);
    assert_eq!(month.iter().map(|d| d.redeemed).sum::<i64>(), 1);
}

#[test]
fn refuses_bad_windows_and_unknown_pools() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = Store::new(&db);
    store.migrate().unwrap();
    store.put_pool("p", &PoolSettings::default(), NOW).unwrap();
    for days in [0, 367] {
        let err = store.pool_activity("p", days, NOW).unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "invalid_days"));
    }
    assert_eq!(store.pool_activity("p", 366, NOW).unwrap().days.len(), 366);
    let err = store.pool_activity("nope", 30, NOW).unwrap_err();
    assert_eq!((err.status(), err.code()), (404, "unknown_pool"));
}
