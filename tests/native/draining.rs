//! Pools that cannot be drained, layers that can be deleted, and free JSON
//! that cannot break a later read: on native SQLite.

use std::collections::BTreeMap;

use codepool::api::Command;
use codepool::campaign::{CampaignJob, CampaignSend};
use codepool::event::events_from_body;
use codepool::input::json::MAX_DEPTH;
use codepool::layer::signature::{sign_customer, sign_customer_until};
use codepool::layer::LayerSettings;
use codepool::pool::CodeQuery;
use codepool::project::settings::Settings;
use codepool::render::request::RenderRequest;
use codepool::render::{Limits, ReservationRequest, Source, Template};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;
use serde_json::{json, Value};

use crate::common::{store_with, NOW};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// `NOW` in Unix seconds, as `exp` is written.
const NOW_SECS: i64 = NOW / 1000;

fn layer(body: Value) -> LayerSettings {
    serde_json::from_value(body).unwrap()
}

/// A display of layer `name` (at `version`) taking one code of pool `a`.
fn display(name: &str, version: i64, customer: Option<&str>) -> ReservationRequest {
    ReservationRequest {
        customer_id: customer.map(str::to_owned),
        source: Source::Layer(name.to_owned()),
        layer_version: Some(version),
        customer_signature: None,
        signature_expiry: None,
        take: BTreeMap::from([("a".to_owned(), 1)]),
        count: vec!["a".to_owned()],
        release: vec![],
    }
}

fn available(store: &Store<'_, NativeDatabase>) -> i64 {
    store.pool("a", NOW).unwrap().counts.available
}

/// A value of `n` arrays around a number.
fn nested(n: usize) -> Value {
    (0..n).fold(json!(1), |inner, _| json!([inner]))
}

#[test]
fn a_per_customer_layer_without_a_customer_id_takes_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["1", "2", "3"])]);
    let template = "{{ vouchers['a'].assign_available_code() }}";
    let l = store
        .put_layer(
            "l",
            &layer(json!({"template": template, "assignment": "per_customer"})),
            NOW,
        )
        .unwrap();
    for customer in [None, Some("")] {
        let err = store
            .reserve(&display("l", l.version, customer), NOW)
            .unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "missing_customer_id"));
    }
    assert_eq!(available(&store), 3, "nothing taken");
    // With an id: one code, the same one every time.
    for _ in 0..3 {
        let got = store
            .reserve(&display("l", l.version, Some("ada")), NOW)
            .unwrap();
        assert_eq!(got.codes["a"], ["1"]);
    }
    assert_eq!(available(&store), 2);
    // A per_display layer still serves anonymous visitors.
    let d = store
        .put_layer("d", &layer(json!({"template": template})), NOW)
        .unwrap();
    assert!(store.reserve(&display("d", d.version, None), NOW).is_ok());
}

#[test]
fn a_signed_id_with_expiry_works_until_then() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["1", "2", "3", "4", "5"])]);
    store
        .put_settings(&Settings {
            redemption: None,
            customer_signing_key: Some(KEY.into()),
            ..Default::default()
        })
        .unwrap();
    let template = "{{ vouchers['a'].assign_available_code() }}";
    let open = store
        .put_layer(
            "open",
            &layer(json!({"template": template, "signed_customer": true})),
            NOW,
        )
        .unwrap();
    let strict = store
        .put_layer(
            "strict",
            &layer(json!({"template": template, "signed_customer": true, "require_expiry": true})),
            NOW,
        )
        .unwrap();
    assert!(strict.require_expiry && strict.signed_customer);
    let signed = |name: &str, version, sig: String, exp: Option<i64>| ReservationRequest {
        customer_signature: Some(sig),
        signature_expiry: exp,
        ..display(name, version, Some("ada"))
    };
    let exp = NOW_SECS + 300;
    let fresh = sign_customer_until(KEY, "ada", exp);
    for (name, version) in [("open", open.version), ("strict", strict.version)] {
        let ok = store.reserve(&signed(name, version, fresh.clone(), Some(exp)), NOW);
        assert!(ok.is_ok(), "{name}: {ok:?}");
        // The same pair after its exp: refused, nothing taken.
        let before = available(&store);
        let late = NOW + 301_000;
        let err = store
            .reserve(&signed(name, version, fresh.clone(), Some(exp)), late)
            .unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (403, "customer_signature_expired")
        );
        assert_eq!(available(&store), before);
    }
    // A signature over the id alone: still good where no expiry is required.
    let legacy = sign_customer(KEY, "ada");
    assert!(store
        .reserve(&signed("open", open.version, legacy.clone(), None), NOW)
        .is_ok());
    let err = store
        .reserve(&signed("strict", strict.version, legacy, None), NOW)
        .unwrap_err();
    assert_eq!(err.code(), "invalid_customer_signature");
}

#[test]
fn a_deleted_layer_is_gone_and_its_codes_stay_assigned() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["1", "2", "3"])]);
    let settings = layer(json!({"template": "{{ vouchers['a'].assign_available_code() }}"}));
    store.put_layer("l", &settings, NOW).unwrap();
    let v2 = store.put_layer("l", &settings, NOW).unwrap();
    assert_eq!(v2.version, 2);
    store
        .reserve(&display("l", v2.version, Some("ada")), NOW)
        .unwrap();

    let deleted = store.delete_layer("l").unwrap();
    assert_eq!(deleted, v2, "answers the layer as it was");
    assert_eq!(store.layer("l").unwrap_err().code(), "unknown_layer");
    assert!(store.layers().unwrap().is_empty());
    assert_eq!(store.delete_layer("l").unwrap_err().status(), 404);
    // A display planned with the deleted layer: 404, nothing taken.
    let err = store
        .reserve(&display("l", v2.version, Some("bob")), NOW)
        .unwrap_err();
    assert_eq!(err.code(), "unknown_layer");
    assert_eq!(available(&store), 2);
    // Its code stays assigned, with its source.
    let page = store
        .codes(
            "a",
            &CodeQuery {
                state: None,
                cursor: None,
                limit: 10,
            },
            NOW,
        )
        .unwrap();
    let assigned: Vec<_> = page
        .codes
        .iter()
        .filter(|c| c.customer_id.is_some())
        .map(|c| {
            (
                c.code.as_str(),
                c.customer_id.as_deref(),
                c.source.as_deref(),
            )
        })
        .collect();
    assert_eq!(assigned, [("1", Some("ada"), Some("layer:l"))]);

    // Created again, it goes on from the deleted one's version, so a
    // compile of the old layer (version 2) is refused as changed.
    let again = store.put_layer("l", &settings, NOW).unwrap();
    assert_eq!(again.version, 3);
    let err = store
        .reserve(&display("l", v2.version, Some("bob")), NOW)
        .unwrap_err();
    assert_eq!(err.code(), "layer_changed");
    assert!(store
        .reserve(&display("l", again.version, Some("bob")), NOW)
        .is_ok());
}

#[test]
fn deep_or_large_variables_are_refused_and_nothing_is_stored() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["1"])]);
    let ok = store
        .put_layer(
            "l",
            &layer(json!({"template": "x", "variables": {"v": nested(MAX_DEPTH - 1)}})),
            NOW,
        )
        .unwrap();
    for (variables, code) in [
        (json!({"v": nested(MAX_DEPTH)}), "json_too_deep"),
        (json!({"v": nested(124)}), "json_too_deep"),
        (json!({"v": nested(125)}), "json_too_deep"),
        (json!({"copy": "x".repeat(70_000)}), "variables_too_large"),
    ] {
        let settings = layer(json!({"template": "y", "variables": variables}));
        assert_eq!(
            store.put_layer("l", &settings, NOW).unwrap_err().code(),
            code
        );
        assert_eq!(
            store.put_layer("new", &settings, NOW).unwrap_err().code(),
            code
        );
    }
    assert_eq!(store.layers().unwrap(), [ok]);
}

#[test]
fn other_free_json_is_bounded_before_it_goes_anywhere() {
    let deep = nested(MAX_DEPTH);
    // POST /render: the context.
    let render: RenderRequest =
        serde_json::from_value(json!({"template": "x", "context": {"v": deep}})).unwrap();
    assert_eq!(render.check().unwrap_err().code(), "json_too_deep");
    let render: RenderRequest =
        serde_json::from_value(json!({"template": "x", "context": {"v": nested(MAX_DEPTH - 1)}}))
            .unwrap();
    assert!(render.check().is_ok());
    // A campaign's customer attributes.
    let template = Template::compile("x", Limits::default()).unwrap();
    let send: CampaignSend = serde_json::from_value(json!({
        "template": "x",
        "customers": [{"id": "a"}, {"id": "b", "attributes": {"v": deep}}],
    }))
    .unwrap();
    let err = CampaignJob::new(&template, "c", send).err().unwrap();
    assert_eq!(err.code(), "json_too_deep");
    assert!(err.message().contains("\"b\""), "{}", err.message());
    // Tracked events: properties, and a timestamp that is no scalar.
    let event = |properties: Value, timestamp: Value| {
        json!([{"customer_id": "a", "type": "t"},
               {"customer_id": "a", "type": "t", "properties": properties, "timestamp": timestamp}])
    };
    let err = events_from_body(event(json!({"v": deep}), Value::Null)).unwrap_err();
    assert_eq!(err.code(), "json_too_deep");
    assert!(err.message().contains("event 1"), "{}", err.message());
    let err = events_from_body(event(json!({}), nested(125))).unwrap_err();
    assert_eq!(err.code(), "invalid_event");
}

#[test]
fn every_body_accepted_fits_the_command_to_the_store() {
    // The deepest layer and events accepted, wrapped in the commands the
    // Worker sends, read back: the store can always decode them.
    let settings = layer(json!({"template": "x", "variables": {"v": nested(MAX_DEPTH - 1)}}));
    settings.check().unwrap();
    let events = events_from_body(json!({"events": [
        {"customer_id": "a", "type": "t", "properties": {"v": nested(MAX_DEPTH - 1)}}
    ]}))
    .unwrap();
    for command in [
        Command::PutLayer {
            layer: "l".into(),
            settings,
        },
        Command::Track { events },
    ] {
        let wire = serde_json::to_string(&command).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&wire).unwrap(), command);
    }
}
