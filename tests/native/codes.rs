//! Listing a pool's codes on native SQLite: pages, cursor, state filter, export.

use codepool::layer::Assignment;
use codepool::pool::export::{write_csv_header, write_csv_rows};
use codepool::pool::CodeQuery;
use codepool::pool::CodeState;
use codepool::pool::PoolSettings;
use codepool::render::Source;
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

use crate::common::{layer_taking, take, NOW};

/// A store with pools `a` (codes A-0..A-{n-1}) and `b` (codes B-0..B-4),
/// imported interleaved so that the pools' ids are not contiguous, and the
/// layer `welcome` that takes from `a`.
fn interleaved_store(db: &NativeDatabase, n: usize) -> Store<'_, NativeDatabase> {
    let store = Store::new(db);
    store.migrate().unwrap();
    let layer = layer_taking("a", Assignment::default());
    store.put_layer("welcome", &layer, NOW).unwrap();
    for pool in ["a", "b"] {
        store.put_pool(pool, &PoolSettings::default(), NOW).unwrap();
    }
    let (ia, ib) = (
        store.begin_import("a", NOW).unwrap(),
        store.begin_import("b", NOW).unwrap(),
    );
    for i in 0..n {
        store.import_batch("a", ia, &[format!("A-{i}")]).unwrap();
        if i < 5 {
            store.import_batch("b", ib, &[format!("B-{i}")]).unwrap();
        }
    }
    store
}

/// A page request.
fn query(state: Option<CodeState>, cursor: Option<String>, limit: usize) -> CodeQuery {
    CodeQuery {
        state,
        cursor,
        limit,
    }
}

/// Every code of a pool, following cursors page by page.
fn all_pages(
    store: &Store<'_, NativeDatabase>,
    state: Option<CodeState>,
    limit: usize,
) -> Vec<String> {
    let mut codes = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.codes("a", &query(state, cursor, limit), NOW).unwrap();
        assert!(page.codes.len() <= limit);
        codes.extend(page.codes.into_iter().map(|c| c.code));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return codes,
        }
    }
}

/// The layer the codes are taken by, listed as their source.
fn welcome() -> Source {
    Source::Layer("welcome".into())
}

#[test]
fn pages_follow_import_order_and_end_without_cursor() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = interleaved_store(&db, 23);
    let expected: Vec<String> = (0..23).map(|i| format!("A-{i}")).collect();
    for limit in [1, 5, 22, 23, 24, 1000] {
        assert_eq!(all_pages(&store, None, limit), expected, "limit {limit}");
    }
    // A page that ends exactly at the last code says there is no next one.
    let page = store.codes("a", &query(None, None, 23), NOW).unwrap();
    assert_eq!((page.codes.len(), page.next_cursor), (23, None));
    let page = store.codes("a", &query(None, None, 10), NOW).unwrap();
    assert!(page.next_cursor.is_some());
}

#[test]
fn states_are_filtered_and_merged_in_import_order() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = interleaved_store(&db, 10);
    // Customer x takes A-0..A-2; giving A-0 back as unseen makes
    // the next ones, so assigned and available codes interleave by id.
    let first = store.reserve(&take("a", 3, "x", welcome()), NOW).unwrap();
    let mut release = take("a", 0, "x", welcome());
    release.take.clear();
    release.release = vec![first.fresh[0].clone()];
    store.reserve(&release, NOW).unwrap();
    store
        .reserve(&take("a", 2, "y", welcome()), NOW + 1)
        .unwrap();

    let assigned = all_pages(&store, Some(CodeState::Assigned), 2);
    assert_eq!(assigned, ["A-0", "A-1", "A-2", "A-3"]);
    let available = all_pages(&store, Some(CodeState::Available), 2);
    assert_eq!(available, ["A-4", "A-5", "A-6", "A-7", "A-8", "A-9"]);
    assert!(all_pages(&store, Some(CodeState::Redeemed), 2).is_empty());
    let all: Vec<String> = (0..10).map(|i| format!("A-{i}")).collect();
    assert_eq!(all_pages(&store, None, 3), all);

    let page = store.codes("a", &query(None, None, 3), NOW).unwrap();
    let a0 = &page.codes[0];
    assert_eq!(a0.state, CodeState::Assigned);
    assert_eq!(a0.customer_id.as_deref(), Some("y"));
    assert_eq!(a0.source.as_deref(), Some("layer:welcome"));
    assert_eq!(a0.assigned_at.as_deref(), Some("2025-11-25T19:00:00.001Z"));
    assert_eq!(a0.redeemed_at, None);
    let a4 = store
        .codes("a", &query(Some(CodeState::Available), None, 1), NOW)
        .unwrap()
        .codes
        .remove(0);
    assert_eq!(
        (a4.code.as_str(), a4.assigned_at, a4.customer_id, a4.source),
        ("A-4", None, None, None)
    );
}

#[test]
fn a_code_that_changes_state_while_paging_is_listed_once() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = interleaved_store(&db, 6);
    let page = store.codes("a", &query(None, None, 2), NOW).unwrap();
    // A-0, A-1 (seen) and A-2 (not yet seen) get assigned between two pages.
    store.reserve(&take("a", 3, "x", welcome()), NOW).unwrap();
    let mut codes: Vec<(String, CodeState)> =
        page.codes.into_iter().map(|c| (c.code, c.state)).collect();
    let mut cursor = page.next_cursor;
    while let Some(c) = cursor {
        let page = store.codes("a", &query(None, Some(c), 2), NOW).unwrap();
        codes.extend(page.codes.into_iter().map(|c| (c.code, c.state)));
        cursor = page.next_cursor;
    }
    let (available, assigned) = (CodeState::Available, CodeState::Assigned);
    let expected = [
        ("A-0", available),
        ("A-1", available),
        ("A-2", assigned),
        ("A-3", available),
        ("A-4", available),
        ("A-5", available),
    ]
    .map(|(c, s)| (c.to_owned(), s));
    assert_eq!(codes, expected);
}

#[test]
fn unknown_pool_and_bad_cursor_are_errors() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = interleaved_store(&db, 1);
    let err = store.codes("zzz", &query(None, None, 10), NOW).unwrap_err();
    assert_eq!((err.status(), err.code()), (404, "unknown_pool"));
    let err = store
        .codes("a", &query(None, Some("nope".into()), 10), NOW)
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (400, "invalid_cursor"));
}

#[test]
fn customer_ids_that_look_like_formulas_are_exported_as_text() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = interleaved_store(&db, 3);
    store
        .reserve(&take("a", 1, "=HYPERLINK(\"http://x\")", welcome()), NOW)
        .unwrap();
    store
        .reserve(&take("a", 1, "-1+2", welcome()), NOW)
        .unwrap();
    let page = store.codes("a", &query(None, None, 10), NOW).unwrap();
    let mut out = Vec::new();
    write_csv_rows(&page.codes, &mut out).unwrap();
    let csv = String::from_utf8(out).unwrap();
    assert!(csv.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "{csv}");
    assert!(csv.contains(",\"'-1+2\","), "{csv}");
    // The listing itself (JSON) shows the id as it was given.
    assert_eq!(
        page.codes[0].customer_id.as_deref(),
        Some("=HYPERLINK(\"http://x\")")
    );
}

#[test]
fn export_rows_match_the_listing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = interleaved_store(&db, 3);
    store
        .reserve(&take("a", 1, "cust,1", welcome()), NOW)
        .unwrap();
    let page = store.codes("a", &query(None, None, 10), NOW).unwrap();
    let mut out = Vec::new();
    write_csv_header(&mut out).unwrap();
    write_csv_rows(&page.codes, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        // Every field quoted: a `;` or tab in a field never starts a cell.
        "\"code\",\"state\",\"assigned_at\",\"customer_id\",\"source\",\"redeemed_at\",\"expires_at\"\n\
         \"A-0\",\"assigned\",\"2025-11-25T19:00:00.000Z\",\"cust,1\",\"layer:welcome\",\"\",\"\"\n\
         \"A-1\",\"available\",\"\",\"\",\"\",\"\",\"\"\n\
         \"A-2\",\"available\",\"\",\"\",\"\",\"\",\"\"\n"
    );
}
