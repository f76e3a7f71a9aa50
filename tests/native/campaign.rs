//! Campaign sends on native SQLite: served in order while codes last.

use codepool::campaign::{CampaignJob, CampaignSend, Customer};
use codepool::event::EventFilter;
use codepool::render::{Limits, Template};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

use crate::common::{store_with, NOW};

/// A store whose pool `spring10` holds `n` codes, `SPRING-01` on.
fn store_with_codes(db: &NativeDatabase, n: usize) -> Store<'_, NativeDatabase> {
    let codes: Vec<String> = (1..=n).map(|i| format!("SPRING-{i:02}")).collect();
    store_with(db, &[("spring10", &codes)])
}

/// A send of `template` to customers `c01`.. (named `Name1`..); `test` sends
/// with sample codes.
fn send(template: &str, customers: usize, test: bool) -> CampaignSend {
    CampaignSend {
        template: template.into(),
        customers: (1..=customers)
            .map(|i| Customer {
                id: format!("c{i:02}"),
                attributes: serde_json::json!({ "first_name": format!("Name{i}") })
                    .as_object()
                    .cloned()
                    .unwrap(),
            })
            .collect(),
        test,
    }
}

/// Runs a send as the Worker does: the counts, then (unless a test send) one
/// reservation for every customer, then the messages.
fn run(
    store: &Store<'_, NativeDatabase>,
    campaign: &str,
    send: CampaignSend,
) -> codepool::campaign::CampaignReport {
    let template = Template::compile(&send.template, Limits::default()).unwrap();
    let mut job = CampaignJob::new(&template, campaign, send).unwrap();
    let counted = job.counted_pools();
    job.set_counts(store.counts(&counted, NOW).unwrap());
    if job.is_test() {
        return job.render_test().unwrap();
    }
    let results = store.reserve_campaign(&job.plan().unwrap(), NOW).unwrap();
    job.render(results)
}

/// Greets the customer with a code.
const TEMPLATE: &str =
    "Hi {{ customer.first_name }}: {{ vouchers['spring10'].assign_available_code() }}";

#[test]
fn ten_customers_six_codes_six_messages_four_failures_in_order() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with_codes(&db, 6);
    let report = run(&store, "black-friday", send(TEMPLATE, 10, false));
    assert_eq!((report.sent, report.failed), (6, 4));
    let served: Vec<&str> = report
        .messages
        .iter()
        .map(|m| m.customer_id.as_str())
        .collect();
    assert_eq!(served, ["c01", "c02", "c03", "c04", "c05", "c06"]);
    let mut codes: Vec<&str> = report
        .messages
        .iter()
        .map(|m| m.output.rsplit(' ').next().unwrap())
        .collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 6);
    assert_eq!(report.messages[0].output, "Hi Name1: SPRING-01");

    let failed = store
        .events(&EventFilter {
            event_type: Some("campaign".into()),
            status: Some("enqueue_failed".into()),
            ..Default::default()
        })
        .unwrap();
    // Newest first: c10, c09, c08, c07.
    let who: Vec<&str> = failed
        .events
        .iter()
        .rev()
        .map(|e| e.customer_id.as_deref().unwrap())
        .collect();
    assert_eq!(who, ["c07", "c08", "c09", "c10"]);
    assert_eq!(
        failed.events[0].properties["reason"],
        "pool spring10 has no codes left"
    );
    let pool = store.pool("spring10", NOW).unwrap();
    assert_eq!((pool.counts.available, pool.counts.assigned), (0, 6));
    assert!(store.audit().unwrap().is_empty());
}

#[test]
fn repeating_a_send_takes_no_second_code() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with_codes(&db, 5);
    let first = run(&store, "welcome", send(TEMPLATE, 3, false));
    let again = run(&store, "welcome", send(TEMPLATE, 3, false));
    assert_eq!(first.messages, again.messages);
    assert_eq!(store.pool("spring10", NOW).unwrap().counts.assigned, 3);
    // Another campaign is another send.
    let other = run(&store, "other", send(TEMPLATE, 2, false));
    assert_eq!(other.messages[0].output, "Hi Name1: SPRING-04");
}

#[test]
fn a_test_send_uses_sample_codes_and_consumes_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with_codes(&db, 1);
    let report = run(&store, "welcome", send(TEMPLATE, 3, true));
    assert_eq!(report.sent, 3);
    assert_eq!(report.messages[2].output, "Hi Name3: SAMPLE-SPRING10-1");
    assert_eq!(store.pool("spring10", NOW).unwrap().counts.available, 1);
    assert!(store
        .events(&EventFilter::default())
        .unwrap()
        .events
        .is_empty());
}

#[test]
fn customers_whose_branch_takes_no_code_are_still_served() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with_codes(&db, 1);
    let t = "{% if customer.id == 'c02' %}plain{% else %}{{ vouchers['spring10'].assign_available_code() }}{% endif %}";
    let report = run(&store, "mixed", send(t, 3, false));
    let outputs: Vec<(&str, &str)> = report
        .messages
        .iter()
        .map(|m| (m.customer_id.as_str(), m.output.as_str()))
        .collect();
    assert_eq!(outputs, [("c01", "SPRING-01"), ("c02", "plain")]);
    assert_eq!(report.failures[0].customer_id, "c03");
}

#[test]
fn counts_in_a_campaign_are_a_snapshot_before_the_send() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with_codes(&db, 4);
    let t = "{{ vouchers['spring10'].assign_available_code() }} of {{ vouchers['spring10'].count_available_codes() }}";
    let report = run(&store, "snap", send(t, 2, false));
    assert_eq!(report.messages[0].output, "SPRING-01 of 4");
    assert_eq!(report.messages[1].output, "SPRING-02 of 4");
}
