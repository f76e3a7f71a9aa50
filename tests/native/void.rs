//! Voiding codes, deleting pools and rolling redemptions back, on native
//! SQLite: each state of a code, the paths that hand codes out (store,
//! campaign, dispensers), and the counters and audit after each step.

use codepool::campaign::{CampaignJob, CampaignSend, Customer};
use codepool::dispenser::{Exchange, Held, Holder, Need};
use codepool::event::{EventFilter, Redemption, TrackedEvent};
use codepool::layer::Assignment;
use codepool::pool::{CodeState, PoolCounts, PoolSettings, VoidOutcome};
use codepool::project::settings::{RedemptionMapping, Settings};
use codepool::render::{Limits, ReservationRequest, Source, Template};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::{Database, Store};
use codepool::ErrorKind;

use crate::common::{layer_taking, purchase, redeem_purchases, store_with, take, NOW};
use crate::dispenser::Local;

/// When purchases and refunds happen: 2025-11-25T19:46:40Z in Unix seconds.
const PAID_AT: i64 = 1_764_100_000;

/// Counters as `(available, leased, assigned, redeemed, expired, void)`.
fn counts(store: &Store<'_, NativeDatabase>, pool: &str) -> (i64, i64, i64, i64, i64, i64) {
    let c: PoolCounts = store.pool(pool, NOW).unwrap().counts;
    (
        c.available,
        c.leased,
        c.assigned,
        c.redeemed,
        c.expired,
        c.void,
    )
}

/// The store's counters agree with its codes.
fn audited(store: &Store<'_, NativeDatabase>) {
    assert_eq!(store.audit().unwrap(), Vec::<String>::new());
}

/// Voids a code that must be voided at once; answers its entry.
fn void(store: &Store<'_, NativeDatabase>, pool: &str, code: &str) -> codepool::pool::CodeEntry {
    match store.void_code(pool, code, NOW).unwrap() {
        VoidOutcome::Void { code, .. } => code,
        VoidOutcome::Leased => panic!("{code} is leased"),
    }
}

/// The logged voids, newest first, as `(code, was)`.
fn voids(store: &Store<'_, NativeDatabase>) -> Vec<(String, String)> {
    let filter = EventFilter {
        event_type: Some("void".into()),
        ..EventFilter::default()
    };
    store
        .events(&filter)
        .unwrap()
        .events
        .into_iter()
        .map(|e| {
            assert_eq!(e.properties["pool"], "p");
            let was = e.properties["was"].as_str().unwrap().to_owned();
            (e.code.unwrap(), was)
        })
        .collect()
}

/// Gives a code its own expiry, `at`, as an import with `expires_at` does.
fn expire_at(db: &NativeDatabase, code: &str, at: i64) {
    db.execute(
        "UPDATE codes SET expires_at = ?1 WHERE code = ?2",
        &[at.into(), code.into()],
    )
    .unwrap();
    db.execute("UPDATE pools SET next_expiry = ?1", &[at.into()])
        .unwrap();
}

/// A store whose pool `p` holds `AVAIL`, `OLD` (expired), `GIVEN`
/// (assigned to ada), `PAID` (redeemed by bob) and `SPARE`.
fn every_state(db: &NativeDatabase) -> Store<'_, NativeDatabase> {
    let store = store_with(db, &[("p", &["GIVEN", "PAID", "AVAIL", "OLD", "SPARE"])]);
    redeem_purchases(&store);
    store
        .reserve(&take("p", 1, "ada", Source::Render), NOW)
        .unwrap();
    store
        .reserve(&take("p", 1, "bob", Source::Render), NOW)
        .unwrap();
    let paid = store
        .track(&[purchase("bob", "PAID", PAID_AT)], NOW)
        .unwrap();
    assert_eq!(paid[0].redemption, Redemption::Redeemed);
    expire_at(db, "OLD", NOW - 1);
    assert_eq!(counts(&store, "p"), (2, 0, 1, 1, 1, 0));
    store
}

#[test]
fn each_state_of_a_code_is_voided_or_refused() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = every_state(&db);

    let avail = void(&store, "p", "AVAIL");
    assert_eq!(
        (avail.code.as_str(), avail.state),
        ("AVAIL", CodeState::Void)
    );
    assert_eq!(counts(&store, "p"), (1, 0, 1, 1, 1, 1));
    audited(&store);

    // Found by its key, as a shopper's typing is.
    let old = void(&store, "p", " old ");
    assert_eq!(old.code, "OLD");
    assert_eq!(counts(&store, "p"), (1, 0, 1, 1, 0, 2));
    audited(&store);

    // Handed out: void all the same, and its record kept.
    let given = void(&store, "p", "GIVEN");
    assert_eq!(given.state, CodeState::Void);
    assert_eq!(given.customer_id.as_deref(), Some("ada"));
    assert!(given.assigned_at.is_some());
    assert_eq!(counts(&store, "p"), (1, 0, 0, 1, 0, 3));
    audited(&store);

    // Twice: the same answer, nothing changed, nothing logged again.
    assert_eq!(void(&store, "p", "GIVEN"), given);
    assert_eq!(counts(&store, "p"), (1, 0, 0, 1, 0, 3));
    assert_eq!(
        voids(&store),
        [
            ("GIVEN".to_owned(), "assigned".to_owned()),
            ("OLD".to_owned(), "expired".to_owned()),
            ("AVAIL".to_owned(), "available".to_owned()),
        ]
    );
    let log = store.events(&EventFilter::default()).unwrap();
    assert_eq!(log.events[0].customer_id.as_deref(), Some("ada"));
    audited(&store);
}

#[test]
fn err_a_redeemed_code_is_rolled_back_before_it_is_voided() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = every_state(&db);
    let err = store.void_code("p", "PAID", NOW).unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::CodeRedeemed, 409));
    assert!(err.message().contains("roll the redemption back first"));
    assert_eq!(counts(&store, "p"), (2, 0, 1, 1, 1, 0));
    store.rollback_code("p", "PAID", NOW).unwrap();
    assert_eq!(void(&store, "p", "PAID").state, CodeState::Void);
    assert_eq!(counts(&store, "p"), (2, 0, 1, 0, 1, 1));
    audited(&store);
}

#[test]
fn err_unknown_codes_and_pools() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A"]), ("q", &["B"])]);
    for (pool, code, kind) in [
        ("p", "NOPE", ErrorKind::UnknownCode),
        // In the project, but in another pool.
        ("p", "B", ErrorKind::UnknownCode),
        // No code at all.
        ("p", "", ErrorKind::UnknownCode),
        ("p", "A\u{200B}", ErrorKind::UnknownCode),
        ("nope", "A", ErrorKind::UnknownPool),
    ] {
        let err = store.void_code(pool, code, NOW).unwrap_err();
        assert_eq!(err.kind(), kind, "void {pool}/{code:?}");
        assert_eq!(err.status(), 404);
        let err = store.rollback_code(pool, code, NOW).unwrap_err();
        assert_eq!(err.kind(), kind, "rollback {pool}/{code:?}");
    }
    assert_eq!(
        store.void_code("p", "NOPE", NOW).unwrap_err().message(),
        "pool \"p\" has no code \"NOPE\""
    );
    assert_eq!(counts(&store, "p"), (1, 0, 0, 0, 0, 0));
    audited(&store);
}

#[test]
fn a_code_of_an_expired_pool_is_voided_as_expired() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B"])]);
    let closed = PoolSettings {
        expires_at: Some("2025-01-01T00:00:00Z".into()),
        ..PoolSettings::default()
    };
    store.put_pool("p", &closed, NOW).unwrap();
    assert_eq!(counts(&store, "p"), (0, 0, 0, 0, 2, 0));
    void(&store, "p", "A");
    assert_eq!(counts(&store, "p"), (0, 0, 0, 0, 1, 1));
    assert_eq!(voids(&store), [("A".to_owned(), "expired".to_owned())]);
    audited(&store);
}

#[test]
fn a_void_code_is_never_handed_out_by_the_store_or_a_campaign() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C", "D"])]);
    void(&store, "p", "A");
    void(&store, "p", "C");
    let got = store
        .reserve(&take("p", 1, "ann", Source::Render), NOW)
        .unwrap();
    assert_eq!(got.codes["p"], ["B"]);
    assert_eq!(got.counts["p"].available, 2);
    let send = CampaignSend {
        template: "{{ vouchers['p'].assign_available_code() }}".into(),
        customers: ["c1", "c2", "c3"]
            .iter()
            .map(|id| Customer {
                id: (*id).into(),
                attributes: Default::default(),
            })
            .collect(),
        test: false,
    };
    let template = Template::compile(&send.template, Limits::default()).unwrap();
    let job = CampaignJob::new(&template, "spring", send).unwrap();
    let results = store.reserve_campaign(&job.plan().unwrap(), NOW).unwrap();
    let report = job.render(results);
    let sent = serde_json::to_value(&report).unwrap().to_string();
    assert!(sent.contains("\"D\""), "{sent}");
    assert!(!sent.contains("\"A\"") && !sent.contains("\"C\""), "{sent}");
    let short = store
        .reserve(&take("p", 1, "bob", Source::Render), NOW)
        .unwrap();
    assert_eq!(short.short, ["p"]);
    assert_eq!(counts(&store, "p"), (0, 0, 2, 0, 0, 2));
    audited(&store);
}

#[test]
fn a_per_customer_customer_whose_code_was_voided_gets_a_new_one() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"])]);
    store
        .put_layer("l", &layer_taking("p", Assignment::PerCustomer), NOW)
        .unwrap();
    let display = || {
        store
            .reserve(&take("p", 1, "ann", Source::Layer("l".into())), NOW)
            .unwrap()
            .codes["p"]
            .clone()
    };
    assert_eq!(display(), ["A"]);
    assert_eq!(display(), ["A"]);
    let voided = void(&store, "p", "A");
    assert_eq!(voided.source.as_deref(), Some("layer:l"));
    assert_eq!(display(), ["B"]);
    assert_eq!(display(), ["B"]);
    assert_eq!(counts(&store, "p"), (1, 0, 1, 0, 0, 1));
    audited(&store);
}

#[test]
fn redeeming_a_void_code_is_logged_and_changes_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = every_state(&db);
    void(&store, "p", "GIVEN");
    let before = counts(&store, "p");
    let results = store
        .track(&[purchase("ada", "given", PAID_AT)], NOW)
        .unwrap();
    assert_eq!(results[0].redemption, Redemption::Void);
    assert_eq!(counts(&store, "p"), before);
    let log = store.events(&EventFilter::default()).unwrap();
    assert_eq!(log.events[0].status.as_deref(), Some("void"));
    audited(&store);
}

/// A display of the layer `l` for `customer`, at the version `Local` made.
fn display_request(customer: &str) -> ReservationRequest {
    let mut request = take("p", 1, customer, Source::Layer("l".into()));
    request.layer_version = Some(1);
    request
}

/// Dispenser `i` leases a block of `n` codes ahead of demand, as its
/// refill does; answers the codes it holds then, not yet handed out.
fn lease_block(local: &Local, i: usize, n: usize, now: i64) -> Vec<String> {
    let (name, db, _) = &local.dispensers[i];
    let held = Held::new(db);
    let need = Need {
        version: 1,
        want: [("p".to_owned(), n)].into(),
        ..Need::default()
    };
    let mut exchange = held.exchange(name, "l", Some(&need), None, now).unwrap();
    exchange.alone = true;
    let answer = Store::new(&local.store).exchange(&exchange, now).unwrap();
    held.apply(&exchange, &answer, now).unwrap();
    held_codes(local, i)
}

/// The codes dispenser `i` holds, not yet handed out.
fn held_codes(local: &Local, i: usize) -> Vec<String> {
    let rows = local.dispensers[i]
        .1
        .query("SELECT code FROM codes WHERE state = 0 ORDER BY seq", &[])
        .unwrap();
    rows.into_iter()
        .map(|r| r[0].clone().into_string())
        .collect()
}

#[test]
fn a_leased_code_is_voided_once_its_dispenser_gives_it_back() {
    let local = Local::new(10, 2, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    // A fair share: half of 10 codes split between 2 dispensers.
    let held = lease_block(&local, 0, 3, NOW);
    assert_eq!(held.len(), 2);
    let leased = held[0].clone();

    // Not void while the dispenser may hand it out.
    assert_eq!(
        store.void_code("p", &leased, NOW).unwrap(),
        VoidOutcome::Leased
    );
    assert_eq!(local.check_store().void, 0);
    // The Worker recalls the pool's holders: the code comes back void, and
    // no dispenser is granted it again.
    let holders = store.holders_of(&["p".to_owned()]).unwrap();
    assert_eq!(holders.len(), 1);
    local.recall(0, NOW + 1).unwrap();
    let again = void(&store, "p", &leased);
    assert_eq!(again.state, CodeState::Void);
    let counts = local.check_store();
    assert_eq!((counts.void, counts.leased), (1, 0));
    assert_eq!(voids(&store), [(leased.clone(), "leased".to_owned())]);
    let mut handed = Vec::new();
    for i in 0..20 {
        let r = local
            .display(
                i % 2,
                &display_request(&format!("d{i}")),
                NOW + 2 + i as i64,
            )
            .unwrap();
        handed.extend(r.codes.get("p").cloned().unwrap_or_default());
    }
    assert_eq!(handed.len(), 9, "every code but the void one");
    assert!(!handed.contains(&leased));
    local.check_store();
}

#[test]
fn a_leased_code_handed_out_before_the_recall_is_voided_as_assigned() {
    let local = Local::new(10, 1, Assignment::PerCustomer);
    let store = Store::new(&local.store);
    let shown = local.display(0, &display_request("ann"), NOW).unwrap();
    let code = shown.codes["p"][0].clone();
    // Handed to ann, not reported yet: still leased at the store.
    assert_eq!(
        store.void_code("p", &code, NOW).unwrap(),
        VoidOutcome::Leased
    );
    local.recall(0, NOW + 1).unwrap();
    let VoidOutcome::Void {
        code: entry,
        forget_at,
    } = store.void_code("p", &code, NOW).unwrap()
    else {
        panic!("void after the recall")
    };
    assert_eq!(entry.customer_id.as_deref(), Some("ann"));
    assert_eq!(voids(&store), [(code.clone(), "assigned".to_owned())]);
    // Her dispenser would show it to her again: it forgets it.
    assert_eq!(
        forget_at,
        [Holder {
            dispenser: local.dispensers[0].0.clone(),
            layer: "l".into(),
        }]
    );
    Held::new(&local.dispensers[0].1)
        .forget(std::slice::from_ref(&code))
        .unwrap();
    let next = local.display(0, &display_request("ann"), NOW + 2).unwrap();
    assert_ne!(next.codes["p"][0], code);
    assert_eq!(next.fresh.len(), 1);
    local.flush(0, NOW + 3).unwrap();
    let counts = local.check_store();
    assert_eq!((counts.assigned, counts.void), (1, 1));
}

#[test]
fn a_void_asked_for_a_leased_code_that_is_then_handed_out_waits_for_the_next_void() {
    let local = Local::new(5, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    let leased = lease_block(&local, 0, 2, NOW)[0].clone();
    assert_eq!(
        store.void_code("p", &leased, NOW).unwrap(),
        VoidOutcome::Leased
    );
    // No recall reached it: it hands the code out and reports it.
    let shown = local.display(0, &display_request("b"), NOW + 1).unwrap();
    assert_eq!(shown.codes["p"][0], leased);
    local.flush(0, NOW + 2).unwrap();
    assert_eq!(local.check_store().assigned, 1);
    // Handed out, it is voided as such when asked again.
    assert_eq!(void(&store, "p", &leased).state, CodeState::Void);
    let counts = local.check_store();
    assert_eq!((counts.assigned, counts.void), (0, 1));
}

#[test]
fn delete_a_pool_that_handed_out_nothing() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"]), ("q", &["Q1"])]);
    void(&store, "p", "A");
    expire_at(&db, "B", NOW - 1);
    let gone = store.delete_pool("p", NOW).unwrap();
    assert_eq!(gone.name, "p");
    assert_eq!(
        (gone.counts.total, gone.counts.void, gone.counts.expired),
        (3, 1, 1)
    );
    let err = store.pool("p", NOW).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownPool);
    assert_eq!(store.pools(NOW).unwrap().len(), 1);
    audited(&store);
    let log = store.events(&EventFilter::default()).unwrap();
    assert_eq!(log.events[0].event_type, "pool_deleted");
    assert_eq!(log.events[0].properties["total"], 3);

    // Its codes are free to be imported again, into any pool.
    let import = store.begin_import("q", NOW).unwrap();
    let batch = store
        .import_batch("q", import, &["a".into(), "B".into(), "C".into()])
        .unwrap();
    assert_eq!((batch.imported, batch.already_in_project), (3, 0));
    // And a pool of the name starts afresh.
    store.put_pool("p", &PoolSettings::default(), NOW).unwrap();
    assert_eq!(store.pool("p", NOW).unwrap().counts, PoolCounts::default());
    audited(&store);
    let err = store.delete_pool("nope", NOW).unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::UnknownPool, 404));
}

#[test]
fn err_a_pool_that_handed_out_codes_is_archived_not_deleted() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = every_state(&db);
    let err = store.delete_pool("p", NOW).unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::PoolInUse, 409));
    assert!(
        err.message().contains("archive it instead"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("1 assigned, 1 redeemed"),
        "{}",
        err.message()
    );
    // Its assigned code voided, the redeemed one still keeps the pool.
    void(&store, "p", "GIVEN");
    let err = store.delete_pool("p", NOW).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoolInUse);
    let archived = PoolSettings {
        archived: true,
        ..PoolSettings::default()
    };
    let pool = store.put_pool("p", &archived, NOW).unwrap();
    assert_eq!(pool.status, codepool::pool::PoolStatus::Archived);
    assert_eq!(counts(&store, "p"), (2, 0, 0, 1, 1, 1));
    audited(&store);
}

#[test]
fn err_a_pool_whose_codes_dispensers_hold_is_deleted_once_they_gave_them_back() {
    let local = Local::new(10, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    // A block leased ahead of demand, none of it handed out.
    let (name, db, _) = &local.dispensers[0];
    let exchange = Exchange {
        dispenser: name.clone(),
        layer: "l".into(),
        version: 1,
        want: [("p".to_owned(), 3)].into(),
        alone: true,
        seq: 1,
        ..Exchange::default()
    };
    let answer = store.exchange(&exchange, NOW).unwrap();
    Held::new(db).apply(&exchange, &answer, NOW).unwrap();
    assert_eq!(local.check_store().leased, 3);
    let err = store.delete_pool("p", NOW).unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::HeldByDispenser, 409)
    );
    assert_eq!(local.check_store().total, 10);
    // The Worker recalls the holders and asks again.
    local.recall(0, NOW + 1).unwrap();
    store.delete_pool("p", NOW + 2).unwrap();
    audited(&store);

    // Had it handed one out, the recall's report makes the pool in use.
    let local = Local::new(10, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    local.display(0, &display_request("a"), NOW).unwrap();
    let err = store.delete_pool("p", NOW).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HeldByDispenser);
    local.recall(0, NOW + 1).unwrap();
    let err = store.delete_pool("p", NOW + 2).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoolInUse);
}

#[test]
fn a_deleted_pool_fails_the_displays_that_use_it_and_no_others() {
    let local = Local::new(10, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    store
        .put_pool("other", &PoolSettings::default(), NOW)
        .unwrap();
    // The layer counts `other` too: its dispenser asks for its counts at
    // every exchange from then on.
    let mut layer = layer_taking("p", Assignment::PerDisplay);
    layer
        .template
        .push_str("{{ vouchers['other'].count_available_codes() }}");
    layer.dispensers = 1;
    store.put_layer("l", &layer, NOW).unwrap();
    local.recall(0, NOW).unwrap();
    let mut request = display_request("a");
    request.layer_version = Some(2);
    request.count = vec!["other".into()];
    let shown = local.display(0, &request, NOW + 1).unwrap();
    assert_eq!(shown.codes["p"].len(), 1);
    store.delete_pool("other", NOW + 2).unwrap();
    // The display's report still reaches the store.
    local.flush(0, NOW + 3).unwrap();
    assert_eq!(local.check_store().assigned, 1);
    // A display that counts the deleted pool fails as at the store.
    let err = local.display(0, &request, NOW + 4).unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::UnknownPool, 404));
    let err = store.reserve(&request, NOW + 4).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownPool);
    // One that does not goes on.
    request.count.clear();
    let next = local.display(0, &request, NOW + 5).unwrap();
    assert_eq!(next.codes["p"].len(), 1);
    local.flush(0, NOW + 6).unwrap();
    assert_eq!(local.check_store().assigned, 2);
}

#[test]
fn a_code_left_without_key_takes_its_key_when_its_twin_is_deleted() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("old", &["CODE-1"]), ("keep", &["K"])]);
    // As the migration to keys left a database whose two codes shared a
    // key: the older holds it, the other none.
    db.execute(
        "INSERT INTO codes (code, code_key, pool_id, import_id)
         SELECT 'code-1', NULL, id, 0 FROM pools WHERE name = 'keep'",
        &[],
    )
    .unwrap();
    db.execute(
        "UPDATE pools SET total = total + 1, available = available + 1 WHERE name = 'keep'",
        &[],
    )
    .unwrap();
    audited(&store);
    store.delete_pool("old", NOW).unwrap();
    let key = db
        .query("SELECT code_key FROM codes WHERE code = 'code-1'", &[])
        .unwrap();
    assert_eq!(key[0][0].as_opt_str(), Some("code-1"));
    // So an import finds it in the project.
    let import = store.begin_import("keep", NOW).unwrap();
    let batch = store
        .import_batch("keep", import, &["CODE-1".into()])
        .unwrap();
    assert_eq!((batch.imported, batch.already_in_project), (0, 1));
    // And the API finds it by its key.
    assert_eq!(void(&store, "keep", "Code-1").code, "code-1");
    audited(&store);
}

#[test]
fn rollback_by_the_api() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = every_state(&db);
    let entry = store.rollback_code("p", "paid", NOW).unwrap();
    assert_eq!(
        (
            entry.code.as_str(),
            entry.state,
            entry.customer_id.as_deref(),
            entry.redeemed_at.as_deref()
        ),
        ("PAID", CodeState::Assigned, Some("bob"), None)
    );
    assert_eq!(counts(&store, "p"), (2, 0, 2, 0, 1, 0));
    audited(&store);
    let log = store.events(&EventFilter::default()).unwrap();
    let logged = &log.events[0];
    assert_eq!(
        (
            logged.event_type.as_str(),
            logged.status.as_deref(),
            logged.code.as_deref()
        ),
        ("rollback", Some("rolled_back"), Some("PAID"))
    );
    assert_eq!(logged.properties["pool"], "p");
    // Not redeemed any more: a second rollback is refused.
    let err = store.rollback_code("p", "PAID", NOW).unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::CodeNotRedeemed, 409)
    );
    assert!(err.message().contains("is assigned, not redeemed"));
    for code in ["AVAIL", "OLD"] {
        let err = store.rollback_code("p", code, NOW).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CodeNotRedeemed, "{code}");
    }
    // The holder can redeem it again.
    let again = store
        .track(&[purchase("bob", "PAID", PAID_AT)], NOW)
        .unwrap();
    assert_eq!(again[0].redemption, Redemption::Redeemed);
    assert_eq!(counts(&store, "p"), (2, 0, 1, 1, 1, 0));
    audited(&store);
}

fn refund(customer: &str, code: Option<&str>) -> TrackedEvent {
    let mut event = purchase(customer, code.unwrap_or(""), PAID_AT + 60);
    event.event_type = "refund".into();
    if code.is_none() {
        event.properties.remove("voucher_code");
    }
    event
}

fn with_refunds(store: &Store<'_, NativeDatabase>) {
    store
        .put_settings(&Settings {
            redemption: Some(RedemptionMapping {
                event_type: "purchase".into(),
                property: "voucher_code".into(),
                require_holder: false,
                rollback_event_type: Some("refund".into()),
            }),
            customer_signing_key: None,
            ..Settings::default()
        })
        .unwrap();
}

#[test]
fn rollback_by_a_refund_event() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = every_state(&db);
    with_refunds(&store);
    let results = store
        .track(
            &[
                refund("bob", Some(" paid ")),
                refund("bob", Some("PAID")),
                refund("bob", Some("NOPE")),
                refund("bob", None),
                refund("ada", Some("GIVEN")),
            ],
            NOW,
        )
        .unwrap();
    let got: Vec<Redemption> = results.iter().map(|r| r.redemption).collect();
    assert_eq!(
        got,
        [
            Redemption::RolledBack,
            Redemption::NotRedeemed,
            Redemption::UnknownCode,
            Redemption::NoCode,
            Redemption::NotRedeemed,
        ]
    );
    assert_eq!(counts(&store, "p"), (2, 0, 2, 0, 1, 0));
    let filter = EventFilter {
        event_type: Some("refund".into()),
        ..EventFilter::default()
    };
    let statuses: Vec<String> = store
        .events(&filter)
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.status.unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "not_redeemed",
            "no_code",
            "unknown_code",
            "not_redeemed",
            "rolled_back"
        ]
    );
    // Purchases still redeem.
    let again = store
        .track(&[purchase("bob", "PAID", PAID_AT)], NOW)
        .unwrap();
    assert_eq!(again[0].redemption, Redemption::Redeemed);
    audited(&store);
}

#[test]
fn err_rollback_settings_that_make_no_sense() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A"])]);
    for (rollback, needle) in [
        ("purchase", "must differ"),
        ("", "1-128 characters"),
        (&*"r".repeat(129), "1-128 characters"),
    ] {
        let err = store
            .put_settings(&Settings {
                redemption: Some(RedemptionMapping {
                    event_type: "purchase".into(),
                    property: "voucher_code".into(),
                    require_holder: false,
                    rollback_event_type: Some(rollback.to_owned()),
                }),
                customer_signing_key: None,
                ..Settings::default()
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSettings);
        assert!(err.message().contains(needle), "{}", err.message());
    }
    with_refunds(&store);
    let shown = serde_json::to_value(store.settings().unwrap()).unwrap();
    assert_eq!(shown["redemption"]["rollback_event_type"], "refund");
}

#[test]
fn a_code_redeemed_before_its_dispenser_reported_it_is_rolled_back_and_then_reported() {
    let local = Local::new(5, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    redeem_purchases(&store);
    let shown = local.display(0, &display_request("ann"), NOW).unwrap();
    let code = shown.codes["p"][0].clone();
    // The purchase comes before the dispenser's report.
    let paid = store
        .track(&[purchase("ann", &code, PAID_AT)], NOW)
        .unwrap();
    assert_eq!(paid[0].redemption, Redemption::Redeemed);
    let entry = store.rollback_code("p", &code, NOW).unwrap();
    assert_eq!(
        (entry.state, entry.customer_id),
        (CodeState::Assigned, None)
    );
    // The report fills in who got it.
    local.flush(0, NOW + 1).unwrap();
    let page = store
        .codes(
            "p",
            &codepool::pool::CodeQuery {
                state: Some(CodeState::Assigned),
                cursor: None,
                limit: 10,
            },
            NOW,
        )
        .unwrap();
    assert_eq!(page.codes[0].code, code);
    assert_eq!(page.codes[0].customer_id.as_deref(), Some("ann"));
    let counts = local.check_store();
    assert_eq!((counts.assigned, counts.redeemed), (1, 0));
}

#[test]
fn voiding_what_was_left_fires_the_pools_alerts_and_a_deleted_pool_leaves_none() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = store_with(&db, &[("p", &["A", "B", "C"])]);
    store
        .put_settings(&Settings {
            webhook_url: Some("https://hooks.example/codepool".into()),
            webhook_secret: Some("whsec-0123456789abcdef0123456789abcdef".into()),
            ..Settings::default()
        })
        .unwrap();
    let alerts = PoolSettings {
        alerts: Some(
            serde_json::from_value(serde_json::json!({"low_stock": 1, "out_of_codes": true}))
                .unwrap(),
        ),
        ..PoolSettings::default()
    };
    store.put_pool("p", &alerts, NOW).unwrap();
    let fired = |store: &Store<'_, NativeDatabase>| -> Vec<String> {
        let filter = EventFilter {
            event_type: Some("alert".into()),
            ..EventFilter::default()
        };
        let mut log: Vec<String> = store
            .events(&filter)
            .unwrap()
            .events
            .into_iter()
            .map(|e| {
                e.properties["alert"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        log.reverse();
        log
    };
    void(&store, "p", "A");
    assert!(fired(&store).is_empty());
    void(&store, "p", "B");
    assert_eq!(fired(&store), ["low_stock"]);
    void(&store, "p", "C");
    assert_eq!(fired(&store), ["low_stock", "out_of_codes"]);
    let pending = |db: &NativeDatabase, table: &str| {
        db.query(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .unwrap()[0][0]
            .as_i64()
    };
    assert_eq!(pending(&db, "alert_outbox"), 2);
    store.delete_pool("p", NOW).unwrap();
    assert_eq!(pending(&db, "alert_outbox"), 0);
    assert_eq!(pending(&db, "alert_states"), 0);
    audited(&store);
}
