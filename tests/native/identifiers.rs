//! Identifiers in the store, on native SQLite: codes are unique by their
//! key (lookalikes), the export imports back as the same codes, an older
//! database gets its code keys, and redemption knows who holds a code.

use std::collections::BTreeMap;

use crate::common::{store_with, NOW};
use codepool::event::{EventFilter, Redemption, TrackedEvent};
use codepool::import::{batches, sort_window, ImportOptions, ImportParser, ImportRow};
use codepool::pool::export::{write_csv_header, write_csv_rows};
use codepool::pool::{CodeQuery, CodeState, PoolSettings};
use codepool::project::settings::{RedemptionMapping, Settings};
use codepool::render::{ReservationRequest, Source};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::{Database, Store};
use codepool::ErrorKind;

/// Parses a CSV file whole, as the import route does.
fn parse(csv: &[u8]) -> Vec<ImportRow> {
    let mut parser = ImportParser::new(ImportOptions::default());
    let mut rows = Vec::new();
    parser.feed(csv, &mut rows).unwrap();
    parser.finish(&mut rows).unwrap();
    rows
}

/// The valid codes of parsed rows, in file order.
fn codes_of(rows: &[ImportRow]) -> Vec<String> {
    rows.iter()
        .filter_map(|row| match row {
            ImportRow::Code { code, .. } => Some(code.clone()),
            ImportRow::Invalid { .. } => None,
        })
        .collect()
}

/// Imports codes into a pool as the Worker does: one import, sorted
/// windows, batches. Answers (imported, duplicates_in_file, already_in_project).
fn import(store: &Store<'_, NativeDatabase>, pool: &str, codes: &[String]) -> (u64, u64, u64) {
    let import = store.begin_import(pool, NOW).unwrap();
    let mut window = codes.to_vec();
    sort_window(&mut window);
    let mut counts = (0, 0, 0);
    for batch in batches(&window) {
        let c = store.import_batch(pool, import, batch).unwrap();
        counts.0 += c.imported;
        counts.1 += c.duplicates_in_file;
        counts.2 += c.already_in_project;
    }
    counts
}

/// Every code of a pool, in listing order.
fn listed(store: &Store<'_, NativeDatabase>, pool: &str) -> Vec<(String, CodeState)> {
    let query = CodeQuery {
        state: None,
        cursor: None,
        limit: 1000,
    };
    let page = store.codes(pool, &query, NOW).unwrap();
    page.codes.into_iter().map(|c| (c.code, c.state)).collect()
}

fn take(customer: Option<&str>, pool: &str) -> ReservationRequest {
    ReservationRequest {
        customer_id: customer.map(str::to_owned),
        source: Source::Render,
        layer_version: None,
        customer_signature: None,
        signature_expiry: None,
        take: BTreeMap::from([(pool.to_owned(), 1)]),
        count: vec![],
        release: vec![],
    }
}

fn purchase(customer: &str, code: &str) -> TrackedEvent {
    TrackedEvent {
        customer_id: customer.into(),
        event_type: "purchase".into(),
        timestamp: None,
        properties: serde_json::json!({ "voucher_code": code })
            .as_object()
            .cloned()
            .unwrap(),
    }
}

fn redeem_with(store: &Store<'_, NativeDatabase>, require_holder: bool) {
    store
        .put_settings(&Settings {
            redemption: Some(RedemptionMapping {
                event_type: "purchase".into(),
                property: "voucher_code".into(),
                require_holder,
                rollback_event_type: None,
            }),
            customer_signing_key: None,
            ..Default::default()
        })
        .unwrap();
}

#[test]
fn lookalikes_of_a_code_are_refused_or_the_same_code() {
    let rows = parse(&std::fs::read("tests/import/lookalikes.csv").unwrap());
    let invalid = rows
        .iter()
        .filter(|r| matches!(r, ImportRow::Invalid { .. }))
        .count();
    // 7 invisible characters, a Cyrillic О, 6 dashes.
    assert_eq!(invalid, 14);
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with::<&str>(&db, &[("p", &[])]);
    // CODE-1 and CAFÉ-1 once each; fullwidth, lowercase and NFD are the same codes.
    assert_eq!(import(&store, "p", &codes_of(&rows)), (2, 4, 0));
    let stored: Vec<String> = listed(&store, "p").into_iter().map(|(c, _)| c).collect();
    assert_eq!(stored.len(), 2);
    assert!(stored.contains(&"CODE-1".to_owned()), "{stored:?}");
    // In a later import, any spelling of them is already in the project.
    store.put_pool("q", &PoolSettings::default(), NOW).unwrap();
    let again = [
        "code-1",
        "Code-1",
        "ＣＯＤＥ－１",
        "café-1",
        "CAFE\u{301}-1",
    ]
    .map(String::from);
    assert_eq!(import(&store, "q", &again), (0, 0, 5));
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn the_export_imports_back_as_the_same_codes() {
    let db = NativeDatabase::in_memory().unwrap();
    let codes = [
        "PLAIN-1",
        "with,comma",
        "with;semicolon",
        "with \"quotes\"",
        "'apostrophe",
        "A=1+1",
        "Grüße-2024",
        "セール-SALE10",
        "🎁-GIFT",
    ];
    let store = store_with(&db, &[("p", &codes)]);
    // Hostile customer ids on some of them.
    for customer in ["x;=1+1;", "@SUM(1)", "-2+3", "=HYPERLINK(\"http://x\")"] {
        store.reserve(&take(Some(customer), "p"), NOW).unwrap();
    }
    let page = store
        .codes(
            "p",
            &CodeQuery {
                state: None,
                cursor: None,
                limit: 1000,
            },
            NOW,
        )
        .unwrap();
    let mut csv = Vec::new();
    write_csv_header(&mut csv).unwrap();
    write_csv_rows(&page.codes, &mut csv).unwrap();
    let text = String::from_utf8(csv.clone()).unwrap();
    assert!(text.contains("\"'=HYPERLINK("), "{text}");

    // The export's code column is the pool's codes.
    let rows = parse(&csv);
    assert!(
        rows.iter().all(|r| matches!(r, ImportRow::Code { .. })),
        "{rows:?}"
    );
    let mut exported = codes_of(&rows);
    let mut expected: Vec<String> = codes.map(String::from).to_vec();
    exported.sort();
    expected.sort();
    assert_eq!(exported, expected);

    // Into a new project: the same codes, all imported.
    let other = NativeDatabase::in_memory().unwrap();
    let store = store_with::<&str>(&other, &[("copy", &[])]);
    assert_eq!(
        import(&store, "copy", &codes_of(&rows)),
        (codes.len() as u64, 0, 0)
    );
    let mut copied: Vec<String> = listed(&store, "copy").into_iter().map(|(c, _)| c).collect();
    copied.sort();
    assert_eq!(copied, expected);
}

/// The `codes` table as databases created before code keys have it.
const CODES_BEFORE_KEYS: &str = "CREATE TABLE codes (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    pool_id INTEGER NOT NULL REFERENCES pools(id),
    state INTEGER NOT NULL DEFAULT 0,
    import_id INTEGER NOT NULL,
    assigned_at INTEGER,
    customer_id TEXT,
    source TEXT,
    redeemed_at INTEGER,
    redeemed_by TEXT
)";

#[test]
fn an_older_database_gets_its_code_keys() {
    let db = NativeDatabase::in_memory().unwrap();
    db.execute(CODES_BEFORE_KEYS, &[]).unwrap();
    db.execute(
        "CREATE TABLE pools (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
         description TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,
         total INTEGER NOT NULL DEFAULT 0, available INTEGER NOT NULL DEFAULT 0,
         assigned INTEGER NOT NULL DEFAULT 0, redeemed INTEGER NOT NULL DEFAULT 0)",
        &[],
    )
    .unwrap();
    db.execute(
        "INSERT INTO pools (id, name, created_at, total, available, assigned)
         VALUES (1, 'p', 0, 12002, 12000, 2)",
        &[],
    )
    .unwrap();
    // Two codes that are one by today's rule, both handed out; and enough
    // others for several backfill batches.
    let mut old: Vec<(String, i64, Option<&str>)> = vec![
        ("CODE-1".into(), 1, Some("ada")),
        ("code-1".into(), 1, Some("bob")),
    ];
    old.extend((0..12_000).map(|i| (format!("OLD-{i:05}"), 0, None)));
    let json = serde_json::to_string(&old).unwrap();
    db.execute(
        "INSERT INTO codes (code, pool_id, state, import_id, customer_id, assigned_at, source)
         SELECT j.value ->> 0, 1, j.value ->> 1, 1, j.value ->> 2,
                CASE WHEN j.value ->> 1 = 1 THEN 0 END, CASE WHEN j.value ->> 1 = 1 THEN 'render' END
         FROM json_each(?1) AS j",
        &[json.into()],
    )
    .unwrap();

    let store = Store::new(&db);
    store.migrate().unwrap();
    // The import that stored them.
    db.execute(
        "INSERT INTO imports (id, pool_id, started_at) VALUES (1, 1, 0)",
        &[],
    )
    .unwrap();
    // Again: nothing changes (every start of the Durable Object migrates).
    store.migrate().unwrap();
    assert!(store.audit().unwrap().is_empty());
    let key_of = |code: &str| {
        db.query("SELECT code_key FROM codes WHERE code = ?1", &[code.into()])
            .unwrap()[0][0]
            .as_opt_str()
            .map(str::to_owned)
    };
    // The older code keeps the key; its twin none, and both stay.
    assert_eq!(key_of("CODE-1").as_deref(), Some("code-1"));
    assert_eq!(key_of("code-1"), None);
    assert_eq!(key_of("OLD-11999").as_deref(), Some("old-11999"));
    let unkeyed = db
        .query("SELECT COUNT(*) FROM codes WHERE code_key IS NULL", &[])
        .unwrap();
    assert_eq!(unkeyed[0][0].as_i64(), 1);

    // Imports find them by key; redemption by their exact text first.
    let again = ["Code-1", "code-1", "old-00007"].map(String::from);
    assert_eq!(import(&store, "p", &again), (0, 0, 3));
    redeem_with(&store, true);
    let results = store
        .track(&[purchase("bob", "code-1"), purchase("ada", "CODE-1")], NOW)
        .unwrap();
    let outcomes: Vec<Redemption> = results.iter().map(|r| r.redemption).collect();
    assert_eq!(outcomes, [Redemption::Redeemed, Redemption::Redeemed]);
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn a_shopper_may_type_a_code_in_another_case() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["SPRING-7F3K"])]);
    store.reserve(&take(Some("ada"), "p"), NOW).unwrap();
    redeem_with(&store, true);
    let results = store
        .track(&[purchase("ada", " spring-7f3k ")], NOW)
        .unwrap();
    assert_eq!(results[0].redemption, Redemption::Redeemed);
    assert_eq!(listed(&store, "p")[0].1, CodeState::Redeemed);
}

#[test]
fn redemption_by_someone_else_is_a_holder_mismatch() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A-1", "A-2", "A-3"])]);
    for customer in [Some("alice"), Some("carol"), None] {
        store.reserve(&take(customer, "p"), NOW).unwrap();
    }
    let state = |code: &str| {
        listed(&store, "p")
            .into_iter()
            .find(|(c, _)| c == code)
            .unwrap()
            .1
    };

    // Required: mallory's purchase leaves alice's code with alice.
    redeem_with(&store, true);
    let result = &store.track(&[purchase("mallory", "A-1")], NOW).unwrap()[0];
    assert_eq!(
        (result.redemption, result.redeemed),
        (Redemption::HolderMismatch, Some(false))
    );
    assert_eq!(state("A-1"), CodeState::Assigned);
    let result = &store.track(&[purchase("alice", "A-1")], NOW).unwrap()[0];
    assert_eq!(
        (result.redemption, result.redeemed),
        (Redemption::Redeemed, None)
    );

    // Not required (the default): redeemed, and logged as a mismatch.
    redeem_with(&store, false);
    let result = &store.track(&[purchase("mallory", "A-2")], NOW).unwrap()[0];
    assert_eq!(
        (result.redemption, result.redeemed),
        (Redemption::HolderMismatch, Some(true))
    );
    assert_eq!(state("A-2"), CodeState::Redeemed);
    // A code handed out without a customer id has no holder.
    let result = &store.track(&[purchase("mallory", "A-3")], NOW).unwrap()[0];
    assert_eq!(result.redemption, Redemption::Redeemed);

    let log = store
        .events(&EventFilter {
            status: Some("holder_mismatch".into()),
            ..EventFilter::default()
        })
        .unwrap();
    let logged: Vec<(Option<&str>, Option<&str>)> = log
        .events
        .iter()
        .map(|e| (e.customer_id.as_deref(), e.code.as_deref()))
        .collect();
    assert_eq!(
        logged,
        [
            (Some("mallory"), Some("A-2")),
            (Some("mallory"), Some("A-1"))
        ]
    );
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn a_tracked_event_follows_the_customer_id_rule() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A-1"])]);
    redeem_with(&store, false);
    for id in ["", "a\u{202e}b", "a\0", &"x".repeat(257)] {
        let err = store
            .track(&[purchase("ok", "A-1"), purchase(id, "A-1")], NOW)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCustomerId, "{id:?}");
        assert!(
            err.message().starts_with("event 1: customer_id"),
            "{}",
            err.message()
        );
    }
    // Refused whole: nothing was logged.
    assert!(store
        .events(&EventFilter::default())
        .unwrap()
        .events
        .is_empty());
}
