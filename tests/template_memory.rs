//! A render builds at most `Limits::max_data_bytes`, and is stopped before it
//! builds more: templates within every other limit that would build gigabytes
//! (text made from a list holding one long string a thousand times, joins,
//! splits, escapes) answer `template_too_large`, and the memory the render
//! takes stays a few times the limit. Each runs on a 1 MiB stack (the
//! Worker's) under an allocator that counts the bytes of its own thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;

use codepool::render::{context_from, Limits, Template, Vouchers};
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
