//! Alerts (issue 16, part 3) on real SQLite: fired once per crossing and
//! re-armed by a refill, by counts, percentages and expiries, from every
//! path that changes counts; the event log and the outbox; deliveries
//! claimed, retried by the schedule and given up; the webhook settings.

use std::collections::BTreeMap;

use codepool::alert::delivery::{retry_delay, MAX_ATTEMPTS};
use codepool::alert::signature::verify;
use codepool::alert::{
    AlertBody, AlertKind, AlertSettings, Arming, DeliveryPolicy, DeliveryStatus, Outcome,
};
use codepool::campaign::{CampaignReservationRequest, CustomerNeeds};
use codepool::event::{EventFilter, LoggedEvent};
use codepool::layer::Assignment;
use codepool::pool::PoolSettings;
use codepool::project::settings::{Settings, SettingsView};
use codepool::render::Source;
use codepool::store::sqlite::NativeDatabase;
use codepool::store::{Database, Store};
use codepool::ErrorKind;
use serde_json::json;

use crate::common::{store_with, take, NOW};
use crate::dispenser::Local;

const SECRET: &str = "whsec-0123456789abcdef0123456789abcdef";
const DAY: i64 = 86_400_000;

fn codes(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

fn alerts(value: serde_json::Value) -> PoolSettings {
    PoolSettings {
        alerts: Some(serde_json::from_value(value).unwrap()),
        ..PoolSettings::default()
    }
}

fn with_webhook(store: &Store<'_, NativeDatabase>) {
    store
        .put_settings(&Settings {
            webhook_url: Some("https://hooks.example/codepool".into()),
            webhook_secret: Some(SECRET.into()),
            ..Settings::default()
        })
        .unwrap();
}

/// Takes one code of `pool`, as a display of no layer does.
fn take_one(store: &Store<'_, NativeDatabase>, pool: &str, i: usize, now: i64) {
    let reservation = store
        .reserve(&take(pool, 1, &format!("c{i}"), Source::Render), now)
        .unwrap();
    assert!(reservation.is_complete(), "{pool} ran out at {i}");
}

fn import(store: &Store<'_, NativeDatabase>, pool: &str, codes: &[String], now: i64) {
    let id = store.begin_import(pool, now).unwrap();
    store.import_batch(pool, id, codes).unwrap();
}

/// The log's `alert` entries, oldest first.
fn alert_log(store: &Store<'_, NativeDatabase>) -> Vec<LoggedEvent> {
    let mut events = store
        .events(&EventFilter {
            event_type: Some("alert".into()),
            limit: Some(1000),
            ..EventFilter::default()
        })
        .unwrap()
        .events;
    events.reverse();
    events
}

fn statuses(events: &[LoggedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.status.clone().unwrap_or_default())
        .collect()
}

fn state(store: &Store<'_, NativeDatabase>, pool: &str, kind: AlertKind) -> Arming {
    store.pool(pool, NOW).unwrap().alert_state[&kind].state
}

fn outbox(db: &NativeDatabase) -> Vec<(String, i64, i64)> {
    db.query(
        "SELECT kind, attempts, next_at FROM alert_outbox ORDER BY id",
        &[],
    )
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r[0].as_opt_str().unwrap().to_owned(),
            r[1].as_i64(),
            r[2].as_i64(),
        )
    })
    .collect()
}

#[test]
fn low_stock_fires_once_per_crossing_however_many_reservations_follow() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 20))]);
    let pool = store
        .put_pool("p", &alerts(json!({"low_stock": 5})), NOW)
        .unwrap();
    assert_eq!(pool.alert_state[&AlertKind::LowStock].state, Arming::Armed);
    for i in 0..14 {
        take_one(&store, "p", i, NOW + i as i64);
        assert!(alert_log(&store).is_empty(), "fired with {} left", 19 - i);
    }
    take_one(&store, "p", 14, NOW + 14); // 5 left: the crossing
    for i in 15..20 {
        take_one(&store, "p", i, NOW + i as i64);
    }
    let log = alert_log(&store);
    assert_eq!(statuses(&log), ["low_stock", "skipped"]);
    let body: AlertBody = serde_json::from_value(log[0].properties.clone()).unwrap();
    assert_eq!(body.alert, AlertKind::LowStock);
    assert_eq!(body.pool, "p");
    assert_eq!(body.id, format!("alert_{}", log[0].id));
    assert_eq!((body.counts.unassigned, body.counts.counts.total), (5, 20));
    assert_eq!(body.threshold, Some(5));
    assert_eq!(body.setting, json!(5));
    assert_eq!(body.fired_at, codepool::time::rfc3339(NOW + 14));
    // No webhook: logged, and the delivery skipped, said so.
    assert_eq!(log[1].properties["alert_id"], json!(body.id));
    assert!(log[1].properties["error"]
        .as_str()
        .unwrap()
        .contains("no webhook_url"));
    let shown = store.pool("p", NOW).unwrap();
    let low = &shown.alert_state[&AlertKind::LowStock];
    assert_eq!((low.state, low.fired), (Arming::Fired, 1));
    assert_eq!(
        low.delivery.as_ref().unwrap().status,
        DeliveryStatus::Skipped
    );
    assert!(db
        .query("SELECT 1 FROM alert_outbox", &[])
        .unwrap()
        .is_empty());
    assert_eq!(store.audit().unwrap(), Vec::<String>::new());
}

#[test]
fn a_refill_rearms_and_the_next_crossing_fires_again() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 10))]);
    store
        .put_pool(
            "p",
            &alerts(json!({"low_stock": 3, "out_of_codes": true})),
            NOW,
        )
        .unwrap();
    for i in 0..10 {
        take_one(&store, "p", i, NOW);
    }
    assert_eq!(
        statuses(&alert_log(&store)),
        ["low_stock", "skipped", "out_of_codes", "skipped"]
    );
    // A refill to 2 is still low: nothing re-arms low_stock, out_of_codes is.
    import(&store, "p", &codes("Q", 2), NOW + 1);
    assert_eq!(state(&store, "p", AlertKind::LowStock), Arming::Fired);
    assert_eq!(state(&store, "p", AlertKind::OutOfCodes), Arming::Armed);
    // Past the threshold: re-armed, with the time.
    import(&store, "p", &codes("R", 8), NOW + 2);
    let shown = store.pool("p", NOW).unwrap();
    let low = &shown.alert_state[&AlertKind::LowStock];
    assert_eq!(low.state, Arming::Armed);
    assert_eq!(
        low.rearmed_at.as_deref(),
        Some(&*codepool::time::rfc3339(NOW + 2))
    );
    for i in 0..10 {
        take_one(&store, "p", 100 + i, NOW + 3);
    }
    let log = alert_log(&store);
    let fired: Vec<String> = statuses(&log)
        .into_iter()
        .filter(|s| s != "skipped")
        .collect();
    assert_eq!(
        fired,
        ["low_stock", "out_of_codes", "low_stock", "out_of_codes"]
    );
    assert_eq!(
        store.pool("p", NOW).unwrap().alert_state[&AlertKind::LowStock].fired,
        2
    );
}

#[test]
fn a_render_that_gives_its_codes_back_rearms() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 4))]);
    store
        .put_pool("p", &alerts(json!({"low_stock": 3})), NOW)
        .unwrap();
    let taken = store
        .reserve(&take("p", 1, "ada", Source::Render), NOW)
        .unwrap();
    assert_eq!(state(&store, "p", AlertKind::LowStock), Arming::Fired);
    let mut back = take("p", 0, "ada", Source::Render);
    back.take.clear();
    back.release = taken.fresh.clone();
    store.reserve(&back, NOW + 1).unwrap();
    assert_eq!(state(&store, "p", AlertKind::LowStock), Arming::Armed);
}

#[test]
fn a_percentage_of_the_total() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 200))]);
    let pool = store
        .put_pool("p", &alerts(json!({"low_stock": "12.5%"})), NOW)
        .unwrap();
    assert_eq!(
        serde_json::to_value(pool.settings.alerts.unwrap()).unwrap(),
        json!({"low_stock": "12.5%"})
    );
    for i in 0..174 {
        take_one(&store, "p", i, NOW); // 26 left: above 25
    }
    assert!(alert_log(&store).is_empty());
    take_one(&store, "p", 174, NOW); // 25 left: 12.5% of 200
    let log = alert_log(&store);
    assert_eq!(log[0].properties["threshold"], json!(25));
    assert_eq!(log[0].properties["setting"], json!("12.5%"));
}

#[test]
fn out_of_codes_fires_when_the_last_code_goes_and_not_for_a_new_pool() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with::<String>(&db, &[]);
    // A new, empty pool holds the condition without firing.
    let pool = store
        .put_pool(
            "p",
            &alerts(json!({"out_of_codes": true, "low_stock": 10})),
            NOW,
        )
        .unwrap();
    assert_eq!(
        pool.alert_state[&AlertKind::OutOfCodes].state,
        Arming::Unarmed
    );
    import(&store, "p", &codes("P", 3), NOW);
    // 3 codes, low stock 10: never above it, no crossing.
    assert_eq!(state(&store, "p", AlertKind::LowStock), Arming::Unarmed);
    assert_eq!(state(&store, "p", AlertKind::OutOfCodes), Arming::Armed);
    for i in 0..3 {
        take_one(&store, "p", i, NOW);
    }
    assert_eq!(statuses(&alert_log(&store)), ["out_of_codes", "skipped"]);
    let body = &alert_log(&store)[0].properties;
    assert_eq!(body["threshold"], json!(0));
    assert_eq!(body["counts"]["unassigned"], json!(0));
    assert_eq!(body["counts"]["assigned"], json!(3));
}

#[test]
fn setting_a_threshold_on_a_pool_already_past_it_fires_at_once() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 5))]);
    store
        .put_pool("p", &alerts(json!({"low_stock": 10})), NOW)
        .unwrap();
    assert_eq!(statuses(&alert_log(&store)), ["low_stock", "skipped"]);
    // Saved again unchanged, or with another threshold still past: no second alert.
    store
        .put_pool("p", &alerts(json!({"low_stock": 10})), NOW)
        .unwrap();
    store
        .put_pool("p", &alerts(json!({"low_stock": 8})), NOW)
        .unwrap();
    assert_eq!(alert_log(&store).len(), 2);
    // Removed and set again: a new alert.
    store.put_pool("p", &PoolSettings::default(), NOW).unwrap();
    assert!(store.pool("p", NOW).unwrap().alert_state.is_empty());
    store
        .put_pool("p", &alerts(json!({"low_stock": 10})), NOW)
        .unwrap();
    assert_eq!(alert_log(&store).len(), 4);
}

#[test]
fn a_campaign_fires_once_for_its_whole_send() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 10))]);
    store
        .put_pool(
            "p",
            &alerts(json!({"low_stock": 5, "out_of_codes": true})),
            NOW,
        )
        .unwrap();
    let request = CampaignReservationRequest {
        campaign: "spring".into(),
        customers: (0..12)
            .map(|i| CustomerNeeds {
                customer_id: format!("c{i}"),
                take: BTreeMap::from([("p".to_owned(), 1)]),
                error: None,
            })
            .collect(),
    };
    store.reserve_campaign(&request, NOW).unwrap();
    let fired: Vec<String> = statuses(&alert_log(&store))
        .into_iter()
        .filter(|s| s != "skipped")
        .collect();
    assert_eq!(fired, ["low_stock", "out_of_codes"]);
}

#[test]
fn codes_dispensers_report_handed_out_fire() {
    let local = Local::new(6, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    store
        .put_pool("p", &alerts(json!({"out_of_codes": true})), NOW)
        .unwrap();
    for i in 0..6 {
        let mut request = take("p", 1, &format!("c{i}"), Source::Layer("l".into()));
        request.layer_version = Some(1);
        local.display(0, &request, NOW + i).unwrap();
    }
    // Leased codes count as left until the dispenser reports them.
    assert_eq!(state(&store, "p", AlertKind::OutOfCodes), Arming::Armed);
    local.flush(0, NOW + 2_000).unwrap();
    assert_eq!(state(&store, "p", AlertKind::OutOfCodes), Arming::Fired);
    assert_eq!(statuses(&alert_log(&store)), ["out_of_codes", "skipped"]);
}

#[test]
fn near_expiry_of_the_pool_fires_when_time_brings_it_within_the_window() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 5))]);
    let settings = PoolSettings {
        expires_at: Some(codepool::time::rfc3339(NOW + 10 * DAY)),
        ..alerts(json!({"near_expiry": "1w"}))
    };
    let pool = store.put_pool("p", &settings, NOW).unwrap();
    assert_eq!(
        serde_json::to_value(pool.settings.alerts.unwrap()).unwrap(),
        json!({"near_expiry": "7d"})
    );
    assert_eq!(
        pool.alert_state[&AlertKind::NearExpiry].state,
        Arming::Armed
    );
    // The alarm is wanted when the expiry comes within 7 days.
    assert!(store.wants_alarm());
    assert_eq!(store.next_wake().unwrap(), Some(NOW + 3 * DAY));
    store.alert_tick(NOW + 3 * DAY - 1).unwrap();
    assert!(alert_log(&store).is_empty());
    store.alert_tick(NOW + 3 * DAY).unwrap();
    let log = alert_log(&store);
    assert_eq!(statuses(&log), ["near_expiry", "skipped"]);
    assert_eq!(
        log[0].properties["earliest_expiry"],
        json!(codepool::time::rfc3339(NOW + 10 * DAY))
    );
    assert_eq!(log[0].properties["setting"], json!("7d"));
    // Fired: looked at again when the pool expires.
    assert_eq!(store.next_wake().unwrap(), Some(NOW + 10 * DAY));
    // The expiry extended: re-armed when saved.
    let settings = PoolSettings {
        expires_at: Some(codepool::time::rfc3339(NOW + 60 * DAY)),
        ..alerts(json!({"near_expiry": "7d"}))
    };
    store.put_pool("p", &settings, NOW + 4 * DAY).unwrap();
    assert_eq!(state(&store, "p", AlertKind::NearExpiry), Arming::Armed);
    assert_eq!(store.next_wake().unwrap(), Some(NOW + 53 * DAY));
}

#[test]
fn near_expiry_of_codes_fires_and_rearms_once_they_are_gone() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 3))]);
    store
        .put_pool("p", &alerts(json!({"near_expiry": "7d"})), NOW)
        .unwrap();
    assert_eq!(store.next_wake().unwrap(), None, "nothing expires");
    // Two codes of an import expire in 2 days (as the validity work stores
    // them: codes.expires_at); the import has the alarm look at once.
    let soon = codes("S", 2);
    import(&store, "p", &soon, NOW);
    db.execute(
        "UPDATE codes SET expires_at = ?1 WHERE code LIKE 'S%'",
        &[(NOW + 2 * DAY).into()],
    )
    .unwrap();
    assert_eq!(store.next_wake().unwrap(), Some(NOW));
    store.alert_tick(NOW + 5).unwrap();
    let log = alert_log(&store);
    assert_eq!(statuses(&log), ["near_expiry", "skipped"]);
    assert_eq!(
        log[0].properties["earliest_expiry"],
        json!(codepool::time::rfc3339(NOW + 2 * DAY))
    );
    // Handed out (first in, first out: P codes, then S): the earliest expiry
    // goes with them; the check when they would have expired re-arms.
    for i in 0..5 {
        take_one(&store, "p", i, NOW + 10);
    }
    assert_eq!(state(&store, "p", AlertKind::NearExpiry), Arming::Fired);
    assert_eq!(store.next_wake().unwrap(), Some(NOW + 2 * DAY));
    store.alert_tick(NOW + 2 * DAY).unwrap();
    assert_eq!(state(&store, "p", AlertKind::NearExpiry), Arming::Armed);
    assert_eq!(store.next_wake().unwrap(), None);
}

#[test]
fn a_fired_alert_goes_to_the_outbox_and_its_delivery_is_signed_and_logged() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 3))]);
    with_webhook(&store);
    store
        .put_pool("p", &alerts(json!({"low_stock": 2})), NOW)
        .unwrap();
    assert!(!store.wants_alarm());
    take_one(&store, "p", 0, NOW + 1);
    assert!(store.wants_alarm());
    assert_eq!(outbox(&db), [("low_stock".to_owned(), 0, NOW + 1)]);
    assert_eq!(store.next_wake().unwrap(), Some(NOW + 1));
    assert_eq!(
        store.pool("p", NOW).unwrap().alert_state[&AlertKind::LowStock]
            .delivery
            .as_ref()
            .unwrap()
            .status,
        DeliveryStatus::Pending
    );

    let policy = DeliveryPolicy::default();
    assert!(store
        .claim_deliveries("shop", NOW, &policy)
        .unwrap()
        .is_empty());
    let due = store.claim_deliveries("shop", NOW + 1, &policy).unwrap();
    assert_eq!(due.len(), 1);
    let delivery = &due[0];
    assert_eq!(
        (delivery.url.as_str(), delivery.attempt),
        ("https://hooks.example/codepool", 1)
    );
    let body: AlertBody = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(body.project.as_deref(), Some("shop"));
    assert_eq!(body.id, delivery.alert_id);
    let headers: BTreeMap<_, _> = delivery.headers(1_764_097_201).into_iter().collect();
    assert_eq!(headers["x-codepool-timestamp"], "1764097201");
    assert!(verify(
        SECRET,
        1_764_097_201,
        &delivery.body,
        &headers["x-codepool-signature"]
    ));
    // Claimed: not due again until the claim lapses.
    assert_eq!(outbox(&db)[0].2, NOW + 1 + policy.claim_ms());
    assert!(store
        .claim_deliveries("shop", NOW + 2, &policy)
        .unwrap()
        .is_empty());

    store
        .record_delivery(
            delivery.outbox_id,
            &Outcome::of_status(204),
            NOW + 3,
            &policy,
        )
        .unwrap();
    assert!(outbox(&db).is_empty());
    assert_eq!(store.next_wake().unwrap(), None);
    let log = alert_log(&store);
    assert_eq!(statuses(&log), ["low_stock", "delivered"]);
    assert_eq!(log[1].properties["http_status"], json!(204));
    assert_eq!(log[1].properties["attempts"], json!(1));
    let shown = store.pool("p", NOW).unwrap();
    let delivered = shown.alert_state[&AlertKind::LowStock]
        .delivery
        .clone()
        .unwrap();
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.attempts, 1);
    // Recorded twice (an alarm run again): nothing more.
    store
        .record_delivery(
            delivery.outbox_id,
            &Outcome::of_status(204),
            NOW + 4,
            &policy,
        )
        .unwrap();
    assert_eq!(alert_log(&store).len(), 2);
}

#[test]
fn failed_deliveries_are_retried_by_the_schedule_then_given_up() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 2))]);
    with_webhook(&store);
    store
        .put_pool("p", &alerts(json!({"out_of_codes": true})), NOW)
        .unwrap();
    take_one(&store, "p", 0, NOW);
    take_one(&store, "p", 1, NOW);
    let policy = DeliveryPolicy {
        retry_base_ms: 100,
        timeout_ms: 50,
    };
    let mut now = NOW;
    let mut waits = Vec::new();
    for attempt in 1..=MAX_ATTEMPTS {
        let due = store.claim_deliveries("shop", now, &policy).unwrap();
        assert_eq!(due.len(), 1, "attempt {attempt}");
        assert_eq!(due[0].attempt, attempt);
        let failed = if attempt % 2 == 0 {
            Outcome::of_status(500)
        } else {
            Outcome::Failed {
                status: None,
                error: "no answer within 50 ms".into(),
            }
        };
        store
            .record_delivery(due[0].outbox_id, &failed, now, &policy)
            .unwrap();
        match store.next_wake().unwrap() {
            Some(next) => {
                waits.push(next - now);
                now = next;
            }
            None => assert_eq!(attempt, MAX_ATTEMPTS),
        }
    }
    let expected: Vec<i64> = (1..MAX_ATTEMPTS)
        .map(|n| retry_delay(n, 100).unwrap())
        .collect();
    assert_eq!(waits, expected);
    assert_eq!(waits, [100, 300, 1_200, 6_000, 36_000]);
    let log = alert_log(&store);
    assert_eq!(
        statuses(&log),
        [
            "out_of_codes",
            "retrying",
            "retrying",
            "retrying",
            "retrying",
            "retrying",
            "failed"
        ]
    );
    assert_eq!(log[2].properties["http_status"], json!(500));
    assert_eq!(log[6].properties["attempts"], json!(MAX_ATTEMPTS));
    assert!(outbox(&db).is_empty());
    let shown = store.pool("p", NOW).unwrap();
    let delivery = shown.alert_state[&AlertKind::OutOfCodes]
        .delivery
        .clone()
        .unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_eq!(
        delivery.last_error.as_deref(),
        Some("the webhook answered 500")
    );
}

#[test]
fn a_delivery_cut_off_by_a_restart_is_made_again_when_its_claim_lapses() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 1))]);
    with_webhook(&store);
    store
        .put_pool("p", &alerts(json!({"out_of_codes": true})), NOW)
        .unwrap();
    take_one(&store, "p", 0, NOW);
    let policy = DeliveryPolicy::default();
    let first = store.claim_deliveries("shop", NOW, &policy).unwrap();
    // No outcome recorded (the instance died with the POST out).
    let lapse = NOW + policy.claim_ms();
    assert_eq!(store.next_wake().unwrap(), Some(lapse));
    let again = store.claim_deliveries("shop", lapse, &policy).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].alert_id, first[0].alert_id);
    assert_eq!(again[0].attempt, 2);
}

#[test]
fn deliveries_due_after_the_webhook_was_removed_are_skipped() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 1))]);
    with_webhook(&store);
    store
        .put_pool("p", &alerts(json!({"out_of_codes": true})), NOW)
        .unwrap();
    take_one(&store, "p", 0, NOW);
    store.put_settings(&Settings::default()).unwrap();
    let due = store
        .claim_deliveries("shop", NOW, &DeliveryPolicy::default())
        .unwrap();
    assert!(due.is_empty());
    assert_eq!(statuses(&alert_log(&store)), ["out_of_codes", "skipped"]);
    assert!(outbox(&db).is_empty());
}

#[test]
fn err_alert_settings_are_refused_with_what_would_do() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with::<String>(&db, &[]);
    for bad in [
        json!({"low_stock": 0}),
        json!({"low_stock": -3}),
        json!({"low_stock": 2.5}),
        json!({"low_stock": "0%"}),
        json!({"low_stock": "100%"}),
        json!({"low_stock": "ten"}),
        json!({"low_stock": "10 %%"}),
        json!({"near_expiry": "7"}),
        json!({"near_expiry": "30m"}),
        json!({"near_expiry": "0d"}),
        json!({"near_expiry": "400d"}),
    ] {
        let err = store.put_pool("p", &alerts(bad.clone()), NOW).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidAlerts, "{bad}");
        assert_eq!(err.status(), 422);
        assert!(
            err.message().contains("alerts."),
            "{bad}: {}",
            err.message()
        );
    }
    // Refused before anything is stored.
    assert!(store.pools(NOW).unwrap().is_empty());
    // Unknown fields and wrong types are the body's shape.
    assert!(serde_json::from_value::<AlertSettings>(json!({"low": 1})).is_err());
    assert!(serde_json::from_value::<AlertSettings>(json!({"out_of_codes": "yes"})).is_err());
}

#[test]
fn err_webhook_settings() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with::<String>(&db, &[]);
    let put = |url: Option<&str>, secret: Option<&str>| {
        store.put_settings(&Settings {
            webhook_url: url.map(Into::into),
            webhook_secret: secret.map(Into::into),
            ..Settings::default()
        })
    };
    for (url, secret) in [
        (Some("ftp://example.com/hook"), Some(SECRET)),
        (Some("https://exa mple.com/"), Some(SECRET)),
        (Some("https://"), Some(SECRET)),
        (Some("https://example.com/hook"), Some("too-short")),
        // A URL needs a secret: none stored, none sent.
        (Some("https://example.com/hook"), None),
    ] {
        let err = put(url, secret).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSettings, "{url:?} {secret:?}");
    }
    assert_eq!(store.settings().unwrap(), Settings::default());
}

#[test]
fn the_webhook_secret_is_written_never_read_back() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with::<String>(&db, &[]);
    with_webhook(&store);
    let view = SettingsView::from(&store.settings().unwrap());
    assert!(view.webhook_secret_set);
    assert_eq!(
        view.webhook_url.as_deref(),
        Some("https://hooks.example/codepool")
    );
    let shown = serde_json::to_string(&view).unwrap();
    assert!(!shown.contains(SECRET), "{shown}");
    // The answer of the API's commands too.
    let answer =
        codepool::api::command::execute(&store, &codepool::api::Command::GetSettings, NOW).unwrap();
    assert!(!answer.contains(SECRET) && answer.contains("\"webhook_secret_set\":true"));
    // Absent keeps it (a new URL, no secret sent) ...
    store
        .put_settings(&Settings {
            webhook_url: Some("https://hooks.example/v2".into()),
            ..Settings::default()
        })
        .unwrap();
    assert_eq!(
        store.settings().unwrap().webhook_secret.as_deref(),
        Some(SECRET)
    );
    // ... "" removes it, which the URL cannot do without.
    let err = store
        .put_settings(&Settings {
            webhook_url: Some("https://hooks.example/v2".into()),
            webhook_secret: Some(String::new()),
            ..Settings::default()
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSettings);
    let cleared = store
        .put_settings(&Settings {
            webhook_secret: Some(String::new()),
            ..Settings::default()
        })
        .unwrap();
    assert_eq!((cleared.webhook_url, cleared.webhook_secret), (None, None));
}

#[test]
fn a_pool_without_alerts_shows_none_and_writes_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 3))]);
    for i in 0..3 {
        take_one(&store, "p", i, NOW);
    }
    let json = serde_json::to_value(store.pool("p", NOW).unwrap()).unwrap();
    assert!(json.get("alerts").is_none() && json.get("alert_state").is_none());
    assert!(db
        .query("SELECT 1 FROM alert_states", &[])
        .unwrap()
        .is_empty());
    assert!(alert_log(&store).is_empty());
    assert!(!store.wants_alarm());
}

#[test]
fn the_project_name_is_kept_for_alarms_that_come_without_it() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with::<String>(&db, &[]);
    assert_eq!(store.project_name().unwrap(), None);
    store.keep_project_name("shop").unwrap();
    store.keep_project_name("shop").unwrap();
    assert_eq!(store.project_name().unwrap().as_deref(), Some("shop"));
    // Not a setting: the settings read and written as before.
    assert_eq!(store.settings().unwrap(), Settings::default());
}

#[test]
fn a_pool_gone_leaves_its_alarm_nothing_to_do() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &codes("P", 2))]);
    with_webhook(&store);
    store
        .put_pool(
            "p",
            &alerts(json!({"out_of_codes": true, "near_expiry": "7d"})),
            NOW,
        )
        .unwrap();
    import(&store, "p", &codes("Q", 1), NOW); // a near-expiry check due
    take_one(&store, "p", 0, NOW);
    take_one(&store, "p", 1, NOW);
    take_one(&store, "p", 2, NOW); // a delivery due
    assert_eq!(store.next_wake().unwrap(), Some(NOW));
    // As a deletion of the pool would leave it (its rows gone, ids kept).
    db.execute("PRAGMA foreign_keys = OFF", &[]).unwrap();
    db.execute("DELETE FROM codes", &[]).unwrap();
    db.execute("DELETE FROM pools", &[]).unwrap();
    store.alert_tick(NOW).unwrap();
    let due = store
        .claim_deliveries("shop", NOW, &DeliveryPolicy::default())
        .unwrap();
    assert!(due.is_empty());
    assert_eq!(store.next_wake().unwrap(), None);
}
