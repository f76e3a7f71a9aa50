//! The store's statements on native SQLite: pools, imports, reservations.

use codepool::layer::{Assignment, LayerSettings};
use codepool::pool::PoolSettings;
use codepool::render::Source;
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

use crate::common::{layer_taking, store_with, take, NOW};

/// Owned codes, as an import takes them and a reservation answers them.
fn codes(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| c.to_string()).collect()
}

#[test]
fn codes_are_unique_per_project_across_pools() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = Store::new(&db);
    store.migrate().unwrap();
    store.put_pool("a", &PoolSettings::default(), NOW).unwrap();
    store.put_pool("b", &PoolSettings::default(), NOW).unwrap();
    let ia = store.begin_import("a", NOW).unwrap();
    let first = store
        .import_batch("a", ia, &codes(&["X", "Y", "X"]))
        .unwrap();
    assert_eq!(
        (
            first.imported,
            first.duplicates_in_file,
            first.already_in_project
        ),
        (2, 1, 0)
    );
    // A later batch of the same import repeating a code: a duplicate in the file.
    let again = store.import_batch("a", ia, &codes(&["Y", "Z"])).unwrap();
    assert_eq!(
        (
            again.imported,
            again.duplicates_in_file,
            again.already_in_project
        ),
        (1, 1, 0)
    );
    // Another pool's import: already in the project.
    let ib = store.begin_import("b", NOW).unwrap();
    let other = store.import_batch("b", ib, &codes(&["X", "W"])).unwrap();
    assert_eq!(
        (
            other.imported,
            other.duplicates_in_file,
            other.already_in_project
        ),
        (1, 0, 1)
    );
    assert_eq!(store.pool("a", NOW).unwrap().counts.total, 3);
    assert_eq!(store.pool("b", NOW).unwrap().counts.total, 1);
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn importing_the_same_codes_twice_changes_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = Store::new(&db);
    store.migrate().unwrap();
    store.put_pool("a", &PoolSettings::default(), NOW).unwrap();
    let batch = codes(&["1", "2", "3"]);
    let i1 = store.begin_import("a", NOW).unwrap();
    assert_eq!(store.import_batch("a", i1, &batch).unwrap().imported, 3);
    let i2 = store.begin_import("a", NOW).unwrap();
    let second = store.import_batch("a", i2, &batch).unwrap();
    assert_eq!((second.imported, second.already_in_project), (0, 3));
    assert_eq!(store.pool("a", NOW).unwrap().counts.total, 3);
}

#[test]
fn a_reservation_takes_codes_first_in_first_out_or_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["1", "2", "3"])]);

    let two = take("a", 2, "c1", Source::Render);
    let r = store.reserve(&two, NOW).unwrap();
    assert_eq!(r.codes["a"], codes(&["1", "2"]));
    assert_eq!(r.counts["a"].available, 3);
    let r = store.reserve(&two, NOW).unwrap();
    assert_eq!(r.short, vec!["a".to_string()]);
    assert!(r.codes.is_empty());
    assert_eq!(store.pool("a", NOW).unwrap().counts.available, 1);
}

#[test]
fn released_codes_go_back_to_available() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["1", "2"])]);
    let r = store
        .reserve(&take("a", 2, "c1", Source::Render), NOW)
        .unwrap();
    let mut release = take("a", 0, "c1", Source::Render);
    release.take.clear();
    release.release = r.fresh;
    store.reserve(&release, NOW).unwrap();
    assert_eq!(store.pool("a", NOW).unwrap().counts.available, 2);
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn a_reservation_from_an_unknown_pool_fails_and_takes_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["1"])]);
    let mut request = take("a", 1, "c1", Source::Render);
    request.take.insert("zzz".into(), 1);
    assert_eq!(
        store.reserve(&request, NOW).unwrap_err().code(),
        "unknown_pool"
    );
    assert_eq!(store.pool("a", NOW).unwrap().counts.available, 1);
}

#[test]
fn a_paused_or_changed_layer_hands_out_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["1"])]);
    let settings = layer_taking("a", Assignment::default());
    let v1 = store.put_layer("l", &settings, NOW).unwrap();
    let v2 = store.put_layer("l", &settings, NOW).unwrap();
    assert_eq!(v2.version, v1.version + 1);
    let mut request = take("a", 1, "c1", Source::Layer("l".into()));
    request.layer_version = Some(v1.version);
    assert_eq!(
        store.reserve(&request, NOW).unwrap_err().code(),
        "layer_changed"
    );
    store
        .put_layer(
            "l",
            &LayerSettings {
                active: false,
                ..settings
            },
            NOW,
        )
        .unwrap();
    request.layer_version = None;
    assert_eq!(
        store.reserve(&request, NOW).unwrap_err().code(),
        "layer_paused"
    );
    assert_eq!(store.pool("a", NOW).unwrap().counts.available, 1);
}

#[test]
fn pool_names_are_checked() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = Store::new(&db);
    store.migrate().unwrap();
    for bad in ["", "has space", "ü", &"x".repeat(65)] {
        assert_eq!(
            store
                .put_pool(bad, &PoolSettings::default(), NOW)
                .unwrap_err()
                .code(),
            "invalid_pool_name"
        );
    }
    assert!(store
        .put_pool("spring_10-%.x", &PoolSettings::default(), NOW)
        .is_ok());
}

#[test]
fn a_layer_can_require_signed_customer_ids() {
    use codepool::layer::signature::sign_customer;
    use codepool::project::settings::Settings;

    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["1", "2"])]);
    let settings = LayerSettings {
        template: "{{ vouchers['a'].assign_available_code() }}".into(),
        active: true,
        assignment: Default::default(),
        signed_customer: true,
        require_expiry: false,
        dispensers: 0,
        variables: Default::default(),
    };
    store.put_layer("l", &settings, NOW).unwrap();
    let mut request = take("a", 1, "c1", Source::Layer("l".into()));
    assert_eq!(
        store.reserve(&request, NOW).unwrap_err().code(),
        "no_signing_key"
    );

    let key = "0123456789abcdef0123456789abcdef";
    store
        .put_settings(&Settings {
            redemption: None,
            customer_signing_key: Some(key.into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(store.reserve(&request, NOW).unwrap_err().status(), 403);
    request.customer_signature = Some(sign_customer(key, "someone-else"));
    assert_eq!(
        store.reserve(&request, NOW).unwrap_err().code(),
        "invalid_customer_signature"
    );
    request.customer_signature = Some(sign_customer(key, "c1"));
    assert_eq!(
        store.reserve(&request, NOW).unwrap().codes["a"],
        codes(&["1"])
    );

    // Updating other settings keeps the key; "" removes it.
    store.put_settings(&Settings::default()).unwrap();
    assert!(store.settings().unwrap().customer_signing_key.is_some());
    store
        .put_settings(&Settings {
            redemption: None,
            customer_signing_key: Some(String::new()),
            ..Default::default()
        })
        .unwrap();
    assert!(store.settings().unwrap().customer_signing_key.is_none());
    let short = Settings {
        redemption: None,
        customer_signing_key: Some("short".into()),
        ..Default::default()
    };
    assert_eq!(
        store.put_settings(&short).unwrap_err().code(),
        "invalid_settings"
    );
}

/// Imports `file` in batches of `size` under a new import; returns the sums.
fn import_in_batches(
    store: &Store<'_, NativeDatabase>,
    file: &[String],
    size: usize,
) -> (u64, u64, u64) {
    let id = store.begin_import("a", NOW).unwrap();
    let mut sums = (0, 0, 0);
    for batch in file.chunks(size) {
        let c = store.import_batch("a", id, batch).unwrap();
        sums.0 += c.imported;
        sums.1 += c.duplicates_in_file;
        sums.2 += c.already_in_project;
    }
    sums
}

#[test]
fn counts_do_not_depend_on_where_batches_are_cut() {
    // P1, P2 are in the project before; N1..N3 are new, N1 and P1 repeat.
    let file = codes(&["N1", "P1", "N2", "N1", "P1", "N3", "N1", "P2"]);
    for size in 1..=file.len() {
        let db = NativeDatabase::in_memory().unwrap();
        let store = Store::new(&db);
        store.migrate().unwrap();
        store.put_pool("a", &PoolSettings::default(), NOW).unwrap();
        assert_eq!(
            import_in_batches(&store, &codes(&["P1", "P2"]), 2),
            (2, 0, 0)
        );
        // Imported N1 N2 N3; N1 twice again; P1 twice and P2 once before.
        assert_eq!(
            import_in_batches(&store, &file, size),
            (3, 2, 3),
            "batches of {size}"
        );
        // The same file again: every row was in the project before.
        assert_eq!(
            import_in_batches(&store, &file, size),
            (0, 0, 8),
            "again, batches of {size}"
        );
        assert_eq!(store.pool("a", NOW).unwrap().counts.total, 5);
        assert!(store.audit().unwrap().is_empty());
    }
}

#[test]
fn a_cut_off_import_is_completed_by_running_it_again() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = Store::new(&db);
    store.migrate().unwrap();
    store.put_pool("a", &PoolSettings::default(), NOW).unwrap();
    let file: Vec<String> = (0..100).map(|i| format!("C{}", i % 90)).collect();
    // The first 40 rows made it before the cut.
    assert_eq!(import_in_batches(&store, &file[..40], 7), (40, 0, 0));
    let (imported, duplicates, already) = import_in_batches(&store, &file, 7);
    assert_eq!((imported, duplicates, already), (50, 0, 50));
    assert_eq!(store.pool("a", NOW).unwrap().counts.total, 90);
    assert!(store.audit().unwrap().is_empty());
}
