//! The lease protocol between dispensers and the store, run in process:
//! each dispenser on its own SQLite database, messages delivered at once.
//! (The simulation with delays, crashes and skew is `simulation.rs`.)

use std::cell::RefCell;
use std::collections::BTreeSet;

use codepool::dispenser::{name, Demand, Exchange, Held, Serving, Step};
use codepool::layer::Assignment;
use codepool::render::{Reservation, ReservationRequest, Source};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;
use codepool::Result;

use crate::common::{layer_taking, store_with, take, NOW};

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
        let counts = store.pool("p").unwrap().counts;
        assert_eq!(
            counts.available + counts.leased + counts.assigned + counts.redeemed,
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
            .codes("p", &Default::default())
            .unwrap()
            .codes
            .iter()
            .filter(|c| c.customer_id.as_deref() == Some("ann"))
            .map(|c| c.code.clone())
            .collect::<Vec<_>>(),
        codes
    );
}
