//! File-driven tests of templates, rendered against a real store.
//!
//! Every `tests/templates/NAME.j2` is compiled, rendered once with a
//! [`RenderJob`] against a native SQLite store, and what happened is compared
//! with `tests/templates/NAME.expected`: the output, the suppression or the
//! error, and what the store holds after. An optional `NAME.json` says what
//! the render runs with. `tests/templates/README.md` describes both formats.
//!
//! `UPDATE_EXPECTED=1 cargo test -p codepool --test native templates::`
//! rewrites the expected files (`UPDATE_EXPECT=1`, the older name,
//! works too); read the diff before committing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use codepool::pool::{CodeQuery, CodeState};
use codepool::render::{context_from, Limits, Outcome, RenderJob, Source, Template};
use codepool::store::NativeDatabase;
use codepool::store::Store;
use serde::Deserialize;
use serde_json::json;

use crate::common::{assert_no_orphans, on_worker_stack, store_with, updating_expected, NOW};

/// Fewest cases the folder must hold, so that a wrong path is not a pass.
const MIN_CASES: usize = 40;

/// What a case renders with: `NAME.json`, every field optional. The
/// defaults are the world of the fuzz target `template_render`, so its
/// seeds run as they do there.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setup {
    /// The template's variables.
    #[serde(default = "default_context")]
    context: serde_json::Value,
    /// Who the codes are for; `null` renders for an anonymous visitor.
    #[serde(default = "default_customer")]
    customer_id: Option<String>,
    /// The store's pools, each with its codes in import order.
    #[serde(default = "default_pools")]
    pools: BTreeMap<String, Vec<String>>,
}

/// The fuzz target's context.
fn default_context() -> serde_json::Value {
    json!({
        "customer": { "id": "c1", "first_name": "Ada", "tier": 2 },
        "params": { "utm": "mail" },
        "items": [1, 2, 3],
    })
}

/// The fuzz target's customer.
fn default_customer() -> Option<String> {
    Some("c1".to_owned())
}

/// The fuzz target's pools: `p` with five codes, `q` with one, `e` empty.
fn default_pools() -> BTreeMap<String, Vec<String>> {
    let pool = |prefix: &str, n: usize| (1..=n).map(|i| format!("{prefix}-ZQ{i:03}")).collect();
    BTreeMap::from([
        ("e".to_owned(), Vec::new()),
        ("p".to_owned(), pool("CODEP", 5)),
        ("q".to_owned(), pool("CODEQ", 1)),
    ])
}

/// Reads `NAME.json` beside the template, or the defaults without one.
fn setup_for(template: &Path) -> Setup {
    let path = template.with_extension("json");
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a case setup: {e}", path.display())),
        Err(_) => serde_json::from_str("{}").expect("the defaults"),
    }
}

/// Compiles and renders `source` as `setup` says, on a thread with the
/// Worker's stack, and describes what happened in the expected format; a
/// panic (a crash in the Worker) is the error, so the case can be named.
fn run_case(source: String, setup: Setup) -> Result<String, String> {
    on_worker_stack(move || describe(&source, &setup)).map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned());
        format!("panicked: {}", message.unwrap_or_default())
    })
}

/// One case from source to report. Everything runs on the case's thread,
/// so that compiling and rendering have only the Worker's stack.
fn describe(source: &str, setup: &Setup) -> String {
    let db = NativeDatabase::in_memory().unwrap();
    let pools: Vec<(&str, &[String])> = setup
        .pools
        .iter()
        .map(|(name, codes)| (name.as_str(), codes.as_slice()))
        .collect();
    let store = store_with(&db, &pools);

    let mut calls = 0;
    let result = Template::compile(source, Limits::default()).and_then(|template| {
        RenderJob::new(
            &template,
            context_from(&setup.context),
            setup.customer_id.clone(),
            Source::Render,
            None,
        )
        .run(|request| {
            calls += 1;
            store.reserve(request, NOW)
        })
    });

    let mut text = String::new();
    let mut given = Vec::new();
    let mut output = None;
    match &result {
        Ok(Outcome::Rendered { output: out, codes }) => {
            text.push_str("outcome: rendered\n");
            if codes.is_empty() {
                text.push_str("codes given: none\n");
            } else {
                text.push_str("codes given:\n");
                for (pool, codes) in codes {
                    writeln!(text, "  {pool}: {}", codes.join(" ")).unwrap();
                }
            }
            given = codes.values().flatten().cloned().collect();
            output = Some(out.as_str());
        }
        Ok(Outcome::Suppressed { pools }) => {
            writeln!(text, "outcome: suppressed, short of {}", pools.join(", ")).unwrap();
        }
        Err(err) => {
            text.push_str("outcome: error\n");
            writeln!(text, "code: {}", err.code()).unwrap();
            match err.location() {
                Some(at) => writeln!(text, "location: {at}"),
                None => writeln!(text, "location: none"),
            }
            .unwrap();
            writeln!(text, "message: {}", err.message()).unwrap();
        }
    }
    writeln!(text, "store calls: {calls}").unwrap();
    describe_store(&store, &given, &mut text);
    if let Some(output) = output {
        // Last and verbatim, so that the file ends as the output does.
        writeln!(text, "output ({} bytes):", output.len()).unwrap();
        text.push_str(output);
    }
    text
}

/// Appends the store's pools and the codes now assigned, and flags a code
/// assigned though the render was not given it (all or nothing broken), or
/// counters that disagree with the code rows.
fn describe_store(store: &Store<'_, NativeDatabase>, given: &[String], text: &mut String) {
    text.push_str("store after:\n");
    let mut assigned = Vec::new();
    for pool in store.pools(NOW).unwrap() {
        let counts = pool.counts;
        writeln!(
            text,
            "  {}: {} of {} available",
            pool.name, counts.available, counts.total
        )
        .unwrap();
        let query = CodeQuery {
            limit: 10_000,
            ..CodeQuery::default()
        };
        for entry in store.codes(&pool.name, &query, NOW).unwrap().codes {
            if entry.state == CodeState::Available {
                continue;
            }
            let to = entry
                .customer_id
                .map_or_else(|| "nobody (anonymous)".to_owned(), |c| format!("{c:?}"));
            let by = entry.source.unwrap_or_default();
            writeln!(
                text,
                "    {} {} to {to} by {by}",
                entry.code,
                entry.state.name()
            )
            .unwrap();
            assigned.push(entry.code);
        }
    }
    // Checked here rather than asserted, so that a broken case still shows
    // its whole story in the diff.
    let mut kept: Vec<&String> = assigned.iter().filter(|c| !given.contains(c)).collect();
    kept.sort();
    if !kept.is_empty() {
        writeln!(
            text,
            "ALL OR NOTHING BROKEN: assigned but not given to the render: {kept:?}"
        )
        .unwrap();
    }
    let audit = store.audit().unwrap();
    if !audit.is_empty() {
        writeln!(text, "AUDIT FAILED: counters disagree in {audit:?}").unwrap();
    }
}

/// The folder of cases.
fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/templates")
}

/// Every case renders as its expected file says (or rewrites the file).
#[test]
fn template_cases() {
    let update = updating_expected();
    let mut templates: Vec<PathBuf> = fs::read_dir(cases_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "j2"))
        .collect();
    templates.sort();
    assert!(
        templates.len() >= MIN_CASES,
        "test cases missing: {templates:?}"
    );

    let mut failures = Vec::new();
    for path in &templates {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let source = fs::read_to_string(path).unwrap();
        let actual = match run_case(source, setup_for(path)) {
            Ok(actual) => actual,
            Err(panic) => {
                failures.push(format!("{name}: {panic}"));
                continue;
            }
        };
        // An error case says so in its name, so the folder reads as a list.
        let failed = actual.starts_with("outcome: error\n");
        if failed != name.starts_with("err_") {
            failures.push(format!(
                "{name}: {} (rename the case)\n{actual}",
                if failed {
                    "fails but its name does not start with err_"
                } else {
                    "does not fail but its name starts with err_"
                }
            ));
        }
        let expected_path = path.with_extension("expected");
        if update {
            fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        match fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{name}:\n--- expected\n{expected}\n--- actual\n{actual}\n--- end"
            )),
            Err(e) => failures.push(format!(
                "{name}: {}: {e}\n  create it with UPDATE_EXPECTED=1 cargo test -p codepool \
                 --test native templates::, then read it\n--- actual\n{actual}\n--- end",
                expected_path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ (UPDATE_EXPECTED=1 rewrites them):\n\n{}",
        failures.len(),
        templates.len(),
        failures.join("\n\n")
    );
}

/// An expected file or setup without its template is a renamed or
/// deleted case left behind.
#[test]
fn no_orphan_case_files() {
    assert_no_orphans(&cases_dir(), "j2", &["expected", "json"]);
}
