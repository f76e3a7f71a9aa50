//! Fallback content: a template that shows something else when its pool is
//! empty (`{% if vouchers['p'].count_available_codes() > 0 %}…{% else %}…`)
//! consumes nothing when it shows the fallback, not even for a moment, and
//! exactly its one code when it shows the code (issue 16, part 5).

use std::collections::BTreeMap;

use codepool::layer::{Assignment, LayerSettings};
use codepool::pool::{CodePage, CodeQuery, Pool, PoolSettings};
use codepool::render::{context_from, Limits, Template};
use codepool::render::{Outcome, PlanMemory, RenderJob, Source};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;
use serde_json::json;

use crate::common::{store_with, take, NOW};

/// What the fallback branch shows.
const NEWSLETTER: &str = "<p>Sign up for our newsletter</p>";

/// The README's example in short, for `pool`: its code while it has one,
/// else the newsletter sign-up.
fn code_or_newsletter(pool: &str) -> String {
    format!(
        "{{% if vouchers['{pool}'].count_available_codes() > 0 %}}\
         <p>Your code: {{{{ vouchers['{pool}'].assign_available_code() }}}}</p>\
         {{% else %}}{NEWSLETTER}{{% endif %}}"
    )
}

/// Every pool, and every code of each, as the API lists them.
fn snapshot(store: &Store<'_, NativeDatabase>) -> (Vec<Pool>, BTreeMap<String, CodePage>) {
    let pools = store.pools(NOW).unwrap();
    let query = CodeQuery {
        state: None,
        cursor: None,
        limit: 1000,
    };
    let codes = pools
        .iter()
        .map(|p| (p.name.clone(), store.codes(&p.name, &query, NOW).unwrap()))
        .collect();
    (pools, codes)
}

/// A render by `source` (a layer at `version`, or an ad-hoc render) for
/// `customer`, starting from `plans` and updating them, as the Worker renders
/// a layer. Answers the outcome and the codes each store call assigned.
fn display(
    store: &Store<'_, NativeDatabase>,
    template: &Template,
    customer: &str,
    source: Source,
    version: Option<i64>,
    plans: &mut PlanMemory,
) -> (Outcome, Vec<String>) {
    let mut fresh = Vec::new();
    let mut job = RenderJob::new(
        template,
        context_from(&json!({})),
        Some(customer.to_owned()),
        source,
        version,
    )
    .with_plan(plans.next());
    let outcome = job
        .run(|request| {
            let reservation = store.reserve(request, NOW)?;
            fresh.extend(reservation.fresh.iter().cloned());
            Ok(reservation)
        })
        .unwrap();
    plans.learn(&job);
    (outcome, fresh)
}

/// An ad-hoc render of `source` for `customer`, planned from scratch.
fn render(
    store: &Store<'_, NativeDatabase>,
    source: &str,
    customer: &str,
) -> (Outcome, Vec<String>) {
    let template = Template::compile(source, Limits::default()).unwrap();
    let mut plans = PlanMemory::default();
    display(store, &template, customer, Source::Render, None, &mut plans)
}

/// The output of a rendered (not suppressed) display, and its codes.
fn rendered(outcome: Outcome) -> (String, BTreeMap<String, Vec<String>>) {
    match outcome {
        Outcome::Rendered { output, codes } => (output, codes),
        other => panic!("expected the layer, got {other:?}"),
    }
}

#[test]
fn with_codes_it_takes_exactly_one_and_empty_it_shows_the_fallback_taking_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("spring10", &["A", "B"][..]), ("sold", &[])]);

    let (outcome, fresh) = render(&store, &code_or_newsletter("spring10"), "ada");
    let (output, codes) = rendered(outcome);
    assert_eq!(output, "<p>Your code: A</p>");
    assert_eq!(
        codes,
        BTreeMap::from([("spring10".into(), vec!["A".into()])])
    );
    assert_eq!(fresh, ["A"], "exactly one code assigned");
    let pool = store.pool("spring10", NOW).unwrap();
    assert_eq!((pool.counts.available, pool.counts.assigned), (1, 1));

    // The empty pool: the fallback (rendered, not suppressed), and the store
    // as it was.
    let before = snapshot(&store);
    let (outcome, fresh) = render(&store, &code_or_newsletter("sold"), "bob");
    let (output, codes) = rendered(outcome);
    assert_eq!(output, NEWSLETTER);
    assert!(codes.is_empty(), "{codes:?}");
    assert!(
        fresh.is_empty(),
        "no code assigned, even for a moment: {fresh:?}"
    );
    assert_eq!(snapshot(&store), before);
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn the_fallback_takes_nothing_from_a_pool_named_only_in_the_code_branch() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &[][..]), ("bonus", &["B1", "B2"])]);
    // The dry run does not know p is empty, so it plans a code of each pool;
    // the store, finding p short, takes neither, and the counts pick the
    // fallback.
    let t = "{% if vouchers['p'].count_available_codes() > 0 %}\
             {{ vouchers['p'].assign_available_code() }} + {{ vouchers['bonus'].assign_available_code() }}\
             {% else %}newsletter{% endif %}";
    let before = snapshot(&store);
    let (outcome, fresh) = render(&store, t, "ada");
    assert_eq!(rendered(outcome).0, "newsletter");
    assert!(fresh.is_empty(), "{fresh:?}");
    assert_eq!(snapshot(&store), before);
    assert_eq!(store.pool("bonus", NOW).unwrap().counts.available, 2);

    // Once p has a code, the branch takes one of each.
    let import = store.begin_import("p", NOW).unwrap();
    store.import_batch("p", import, &["P1".into()]).unwrap();
    let (outcome, fresh) = render(&store, t, "ada");
    assert_eq!(rendered(outcome).0, "P1 + B1");
    assert_eq!(fresh.len(), 2);
    assert_eq!(store.pool("bonus", NOW).unwrap().counts.available, 1);
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn a_pool_that_empties_between_displays_switches_to_the_fallback() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"][..])]);
    let layer = store
        .put_layer(
            "signup",
            &LayerSettings {
                template: code_or_newsletter("p"),
                active: true,
                assignment: Assignment::PerDisplay,
                signed_customer: false,
                require_expiry: false,
                dispensers: 0,
                variables: Default::default(),
            },
            NOW,
        )
        .unwrap();
    let template = Template::compile(&layer.template, Limits::default()).unwrap();
    let source = || Source::Layer("signup".into());
    let version = Some(layer.version);
    // One compiled layer and its plans, as an isolate of the Worker keeps them.
    let mut plans = PlanMemory::default();
    let mut show = |customer: &str| {
        let (outcome, fresh) = display(&store, &template, customer, source(), version, &mut plans);
        (rendered(outcome).0, fresh)
    };

    assert_eq!(show("c1"), ("<p>Your code: A</p>".into(), vec!["A".into()]));
    // Someone else (a campaign, another layer) takes what is left.
    store
        .reserve(&take("p", 2, "other", Source::Campaign("mail".into())), NOW)
        .unwrap();
    let before = snapshot(&store);
    // The plan of the last display takes a code: the store finds none, and
    // the display shows the fallback instead, again and again.
    for customer in ["c2", "c3"] {
        assert_eq!(show(customer), (NEWSLETTER.into(), vec![]));
    }
    assert_eq!(snapshot(&store), before);

    // Refilled, the layer hands out codes again.
    let import = store.begin_import("p", NOW).unwrap();
    store.import_batch("p", import, &["D".into()]).unwrap();
    assert_eq!(show("c4"), ("<p>Your code: D</p>".into(), vec!["D".into()]));
    assert_eq!(show("c5"), (NEWSLETTER.into(), vec![]));

    let pool = store.pool("p", NOW).unwrap();
    assert_eq!((pool.counts.total, pool.counts.available), (4, 0));
    assert_eq!(
        pool.counts.assigned, 4,
        "A and D by the layer, B and C by the campaign"
    );
    let page = &snapshot(&store).1["p"];
    let holders: Vec<_> = page
        .codes
        .iter()
        .map(|c| {
            (
                c.code.as_str(),
                c.customer_id.as_deref(),
                c.source.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        holders,
        [
            ("A", Some("c1"), Some("layer:signup")),
            ("B", Some("other"), Some("campaign:mail")),
            ("C", Some("other"), Some("campaign:mail")),
            ("D", Some("c4"), Some("layer:signup")),
        ]
    );
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn a_pool_that_hands_out_nothing_now_shows_the_fallback() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(
        &db,
        &[
            ("later", &["L1"][..]),
            ("over", &["O1"]),
            ("shelved", &["S1"]),
        ],
    );
    let settings = [
        (
            "later",
            PoolSettings {
                valid_from: Some("2026-01-01T00:00:00Z".into()),
                ..PoolSettings::default()
            },
        ),
        (
            "over",
            PoolSettings {
                expires_at: Some("2025-11-01T00:00:00Z".into()),
                ..PoolSettings::default()
            },
        ),
        (
            "shelved",
            PoolSettings {
                archived: true,
                ..PoolSettings::default()
            },
        ),
    ];
    for (pool, settings) in &settings {
        store.put_pool(pool, settings, NOW).unwrap();
    }
    let before = snapshot(&store);
    for (pool, _) in &settings {
        let (outcome, fresh) = render(&store, &code_or_newsletter(pool), "ada");
        assert_eq!(rendered(outcome).0, NEWSLETTER, "{pool}");
        assert!(fresh.is_empty(), "{pool}: {fresh:?}");
    }
    assert_eq!(snapshot(&store), before);
}
