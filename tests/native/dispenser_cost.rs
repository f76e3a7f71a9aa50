//! What the lease protocol costs, natively on real SQLite (in memory: CPU,
//! no disk), for the model of issue 15 (BENCHMARKS.md). Measurements, not
//! checks, so `#[ignore]`d; one command prints them all:
//!
//!   cargo test --release --test native dispenser_cost -- --ignored --nocapture --test-threads=1
//!
//! - `exchange_costs_at_the_store`: the store's side of one exchange
//!   (`Store::exchange`, one transaction): an idle one (terms and counts
//!   only), a grant of a block of B codes, a report of R codes, a report
//!   with a grant (a busy dispenser's usual exchange), a lease given back
//!   with L codes left in it; and, for scale, one display served by the
//!   store (`Store::reserve`, the store's part of a display without
//!   dispensers) and one served at a dispenser (`Held::reserve`).
//! - `a_dispenser_at_a_steady_rate`: one dispenser serving r displays a
//!   second on a simulated clock, exchanging as the Durable Object does
//!   (an exchange when a display finds too little held; after a display,
//!   a background flush when a report is due, terms are getting old or a
//!   pool runs low; an alarm when no display comes): the store calls it
//!   makes per display and per second, what each carries, and the time
//!   spent at the store and at the dispenser per display.
//!
//! The pool holds `POOL` codes (default 1,000,000), so index depths are
//! those of a large pool. The store is in memory (CPU only), or with
//! `STORE_DB=file` a file (WAL, SQLite's default `FULL` sync, as
//! `NativeDatabase::open`), where a commit waits for this machine's disk.
//! Times are medians over repeats (µs), from `Instant`; single runs move
//! by some 10% on a shared machine.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;

use codepool::dispenser::{name, Demand, Exchange, Handed, Held, Serving, Step};
use codepool::layer::Assignment;
use codepool::render::{Reservation, ReservationRequest, Source};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

use crate::common::{layer_taking, store_with, take, NOW};
use crate::dispenser::Local;

/// A store with one pool of `codes` codes and a layer `l` taking one code
/// each display, served by one dispenser (as [`Local::new`]); with
/// `STORE_DB=file`, the store is a file (WAL, SQLite's default `FULL`
/// sync: a commit waits for the disk) instead of memory.
fn local(codes: usize, test: &str) -> (Local, Option<std::path::PathBuf>) {
    let path = (std::env::var("STORE_DB").as_deref() == Ok("file")).then(|| {
        let path =
            std::env::temp_dir().join(format!("codepool-{test}-{}.sqlite", std::process::id()));
        remove(&path);
        path
    });
    let store = match &path {
        Some(path) => NativeDatabase::open(path).unwrap(),
        None => NativeDatabase::in_memory().unwrap(),
    };
    let list: Vec<String> = (0..codes).map(|i| format!("C{i:07}")).collect();
    let s = store_with(&store, &[("p", &list)]);
    let mut layer = layer_taking("p", Assignment::PerDisplay);
    layer.dispensers = 1;
    s.put_layer("l", &layer, NOW).unwrap();
    let db = NativeDatabase::in_memory().unwrap();
    Held::new(&db).migrate().unwrap();
    let dispensers = vec![(name("proj", "l", 0), db, RefCell::default())];
    let local = Local {
        store,
        dispensers,
        layer: "l".into(),
    };
    (local, path)
}

/// Removes a store file and its WAL.
fn remove(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

fn where_stored() -> &'static str {
    if std::env::var("STORE_DB").as_deref() == Ok("file") {
        "a file, WAL, FULL sync"
    } else {
        "in-memory SQLite"
    }
}

fn pool_size() -> usize {
    std::env::var("POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Microseconds `f` took.
fn micros<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64() * 1e6)
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn percentile(xs: &mut [f64], p: f64) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[((xs.len() as f64 * p) as usize).min(xs.len() - 1)]
}

/// A display of the layer's reference shape: one code of `p`, `p` counted.
fn display(customer: &str, layer: &str) -> ReservationRequest {
    let mut request = take("p", 1, customer, Source::Layer(layer.into()));
    request.layer_version = Some(1);
    request.count = vec!["p".into()];
    request
}

/// An exchange of dispenser `dispenser` of layer `l`, at version 1.
fn exchange(dispenser: &str) -> Exchange {
    Exchange {
        dispenser: dispenser.into(),
        layer: "l".into(),
        version: 1,
        count: vec!["p".into()],
        ..Exchange::default()
    }
}

/// The store of a [`Local`] with one dispenser, and what the timings of
/// its exchanges need: a clock, untimed grants and give-backs.
struct Bench<'a> {
    local: &'a Local,
    name: String,
    now: std::cell::Cell<i64>,
}

impl Bench<'_> {
    fn store(&self) -> Store<'_, codepool::store::sqlite::NativeDatabase> {
        Store::new(&self.local.store)
    }

    fn tick(&self) -> i64 {
        self.now.set(self.now.get() + 1);
        self.now.get()
    }

    /// A lease of `n` codes granted to `dispenser` (not timed).
    fn lease(&self, dispenser: &str, n: usize) -> codepool::dispenser::Lease {
        let mut e = exchange(dispenser);
        e.want = BTreeMap::from([("p".to_owned(), n)]);
        let answer = self.store().exchange(&e, self.tick()).unwrap();
        assert_eq!(answer.granted[0].codes.len(), n, "the pool is large enough");
        answer.granted[0].clone()
    }

    /// Gives leases back (not timed), so that open leases do not pile up.
    fn give_back(&self, leases: &[i64]) {
        let mut e = exchange(&self.name);
        e.returned = leases.to_vec();
        e.known = leases.to_vec();
        self.store().exchange(&e, self.tick()).unwrap();
    }

    /// Every code of a lease, reported handed out.
    fn handed(&self, lease: &codepool::dispenser::Lease) -> Vec<Handed> {
        let at = self.now.get();
        lease
            .codes
            .iter()
            .enumerate()
            .map(|(i, code)| Handed {
                lease: lease.id,
                code: code.clone(),
                customer_id: Some(format!("c{}-{i}", lease.id)),
                at,
            })
            .collect()
    }

    /// The store's time for `e` (µs).
    fn time(&self, e: &Exchange) -> (codepool::dispenser::Exchanged, f64) {
        let t = self.tick();
        micros(|| self.store().exchange(e, t).unwrap())
    }
}

fn row(label: &str, times: &mut [f64], codes: usize, idle: f64) -> f64 {
    let med = median(times);
    let p90 = percentile(times, 0.9);
    let per_code = if codes > 0 {
        format!("{:.2}", (med - idle) / codes as f64)
    } else {
        String::new()
    };
    println!(
        "| {label} | {} | {med:.0} | {p90:.0} | {per_code} |",
        times.len()
    );
    med
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture (BENCHMARKS.md, issue 15)"]
fn exchange_costs_at_the_store() {
    let codes = pool_size();
    let (local, file) = local(codes, "exchange-costs");
    let bench = Bench {
        local: &local,
        name: local.dispensers[0].0.clone(),
        now: std::cell::Cell::new(NOW),
    };
    let name = bench.name.clone();
    println!(
        "\nStore::exchange on a pool of {codes} codes ({}), no other lease open unless said:",
        where_stored()
    );
    println!("| exchange | repeats | median µs | p90 µs | µs per code over idle |");
    println!("|---|---:|---:|---:|---:|");

    // Idle: terms and counts, nothing reported or asked (every TERMS_MS / 2).
    let mut times: Vec<f64> = (0..1000).map(|_| bench.time(&exchange(&name)).1).collect();
    let idle = row("idle (terms and counts only)", &mut times, 0, 0.0);

    // A grant of a block of B codes.
    for (b, repeats) in [(1, 300), (10, 300), (100, 100), (500, 50), (1000, 50)] {
        let mut times: Vec<f64> = (0..repeats)
            .map(|_| {
                let mut e = exchange(&name);
                e.want = BTreeMap::from([("p".to_owned(), b)]);
                let (answer, us) = bench.time(&e);
                assert_eq!(answer.granted[0].codes.len(), b);
                bench.give_back(&[answer.granted[0].id]);
                us
            })
            .collect();
        row(&format!("grant of {b}"), &mut times, b, idle);
    }

    // A report of R codes handed out, all of one lease it holds.
    for (r, repeats) in [
        (1, 300),
        (10, 300),
        (100, 100),
        (500, 50),
        (1000, 50),
        (4096, 20),
    ] {
        let mut times: Vec<f64> = (0..repeats)
            .map(|_| {
                let lease = bench.lease(&name, r);
                let mut e = exchange(&name);
                e.handed = bench.handed(&lease);
                e.known = vec![lease.id];
                let (answer, us) = bench.time(&e);
                assert!(answer.withdrawn.is_empty());
                bench.give_back(&[lease.id]);
                us
            })
            .collect();
        row(&format!("report of {r}"), &mut times, r, idle);
    }

    // A busy dispenser's exchange: a report of R and a grant of B at once.
    for (r, b, repeats) in [(100, 100, 100), (500, 500, 50), (1000, 1000, 50)] {
        let mut times: Vec<f64> = (0..repeats)
            .map(|_| {
                let lease = bench.lease(&name, r);
                let mut e = exchange(&name);
                e.handed = bench.handed(&lease);
                e.known = vec![lease.id];
                e.want = BTreeMap::from([("p".to_owned(), b)]);
                let (answer, us) = bench.time(&e);
                bench.give_back(&[lease.id, answer.granted[0].id]);
                us
            })
            .collect();
        row(
            &format!("report of {r} + grant of {b}"),
            &mut times,
            r + b,
            idle,
        );
    }

    // A lease given back with L codes still in it.
    for (l, repeats) in [(1, 300), (100, 100), (1000, 50)] {
        let mut times: Vec<f64> = (0..repeats)
            .map(|_| {
                let lease = bench.lease(&name, l);
                let mut e = exchange(&name);
                e.returned = vec![lease.id];
                e.known = vec![lease.id];
                bench.time(&e).1
            })
            .collect();
        row(&format!("lease given back, {l} left"), &mut times, l, idle);
    }

    // Open leases: a dispenser lists every lease it holds (`known`), and
    // the store looks at each; leases of every dispenser of the project are
    // looked through once per grant. A dispenser at 1000 displays/s holds
    // about 50 (a_dispenser_at_a_steady_rate).
    let mut own = Vec::new();
    for k in [10, 50, 200] {
        while own.len() < k {
            own.push(bench.lease(&name, 1).id);
        }
        let mut times: Vec<f64> = (0..300)
            .map(|_| {
                let mut e = exchange(&name);
                e.known = own.clone();
                bench.time(&e).1
            })
            .collect();
        row(
            &format!("idle, the dispenser knows {k} open leases"),
            &mut times,
            0,
            0.0,
        );
    }
    bench.give_back(&own);
    let mut others = 0;
    for k in [100, 1000, 5000] {
        while others < k {
            bench.lease(&format!("proj/l/other-{others}"), 1);
            others += 1;
        }
        let mut times: Vec<f64> = (0..100)
            .map(|_| {
                let lease = bench.lease(&name, 100);
                let mut e = exchange(&name);
                e.handed = bench.handed(&lease);
                e.known = vec![lease.id];
                e.want = BTreeMap::from([("p".to_owned(), 100)]);
                let (answer, us) = bench.time(&e);
                bench.give_back(&[lease.id, answer.granted[0].id]);
                us
            })
            .collect();
        row(
            &format!("report of 100 + grant of 100, {k} leases of other dispensers open"),
            &mut times,
            0,
            0.0,
        );
    }

    // One display's own transaction, for scale: at the store (a layer
    // without dispensers), and at a dispenser that holds enough codes.
    let store = bench.store();
    store
        .put_layer("s", &layer_taking("p", Assignment::PerDisplay), NOW)
        .unwrap();
    let mut times: Vec<f64> = (0..5000)
        .map(|i| {
            let request = display(&format!("s{i}"), "s");
            let t = bench.tick();
            let (reservation, us) = micros(|| store.reserve(&request, t).unwrap());
            assert_eq!(reservation.fresh.len(), 1);
            us
        })
        .collect();
    row(
        "(a display served by the store: Store::reserve)",
        &mut times,
        0,
        0.0,
    );
    // At a dispenser: refilled with blocks of B codes (the codes it
    // handed out reported at each refill), so it holds B/2 on average and
    // up to B handed out codes wait for their report.
    let held = Held::new(&local.dispensers[0].1);
    let mut i = 0;
    for block in [10, 100, 1000] {
        let mut times = Vec::new();
        while times.len() < 5000 {
            let t = bench.tick();
            let request = display(&format!("d{i}"), "l");
            i += 1;
            match micros(|| held.reserve("l", &request, t).unwrap()) {
                (codepool::dispenser::Served::Reserved(r), us) => {
                    assert_eq!(r.fresh.len(), 1);
                    times.push(us);
                }
                // Out of held codes (or terms to refresh): report and
                // refill, untimed.
                (codepool::dispenser::Served::Needs(_), _) => {
                    let mut sent = held.exchange(&name, "l", None, None, t).unwrap();
                    sent.want = BTreeMap::from([("p".to_owned(), block)]);
                    let answer = store.exchange(&sent, t).unwrap();
                    held.apply(&sent, &answer, t).unwrap();
                }
            }
        }
        row(
            &format!("(a display served at a dispenser: Held::reserve, blocks of {block})"),
            &mut times,
            0,
            0.0,
        );
    }
    drop(local);
    if let Some(file) = file {
        remove(&file);
    }
}

/// What one dispenser's exchanges came to over a simulated run.
#[derive(Default)]
struct Tally {
    displays: usize,
    /// Exchanges a display waited for (it found too little held).
    blocking: usize,
    /// Exchanges after a display or at an alarm (no display waits).
    background: usize,
    grants: usize,
    granted: usize,
    reported: usize,
    returned: usize,
    known: usize,
    store_us: Vec<f64>,
    dispenser_us: f64,
}

impl Tally {
    fn exchanges(&self) -> usize {
        self.blocking + self.background
    }

    fn note(&mut self, sent: &Exchange, answer: &codepool::dispenser::Exchanged, us: f64) {
        self.grants += answer.granted.len();
        self.granted += answer.granted.iter().map(|l| l.codes.len()).sum::<usize>();
        self.reported += sent.handed.len();
        self.returned += sent.returned.len();
        self.known += sent.known.len();
        self.store_us.push(us);
    }
}

/// A flush as the Durable Object's (`Dispenser::flush`): report and give
/// back what is due, until nothing is.
fn flush(local: &Local, tally: &mut Tally, now: i64) {
    let (name, db, demand) = &local.dispensers[0];
    let held = Held::new(db);
    for _ in 0..8 {
        let (sent, us) = micros(|| {
            held.exchange(name, &local.layer, None, Some(&demand.borrow()), now)
                .unwrap()
        });
        tally.dispenser_us += us;
        let idle = sent.handed.is_empty() && sent.returned.is_empty() && sent.want.is_empty();
        let (answer, us) = micros(|| Store::new(&local.store).exchange(&sent, now).unwrap());
        tally.background += 1;
        tally.note(&sent, &answer, us);
        let (_, us) = micros(|| held.apply(&sent, &answer, now).unwrap());
        tally.dispenser_us += us;
        if idle || !held.wants_exchange(&Demand::default(), now).unwrap() {
            break;
        }
    }
}

/// One display at dispenser 0, as `Dispenser::reserve` carries it out,
/// then what `Dispenser::after` does.
fn serve(local: &Local, tally: &mut Tally, request: &ReservationRequest, now: i64) -> Reservation {
    let (name, db, demand) = &local.dispensers[0];
    let held = Held::new(db);
    let mut serving = Serving::new(name, &local.layer, request);
    let (mut step, us) = micros(|| serving.start(&held, &demand.borrow(), now).unwrap());
    tally.dispenser_us += us;
    let reservation = loop {
        step = match step {
            Step::Done(reservation) => break reservation,
            Step::Exchange(sent) => {
                let (answer, us) =
                    micros(|| Store::new(&local.store).exchange(&sent, now).unwrap());
                tally.blocking += 1;
                tally.note(&sent, &answer, us);
                let (step, us) = micros(|| {
                    serving
                        .exchanged(&held, &sent, &answer, &demand.borrow(), now)
                        .unwrap()
                });
                tally.dispenser_us += us;
                step
            }
            Step::Recall(_) => panic!("one dispenser on a large pool recalls no one"),
        };
    };
    demand.borrow_mut().note("p", reservation.fresh.len(), now);
    tally.displays += 1;
    let (due, us) = micros(|| held.wants_exchange(&demand.borrow(), now).unwrap());
    tally.dispenser_us += us;
    if due {
        flush(local, tally, now);
    }
    reservation
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture (BENCHMARKS.md, issue 15)"]
fn a_dispenser_at_a_steady_rate() {
    let codes = pool_size();
    println!(
        "\nOne dispenser at a steady rate, simulated clock, pool of {codes} codes ({}):",
        where_stored()
    );
    println!(
        "| displays/s | seconds | store calls per display | of them waited for | store calls/s | \
         codes per report | codes per grant | leases given back/s | known leases per call | store µs per call (median / p99) | \
         store µs per display | dispenser µs per display |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (rate, seconds) in [
        (1, 300),
        (10, 120),
        (100, 120),
        (300, 60),
        (1000, 60),
        (2000, 30),
    ] {
        let (local, file) = local(codes, "steady-rate");
        let held = Held::new(&local.dispensers[0].1);
        let mut tally = Tally::default();
        let n = rate * seconds;
        let mut alarm: Option<i64> = None;
        let mut last = NOW;
        for i in 0..n {
            let now = NOW + (i as i64 * 1000) / rate as i64;
            // The alarm, when no display brought an exchange first.
            while let Some(at) = alarm.filter(|&at| at <= now) {
                let at = at.max(last);
                flush(&local, &mut tally, at);
                alarm = held.next_alarm(at).unwrap().filter(|&next| next > at);
                last = at;
            }
            let request = display(&format!("c{i}"), "l");
            let reservation = serve(&local, &mut tally, &request, now);
            assert_eq!(reservation.fresh.len(), 1, "display {i} got its code");
            alarm = held.next_alarm(now).unwrap();
            last = now;
        }
        drop(local);
        if let Some(file) = &file {
            remove(file);
        }
        let calls = tally.exchanges() as f64;
        let store_total: f64 = tally.store_us.iter().sum();
        let mut store_us = tally.store_us.clone();
        println!(
            "| {rate} | {seconds} | {:.4} | {} of {} | {:.2} | {:.0} | {:.0} | {:.2} | {:.1} | {:.0} / {:.0} | {:.2} | {:.1} |",
            calls / tally.displays as f64,
            tally.blocking,
            tally.exchanges(),
            calls / seconds as f64,
            tally.reported as f64 / calls,
            if tally.grants > 0 { tally.granted as f64 / tally.grants as f64 } else { 0.0 },
            tally.returned as f64 / seconds as f64,
            tally.known as f64 / calls,
            median(&mut store_us),
            percentile(&mut store_us, 0.99),
            store_total / tally.displays as f64,
            tally.dispenser_us / tally.displays as f64,
        );
    }
}
