//! What the native tests share: the clock, a store with pools of codes,
//! builders of the requests and events the tests send it, and the Worker's
//! stack.

use std::collections::BTreeMap;

use codepool::event::TrackedEvent;
use codepool::layer::{Assignment, LayerSettings};
use codepool::pool::PoolSettings;
use codepool::project::settings::{RedemptionMapping, Settings};
use codepool::render::{ReservationRequest, Source};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

/// The clock of the tests: 2025-11-25T19:00:00Z in Unix milliseconds.
pub const NOW: i64 = 1_764_097_200_000;

/// The Worker's WebAssembly stack is 1 MiB: a template that would overflow
/// it there must fail here too.
const WORKER_STACK: usize = 1024 * 1024;

/// A migrated store with these pools, each holding these codes (one import).
pub fn store_with<'a, S: AsRef<str>>(
    db: &'a NativeDatabase,
    pools: &[(&str, &[S])],
) -> Store<'a, NativeDatabase> {
    let store = Store::new(db);
    store.migrate().unwrap();
    for (pool, codes) in pools {
        store.put_pool(pool, &PoolSettings::default(), NOW).unwrap();
        let import = store.begin_import(pool, NOW).unwrap();
        let codes: Vec<String> = codes.iter().map(|c| c.as_ref().to_owned()).collect();
        store.import_batch(pool, import, &codes).unwrap();
    }
    store
}

/// A request for `n` codes of `pool` for `customer`, made by `source`.
pub fn take(pool: &str, n: usize, customer: &str, source: Source) -> ReservationRequest {
    ReservationRequest {
        customer_id: Some(customer.into()),
        source,
        layer_version: None,
        customer_signature: None,
        signature_expiry: None,
        take: BTreeMap::from([(pool.to_owned(), n)]),
        count: vec![],
        release: vec![],
    }
}

/// Makes `purchase` events redeem the code in their `voucher_code`.
pub fn redeem_purchases(store: &Store<'_, NativeDatabase>) {
    store
        .put_settings(&Settings {
            redemption: Some(RedemptionMapping {
                event_type: "purchase".into(),
                property: "voucher_code".into(),
                require_holder: false,
                rollback_event_type: None,
            }),
            customer_signing_key: None,
            ..Default::default()
        })
        .unwrap();
}

/// A purchase by `customer` with `code`, at `unix_seconds`; a total beside
/// the code, as a shop sends it.
pub fn purchase(customer: &str, code: &str, unix_seconds: i64) -> TrackedEvent {
    TrackedEvent {
        customer_id: customer.into(),
        event_type: "purchase".into(),
        timestamp: Some(serde_json::json!(unix_seconds)),
        properties: serde_json::json!({ "voucher_code": code, "total": 42.5 })
            .as_object()
            .cloned()
            .unwrap(),
    }
}

/// Runs `f` on a thread with the Worker's stack; `Err` is a panic's payload.
pub fn on_worker_stack<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::Result<T> {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(f)
        .expect("a thread starts")
        .join()
}

/// An active layer whose template takes one code of `pool`, as the tests
/// of reservations and listings need it.
pub fn layer_taking(pool: &str, assignment: Assignment) -> LayerSettings {
    LayerSettings {
        template: format!("{{{{ vouchers['{pool}'].assign_available_code() }}}}"),
        active: true,
        assignment,
        signed_customer: false,
        require_expiry: false,
        dispensers: 0,
        variables: Default::default(),
    }
}

/// Whether a file-driven suite (`import`, `templates`) rewrites its expected
/// files rather than checking them: `UPDATE_EXPECTED=1` (or `UPDATE_EXPECT=1`).
pub fn updating_expected() -> bool {
    ["UPDATE_EXPECTED", "UPDATE_EXPECT"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| v == "1"))
}

/// Fails on a companion file (one of `companions`, by extension) in `dir`
/// without its input file (`input` extension) beside it: a case renamed or
/// deleted and left behind.
pub fn assert_no_orphans(dir: &std::path::Path, input: &str, companions: &[&str]) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| companions.iter().any(|c| e == *c))
        {
            assert!(
                path.with_extension(input).exists(),
                "{} has no .{input} beside it",
                path.display()
            );
        }
    }
}
