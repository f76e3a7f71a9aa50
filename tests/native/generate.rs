//! Generated codes: patterns and charsets checked from files, and
//! generations through the real store, collisions drawn again.
//!
//! Every `tests/generate/NAME.json` is a body of `POST /pools/{pool}/generate`,
//! checked and compared with `tests/generate/NAME.expected`: the pattern's
//! description and three codes drawn from a fixed byte sequence, or
//! `error ERROR_CODE: MESSAGE` (cases named `err_*`).
//! `UPDATE_EXPECTED=1 cargo test -p codepool --test native generate::`
//! rewrites the expected files; check the diff by eye before committing.

use crate::common::NOW;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use codepool::import::batches::batches;
use codepool::import::generate::{EXTRA_CANDIDATES, MAX_CANDIDATES_PER_CODE};
use codepool::import::pattern::{Pattern, PLACEHOLDER};
use codepool::import::random::RandomBytes;
use codepool::import::{GenerateRequest, Generation, ImportReport};
use codepool::pool::{code_key, normalize_code, CodeQuery};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;
use codepool::{Error, ErrorKind, Result};

use crate::common::{assert_no_orphans, store_with, updating_expected};

/// The folder of cases.
fn generate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generate")
}

/// A fixed byte sequence, so that the expected files can show codes.
fn fixed_bytes() -> impl FnMut(&mut [u8]) -> Result<()> {
    let mut state: u32 = 0x2545_F491;
    move |buf: &mut [u8]| {
        for b in buf {
            // xorshift32: spread enough for a test, nothing more.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            *b = state as u8;
        }
        Ok(())
    }
}

/// The OS's random bytes, as the Worker's are Web Crypto's.
fn os_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::internal(e.to_string()))
}

/// Fails unless `code` is a valid code that `pattern` makes.
fn assert_made_by(pattern: &Pattern, code: &str) {
    assert_eq!(normalize_code(code), Ok(code), "{code} is a valid code");
    let chars: Vec<char> = code.chars().collect();
    let places: Vec<char> = pattern.text().chars().collect();
    assert_eq!(
        chars.len(),
        places.len(),
        "{code} against {}",
        pattern.text()
    );
    for (c, place) in chars.iter().zip(&places) {
        if *place == PLACEHOLDER {
            assert!(pattern.charset().chars().contains(c), "{code}: {c}");
        } else {
            assert_eq!(c, place, "{code} against {}", pattern.text());
        }
    }
}

/// The outcome of checking one body, as the expected files hold it.
fn render(body: &str) -> String {
    let checked = serde_json::from_str::<GenerateRequest>(body)
        .map_err(Error::from)
        .and_then(|request| request.check().map(|plan| (request, plan)));
    let (request, plan) = match checked {
        Ok(checked) => checked,
        Err(err) => return format!("error {}: {}\n", err.code(), err.message()),
    };
    assert!(plan.pattern.capacity() >= request.count * 100);
    let mut text = plan.pattern.describe();
    text.push('\n');
    let mut random = RandomBytes::new(fixed_bytes());
    for _ in 0..3 {
        let code = plan.pattern.candidate(&mut random).unwrap();
        assert_made_by(&plan.pattern, &code);
        writeln!(text, "{code}").unwrap();
    }
    text
}

#[test]
fn generate_files() {
    let update = updating_expected();
    let mut inputs: Vec<PathBuf> = fs::read_dir(generate_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 40, "test inputs missing: {inputs:?}");
    let mut failures = Vec::new();
    for input in &inputs {
        let name = input.file_stem().unwrap().to_string_lossy();
        let actual = render(&fs::read_to_string(input).unwrap());
        assert_eq!(
            name.starts_with("err_"),
            actual.starts_with("error "),
            "{name}: err_* cases, and only they, fail:\n{actual}"
        );
        let expected_path = input.with_extension("expected");
        if update {
            fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        match fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{name}:\n--- expected\n{expected}--- actual\n{actual}"
            )),
            Err(e) => failures.push(format!("{name}: {}: {e}", expected_path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ (UPDATE_EXPECTED=1 rewrites them):\n\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn no_orphan_expected_files() {
    assert_no_orphans(&generate_dir(), "json", &["expected"]);
}

/// A request for `count` codes of `pattern` over `charset`.
fn request(count: u64, pattern: &str, charset: Option<&str>) -> GenerateRequest {
    GenerateRequest {
        count,
        pattern: pattern.to_owned(),
        charset: charset.map(str::to_owned),
    }
}

/// Runs a generation into `pool` as the Worker does: windows cut into the
/// batches of one import, each batch one transaction.
fn generate<F>(
    store: &Store<'_, NativeDatabase>,
    pool: &str,
    request: &GenerateRequest,
    fill: F,
) -> (Result<ImportReport>, u32)
where
    F: FnMut(&mut [u8]) -> Result<()>,
{
    let plan = request.check().unwrap();
    let import_id = store.begin_import(pool, NOW).unwrap();
    let mut generation = Generation::new(plan, fill);
    let outcome = (|| {
        while let Some(window) = generation.next_window()? {
            for batch in batches(&window) {
                generation.record(store.import_batch(pool, import_id, batch)?);
            }
        }
        Ok(())
    })();
    let rounds = generation.rounds();
    (outcome.and_then(|()| generation.finish()), rounds)
}

/// Every code of a pool, in listing order.
fn pool_codes(store: &Store<'_, NativeDatabase>, pool: &str) -> Vec<String> {
    let mut codes = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .codes(
                pool,
                &CodeQuery {
                    state: None,
                    cursor,
                    limit: 1000,
                },
                NOW,
            )
            .unwrap();
        codes.extend(page.codes.into_iter().map(|c| c.code));
        cursor = page.next_cursor;
        if cursor.is_none() {
            return codes;
        }
    }
}

/// `total_rows` is every candidate, `invalid` none.
fn assert_adds_up(report: &ImportReport) {
    assert_eq!(
        report.total_rows,
        report.imported + report.duplicates_in_file + report.already_in_project,
        "{report:?}"
    );
    assert_eq!((report.invalid, report.invalid_samples.len()), (0, 0));
}

#[test]
fn generates_exactly_count_unique_codes_of_the_pattern() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with::<&str>(&db, &[("spring", &[])]);
    // More than one window of 100,000, so windows and batches are cut.
    let request = request(120_000, "SPRING-####-####", None);
    let (report, rounds) = generate(&store, "spring", &request, os_random);
    let report = report.unwrap();
    assert_adds_up(&report);
    assert_eq!(report.imported, 120_000);
    // 31^8 codes: a collision is possible, and was drawn again.
    assert!(report.total_rows < 120_100, "{report:?}");
    assert!(rounds <= 2 || report.total_rows > 120_000, "{rounds}");
    assert_eq!(store.pool("spring", NOW).unwrap().counts.total, 120_000);
    assert_eq!(store.pool("spring", NOW).unwrap().counts.available, 120_000);
    let codes = pool_codes(&store, "spring");
    assert_eq!(codes.len(), 120_000);
    let keys: HashSet<String> = codes.iter().map(|c| code_key(c)).collect();
    assert_eq!(keys.len(), codes.len(), "codes are unique");
    let pattern = request.check().unwrap().pattern;
    for code in &codes {
        assert_made_by(&pattern, code);
    }
}

#[test]
fn candidates_already_in_the_project_are_drawn_again() {
    // Pattern `##` over digits holds 100 codes; 50 are taken (in another
    // pool, same project), so half the candidates collide. Each run takes 1.
    let taken: Vec<String> = (0..100).step_by(2).map(|i| format!("{i:02}")).collect();
    let mut collisions = 0;
    for _ in 0..40 {
        let db = NativeDatabase::in_memory().unwrap();
        let store = store_with(&db, &[("old", &taken[..]), ("new", &[])]);
        let (report, rounds) =
            generate(&store, "new", &request(1, "##", Some("digits")), os_random);
        let report = report.unwrap();
        assert_adds_up(&report);
        assert_eq!(report.imported, 1);
        assert_eq!(report.duplicates_in_file, 0, "one candidate a round");
        assert_eq!(u64::from(rounds), report.total_rows, "{report:?}");
        collisions += report.already_in_project;
        let codes = pool_codes(&store, "new");
        assert_eq!(codes.len(), 1);
        assert!(!taken.contains(&codes[0]), "{codes:?}");
        assert_eq!(store.pool("old", NOW).unwrap().counts.total, 50);
    }
    // 40 runs without one collision: one chance in 2^40.
    assert!(collisions > 0);
}

/// A source that gives `prefix`, then the digits 0 to 9 over and over.
fn scripted(prefix: &'static [u8]) -> impl FnMut(&mut [u8]) -> Result<()> {
    let mut i = 0;
    move |buf: &mut [u8]| {
        for b in buf {
            *b = match prefix.get(i) {
                Some(&b) => b,
                None => ((i - prefix.len()) % 10) as u8,
            };
            i += 1;
        }
        Ok(())
    }
}

#[test]
fn each_collision_is_counted_for_what_it_was() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("old", &["456", "012"][..]), ("new", &[])]);
    // Round 1 draws 000, 000, 123: two codes, one repeat. Round 2: 456 (in
    // the project). Round 3: 012 (in the project). Round 4: 345.
    let fill = scripted(&[0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
    let (report, rounds) = generate(&store, "new", &request(3, "###", Some("digits")), fill);
    let report = report.unwrap();
    assert_eq!(rounds, 4);
    assert_eq!(
        (
            report.total_rows,
            report.imported,
            report.duplicates_in_file,
            report.already_in_project
        ),
        (6, 3, 1, 2)
    );
    let mut codes = pool_codes(&store, "new");
    codes.sort();
    assert_eq!(codes, ["000", "123", "345"]);
}

#[test]
fn a_pattern_whose_codes_are_taken_ends_with_an_error() {
    let db = NativeDatabase::in_memory().unwrap();
    let all: Vec<String> = (0..100).map(|i| format!("{i:02}")).collect();
    let store = store_with(&db, &[("old", &all[..]), ("new", &[])]);
    let (outcome, rounds) = generate(&store, "new", &request(1, "##", Some("digits")), os_random);
    let err = outcome.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PatternExhausted);
    assert_eq!(err.status(), 409);
    let drawn = MAX_CANDIDATES_PER_CODE + EXTRA_CANDIDATES;
    assert_eq!(u64::from(rounds), drawn);
    assert!(
        err.message().starts_with(&format!(
            "only 0 of 1 codes could be generated: of {drawn} candidates drawn in {drawn} \
             rounds, {drawn} were codes of the project already"
        )),
        "{}",
        err.message()
    );
    assert_eq!(store.pool("new", NOW).unwrap().counts.total, 0);
}

#[test]
fn a_source_that_repeats_itself_ends_with_an_error_not_a_loop() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with::<&str>(&db, &[("new", &[])]);
    // Every candidate is 000: one code, then repeats until none may be drawn.
    let fill = |buf: &mut [u8]| {
        buf.fill(0);
        Ok(())
    };
    let (outcome, _) = generate(&store, "new", &request(3, "###", Some("digits")), fill);
    let err = outcome.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PatternExhausted);
    let drawn = 3 * MAX_CANDIDATES_PER_CODE + EXTRA_CANDIDATES;
    assert!(
        err.message().contains(&format!(
            "only 1 of 3 codes could be generated: of {drawn} candidates drawn"
        )),
        "{}",
        err.message()
    );
    assert!(err.message().contains(&format!("{} repeated", drawn - 1)));
    assert_eq!(pool_codes(&store, "new"), ["000"]);
}

#[test]
fn a_failing_source_stops_the_generation_and_says_what_was_stored() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with::<&str>(&db, &[("new", &[])]);
    let mut calls = 0;
    let fill = |buf: &mut [u8]| {
        calls += 1;
        if calls > 13 {
            return Err(Error::internal("the random source failed"));
        }
        os_random(buf)
    };
    // The first window, 100,000 codes of 8 placeholders, takes about 826,000
    // bytes (8 of the 256 byte values are drawn again): 13 blocks of 64 KiB.
    // It is stored; the source fails in the second.
    let (outcome, _) = generate(&store, "new", &request(120_000, "########", None), fill);
    let err = outcome.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert_eq!(
        err.message(),
        "the random source failed (100000 codes were generated and stored before this; \
         they stay in the pool)"
    );
    assert_eq!(store.pool("new", NOW).unwrap().counts.total, 100_000);
}

#[test]
fn windows_come_sorted_by_key_whichever_way_they_are_drawn() {
    // ASCII patterns are drawn as packed numbers (up to 128 bits of
    // choices); others, and longer ones, as codes sorted by key. The order
    // is the store's either way, lowercase letters and symbols between
    // `Z` and `a` included.
    for (pattern, charset) in [
        ("SPRING-####-####", None),
        ("x-######", Some("Zy_^[AB09~")),
        ("##########", Some("digits")),
        ("#########################", None),
        (&"#".repeat(26) as &str, None),
        ("KÄSE-####", Some("ÄÖÜAOU")),
        ("C-######", Some("ｂAc")),
    ] {
        let plan = request(1, pattern, charset).check().unwrap();
        let mut random = RandomBytes::new(os_random);
        let window = plan.pattern.sorted_candidates(5_000, &mut random).unwrap();
        assert_eq!(window.len(), 5_000);
        for code in &window {
            assert_made_by(&plan.pattern, code);
        }
        let keys: Vec<String> = window.iter().map(|c| code_key(c)).collect();
        assert!(
            keys.is_sorted(),
            "{pattern} {charset:?}: {:?}",
            &window[..10]
        );
    }
}

#[test]
fn placeholders_draw_every_character_alike() {
    // Unbiased: 31 characters, 310,000 draws, 10,000 expected each with a
    // standard deviation of about 98; 8 deviations apart is one chance in
    // 10^14 by luck, and the bias of `byte % 31` (8 characters drawn 9/8
    // as often) would be 12 deviations.
    let plan = request(1, "#######", None).check().unwrap();
    let mut random = RandomBytes::new(os_random);
    let mut seen = std::collections::HashMap::<char, u32>::new();
    let window = plan
        .pattern
        .sorted_candidates(310_000 / 7 + 1, &mut random)
        .unwrap();
    for code in window {
        for c in code.chars() {
            *seen.entry(c).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), 31);
    let total: u32 = seen.values().sum();
    let expected = f64::from(total) / 31.0;
    let deviation = (expected * (1.0 - 1.0 / 31.0)).sqrt();
    for (c, n) in &seen {
        assert!(
            (f64::from(*n) - expected).abs() < 8.0 * deviation,
            "{c}: {n} of {total}"
        );
    }
}
