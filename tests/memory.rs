//! Memory is bounded, not only time (issue 13).
//!
//! - A render builds at most `Limits::max_data_bytes`, and is stopped before
//!   it builds more: templates within every other limit that would build
//!   gigabytes (text made from a list holding one long string a thousand
//!   times, joins, splits, escapes) answer `template_too_large`, and the
//!   memory the render takes stays a few times the limit. Each runs on a
//!   1 MiB stack (the Worker's) under an allocator that counts the bytes of
//!   its own thread.
//! - A campaign send is capped on its whole answer, and refused before it
//!   reserves anything when it would pass the cap.
//! - A JSON import keeps its valid codes, packed, and nothing else.
//! - A render whose answer fails gives back the codes it took.
//!
//! A test binary of its own: the counting allocator is the whole binary's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;

use codepool::campaign::{
    CampaignJob, CampaignReport, CampaignSend, Customer, MAX_SEND_ANSWER_BYTES,
};
use codepool::event::EventFilter;
use codepool::pool::PoolSettings;
use codepool::render::{context_from, Limits, Template, Vouchers};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;
use codepool::Error;
use serde_json::json;

/// Counts the bytes each thread holds, and the most it held.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// Notes that this thread holds `more` bytes besides the `less` it gives back
/// once the allocation is done (a reallocation holds both while it copies).
fn note(more: usize, less: usize) {
    let _ = LIVE.try_with(|live| {
        let held = live.get().saturating_add(more);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(held)));
        live.set(held.saturating_sub(less));
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// counters are thread-local cells without destructors.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, layout.size());
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size, layout.size());
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The clock of the tests: 2025-11-25T19:00:00Z in Unix milliseconds.
const NOW: i64 = 1_764_097_200_000;

/// A migrated store with these pools, each holding these codes (one import).
fn store_with<'a>(db: &'a NativeDatabase, pools: &[(&str, &[&str])]) -> Store<'a, NativeDatabase> {
    let store = Store::new(db);
    store.migrate().unwrap();
    for (pool, codes) in pools {
        store.put_pool(pool, &PoolSettings::default(), NOW).unwrap();
        let import = store.begin_import(pool, NOW).unwrap();
        let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        store.import_batch(pool, import, &codes).unwrap();
    }
    store
}

/// Stack the renders run on: the Worker's WebAssembly stack is 1 MiB.
const STACK: usize = 1024 * 1024;

/// Most memory a render may take: a few times what it may build (a value
/// being grown is copied when it doubles; see `Limits::max_data_bytes`).
/// The cases below peak at 8.2 MB.
const MAX_PEAK: usize = 3 * 4 * 1024 * 1024;

/// Renders `source` on its own thread; answers the error code (`None` when it
/// rendered) and the most memory the render held beyond what it started with.
fn render(source: &str) -> (Option<String>, usize) {
    let source = source.to_owned();
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let template = match Template::compile(&source, Limits::default()) {
                Ok(template) => template,
                Err(err) => return (Some(err.code().to_owned()), 0),
            };
            let context = context_from(&json!({ "customer": { "id": "c1" } }));
            let vouchers = Vouchers::new(BTreeMap::new(), BTreeMap::new());
            let start = LIVE.with(Cell::get);
            PEAK.with(|peak| peak.set(start));
            let code = template
                .render(&context, &vouchers)
                .err()
                .map(|err| err.code().to_owned());
            (code, PEAK.with(Cell::get) - start)
        })
        .expect("a thread starts")
        .join()
        .expect("no panic")
}

/// One long string (1 MB): builds within the limit, and the material of
/// most of the cases below.
const B: &str = r#"{% set b = "x" * 1000000 %}"#;

#[test]
fn templates_that_build_too_much_are_refused_before_they_do() {
    let cases = [
        // Finding 2 of issue 13: 1 GB joined before it was charged.
        (
            "join",
            r#"{% set a = "x"*1000 %}{% set b = a|replace("x",a) %}{{ ([b]*1000)|join|length }}"#
                .to_owned(),
        ),
        (
            "join with joiner",
            format!("{B}{{{{ ([b]*1000)|join(',')|length }}}}"),
        ),
        (
            "join of lists",
            format!("{B}{{{{ ([[b]*1000]*1000)|join|length }}}}"),
        ),
        (
            "concatenating a list",
            format!("{B}{{{{ (([b]*1000) ~ '')|length }}}}"),
        ),
        (
            "a list in a string",
            format!("{B}{{{{ ([b]*1000) in 'abc' }}}}"),
        ),
        ("printing a list", format!("{B}{{{{ [b]*1000 }}}}")),
        (
            "a list in a set block",
            format!("{B}{{% set c %}}{{{{ [b]*1000 }}}}{{% endset %}}{{{{ c|length }}}}"),
        ),
        (
            "string filter",
            format!("{B}{{{{ ([b]*1000)|string|length }}}}"),
        ),
        (
            "a filter taking a string",
            format!("{B}{{{{ ([b]*1000)|upper|length }}}}"),
        ),
        ("pprint", format!("{B}{{{{ ([b]*1000)|pprint|length }}}}")),
        (
            "format of a list",
            format!("{B}{{{{ '%s'|format([b]*1000)|length }}}}"),
        ),
        (
            "format of many strings",
            format!(
                "{B}{{{{ ('%s' * 30)|format({})|length }}}}",
                ["b"; 30].join(",")
            ),
        ),
        ("tuple", format!("{B}{{{{ ((b,)*1000) ~ '' }}}}")),
        (
            "macro argument",
            format!("{B}{{% macro m(x) %}}{{{{ x }}}}{{% endmacro %}}{{{{ m([b]*1000) }}}}"),
        ),
        (
            "list literal",
            format!("{B}{{{{ [{}] ~ '' }}}}", ["b"; 1000].join(",")),
        ),
        (
            "escaping",
            r#"{% set b = '"' * 3000000 %}{{ b }}"#.to_owned(),
        ),
        (
            "escape twice",
            r#"{% set b = '"' * 1000000 %}{{ b|escape|escape|length }}"#.to_owned(),
        ),
        (
            "case mapping",
            r#"{{ ("ΐ" * 1000000)|upper|length }}"#.to_owned(),
        ),
        (
            "split",
            r#"{{ ("a" * 3000000)|split("")|length }}"#.to_owned(),
        ),
        ("lines", r#"{{ ("\n" * 3000000)|lines|length }}"#.to_owned()),
        (
            "backward slice",
            r#"{{ ("x" * 3000000)[::-1]|length }}"#.to_owned(),
        ),
        ("repeated string", r#"{{ "ab" * 100000000 }}"#.to_owned()),
        (
            "loop of output",
            format!("{B}{{% for i in range(100) %}}{{{{ b }}}}{{% endfor %}}"),
        ),
        (
            "concatenations",
            format!("{B}{{{{ (b ~ b ~ b ~ b ~ b)|length }}}}"),
        ),
    ];
    for (name, source) in cases {
        assert!(
            source.len() <= Limits::default().max_template_bytes,
            "{name}"
        );
        let (code, peak) = render(&source);
        assert_eq!(code.as_deref(), Some("template_too_large"), "{name}");
        assert!(peak <= MAX_PEAK, "{name}: {peak} bytes at the peak");
    }
}

#[test]
fn the_refusal_says_what_and_where() {
    let template = Template::compile("\n{{ 'ab' * 100000000 }}", Limits::default()).unwrap();
    let err = template
        .render(
            &context_from(&json!({})),
            &Vouchers::new(BTreeMap::new(), BTreeMap::new()),
        )
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (422, "template_too_large"));
    assert!(err.message().starts_with("line 2"), "{}", err.message());
    assert!(err.message().contains("4194304 bytes"), "{}", err.message());
}

#[test]
fn templates_within_the_limit_render() {
    // A 480 KB output built through macros and a set block (the output
    // limit is 512 KiB): four times its size in data.
    let table = r#"{% macro row(i) %}<tr><td>{{ i }}</td><td>{{ "y" * 100 }}</td></tr>{% endmacro %}{% set rows %}{% for i in range(3000) %}{{ row(i) }}{% endfor %}{% endset %}{{ rows }}"#;
    // Short strings and lists as templates use them.
    let everyday = r#"{{ ("a,b,c"|split(","))|join(" ") }} {{ customer.id|upper }} {{ [1, 2, 3] ~ "" }} {{ "%s-%s"|format("a", "b") }} {{ ("x" * 1000000)|length }}"#;
    for source in [table, everyday] {
        let (code, peak) = render(source);
        assert_eq!(code, None, "{source}");
        assert!(peak <= MAX_PEAK, "{source}: {peak} bytes at the peak");
    }
}

/// A send of `template` to customers `c1`, `c2`, ... `cN`.
fn campaign(template: &str, customers: usize, test: bool) -> CampaignSend {
    CampaignSend {
        template: template.into(),
        customers: (1..=customers)
            .map(|i| Customer {
                id: format!("c{i}"),
                attributes: serde_json::Map::new(),
            })
            .collect(),
        test,
    }
}

/// Runs a send against the store, as the Worker does.
fn send(store: &Store<'_, NativeDatabase>, send: CampaignSend) -> Result<CampaignReport, Error> {
    let template = Template::compile(&send.template, Limits::default())?;
    let mut job = CampaignJob::new(&template, "spring", send)?;
    let counted = job.counted_pools();
    job.set_counts(store.counts(&counted, NOW)?);
    let plan = job.plan()?;
    if job.is_test() {
        return Ok(job.render_samples(&plan));
    }
    let results = store.reserve_campaign(&plan, NOW)?;
    Ok(job.render(results))
}

/// Nothing happened in the store: every code available, no event.
fn untouched(store: &Store<'_, NativeDatabase>, codes: i64) {
    assert_eq!(store.pool("p", NOW).unwrap().counts.available, codes);
    let events = store.events(&EventFilter::default()).unwrap();
    assert!(events.events.is_empty(), "{:?}", events.events);
}

#[test]
fn a_send_whose_answer_would_pass_the_cap_is_refused_before_it_reserves() {
    let db = NativeDatabase::in_memory().unwrap();
    let codes: Vec<String> = (0..100).map(|i| format!("CODE{i:03}")).collect();
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    let store = store_with(&db, &[("p", &codes)]);
    // Finding 1 of issue 13 (there with 10,000 customers): each message is
    // 500 KB, within the output limit; together they are 50 MB.
    let template = r#"{{ vouchers['p'].assign_available_code() }}{{ "x" * 500000 }}"#;
    for test in [true, false] {
        let err = send(&store, campaign(template, 100, test)).unwrap_err();
        assert_eq!((err.status(), err.code()), (422, "campaign_too_large"));
        // 16 messages of 500,155 bytes (JSON and a code at its longest) fit.
        assert!(
            err.message().contains("send at most 16 customers"),
            "{}",
            err.message()
        );
        untouched(&store, 100);
    }
    // A template that reads counts is planned with them, and refused alike.
    let counting = r#"{% if vouchers['p'].count_available_codes() > 0 %}{{ vouchers['p'].assign_available_code() }}{{ "x" * 500000 }}{% endif %}"#;
    let err = send(&store, campaign(counting, 100, false)).unwrap_err();
    assert!(
        err.message().contains("send at most 16 customers"),
        "{}",
        err.message()
    );
    untouched(&store, 100);
    // As many as the message says fit.
    let report = send(&store, campaign(template, 16, false)).unwrap();
    assert_eq!((report.sent, report.failed), (16, 0));
    let answer = serde_json::to_string(&report).unwrap();
    assert!(answer.len() <= MAX_SEND_ANSWER_BYTES, "{}", answer.len());
}

#[test]
fn an_answer_never_passes_twice_the_cap() {
    // A template that prints its code 4,000 times: the plan (no codes)
    // counts 128 bytes for it, the real messages are 400 KB each.
    let db = NativeDatabase::in_memory().unwrap();
    let codes: Vec<String> = (0..100).map(|i| format!("{i:0100}")).collect();
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    let store = store_with(&db, &[("p", &codes)]);
    let template = "{% set c = vouchers['p'].assign_available_code() %}{% for i in range(4000) %}{{ c }}{% endfor %}";
    let report = send(&store, campaign(template, 100, false)).unwrap();
    assert_eq!(report.sent + report.failed, 100);
    assert!(report.failed > 0);
    let answer = serde_json::to_string(&report).unwrap();
    // The message that passed the cap is the last one rendered.
    assert!(
        answer.len() <= 2 * MAX_SEND_ANSWER_BYTES + 512 * 1024,
        "{}",
        answer.len()
    );
    assert!(
        report.failures[0].reason.starts_with("not rendered"),
        "{}",
        report.failures[0].reason
    );
}

/// The most memory parsing `body` as a JSON import took, beyond the body.
fn json_import_peak(body: Vec<u8>) -> (usize, codepool::import::json::JsonImport) {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let start = LIVE.with(Cell::get);
            PEAK.with(|peak| peak.set(start));
            let import = codepool::import::json::JsonImport::parse(&body).unwrap();
            (PEAK.with(Cell::get) - start, import)
        })
        .expect("a thread starts")
        .join()
        .expect("no panic")
}

#[test]
fn a_json_import_keeps_its_valid_codes_and_nothing_else() {
    const BODY: usize = 16 * 1024 * 1024;
    // Finding 6 of issue 13: 16 MiB of zeros took 441 MB as JSON values.
    let mut zeros = br#"{"codes":[0"#.to_vec();
    let mut entries = 1;
    while zeros.len() < BODY - 4 {
        zeros.extend_from_slice(b",0");
        entries += 1;
    }
    zeros.extend_from_slice(b"]}");
    let (peak, import) = json_import_peak(zeros);
    let (_, report) = import.into_windows();
    assert_eq!(report.invalid, entries);
    assert!(peak < 64 * 1024, "{peak} bytes at the peak");

    // The shortest codes: as many as a body can hold.
    let mut codes = br#"{"codes":["a""#.to_vec();
    while codes.len() < BODY - 6 {
        codes.extend_from_slice(br#","a""#);
    }
    codes.extend_from_slice(b"]}");
    let (peak, import) = json_import_peak(codes);
    assert_eq!(import.len(), (BODY - 12) / 4);
    // The codes packed, while their text doubled once more: 12 MB.
    assert!(peak <= BODY, "{peak} bytes at the peak");
    // Then one window at a time.
    let (windows, _) = import.into_windows();
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let mut stored = 0;
    for window in windows {
        stored += window.len();
    }
    assert_eq!(stored, (BODY - 12) / 4);
    let peak = PEAK.with(Cell::get) - start;
    assert!(
        peak <= 8 * 1024 * 1024,
        "{peak} bytes at the peak of a window"
    );
}

/// A display whose answer fails after its render (the Worker could not
/// build the response) gives back the codes it took, and only those.
#[test]
fn a_render_that_cannot_be_answered_gives_its_codes_back() {
    use codepool::layer::{Assignment, LayerSettings};
    use codepool::render::{Outcome, RenderJob, Source};

    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"])]);
    let layer = store
        .put_layer(
            "welcome",
            &LayerSettings {
                template: "{{ vouchers['p'].assign_available_code() }}".into(),
                active: true,
                assignment: Assignment::PerCustomer,
                signed_customer: false,
                require_expiry: false,
                dispensers: 0,
                variables: Default::default(),
            },
            NOW,
        )
        .unwrap();
    let template = Template::compile(&layer.template, Limits::default()).unwrap();
    // Ada is answered once, then a second display fails after rendering.
    let display = |answered: bool| {
        let mut job = RenderJob::new(
            &template,
            context_from(&json!({})),
            Some("ada".into()),
            Source::Layer("welcome".into()),
            Some(layer.version),
        );
        let outcome = job.run(|r| store.reserve(r, NOW)).unwrap();
        if !answered {
            if let Some(release) = job.release_undelivered() {
                store.reserve(&release, NOW).unwrap();
            }
        }
        outcome
    };
    let shown = |outcome: Outcome| match outcome {
        Outcome::Rendered { output, .. } => output,
        other => panic!("expected a rendered output, got {other:?}"),
    };
    // A first display that fails: its fresh code goes back.
    assert_eq!(shown(display(false)), "A");
    assert_eq!(store.pool("p", NOW).unwrap().counts.available, 3);
    // Answered: Ada has A.
    assert_eq!(shown(display(true)), "A");
    // A failed display of the code she had keeps it hers.
    assert_eq!(shown(display(false)), "A");
    let pool = store.pool("p", NOW).unwrap();
    assert_eq!((pool.counts.available, pool.counts.assigned), (2, 1));
}
