//! Displays that share one store call (`Command::ReserveEach`): each has
//! its own transaction and answer, whatever the others of the call do.
//! Sent and answered as JSON, as the Worker sends them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::common::{layer_taking, store_with, take, NOW};
use codepool::api::command::{run, Call, Command};
use codepool::layer::{Assignment, LayerSettings};
use codepool::render::{Reservation, ReservationRequest, Source};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;
use codepool::Error;

/// Sends one `ReserveEach` call through the command protocol, as JSON both
/// ways, and reads its answers.
fn reserve_each(
    store: &Store<'_, NativeDatabase>,
    requests: Vec<ReservationRequest>,
) -> Vec<Result<Reservation, Error>> {
    let call = Call {
        key: None,
        command: Cow::Owned(Command::ReserveEach { requests }),
    };
    let call: Call = serde_json::from_str(&serde_json::to_string(&call).unwrap()).unwrap();
    let answer = run(store, &call, NOW).answer.unwrap();
    serde_json::from_str(&answer).unwrap()
}

fn display(layer: &str, customer: &str, version: i64) -> ReservationRequest {
    let mut request = take(
        &format!("{layer}-pool"),
        1,
        customer,
        Source::Layer(layer.into()),
    );
    request.layer_version = Some(version);
    request
}

#[test]
fn one_call_mixing_layers_pools_repeats_a_short_pool_and_a_stale_version() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(
        &db,
        &[
            ("shirts-pool", &["S1", "S2", "S3"][..]),
            ("loyal-pool", &["L1", "L2"][..]),
            ("empty-pool", &[][..]),
        ],
    );
    // Each layer `name` takes one code of pool `name-pool`; its version.
    let layer = |name: &str, assignment| {
        let settings = layer_taking(&format!("{name}-pool"), assignment);
        store.put_layer(name, &settings, NOW).unwrap().version
    };
    let shirts = layer("shirts", Assignment::PerDisplay);
    let empty = layer("empty", Assignment::PerDisplay);
    // Saved twice: a display planned with the first version is stale.
    let stale = layer("loyal", Assignment::PerCustomer);
    let loyal = layer("loyal", Assignment::PerCustomer);

    let answers = reserve_each(
        &store,
        vec![
            display("shirts", "v1", shirts),
            display("loyal", "ada", loyal),
            display("empty", "v2", empty),
            display("loyal", "bob", stale),
            display("shirts", "v3", shirts),
            // The same per_customer customer again in the same call.
            display("loyal", "ada", loyal),
            display("nowhere", "v4", 1),
        ],
    );
    let codes = |answer: &Result<Reservation, Error>| -> Vec<String> {
        answer
            .as_ref()
            .unwrap()
            .codes
            .values()
            .flatten()
            .cloned()
            .collect()
    };
    assert_eq!(answers.len(), 7);
    assert_eq!(codes(&answers[0]), ["S1"]);
    assert_eq!(codes(&answers[1]), ["L1"]);
    // Short: nothing taken, the render suppresses itself.
    let short = answers[2].as_ref().unwrap();
    assert_eq!(short.short, ["empty-pool"]);
    assert!(short.codes.is_empty());
    assert_eq!(answers[3].as_ref().unwrap_err().code(), "layer_changed");
    assert_eq!(codes(&answers[4]), ["S2"]);
    // Ada met again gets her code, and it is not fresh.
    assert_eq!(codes(&answers[5]), ["L1"]);
    assert!(answers[5].as_ref().unwrap().fresh.is_empty());
    assert_eq!(answers[6].as_ref().unwrap_err().code(), "unknown_layer");

    // The refusals changed nothing: bob took no code, the counts add up.
    let loyal_pool = store.pool("loyal-pool", NOW).unwrap().counts;
    assert_eq!((loyal_pool.available, loyal_pool.assigned), (1, 1));
    let shirts_pool = store.pool("shirts-pool", NOW).unwrap().counts;
    assert_eq!((shirts_pool.available, shirts_pool.assigned), (1, 2));
    assert_eq!(store.pool("empty-pool", NOW).unwrap().counts.total, 0);
}

#[test]
fn a_display_that_fails_in_its_transaction_leaves_the_next_one_whole() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["A1", "A2"][..]), ("b", &["B1"][..])]);
    let both = LayerSettings {
        template: "{{ vouchers['a'].assign_available_code() }} {{ vouchers['b'].assign_available_code() }}"
            .into(),
        ..layer_taking("a", Assignment::PerDisplay)
    };
    let layer = store.put_layer("both", &both, NOW).unwrap();
    let request = |customer: &str| {
        let mut request = take("a", 1, customer, Source::Layer("both".into()));
        request.take = BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 1)]);
        request.layer_version = Some(layer.version);
        request
    };
    // The second display finds `b` empty: all or nothing for it alone.
    let answers = reserve_each(&store, vec![request("c1"), request("c2")]);
    assert_eq!(answers[0].as_ref().unwrap().fresh.len(), 2);
    assert_eq!(answers[1].as_ref().unwrap().short, ["b"]);
    assert!(answers[1].as_ref().unwrap().fresh.is_empty());
    assert_eq!(store.pool("a", NOW).unwrap().counts.available, 1);
}
