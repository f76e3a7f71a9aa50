//! The lease protocol between dispensers and the store, run in process:
//! each dispenser on its own SQLite database, messages delivered at once.
//! (The simulation with delays, crashes and skew is `simulation.rs`.)

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use codepool::dispenser::{name, Demand, Exchange, Held, Need, Serving, Step, LEASE_MS};
use codepool::layer::Assignment;
use codepool::pool::CodeState;
use codepool::render::{Reservation, ReservationRequest, Source};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::{Database, Store};
use codepool::Result;

use crate::common::{layer_taking, purchase, redeem_purchases, store_with, take, NOW};

/// A store and a layer's dispensers, in process.
pub struct Local {
    pub store: NativeDatabase,
    pub dispensers: Vec<(String, NativeDatabase, RefCell<Demand>)>,
    pub layer: String,
}

impl Local {
    /// A store with one pool of `codes` codes and a layer taking one code
    /// each display, served by `n` dispensers.
    pub fn new(codes: usize, n: u32, assignment: Assignment) -> Self {
        let store = NativeDatabase::in_memory().unwrap();
        let list: Vec<String> = (0..codes).map(|i| format!("C{i:05}")).collect();
        let s = store_with(&store, &[("p", &list)]);
        let mut layer = layer_taking("p", assignment);
        layer.dispensers = n;
        s.put_layer("l", &layer, NOW).unwrap();
        let dispensers = (0..n)
            .map(|slot| {
                let db = NativeDatabase::in_memory().unwrap();
                Held::new(&db).migrate().unwrap();
                (name("proj", "l", slot), db, RefCell::default())
            })
            .collect();
        Local {
            store,
            dispensers,
            layer: "l".into(),
        }
    }

    fn store(&self) -> Store<'_, NativeDatabase> {
        Store::new(&self.store)
    }

    fn index(&self, dispenser: &str) -> usize {
        self.dispensers
            .iter()
            .position(|(n, _, _)| n == dispenser)
            .unwrap()
    }

    /// A display at dispenser `i`, every step carried out at once.
    pub fn display(&self, i: usize, request: &ReservationRequest, now: i64) -> Result<Reservation> {
        let (dname, db, _) = &self.dispensers[i];
        let dname = dname.clone();
        let held = Held::new(db);
        let mut serving = Serving::new(&dname, &self.layer, request);
        let mut step = serving.start(&held, &self.dispensers[i].2.borrow(), now)?;
        loop {
            step = match step {
                Step::Done(reservation) => {
                    for pool in reservation.codes.keys() {
                        self.dispensers[i]
                            .2
                            .borrow_mut()
                            .note(pool, reservation.fresh.len(), now);
                    }
                    return Ok(reservation);
                }
                Step::Exchange(mut exchange) => {
                    // Delivered at once: no other exchange is in flight.
                    exchange.alone = true;
                    let answer = self.store().exchange(&exchange, now)?;
                    let held = Held::new(&self.dispensers[i].1);
                    serving.exchanged(
                        &held,
                        &exchange,
                        &answer,
                        &self.dispensers[i].2.borrow(),
                        now,
                    )?
                }
                Step::Recall(names) => {
                    for other in names {
                        let j = self.index(&other);
                        self.recall(j, now)?;
                    }
                    let held = Held::new(&self.dispensers[i].1);
                    serving.recalled(&held, &self.dispensers[i].2.borrow(), now)?
                }
            }
        }
    }

    /// Dispenser `j` gives back everything it holds.
    pub fn recall(&self, j: usize, now: i64) -> Result<()> {
        let held = Held::new(&self.dispensers[j].1);
        held.recall()?;
        self.flush(j, now)
    }

    /// Dispenser `j` reports and gives back what is due, as its alarm does.
    pub fn flush(&self, j: usize, now: i64) -> Result<()> {
        let (dname, db, demand) = &self.dispensers[j];
        let held = Held::new(db);
        let mut exchange: Exchange =
            held.exchange(dname, &self.layer, None, Some(&demand.borrow()), now)?;
        exchange.alone = true;
        let answer = self.store().exchange(&exchange, now)?;
        held.apply(&exchange, &answer, now)
    }

    /// The store's audit is clean and its counts add up.
    pub fn check_store(&self) -> codepool::pool::PoolCounts {
        let store = self.store();
        assert_eq!(store.audit().unwrap(), Vec::<String>::new());
        let counts = store.pool("p", NOW).unwrap().counts;
        assert_eq!(
            counts.available
                + counts.leased
                + counts.assigned
                + counts.redeemed
                + counts.expired
                + counts.void,
            counts.total
        );
        counts
    }
}

fn display_request(customer: &str) -> ReservationRequest {
    let mut request = take("p", 1, customer, Source::Layer("l".into()));
    request.layer_version = Some(1);
    request
}

#[test]
fn four_dispensers_hand_out_every_code_once_then_nothing() {
    let local = Local::new(43, 4, Assignment::PerDisplay);
    let mut seen = BTreeSet::new();
    let mut empty = 0;
    for i in 0..200 {
        let reservation = local
            .display(i % 4, &display_request(&format!("c{i}")), NOW + i as i64)
            .unwrap();
        match reservation.codes.get("p") {
            Some(codes) if reservation.is_complete() => {
                assert!(empty == 0, "a code after an empty answer");
                for code in codes {
                    assert!(seen.insert(code.clone()), "{code} handed twice");
                }
            }
            _ => empty += 1,
        }
        local.check_store();
    }
    assert_eq!(seen.len(), 43);
    for j in 0..4 {
        local.flush(j, NOW + 1000).unwrap();
    }
    let counts = local.check_store();
    assert_eq!(
        (counts.assigned, counts.leased, counts.available),
        (43, 0, 0)
    );
}

#[test]
fn a_per_customer_customer_keeps_their_code_across_a_new_number_of_dispensers() {
    let mut local = Local::new(20, 2, Assignment::PerCustomer);
    let slot = codepool::dispenser::slot(Some("ann"), 2, 0) as usize;
    let first = local.display(slot, &display_request("ann"), NOW).unwrap();
    let again = local
        .display(slot, &display_request("ann"), NOW + 1)
        .unwrap();
    assert_eq!(first.codes, again.codes);
    assert_eq!(again.fresh, Vec::<String>::new());

    // Four dispensers now: the old ones give everything back first.
    let store = Store::new(&local.store);
    let mut layer = layer_taking("p", Assignment::PerCustomer);
    layer.dispensers = 4;
    store.put_layer("l", &layer, NOW + 2).unwrap();
    for j in 0..2 {
        local.recall(j, NOW + 3).unwrap();
    }
    for slot in 2..4u32 {
        let db = NativeDatabase::in_memory().unwrap();
        Held::new(&db).migrate().unwrap();
        local
            .dispensers
            .push((name("proj", "l", slot), db, RefCell::default()));
    }
    let mut request = display_request("ann");
    request.layer_version = Some(2);
    // Whichever dispenser she meets now, she gets her code.
    for i in 0..4 {
        let after = local.display(i, &request, NOW + 4).unwrap();
        assert_eq!(after.codes, first.codes, "at dispenser {i}");
    }
    let counts = local.check_store();
    assert_eq!(counts.assigned, 1);
    let codes = first.codes["p"].clone();
    assert_eq!(
        store
            .codes("p", &Default::default(), NOW)
            .unwrap()
            .codes
            .iter()
            .filter(|c| c.customer_id.as_deref() == Some("ann"))
            .map(|c| c.code.clone())
            .collect::<Vec<_>>(),
        codes
    );
}

// Regressions the simulation (simulation.rs) found, each in its one order.

fn need(n: usize) -> Need {
    Need {
        version: 1,
        want: BTreeMap::from([("p".to_owned(), n)]),
        ..Need::default()
    }
}

#[test]
fn an_exchange_still_on_its_way_does_not_close_a_newer_lease() {
    let local = Local::new(10, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    local.display(0, &display_request("a"), NOW).unwrap();
    let (dname, db, demand) = &local.dispensers[0];
    let held = Held::new(db);
    // Recalled: lease 1 goes back, in an exchange that is slow, and again
    // in one that asks for more and arrives first.
    held.recall().unwrap();
    let slow = held
        .exchange(dname, "l", None, Some(&demand.borrow()), NOW + 1)
        .unwrap();
    let fast = held
        .exchange(dname, "l", Some(&need(2)), Some(&demand.borrow()), NOW + 2)
        .unwrap();
    let answer = store.exchange(&fast, NOW + 2).unwrap();
    held.apply(&fast, &answer, NOW + 2).unwrap();
    let lease = &answer.granted[0];
    assert!(
        !slow.returned.contains(&lease.id),
        "lease id {} given again",
        lease.id
    );
    // The slow one arrives: the new lease stays open.
    store.exchange(&slow, NOW + 3).unwrap();
    assert_eq!(local.check_store().leased, lease.codes.len() as i64);
}

#[test]
fn a_recalled_dispenser_gives_back_without_leasing_again() {
    let local = Local::new(3, 2, Assignment::PerDisplay);
    // Dispenser 0 is busy: it hands out two codes and leases the last one
    // for the displays to come.
    for i in 0..2 {
        local
            .display(0, &display_request(&format!("a{i}")), NOW + i)
            .unwrap();
    }
    local.flush(0, NOW + 2).unwrap();
    assert_eq!(local.check_store().available, 0);
    // A display at dispenser 1 recalls it and gets that code.
    let reservation = local.display(1, &display_request("b"), NOW + 3).unwrap();
    assert!(reservation.is_complete(), "{reservation:?}");
}

#[test]
fn a_code_redeemed_before_its_report_is_recorded_for_its_holder() {
    let local = Local::new(3, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    redeem_purchases(&store);
    let reservation = local.display(0, &display_request("ann"), NOW).unwrap();
    let code = reservation.codes["p"][0].clone();
    // The purchase comes before the dispenser reports the code.
    store
        .track(&[purchase("ann", &code, NOW / 1000)], NOW + 10)
        .unwrap();
    local.flush(0, NOW + 1000).unwrap();
    let rows = local
        .store
        .query(
            "SELECT state, customer_id FROM codes WHERE code = ?1",
            &[code.as_str().into()],
        )
        .unwrap();
    assert_eq!(rows[0][0].as_i64(), CodeState::Redeemed as i64);
    assert_eq!(rows[0][1].as_opt_str(), Some("ann"));
    local.check_store();
}

#[test]
fn a_display_asks_again_while_a_lease_of_its_dispenser_is_on_its_way() {
    let local = Local::new(1, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    let (dname, db, demand) = &local.dispensers[0];
    let held = Held::new(db);
    // An exchange of the dispenser's own leases the pool's one code; its
    // answer is still on the way.
    let early = held
        .exchange(dname, "l", Some(&need(1)), Some(&demand.borrow()), NOW)
        .unwrap();
    let granted = store.exchange(&early, NOW).unwrap();
    assert_eq!(granted.granted.len(), 1);
    // A display meanwhile: the store has no code left to give it.
    let request = display_request("a");
    let mut serving = Serving::new(dname, "l", &request);
    let Step::Exchange(sent) = serving.start(&held, &demand.borrow(), NOW + 1).unwrap() else {
        panic!("the display asks the store")
    };
    let answer = store.exchange(&sent, NOW + 1).unwrap();
    assert!(answer.granted.is_empty());
    // It asks again rather than answer that the pool is empty...
    let step = serving
        .exchanged(&held, &sent, &answer, &demand.borrow(), NOW + 2)
        .unwrap();
    let Step::Exchange(again) = step else {
        panic!("answered before the lease on its way arrived: {step:?}")
    };
    // ...and by then the lease is there.
    held.apply(&early, &granted, NOW + 2).unwrap();
    let answer = store.exchange(&again, NOW + 3).unwrap();
    let step = serving
        .exchanged(&held, &again, &answer, &demand.borrow(), NOW + 3)
        .unwrap();
    let Step::Done(reservation) = step else {
        panic!("{step:?}")
    };
    assert_eq!(reservation.codes["p"], ["C00000"]);
}

#[test]
fn an_idle_dispenser_lets_its_leases_go() {
    let local = Local::new(10, 1, Assignment::PerDisplay);
    local.display(0, &display_request("a"), NOW).unwrap();
    local.flush(0, NOW + 1000).unwrap();
    // Past the deadline, no display for a while: the lease goes back and
    // none is asked for.
    let (dname, db, demand) = &local.dispensers[0];
    let held = Held::new(db);
    let later = NOW + 1000 + LEASE_MS + 1;
    let sent = held
        .exchange(dname, "l", None, Some(&demand.borrow()), later)
        .unwrap();
    assert!(sent.want.is_empty(), "asks for {:?}", sent.want);
    let answer = Store::new(&local.store).exchange(&sent, later).unwrap();
    held.apply(&sent, &answer, later).unwrap();
    assert_eq!(held.next_alarm(later).unwrap(), None);
    assert_eq!(local.check_store().leased, 0);
}

#[test]
fn a_customer_holding_a_code_at_the_store_gets_it_when_the_pool_is_empty() {
    let db = NativeDatabase::in_memory().unwrap();
    let mut request = display_request("ann");
    let first = {
        let store = store_with(&db, &[("p", &["C1"])]);
        let mut layer = layer_taking("p", Assignment::PerCustomer);
        store.put_layer("l", &layer, NOW).unwrap();
        // Ann gets the pool's one code from the store itself...
        let first = store.reserve(&request, NOW).unwrap();
        // ...and then the layer has a dispenser, which has not met her.
        layer.dispensers = 1;
        store.put_layer("l", &layer, NOW + 1).unwrap();
        first
    };
    let dispenser = NativeDatabase::in_memory().unwrap();
    Held::new(&dispenser).migrate().unwrap();
    let local = Local {
        store: db,
        dispensers: vec![(name("proj", "l", 0), dispenser, RefCell::default())],
        layer: "l".into(),
    };
    // Its first exchange, on no terms yet, asks for a code and not for
    // her: the store has none to give. She is looked up all the same.
    request.layer_version = Some(2);
    let again = local.display(0, &request, NOW + 2).unwrap();
    assert!(again.is_complete(), "{again:?}");
    assert_eq!(again.codes, first.codes);
}

#[test]
fn a_display_asks_again_when_its_dispensers_codes_went_back_while_it_asked() {
    let db = NativeDatabase::in_memory().unwrap();
    {
        let store = store_with(&db, &[("p", &["C1", "C2"])]);
        let mut layer = layer_taking("p", Assignment::PerCustomer);
        store.put_layer("l", &layer, NOW).unwrap();
        // Ann got C1 from the store: the dispenser looks customers up.
        let mut request = take("p", 1, "ann", Source::Layer("l".into()));
        request.layer_version = Some(1);
        store.reserve(&request, NOW).unwrap();
        layer.dispensers = 1;
        store.put_layer("l", &layer, NOW).unwrap();
    }
    let local = Local::new(0, 1, Assignment::PerCustomer);
    let local = Local { store: db, ..local }; // its own store replaced
    let store = Store::new(&local.store);
    let (dname, held_db, demand) = &local.dispensers[0];
    let held = Held::new(held_db);
    // The dispenser holds the pool's last code, C2.
    let mut two = need(1);
    two.version = 2;
    let sent = held
        .exchange(dname, "l", Some(&two), Some(&demand.borrow()), NOW)
        .unwrap();
    let answer = store.exchange(&sent, NOW).unwrap();
    held.apply(&sent, &answer, NOW).unwrap();
    // Cy, whom it has not met, comes: it asks the store about her (and
    // for a code more, which the store does not have).
    let mut request = display_request("cy");
    request.layer_version = Some(2);
    let mut serving = Serving::new(dname, "l", &request);
    let Step::Exchange(asked) = serving.start(&held, &demand.borrow(), NOW + 1).unwrap() else {
        panic!("the display asks the store")
    };
    let answer = store.exchange(&asked, NOW + 1).unwrap();
    assert!(answer.granted.is_empty());
    // Before that answer arrives, C2's lease reaches its deadline and goes
    // back to the store.
    let later = NOW + LEASE_MS + 1;
    local.flush(0, later).unwrap();
    // So the dispenser has no code for her now, but the store has: it
    // asks again rather than answer that the pool is empty.
    let step = serving
        .exchanged(&held, &asked, &answer, &demand.borrow(), later)
        .unwrap();
    let Step::Exchange(again) = step else {
        panic!("answered on an answer given before its code went back: {step:?}")
    };
    let answer = store.exchange(&again, later).unwrap();
    let step = serving
        .exchanged(&held, &again, &answer, &demand.borrow(), later)
        .unwrap();
    let Step::Done(reservation) = step else {
        panic!("{step:?}")
    };
    assert_eq!(reservation.codes["p"], ["C2"]);
}

#[test]
fn an_exchange_alone_takes_back_a_lost_grant_at_once_but_nothing_granted_after_it() {
    let local = Local::new(20, 1, Assignment::PerDisplay);
    let store = Store::new(&local.store);
    let (dname, db, demand) = &local.dispensers[0];
    let held = Held::new(db);
    // A grant whose answer never arrives (the dispenser restarted).
    let lost = held
        .exchange(dname, "l", Some(&need(3)), Some(&demand.borrow()), NOW)
        .unwrap();
    let granted = store.exchange(&lost, NOW).unwrap().granted;
    assert_eq!(local.check_store().leased, granted[0].codes.len() as i64);
    // Its next exchange, alone (nothing else in flight), takes it back at
    // once, long before the deadline and the skew margin.
    let mut alone = held.exchange(dname, "l", None, None, NOW + 1).unwrap();
    alone.alone = true;
    assert!(alone.seq > lost.seq);
    // But first a later exchange overtakes it and is granted a lease the
    // dispenser takes in and hands from.
    let later = held
        .exchange(dname, "l", Some(&need(2)), Some(&demand.borrow()), NOW + 2)
        .unwrap();
    let answer = store.exchange(&later, NOW + 2).unwrap();
    held.apply(&later, &answer, NOW + 2).unwrap();
    let kept = answer.granted[0].codes.len() as i64;
    // The alone exchange arrives last: the lost grant goes back, the
    // later one stays, its codes still leased.
    let answer = store.exchange(&alone, NOW + 3).unwrap();
    held.apply(&alone, &answer, NOW + 3).unwrap();
    let counts = local.check_store();
    assert_eq!((counts.leased, counts.available), (kept, 20 - kept));
}
