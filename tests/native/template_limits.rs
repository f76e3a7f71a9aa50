//! Templates that would exhaust the stack, the time or the memory of a
//! render are refused with a template error, never crashed on.

use std::collections::BTreeMap;

use codepool::render::{context_from, Limits, Template, Vouchers};
use serde_json::json;

use crate::common::on_worker_stack;

/// Chains that build one syntax tree level per token, `n` levels deep.
fn shapes(n: usize) -> Vec<(&'static str, String)> {
    vec![
        ("unary minus", format!("{{{{ {}1 }}}}", "-".repeat(n))),
        ("additions", format!("{{{{ 1{} }}}}", "+1".repeat(n))),
        ("attributes", format!("{{{{ x{} }}}}", ".a".repeat(n))),
        ("subscripts", format!("{{{{ x{} }}}}", "[0]".repeat(n))),
        ("filters", format!("{{{{ 1{} }}}}", "|abs".repeat(n))),
        ("not", format!("{{{{ {}x }}}}", "not ".repeat(n))),
        (
            "if else",
            format!("{{{{ {}1 }}}}", "1 if x else ".repeat(n)),
        ),
        (
            "elif",
            format!("{{% if x %}}{}{{% endif %}}", "{% elif x %}".repeat(n)),
        ),
        (
            "assignment",
            format!("{{% set {}a{} = 1 %}}", "(".repeat(n), ")".repeat(n)),
        ),
    ]
}

/// Compiles and renders `source` on a thread with the Worker's stack size;
/// answers the error code, or `None` when it rendered.
fn outcome(source: String) -> Option<String> {
    on_worker_stack(move || {
        let template = Template::compile(&source, Limits::default())
            .map_err(|e| e.code().to_owned())
            .err();
        template.or_else(|| {
            let t = Template::compile(&source, Limits::default()).ok()?;
            let context = context_from(&json!({ "x": { "a": 1 } }));
            t.render(&context, &Vouchers::new(BTreeMap::new(), BTreeMap::new()))
                .map_err(|e| e.code().to_owned())
                .err()
        })
    })
    .expect("no panic")
}

#[test]
fn chains_nested_thousands_deep_are_refused_unparsed() {
    // Each fits in the 64 KiB a template may have; before the check, each
    // overflowed the stack in the Worker (and natively).
    for (shape, source) in shapes(5_000) {
        assert!(
            source.len() <= Limits::default().max_template_bytes,
            "{shape}"
        );
        assert_eq!(
            outcome(source).as_deref(),
            Some("template_too_complex"),
            "{shape}"
        );
    }
}

#[test]
fn chains_up_to_the_limit_compile() {
    let max = Limits::default().max_nesting;
    for (shape, source) in shapes(max / 2) {
        let code = outcome(source);
        assert_ne!(code.as_deref(), Some("template_too_complex"), "{shape}");
    }
    let err = Template::compile(
        &format!("\n{{{{ 1{} }}}}", "+1".repeat(max + 1)),
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!((err.status(), err.code()), (422, "template_too_complex"));
    assert!(err.message().starts_with("line 2: "), "{}", err.message());
}
