//! The rules of a render, against the store on native SQLite.

use std::collections::BTreeSet;

use codepool::layer::Assignment;
use codepool::render::Source;
use codepool::render::{context_from, Limits, Template};
use codepool::render::{Outcome, PlanMemory, RenderJob};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;
use serde_json::json;

use crate::common::{layer_taking, store_with, NOW};

/// Renders `source` for `customer`, reserving from `store`.
fn render(
    store: &Store<'_, NativeDatabase>,
    source: &str,
    context: serde_json::Value,
    customer: &str,
) -> codepool::Result<Outcome> {
    let template = Template::compile(source, Limits::default())?;
    RenderJob::new(
        &template,
        context_from(&context),
        Some(customer.to_owned()),
        Source::Render,
        None,
    )
    .run(|request| store.reserve(request, NOW))
}

/// The output of a render that was not suppressed.
fn rendered(outcome: Outcome) -> String {
    match outcome {
        Outcome::Rendered { output, .. } => output,
        other => panic!("expected a rendered output, got {other:?}"),
    }
}

#[test]
fn each_render_takes_a_new_code_until_the_pool_is_empty() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("spring10", &["A", "B", "C"])]);
    let t = "Code: {{ vouchers['spring10'].assign_available_code() }}";
    let mut seen = BTreeSet::new();
    for customer in ["c1", "c2", "c3"] {
        let out = rendered(render(&store, t, json!({}), customer).unwrap());
        seen.insert(out);
    }
    assert_eq!(seen.len(), 3);
    assert_eq!(
        render(&store, t, json!({}), "c4").unwrap(),
        Outcome::Suppressed {
            pools: vec!["spring10".into()]
        }
    );
    let pool = store.pool("spring10", NOW).unwrap();
    assert_eq!((pool.counts.available, pool.counts.assigned), (0, 3));
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn a_branch_not_taken_consumes_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B"])]);
    let t = "{% if customer.tier == 'gold' %}{{ vouchers['p'].assign_available_code() }}{% else %}no code{% endif %}";
    let out = rendered(render(&store, t, json!({"customer": {"tier": "silver"}}), "c1").unwrap());
    assert_eq!(out, "no code");
    assert_eq!(store.pool("p", NOW).unwrap().counts.available, 2);
    let out = rendered(render(&store, t, json!({"customer": {"tier": "gold"}}), "c1").unwrap());
    assert_eq!(out, "A");
    assert_eq!(store.pool("p", NOW).unwrap().counts.available, 1);
}

#[test]
fn all_or_nothing_across_pools() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["A1", "A2"]), ("b", &["B1"])]);
    let t =
        "{{ vouchers['a'].assign_available_code() }} {{ vouchers['b'].assign_available_code() }}";
    assert_eq!(
        rendered(render(&store, t, json!({}), "c1").unwrap()),
        "A1 B1"
    );
    // Pool b is empty: nothing is taken from a either.
    assert!(matches!(
        render(&store, t, json!({}), "c2").unwrap(),
        Outcome::Suppressed { .. }
    ));
    assert_eq!(store.pool("a", NOW).unwrap().counts.available, 1);
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn two_codes_from_one_pool_in_one_render() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"])]);
    let t =
        "{{ vouchers['p'].assign_available_code() }}+{{ vouchers['p'].assign_available_code() }}";
    assert_eq!(rendered(render(&store, t, json!({}), "c1").unwrap()), "A+B");
    // One code left, two needed: nothing taken.
    assert!(matches!(
        render(&store, t, json!({}), "c2").unwrap(),
        Outcome::Suppressed { .. }
    ));
    assert_eq!(store.pool("p", NOW).unwrap().counts.available, 1);
}

#[test]
fn counts_are_read_before_this_render_assigns() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"])]);
    let t = "{{ vouchers['p'].assign_available_code() }} {{ vouchers['p'].count_available_codes() }}/{{ vouchers['p'].count_total_codes() }}";
    assert_eq!(
        rendered(render(&store, t, json!({}), "c1").unwrap()),
        "A 3/3"
    );
    assert_eq!(
        rendered(render(&store, t, json!({}), "c2").unwrap()),
        "B 2/3"
    );
}

#[test]
fn a_sold_out_branch_renders_instead_of_suppressing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A"])]);
    let t = "{% if vouchers['p'].count_available_codes() > 0 %}{{ vouchers['p'].assign_available_code() }}{% else %}sold out{% endif %}";
    assert_eq!(rendered(render(&store, t, json!({}), "c1").unwrap()), "A");
    assert_eq!(
        rendered(render(&store, t, json!({}), "c2").unwrap()),
        "sold out"
    );
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn a_template_without_vouchers_needs_no_store() {
    let template = Template::compile("Hi {{ name }}", Limits::default()).unwrap();
    let outcome = RenderJob::new(
        &template,
        context_from(&json!({"name": "<b>"})),
        None,
        Source::Render,
        None,
    )
    .run(|_| panic!("no reservation expected"))
    .unwrap();
    assert_eq!(rendered(outcome), "Hi &lt;b&gt;");
}

#[test]
fn an_unknown_pool_is_a_clear_error_and_takes_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A"])]);
    let t =
        "{{ vouchers['p'].assign_available_code() }}{{ vouchers['nope'].assign_available_code() }}";
    let err = render(&store, t, json!({}), "c1").unwrap_err();
    assert_eq!(err.code(), "unknown_pool");
    assert_eq!(store.pool("p", NOW).unwrap().counts.available, 1);
}

#[test]
fn template_errors_name_line_and_column_and_take_nothing() {
    let err = Template::compile("line one\n  {{ vouchers[ }}", Limits::default()).unwrap_err();
    assert_eq!(err.code(), "template_syntax_error");
    assert!(
        err.message().starts_with("line 2, column"),
        "{}",
        err.message()
    );

    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A"])]);
    let t = "{{ vouchers['p'].assign_available_code() }}{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    let err = render(&store, t, json!({}), "c1").unwrap_err();
    assert_eq!(err.code(), "template_too_slow");
    assert_eq!(store.pool("p", NOW).unwrap().counts.available, 1);
}

#[test]
fn huge_output_is_refused() {
    let t = Template::compile(
        "{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}",
        Limits::default(),
    )
    .unwrap();
    let err = RenderJob::new(&t, context_from(&json!({})), None, Source::Render, None)
        .run(|_| unreachable!())
        .unwrap_err();
    assert_eq!(err.code(), "output_too_large");
}

#[test]
fn per_customer_layers_give_the_same_code_again() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"])]);
    let layer = store
        .put_layer("welcome", &layer_taking("p", Assignment::PerCustomer), NOW)
        .unwrap();
    let template = Template::compile(&layer.template, Limits::default()).unwrap();
    let show = |customer: &str| {
        rendered(
            RenderJob::new(
                &template,
                context_from(&json!({})),
                Some(customer.into()),
                Source::Layer("welcome".into()),
                Some(layer.version),
            )
            .run(|r| store.reserve(r, NOW))
            .unwrap(),
        )
    };
    assert_eq!(show("ada"), "A");
    assert_eq!(show("bob"), "B");
    assert_eq!(show("ada"), "A");
    assert_eq!(store.pool("p", NOW).unwrap().counts.assigned, 2);
}

#[test]
fn a_context_key_named_vouchers_cannot_shadow_the_pools() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A"])]);
    let t = "{{ vouchers['p'].assign_available_code() }}";
    let out = rendered(render(&store, t, json!({"vouchers": {"p": "fake"}}), "c1").unwrap());
    assert_eq!(out, "A");
}

/// Renders as the Worker renders a layer: from the plans of earlier renders,
/// which it then updates.
fn render_with_plans(
    store: &Store<'_, NativeDatabase>,
    template: &Template,
    context: serde_json::Value,
    plans: &mut PlanMemory,
) -> Outcome {
    let mut job = RenderJob::new(
        template,
        context_from(&context),
        Some("c".to_owned()),
        Source::Render,
        None,
    )
    .with_plan(plans.next());
    let outcome = job.run(|request| store.reserve(request, NOW)).unwrap();
    plans.learn(&job);
    outcome
}

#[test]
fn a_plan_from_an_earlier_render_is_reused_while_it_holds() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"])]);
    let t = Template::compile(
        "{{ vouchers['p'].assign_available_code() }} of {{ vouchers['p'].count_total_codes() }}",
        Limits::default(),
    )
    .unwrap();
    let mut plans = PlanMemory::default();
    assert_eq!(
        rendered(render_with_plans(&store, &t, json!({}), &mut plans)),
        "A of 3"
    );
    let plan = plans.next().expect("a settled render gives its plan");
    assert_eq!(
        rendered(render_with_plans(&store, &t, json!({}), &mut plans)),
        "B of 3"
    );
    assert_eq!(plans, PlanMemory::Known(plan));
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn a_wrong_plan_costs_a_round_and_gives_back_what_it_took() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C", "D"])]);
    // Gold customers get two codes, others one: the plan depends on the customer.
    let t = Template::compile(
        "{{ vouchers['p'].assign_available_code() }}{% if tier == 'gold' %} {{ vouchers['p'].assign_available_code() }}{% endif %}",
        Limits::default(),
    )
    .unwrap();
    let mut plans = PlanMemory::default();
    let gold = render_with_plans(&store, &t, json!({"tier": "gold"}), &mut plans);
    assert_eq!(rendered(gold), "A B");
    let silver = render_with_plans(&store, &t, json!({"tier": "silver"}), &mut plans);
    // The two codes the gold plan took: one shown, one given back.
    assert_eq!(rendered(silver), "C");
    assert_eq!(
        plans,
        PlanMemory::Varies,
        "a plan that missed is not offered again"
    );
    let pool = store.pool("p", NOW).unwrap();
    assert_eq!((pool.counts.available, pool.counts.assigned), (1, 3));
    // From now on each render plans for itself.
    let silver = render_with_plans(&store, &t, json!({"tier": "silver"}), &mut plans);
    assert_eq!(rendered(silver), "D");
    assert_eq!(plans, PlanMemory::Varies);
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn a_count_read_only_in_a_branch_the_counts_opened_is_a_real_count() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("a", &["A1"]), ("b", &["B1", "B2"])]);
    // The plan sees "plenty" for a, so it never reads b's count; the real
    // counts open the branch, and b's count must be real, not a placeholder.
    let t = "{% if vouchers['a'].count_available_codes() < 10 %}b has {{ vouchers['b'].count_total_codes() }}{% endif %}";
    let out = rendered(render(&store, t, json!({}), "c1").unwrap());
    assert_eq!(out, "b has 2");
}
