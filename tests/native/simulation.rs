//! A deterministic simulation of the dispenser lease protocol
//! ([`codepool::dispenser`]): a store and N dispensers, each on its own
//! SQLite database, and many clients, under a seeded random scheduler.
//!
//! **Why.** The protocol's promises (every code handed out once, nothing
//! suppressed while a code is left, the store's records converging on what
//! clients got) rest on idempotent messages and on who may take a lease
//! back when. The in-process driver (`dispenser.rs`) delivers every message
//! at once and in order; real messages are late, reordered, duplicated by
//! retries that time out, or lost, and Durable Objects restart. Only a
//! search over many interleavings finds the orders that break a promise.
//!
//! **The model.** Global time in milliseconds; the store's clock is the
//! global one, each dispenser's is off by a fixed skew within
//! ±`SKEW_MARGIN_MS / 2`. Every message (exchange to the store, its answer,
//! a recall to another dispenser and its reply, a display's answer to its
//! client) is an event with its own random delay, so they reorder. A
//! dispenser serves several displays at once, each its own [`Serving`]
//! between steps, as a Durable Object interleaves requests while it awaits
//! its outbound calls; every [`Held`] method and every store exchange is one
//! synchronous transaction. A dispenser's alarm exchanges when
//! [`Held::next_alarm`] says (reports due, leases at their deadline or given
//! back), and after a display when [`Held::wants_exchange`] asks for a
//! refill. A caller gives up on a call after `TIMEOUT_MS`; a late answer is
//! then ignored, though the store did run the exchange.
//!
//! **Faults.** A message lost on the way (an exchange before the store runs
//! it, or its answer after the store committed it); an exchange or a recall
//! delivered twice, the copy at its own time; messages slower than the
//! timeout; a dispenser crash (its memory, every display in progress
//! there and its demand, is lost; its storage is kept); a store crash
//! (every message to or from it in flight is lost, and it is down for a
//! while; its database is durable); a display's answer lost on the way to
//! its client (the code was handed out, the client never saw it). Some
//! clients redeem their code through a tracked event, sometimes before the
//! dispenser has reported it. In some `per_customer` seeds, customers got
//! their code from the store before the layer had dispensers: a dispenser
//! looks them up. About a third of the seeds have no faults.
//!
//! **Invariants**, after every event: no code reaches two displays (but a
//! `per_customer` customer sees their one code again); the store's counters
//! equal its rows and add up to the pool's total; every code a client got
//! is assigned (or redeemed) at the store to that customer, or still leased
//! and handed out, unreported, by exactly one dispenser; a code a dispenser
//! may still hand out is leased to it at the store, under that lease, and
//! to no other; a code handed out and not yet acknowledged is leased to
//! that dispenser or recorded for that customer. When traffic stops, the
//! dispensers' alarms must go quiet by themselves (every lease given back,
//! every code reported); once each has exchanged again past every deadline
//! and the skew margin, no code is leased and the store's records are
//! exactly what clients received, plus the codes whose answer was lost on
//! the way to the client (handed out once, never shown: as with the store's
//! own path). In fault-free seeds where clients come one at a time, a
//! display is answered short only when every code has reached a client or
//! is in a grant still on its way to a dispenser (no recall can give that
//! back before it arrives).
//!
//! `SIM_SEED=n cargo test --test native simulation` replays seed n with a
//! trace of every event (shown when it fails, or with `-- --nocapture`);
//! `SIM_SEEDS=k` runs k seeds (default `DEFAULT_SEEDS`); `SIM_ALL=1` goes on
//! past failing seeds and lists each (`FAIL <seed> <why>`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use codepool::dispenser::{
    name, slot, Demand, Exchange, Exchanged, Held, Serving, Step, LEASE_MS, SKEW_MARGIN_MS,
};
use codepool::layer::Assignment;
use codepool::pool::{CodeState, PoolSettings};
use codepool::render::{Reservation, ReservationRequest, Source};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::{Database, Store};

use crate::common::{layer_taking, purchase, redeem_purchases, take, NOW};

/// A line of the trace (`SIM_SEED`), formatted only when tracing.
macro_rules! note {
    ($sim:expr, $($arg:tt)*) => {
        if $sim.trace {
            let line = format!($($arg)*);
            $sim.write(line);
        }
    };
}

/// Seeds in a normal run.
const DEFAULT_SEEDS: u64 = 10_000;
/// How long a caller waits for an answer before it gives up.
const TIMEOUT_MS: i64 = 5_000;
/// The most dispensers a seed has.
const MAX_DISPENSERS: usize = 6;
/// The most codes a seed's pool has.
const MAX_CODES: usize = 60;
const POOL: &str = "p";
const LAYER: &str = "l";

#[test]
fn simulation() {
    if let Some(seed) = env_u64("SIM_SEED") {
        let report = simulate(seed, true, &Databases::new());
        eprintln!("seed {seed}: {report}");
        return;
    }
    let seeds = env_u64("SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let failures: Vec<(u64, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut databases = Databases::new();
                    let mut failures = Vec::new();
                    for seed in (t..seeds).step_by(threads as usize) {
                        let run =
                            catch_unwind(AssertUnwindSafe(|| simulate(seed, false, &databases)));
                        if let Err(panic) = run {
                            failures.push((seed, panic_message(&*panic)));
                            if std::env::var_os("SIM_ALL").is_some() {
                                eprintln!(
                                    "FAIL {seed} {}",
                                    failures.last().unwrap().1.replace('\n', " ")
                                );
                                databases = Databases::new(); // as it failed
                                continue;
                            }
                            break; // one failing seed per thread is enough
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    if let Some((seed, message)) = failures.iter().min_by_key(|(s, _)| *s) {
        panic!(
            "{} seed(s) failed; the first, seed {seed}: {message}\n\
             replay it with a trace: SIM_SEED={seed} cargo test --test native simulation",
            failures.len()
        );
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")),
    )
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "a panic".into()
    }
}

/// SplitMix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// From `lo` to `hi`, both included.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.range(0, from.len() as i64 - 1) as usize]
    }
}

/// What one seed simulates.
#[derive(Debug)]
struct Config {
    dispensers: usize,
    codes: usize,
    assignment: Assignment,
    displays: usize,
    /// Customers the displays' ids are drawn from (0: every display its own).
    customers: usize,
    /// Share of displays without a customer id (`per_display` only).
    anonymous: f64,
    /// Each dispenser's clock minus the store's.
    skew: Vec<i64>,
    /// Clients come one at a time: the next when the last has its answer.
    sequential: bool,
    /// Displays arrive over this long (ms).
    traffic_ms: i64,
    /// A message's usual delay is up to this (ms).
    fast_ms: i64,
    /// Share of messages that take 0.1-2.4 s.
    slow: f64,
    /// Share of messages slower than the timeout.
    very_slow: f64,
    /// Share of messages between dispensers and store lost.
    lose: f64,
    /// Share of display answers lost on the way to the client.
    lose_answer: f64,
    /// Share of exchanges and recalls delivered twice.
    duplicate: f64,
    dispenser_crashes: usize,
    store_crashes: usize,
    /// Share of codes received that their customer redeems.
    redeem: f64,
    /// `per_customer`: customers c0, c1, ... who got their code from the
    /// store itself, before the layer had dispensers (their dispensers
    /// look them up in the store).
    before: usize,
}

impl Config {
    fn new(rng: &mut Rng) -> Config {
        let dispensers = rng.range(1, MAX_DISPENSERS as i64) as usize;
        // Mostly small: the races are at a pool's last codes, and a small
        // seed is quick; some large, where blocks and refills matter.
        let large = rng.chance(0.08);
        let codes = match rng.range(0, 19) {
            0 => 0,
            1..=6 => rng.range(1, 3),
            _ if large => rng.range(16, MAX_CODES as i64),
            _ => rng.range(4, 8),
        } as usize;
        let assignment = if rng.chance(0.5) {
            Assignment::PerCustomer
        } else {
            Assignment::PerDisplay
        };
        let per_customer = assignment == Assignment::PerCustomer;
        let customers = if per_customer {
            rng.range(2, if large { 15 } else { 8 }) as usize
        } else if rng.chance(0.3) {
            rng.range(3, 20) as usize
        } else {
            0
        };
        let half = SKEW_MARGIN_MS / 2;
        let skewed = rng.chance(0.7);
        let skew = (0..dispensers)
            .map(|_| if skewed { rng.range(-half, half) } else { 0 })
            .collect();
        let faulty = rng.chance(0.7);
        let fault = |rng: &mut Rng, p: f64| faulty && rng.chance(p);
        let lose = if fault(rng, 0.5) {
            rng.range(1, 15) as f64 / 100.0
        } else {
            0.0
        };
        let lose_answer = if fault(rng, 0.3) {
            rng.range(1, 20) as f64 / 100.0
        } else {
            0.0
        };
        let duplicate = if fault(rng, 0.4) {
            rng.range(1, 30) as f64 / 100.0
        } else {
            0.0
        };
        let very_slow = if fault(rng, 0.3) {
            rng.range(1, 5) as f64 / 100.0
        } else {
            0.0
        };
        let dispenser_crashes = if fault(rng, 0.5) { rng.range(1, 4) } else { 0 } as usize;
        let store_crashes = if fault(rng, 0.4) { rng.range(1, 3) } else { 0 } as usize;
        Config {
            dispensers,
            codes,
            assignment,
            displays: if large {
                rng.range(20, 60)
            } else {
                rng.range(2, 10)
            } as usize,
            customers,
            anonymous: if !per_customer && rng.chance(0.3) {
                0.3
            } else {
                0.0
            },
            skew,
            sequential: rng.chance(0.3),
            traffic_ms: rng.pick(&[500, 3_000, 20_000, 60_000, 100_000]),
            fast_ms: rng.range(0, 40),
            slow: rng.pick(&[0.0, 0.1, 0.3, 0.5]),
            very_slow,
            lose,
            lose_answer,
            duplicate,
            dispenser_crashes,
            store_crashes,
            redeem: rng.pick(&[0.0, 0.0, 0.2, 0.5]),
            before: if per_customer && codes > 0 && rng.chance(0.3) {
                rng.range(1, customers.min(codes) as i64) as usize
            } else {
                0
            },
        }
    }

    /// The layer's version the displays ask for: 2 once it was saved again
    /// with its dispensers.
    fn version(&self) -> i64 {
        if self.before > 0 {
            2
        } else {
            1
        }
    }

    fn faulty(&self) -> bool {
        self.lose > 0.0
            || self.lose_answer > 0.0
            || self.duplicate > 0.0
            || self.very_slow > 0.0
            || self.dispenser_crashes > 0
            || self.store_crashes > 0
    }
}

/// Why a dispenser called the store.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    /// For display `k`.
    Display(usize),
    /// Recalled by another dispenser's display: answer its call `reply`
    /// when done.
    Recalled { reply: u64 },
    /// Its alarm (reports, deadlines, refills).
    Alarm,
}

/// A call waiting for its answer.
#[derive(Debug)]
enum Call {
    /// Dispenser `d` sent `sent` to the store.
    Store {
        d: usize,
        purpose: Purpose,
        sent: Box<Exchange>,
    },
    /// Display `k` at dispenser `d` recalled another dispenser.
    Recall { d: usize, k: usize },
}

#[derive(Debug)]
enum Event {
    /// Display `k` arrives at its dispenser.
    Arrive(usize),
    /// An exchange reaches the store.
    ToStore {
        call: u64,
        exchange: Exchange,
    },
    /// The store's answer reaches the dispenser.
    FromStore {
        call: u64,
        answer: Exchanged,
    },
    /// A recall reaches dispenser `to`.
    RecallAsk {
        call: u64,
        to: usize,
    },
    /// The recalled dispenser is done (or failed): the reply reaches the caller.
    RecallReply {
        call: u64,
    },
    /// The caller gives up on a call.
    Timeout {
        call: u64,
    },
    /// Display `k`'s answer reaches its client.
    Answer {
        k: usize,
        reservation: Reservation,
    },
    /// Display `k`'s client gave up: its answer was lost.
    GaveUp(usize),
    /// Dispenser `d`'s alarm.
    Alarm(usize),
    CrashDispenser(usize),
    CrashStore,
    Redeem {
        code: String,
        customer: String,
    },
}

impl Event {
    fn touches_store(&self) -> bool {
        matches!(self, Event::ToStore { .. } | Event::FromStore { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    /// Not yet arrived, or being served.
    Open,
    /// Its answer is on the way.
    Answering,
    /// The client has its answer (codes or short).
    Answered,
    /// The client got an error, or no answer: no code.
    Failed,
}

struct Display<'r> {
    d: usize,
    request: &'r ReservationRequest,
    serving: Option<Serving<'r>>,
    /// Recalls still out.
    waiting: usize,
    fate: Fate,
}

struct Dispenser<'r> {
    name: String,
    db: &'r NativeDatabase,
    skew: i64,
    /// Memory: lost in a crash.
    demand: Demand,
    /// Its alarm's event (a newer one replaces it).
    alarm: Option<(i64, u64)>,
    /// An alarm exchange is out.
    busy: bool,
}

struct Sim<'r> {
    cfg: &'r Config,
    rng: Rng,
    trace: bool,
    log: String,
    /// The store's clock (global time), Unix ms.
    t: i64,
    seq: u64,
    queue: BTreeMap<(i64, u64), Event>,
    store: &'r NativeDatabase,
    store_down_until: i64,
    dispensers: Vec<Dispenser<'r>>,
    displays: Vec<Display<'r>>,
    /// Calls waiting for an answer, with their timeout's event.
    calls: BTreeMap<u64, (Call, (i64, u64))>,
    next_call: u64,
    /// Calm: traffic over, no more faults.
    calm: bool,
    /// Next sequential display to arrive.
    next_display: usize,
    /// Code → (display, customer) for every code a client received
    /// (display `usize::MAX`: from the store, before the layer had
    /// dispensers).
    received: BTreeMap<String, (usize, Option<String>)>,
    /// (code, customer) of codes whose answer was lost on the way.
    lost: BTreeSet<(String, Option<String>)>,
    /// Per customer, the code they got (`per_customer`).
    customer_code: BTreeMap<String, String>,
    /// What the checks last read of each database; `None` once written.
    seen: Seen,
    stats: Stats,
}

#[derive(Default)]
struct Seen {
    store: Option<BTreeMap<String, StoreCode>>,
    held: Vec<Option<Vec<HeldCode>>>,
}

#[derive(Debug, Default)]
struct Stats {
    events: usize,
    answered: usize,
    short: usize,
    failed: usize,
    lost_answers: usize,
    redeemed: usize,
}

/// One code at the store.
#[derive(Debug)]
struct StoreCode {
    state: i64,
    customer: Option<String>,
    redeemed_by: Option<String>,
    lease: Option<i64>,
    /// The holder of its lease, if the lease exists.
    holder: Option<String>,
}

/// A code available at the store.
const AVAILABLE: StoreCode = StoreCode {
    state: 0,
    customer: None,
    redeemed_by: None,
    lease: None,
    holder: None,
};

impl StoreCode {
    /// Who the store says has the code: its customer, or who redeemed it.
    fn owner(&self) -> Option<&str> {
        self.customer.as_deref().or(self.redeemed_by.as_deref())
    }
}

/// One code at a dispenser.
#[derive(Debug)]
struct HeldCode {
    code: String,
    state: i64,
    customer: Option<String>,
    lease: i64,
    /// Its lease is there and not given back.
    open: bool,
    deadline: i64,
}

impl HeldCode {
    /// Whether it may still be handed out: held, under a lease not given
    /// back, before its deadline (`now`: the dispenser's clock).
    fn usable(&self, now: i64) -> bool {
        self.state == D_HELD && self.open && self.deadline > now
    }
}

const D_HELD: i64 = 0;
const D_HANDED: i64 = 1;

/// One thread's databases, made once and reset for each seed: migrating a
/// store, creating its pool and importing codes (with their identifier and
/// code-key checks) cost more than a small seed's whole run.
///
/// The store's starting state (the pool with `MAX_CODES` codes imported,
/// purchases redeeming codes) is made once by the store's own methods and
/// kept in an attached schema, `template`. Each seed empties every table and
/// copies the template's rows back, with the pool's first `codes` codes
/// only and its counters set to match (the first check's audit confirms
/// they equal the rows). Emptied, a table numbers its rows from 1 again
/// (`sqlite_sequence` is emptied too), so a seed runs the same in any
/// thread and alone (`SIM_SEED`).
struct Databases {
    store: NativeDatabase,
    dispensers: Vec<NativeDatabase>,
    /// The store's tables, and those of them the template has rows of.
    store_tables: Vec<String>,
    template: Vec<String>,
    dispenser_tables: Vec<String>,
}

impl Databases {
    fn new() -> Databases {
        let store = NativeDatabase::in_memory().unwrap();
        let s = Store::new(&store);
        s.migrate().unwrap();
        s.put_pool(POOL, &PoolSettings::default(), NOW).unwrap();
        let import = s.begin_import(POOL, NOW).unwrap();
        let list: Vec<String> = (0..MAX_CODES).map(|i| format!("C{i:03}")).collect();
        s.import_batch(POOL, import, &list).unwrap();
        redeem_purchases(&s);
        let store_tables = tables(&store);
        store
            .execute("ATTACH DATABASE ':memory:' AS template", &[])
            .unwrap();
        let mut template = Vec::new();
        for table in &store_tables {
            let rows = store
                .query(&format!("SELECT 1 FROM main.{table} LIMIT 1"), &[])
                .unwrap();
            if !rows.is_empty() && table != "sqlite_sequence" {
                store
                    .execute(
                        &format!("CREATE TABLE template.{table} AS SELECT * FROM main.{table}"),
                        &[],
                    )
                    .unwrap();
                template.push(table.clone());
            }
        }
        let dispensers: Vec<NativeDatabase> = (0..MAX_DISPENSERS)
            .map(|_| {
                let db = NativeDatabase::in_memory().unwrap();
                Held::new(&db).migrate().unwrap();
                db
            })
            .collect();
        let dispenser_tables = tables(&dispensers[0]);
        Databases {
            store,
            dispensers,
            store_tables,
            template,
            dispenser_tables,
        }
    }

    /// The store with the seed's pool and layer, and empty dispensers;
    /// the codes customers got before the layer had dispensers.
    fn reset(&self, cfg: &Config) -> Vec<(String, String)> {
        let db = &self.store;
        let n = cfg.codes as i64;
        db.transaction(|| {
            // Every table is emptied: the foreign keys hold at the commit.
            db.execute("PRAGMA defer_foreign_keys = ON", &[])?;
            for table in &self.store_tables {
                db.execute(&format!("DELETE FROM main.{table}"), &[])?;
            }
            for table in &self.template {
                let only = if table == "codes" {
                    "WHERE id <= ?1"
                } else {
                    ""
                };
                let sql = format!("INSERT INTO main.{table} SELECT * FROM template.{table} {only}");
                let params = if only.is_empty() {
                    vec![]
                } else {
                    vec![n.into()]
                };
                db.execute(&sql, &params)?;
            }
            db.execute(
                "UPDATE main.pools SET total = ?1, available = ?1",
                &[n.into()],
            )
        })
        .unwrap();
        let store = Store::new(db);
        let mut layer = layer_taking(POOL, cfg.assignment);
        let mut before = Vec::new();
        if cfg.before > 0 {
            store.put_layer(LAYER, &layer, NOW).unwrap();
            for i in 0..cfg.before {
                let customer = format!("c{i}");
                let mut request = take(POOL, 1, &customer, Source::Layer(LAYER.into()));
                request.layer_version = Some(1);
                let reservation = store.reserve(&request, NOW).unwrap();
                for code in &reservation.codes[POOL] {
                    before.push((code.clone(), customer.clone()));
                }
            }
        }
        layer.dispensers = cfg.dispensers as u32;
        store.put_layer(LAYER, &layer, NOW).unwrap();
        for db in &self.dispensers[..cfg.dispensers] {
            db.transaction(|| {
                for table in &self.dispenser_tables {
                    db.execute(&format!("DELETE FROM {table}"), &[])?;
                }
                Ok(())
            })
            .unwrap();
        }
        before
    }
}

/// A database's tables, `sqlite_sequence` included.
fn tables(db: &NativeDatabase) -> Vec<String> {
    let rows = db
        .query(
            "SELECT name FROM main.sqlite_master WHERE type = 'table'
             AND (name NOT LIKE 'sqlite%' OR name = 'sqlite_sequence')",
            &[],
        )
        .unwrap();
    rows.into_iter()
        .map(|r| r[0].clone().into_string())
        .collect()
}

fn simulate(seed: u64, trace: bool, databases: &Databases) -> String {
    let mut rng = Rng(seed);
    let cfg = Config::new(&mut rng);
    let mut customer_rng = Rng(seed ^ 0x5eed_c0de);
    let requests: Vec<(ReservationRequest, u32)> = (0..cfg.displays)
        .map(|i| {
            let customer = if customer_rng.chance(cfg.anonymous) {
                None
            } else if cfg.customers == 0 {
                Some(format!("c{i}"))
            } else {
                Some(format!(
                    "c{}",
                    customer_rng.range(0, cfg.customers as i64 - 1)
                ))
            };
            let mut request = take(POOL, 1, "", Source::Layer(LAYER.into()));
            request.customer_id = customer;
            request.layer_version = Some(cfg.version());
            let anonymous = customer_rng.range(0, 1 << 20) as u32;
            (request, anonymous)
        })
        .collect();
    let before = databases.reset(&cfg);
    let mut sim = Sim::new(&cfg, rng, &requests, databases, trace);
    for (code, customer) in before {
        sim.handed_to(usize::MAX, &code, &Some(customer.clone()));
        sim.received.insert(code, (usize::MAX, Some(customer)));
    }
    if trace {
        eprintln!("seed {seed}: {cfg:#?}");
    }
    let run = catch_unwind(AssertUnwindSafe(|| sim.run()));
    if trace {
        eprintln!("{}", sim.log);
    }
    match run {
        Ok(()) => format!("{:?}", sim.stats),
        Err(panic) => {
            let message = panic_message(&*panic);
            panic!(
                "{message}\n  at {} ms, {:?}\n  {cfg:?}",
                sim.t - NOW,
                sim.stats
            );
        }
    }
}

impl<'r> Sim<'r> {
    fn new(
        cfg: &'r Config,
        rng: Rng,
        requests: &'r [(ReservationRequest, u32)],
        databases: &'r Databases,
        trace: bool,
    ) -> Self {
        let dispensers = (0..cfg.dispensers)
            .map(|i| {
                let db = &databases.dispensers[i];
                Dispenser {
                    name: name("proj", LAYER, i as u32),
                    db,
                    skew: cfg.skew[i],
                    demand: Demand::default(),
                    alarm: None,
                    busy: false,
                }
            })
            .collect();
        let displays = requests
            .iter()
            .map(|(request, anonymous)| Display {
                d: slot(
                    request.customer_id.as_deref(),
                    cfg.dispensers as u32,
                    *anonymous,
                ) as usize,
                request,
                serving: None,
                waiting: 0,
                fate: Fate::Open,
            })
            .collect();
        Sim {
            cfg,
            rng,
            trace,
            log: String::new(),
            t: NOW,
            seq: 0,
            queue: BTreeMap::new(),
            store: &databases.store,
            store_down_until: NOW,
            dispensers,
            displays,
            calls: BTreeMap::new(),
            next_call: 0,
            calm: false,
            next_display: 0,
            received: BTreeMap::new(),
            lost: BTreeSet::new(),
            customer_code: BTreeMap::new(),
            seen: Seen {
                store: None,
                held: (0..cfg.dispensers).map(|_| None).collect(),
            },
            stats: Stats::default(),
        }
    }

    fn write(&mut self, line: String) {
        let _ = writeln!(self.log, "{:>8} {line}", self.t - NOW);
    }

    fn at(&mut self, time: i64, event: Event) -> (i64, u64) {
        self.seq += 1;
        self.queue.insert((time, self.seq), event);
        (time, self.seq)
    }

    /// A message's delay.
    fn delay(&mut self) -> i64 {
        let cfg = self.cfg;
        if !self.calm && self.rng.chance(cfg.very_slow) {
            self.rng.range(TIMEOUT_MS, 3 * TIMEOUT_MS)
        } else if self.rng.chance(cfg.slow) {
            // A round trip stays within the timeout.
            self.rng.range(100, TIMEOUT_MS / 2 - 100)
        } else {
            self.rng.range(0, cfg.fast_ms)
        }
    }

    /// Sends a message that may be lost.
    fn send(&mut self, event: Event) {
        if !self.calm && self.rng.chance(self.cfg.lose) {
            note!(self, "lost on the way: {}", brief(&event));
            return;
        }
        // Delivered twice (a retry, an at-least-once network): each copy
        // runs, at its own time.
        let twice = match &event {
            Event::ToStore { call, exchange } => Some(Event::ToStore {
                call: *call,
                exchange: exchange.clone(),
            }),
            Event::RecallAsk { call, to } => Some(Event::RecallAsk {
                call: *call,
                to: *to,
            }),
            _ => None,
        };
        if let Some(copy) = twice.filter(|_| !self.calm && self.rng.chance(self.cfg.duplicate)) {
            note!(self, "sent twice: {}", brief(&copy));
            let delay = self.delay();
            self.at(self.t + delay, copy);
        }
        let delay = self.delay();
        self.at(self.t + delay, event);
    }

    fn now_at(&self, d: usize) -> i64 {
        self.t + self.dispensers[d].skew
    }

    fn call(&mut self, call: Call) -> u64 {
        self.next_call += 1;
        let id = self.next_call;
        let timeout = self.at(self.t + TIMEOUT_MS, Event::Timeout { call: id });
        self.calls.insert(id, (call, timeout));
        id
    }

    /// The call answered: its timeout is off.
    fn take_call(&mut self, id: u64) -> Option<Call> {
        let (call, timeout) = self.calls.remove(&id)?;
        self.queue.remove(&timeout);
        Some(call)
    }

    fn run(&mut self) {
        let cfg = self.cfg;
        // Traffic.
        if cfg.sequential {
            self.at(self.t, Event::Arrive(0));
            self.next_display = 1;
        } else {
            for k in 0..cfg.displays {
                let at = self.t + self.rng.range(0, cfg.traffic_ms);
                self.at(at, Event::Arrive(k));
            }
        }
        // Faults.
        for _ in 0..cfg.dispenser_crashes {
            let at = self.t + self.rng.range(0, cfg.traffic_ms);
            let d = self.rng.range(0, cfg.dispensers as i64 - 1) as usize;
            self.at(at, Event::CrashDispenser(d));
        }
        for _ in 0..cfg.store_crashes {
            let at = self.t + self.rng.range(0, cfg.traffic_ms);
            self.at(at, Event::CrashStore);
        }
        // The traffic, until every client has its answer (or gave up).
        while !self
            .displays
            .iter()
            .all(|d| matches!(d.fate, Fate::Answered | Fate::Failed))
        {
            let ((time, _), event) = self
                .queue
                .pop_first()
                .expect("events while displays are open");
            self.t = self.t.max(time);
            self.handle(event);
            self.check();
        }
        self.calm = true;
        let stopped = self.t;
        note!(self, "traffic over");
        // Quiet: the alarms alone give every lease back and report
        // everything, within a deadline or two.
        let limit = self.t + 3 * (LEASE_MS + SKEW_MARGIN_MS) + 3 * TIMEOUT_MS;
        while let Some(((time, _), event)) = self.queue.pop_first() {
            if time > limit {
                self.queue.insert((time, 0), event);
                break;
            }
            self.t = self.t.max(time);
            if let Event::CrashDispenser(_) | Event::CrashStore = event {
                continue; // calm now
            }
            self.handle(event);
            self.check();
        }
        for (d, dispenser) in self.dispensers.iter().enumerate() {
            let held = self.held_codes(d);
            let alarm = Held::new(dispenser.db)
                .next_alarm(self.t + dispenser.skew)
                .unwrap();
            assert!(
                held.is_empty() && alarm.is_none(),
                "{} not quiet {} ms after traffic stopped: holds {:?}, next alarm in {:?} \
                 ms; queue: {:?}",
                dispenser.name,
                self.t - stopped,
                held,
                alarm.map(|a| a - self.t - dispenser.skew),
                self.queue.values().map(brief).take(5).collect::<Vec<_>>()
            );
        }
        assert!(
            self.queue.is_empty(),
            "still due {} ms after traffic stopped: {:?}",
            self.t - stopped,
            self.queue.values().map(brief).take(5).collect::<Vec<_>>()
        );
        // Grants whose answer was lost are taken back when their holder
        // next exchanges, past their deadline and the skew margin: each
        // dispenser exchanges once more (as a recall would have it do).
        self.t += LEASE_MS + SKEW_MARGIN_MS + 1;
        for d in 0..self.dispensers.len() {
            self.seen.held[d] = None;
            self.seen.store = None;
            let now = self.now_at(d);
            let dispenser = &self.dispensers[d];
            let held = Held::new(dispenser.db);
            let sent = held
                .exchange(&dispenser.name, LAYER, None, None, now)
                .unwrap();
            let answer = Store::new(self.store).exchange(&sent, self.t).unwrap();
            held.apply(&sent, &answer, now).unwrap();
            assert!(
                answer.granted.is_empty(),
                "an idle dispenser was granted {:?}",
                answer.granted
            );
        }
        self.check();
        self.check_final();
    }

    fn handle(&mut self, event: Event) {
        self.stats.events += 1;
        note!(self, "{}", brief(&event));
        match event {
            Event::Arrive(k) => self.arrive(k),
            Event::ToStore { call, exchange } => {
                if self.t < self.store_down_until {
                    note!(self, "store down: call {call} lost");
                    return;
                }
                self.seen.store = None;
                let answer = Store::new(self.store).exchange(&exchange, self.t).unwrap();
                note!(self, "store ran call {call}: {}", brief_answer(&answer));
                self.send(Event::FromStore { call, answer });
            }
            Event::FromStore { call, answer } => match self.take_call(call) {
                Some(Call::Store { d, purpose, sent }) => self.answered(d, purpose, &sent, &answer),
                Some(other) => panic!("a store answer to {other:?}"),
                None => note!(self, "call {call} answered too late: ignored"),
            },
            Event::RecallAsk { call, to } => self.recalled(call, to),
            Event::RecallReply { call } => match self.take_call(call) {
                Some(Call::Recall { d, k }) => self.recall_done(d, k),
                Some(other) => panic!("a recall reply to {other:?}"),
                None => {}
            },
            Event::Timeout { call } => {
                if let Some((c, _)) = self.calls.remove(&call) {
                    note!(self, "call {call} timed out: {}", brief_call(&c));
                    self.failed(c);
                }
            }
            Event::Answer { k, reservation } => self.receive(k, &reservation),
            Event::GaveUp(k) => self.settle(k, Fate::Failed),
            Event::Alarm(d) => {
                self.dispensers[d].alarm = None;
                if !self.dispensers[d].busy {
                    self.alarm(d);
                }
            }
            Event::CrashDispenser(d) => self.crash_dispenser(d),
            Event::CrashStore => self.crash_store(),
            Event::Redeem { code, customer } => {
                if self.t < self.store_down_until {
                    return;
                }
                let event = purchase(&customer, &code, self.t.div_euclid(1000));
                self.seen.store = None;
                let results = Store::new(self.store).track(&[event], self.t).unwrap();
                note!(
                    self,
                    "{customer} redeems {code}: {:?}",
                    results[0].redemption
                );
                self.stats.redeemed += 1;
            }
        }
    }

    fn arrive(&mut self, k: usize) {
        let d = self.displays[k].d;
        self.seen.held[d] = None;
        let now = self.now_at(d);
        let dispenser = &self.dispensers[d];
        let held = Held::new(dispenser.db);
        let mut serving = Serving::new(&dispenser.name, LAYER, self.displays[k].request);
        let step = serving.start(&held, &dispenser.demand, now);
        self.displays[k].serving = Some(serving);
        note!(
            self,
            "display {k} ({:?}) at d{d}",
            self.displays[k].request.customer_id
        );
        self.step(k, step);
    }

    /// Carries out display `k`'s next step.
    fn step(&mut self, k: usize, step: codepool::Result<Step>) {
        let d = self.displays[k].d;
        let step = step.unwrap_or_else(|e| panic!("display {k} at d{d}: {e:?}"));
        match step {
            Step::Done(reservation) => {
                self.displays[k].serving = None;
                let now = self.now_at(d);
                let fresh = reservation.fresh.len();
                if fresh > 0 {
                    self.dispensers[d].demand.note(POOL, fresh, now);
                }
                note!(self, "display {k} done: {reservation:?}");
                if !reservation.is_complete() && !self.cfg.faulty() && self.cfg.sequential {
                    // Nothing suppressed while a code is left: every code
                    // reached a client, or is in a grant still on its way
                    // to a dispenser (which no recall can give back before
                    // it arrives, and the store must not give to another).
                    let on_the_way: usize = self
                        .queue
                        .values()
                        .map(|e| match e {
                            Event::FromStore { answer, .. } => {
                                answer.granted.iter().map(|l| l.codes.len()).sum()
                            }
                            _ => 0,
                        })
                        .sum();
                    assert!(
                        self.received.len() + on_the_way >= self.cfg.codes,
                        "display {k} answered short while codes were left (fault-free, \
                         one client at a time): {} of {} received, {on_the_way} on the way",
                        self.received.len(),
                        self.cfg.codes
                    );
                }
                self.displays[k].fate = Fate::Answering;
                if !self.calm && self.rng.chance(self.cfg.lose_answer) {
                    let customer = self.displays[k].request.customer_id.clone();
                    for codes in reservation.codes.values() {
                        for code in codes {
                            self.handed_to(k, code, &customer);
                            self.lost.insert((code.clone(), customer.clone()));
                        }
                    }
                    self.stats.lost_answers += 1;
                    note!(self, "display {k}'s answer lost");
                    self.at(self.t + TIMEOUT_MS, Event::GaveUp(k));
                } else {
                    let delay = self.delay();
                    self.at(self.t + delay, Event::Answer { k, reservation });
                }
                let held = Held::new(self.dispensers[d].db);
                if held
                    .wants_exchange(&self.dispensers[d].demand, now)
                    .unwrap()
                {
                    self.set_alarm(d, Some(self.t));
                } else {
                    self.arm(d);
                }
            }
            Step::Exchange(exchange) => {
                let call = self.call(Call::Store {
                    d,
                    purpose: Purpose::Display(k),
                    sent: Box::new(exchange.clone()),
                });
                note!(
                    self,
                    "display {k}: call {call} {}",
                    brief_exchange(&exchange)
                );
                self.send(Event::ToStore { call, exchange });
                self.arm(d);
            }
            Step::Recall(names) => {
                note!(self, "display {k} recalls {names:?}");
                self.displays[k].waiting = names.len();
                for other in names {
                    let to = self
                        .dispensers
                        .iter()
                        .position(|x| x.name == other)
                        .unwrap_or_else(|| panic!("recall of an unknown dispenser {other}"));
                    let call = self.call(Call::Recall { d, k });
                    self.send(Event::RecallAsk { call, to });
                }
            }
        }
    }

    /// The store's answer to a call of dispenser `d`.
    fn answered(&mut self, d: usize, purpose: Purpose, sent: &Exchange, answer: &Exchanged) {
        self.seen.held[d] = None;
        let now = self.now_at(d);
        let dispenser = &self.dispensers[d];
        let held = Held::new(dispenser.db);
        match purpose {
            Purpose::Display(k) => {
                let mut serving = self.displays[k]
                    .serving
                    .take()
                    .expect("a display in progress");
                let step = serving.exchanged(&held, sent, answer, &dispenser.demand, now);
                self.displays[k].serving = Some(serving);
                self.step(k, step);
            }
            Purpose::Recalled { reply } => {
                held.apply(sent, answer, now).unwrap();
                self.send(Event::RecallReply { call: reply });
            }
            Purpose::Alarm => {
                held.apply(sent, answer, now).unwrap();
                self.dispensers[d].busy = false;
            }
        }
        self.arm(d);
    }

    /// A call that got no answer in time.
    fn failed(&mut self, call: Call) {
        match call {
            Call::Store { d, purpose, .. } => match purpose {
                Purpose::Display(k) => {
                    self.displays[k].serving = None;
                    self.settle(k, Fate::Failed);
                    self.arm(d);
                }
                Purpose::Recalled { reply } => {
                    self.send(Event::RecallReply { call: reply });
                    self.arm(d);
                }
                Purpose::Alarm => {
                    self.dispensers[d].busy = false;
                    self.set_alarm(d, Some(self.t + 1_000));
                }
            },
            Call::Recall { d, k } => self.recall_done(d, k),
        }
    }

    /// Dispenser `to` is recalled: it gives back what it holds.
    fn recalled(&mut self, reply: u64, to: usize) {
        self.seen.held[to] = None;
        let now = self.now_at(to);
        let dispenser = &self.dispensers[to];
        let held = Held::new(dispenser.db);
        held.recall().unwrap();
        let exchange = held
            .exchange(&dispenser.name, LAYER, None, None, now)
            .unwrap();
        let call = self.call(Call::Store {
            d: to,
            purpose: Purpose::Recalled { reply },
            sent: Box::new(exchange.clone()),
        });
        note!(
            self,
            "d{to} recalled: call {call} {}",
            brief_exchange(&exchange)
        );
        self.send(Event::ToStore { call, exchange });
    }

    /// One of display `k`'s recalls is answered (or failed).
    fn recall_done(&mut self, d: usize, k: usize) {
        let display = &mut self.displays[k];
        display.waiting -= 1;
        if display.waiting > 0 {
            return;
        }
        let mut serving = display.serving.take().expect("a display in progress");
        self.seen.held[d] = None;
        let dispenser = &self.dispensers[d];
        let held = Held::new(dispenser.db);
        let step = serving.recalled(&held, &dispenser.demand, self.t + dispenser.skew);
        self.displays[k].serving = Some(serving);
        self.step(k, step);
    }

    /// Dispenser `d`'s alarm: an exchange when one is due.
    fn alarm(&mut self, d: usize) {
        self.seen.held[d] = None;
        let now = self.now_at(d);
        let dispenser = &self.dispensers[d];
        let held = Held::new(dispenser.db);
        if !held.wants_exchange(&dispenser.demand, now).unwrap() {
            self.arm(d);
            return;
        }
        let exchange = held
            .exchange(&dispenser.name, LAYER, None, Some(&dispenser.demand), now)
            .unwrap();
        self.dispensers[d].busy = true;
        let call = self.call(Call::Store {
            d,
            purpose: Purpose::Alarm,
            sent: Box::new(exchange.clone()),
        });
        note!(
            self,
            "d{d} alarm: call {call} {}",
            brief_exchange(&exchange)
        );
        self.send(Event::ToStore { call, exchange });
    }

    /// Sets dispenser `d`'s alarm for when [`Held::next_alarm`] says.
    fn arm(&mut self, d: usize) {
        let now = self.now_at(d);
        let dispenser = &self.dispensers[d];
        if dispenser.busy {
            return; // set again when the alarm's exchange is answered
        }
        let at = Held::new(dispenser.db).next_alarm(now).unwrap();
        let skew = dispenser.skew;
        self.set_alarm(d, at.map(|at| (at - skew).max(self.t + 1)));
    }

    /// Dispenser `d`'s one alarm: at `at` (the store's clock), or none.
    fn set_alarm(&mut self, d: usize, at: Option<i64>) {
        if let Some(key) = self.dispensers[d].alarm.take() {
            self.queue.remove(&key);
        }
        if let Some(at) = at {
            self.dispensers[d].alarm = Some(self.at(at, Event::Alarm(d)));
        }
    }

    fn crash_dispenser(&mut self, d: usize) {
        let lost: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, (c, _))| matches!(c, Call::Store { d: x, .. } | Call::Recall { d: x, .. } if *x == d))
            .map(|(&id, _)| id)
            .collect();
        for id in lost {
            self.take_call(id);
        }
        for k in 0..self.displays.len() {
            if self.displays[k].d == d
                && self.displays[k].fate == Fate::Open
                && (self.displays[k].serving.is_some())
            {
                self.displays[k].serving = None;
                self.displays[k].waiting = 0;
                self.settle(k, Fate::Failed);
            }
        }
        let dispenser = &mut self.dispensers[d];
        dispenser.demand = Demand::default();
        dispenser.busy = false;
        // Its Durable Object alarm is storage: it fires after the restart.
        self.arm(d);
    }

    fn crash_store(&mut self) {
        let in_flight: Vec<(i64, u64)> = self
            .queue
            .iter()
            .filter(|(_, e)| e.touches_store())
            .map(|(&key, _)| key)
            .collect();
        for key in in_flight {
            self.queue.remove(&key);
        }
        self.store_down_until = self.t + self.rng.range(0, 3_000);
    }

    /// Display `k` ends for its client; the next one comes (one at a time).
    fn settle(&mut self, k: usize, fate: Fate) {
        if matches!(self.displays[k].fate, Fate::Answered | Fate::Failed) {
            return;
        }
        self.displays[k].fate = fate;
        match fate {
            Fate::Failed => self.stats.failed += 1,
            _ => self.stats.answered += 1,
        }
        if self.cfg.sequential && self.next_display < self.displays.len() {
            let gap = 2 * self.cfg.traffic_ms / self.cfg.displays as i64;
            let at = self.t + self.rng.range(0, gap);
            self.at(at, Event::Arrive(self.next_display));
            self.next_display += 1;
        }
    }

    /// Code `code` was handed out by display `k`: never to two displays,
    /// but again to the same `per_customer` customer.
    fn handed_to(&mut self, k: usize, code: &str, customer: &Option<String>) {
        let per_customer = self.cfg.assignment == Assignment::PerCustomer;
        if let Some((other, to)) = self.received.get(code) {
            assert!(
                per_customer && to == customer,
                "{code} handed to display {other} ({to:?}) and display {k} ({customer:?})"
            );
        }
        for (c, to) in &self.lost {
            assert!(
                c != code || (per_customer && to == customer),
                "{code} handed to {to:?} (answer lost) and display {k} ({customer:?})"
            );
        }
        if per_customer {
            let customer = customer.clone().expect("per_customer displays have ids");
            match self.customer_code.get(&customer) {
                Some(before) => assert_eq!(
                    before, code,
                    "{customer} got {code} after {before} (per_customer)"
                ),
                None => {
                    self.customer_code.insert(customer, code.to_owned());
                }
            }
        }
    }

    fn receive(&mut self, k: usize, reservation: &Reservation) {
        let customer = self.displays[k].request.customer_id.clone();
        if reservation.is_complete() {
            for codes in reservation.codes.values() {
                for code in codes {
                    self.handed_to(k, code, &customer);
                    self.received
                        .entry(code.clone())
                        .or_insert((k, customer.clone()));
                    if let Some(customer) = &customer {
                        if self.rng.chance(self.cfg.redeem) {
                            let at = self.t + self.rng.range(0, 3_000);
                            let (code, customer) = (code.clone(), customer.clone());
                            self.at(at, Event::Redeem { code, customer });
                        }
                    }
                }
            }
        } else {
            self.stats.short += 1;
        }
        self.settle(k, Fate::Answered);
    }

    /// The store's codes that are not available (those are not listed).
    fn store_codes(&self) -> BTreeMap<String, StoreCode> {
        self.store
            .query(
                "SELECT c.code, c.state, c.customer_id, c.redeemed_by, c.lease_id, l.dispenser
                 FROM codes AS c LEFT JOIN leases AS l ON l.id = c.lease_id
                 WHERE c.state != 0",
                &[],
            )
            .unwrap()
            .into_iter()
            .map(|r| {
                let text = |i: usize| r[i].as_opt_str().map(str::to_owned);
                (
                    text(0).unwrap(),
                    StoreCode {
                        state: r[1].as_i64(),
                        customer: text(2),
                        redeemed_by: text(3),
                        lease: r[4].as_opt_i64(),
                        holder: text(5),
                    },
                )
            })
            .collect()
    }

    /// Dispenser `d`'s codes held or handed out (not those it learned).
    fn held_codes(&self, d: usize) -> Vec<HeldCode> {
        self.dispensers[d]
            .db
            .query(
                "SELECT c.code, c.state, c.customer_id, c.lease_id,
                    IFNULL(l.given_back = 0, 0), IFNULL(l.deadline, 0)
                 FROM codes AS c LEFT JOIN leases AS l ON l.id = c.lease_id
                 WHERE c.state IN (0, 1) AND (c.state = 0 OR c.report < 2) ORDER BY c.seq",
                &[],
            )
            .unwrap()
            .into_iter()
            .map(|r| HeldCode {
                code: r[0].as_opt_str().unwrap().to_owned(),
                state: r[1].as_i64(),
                customer: r[2].as_opt_str().map(str::to_owned),
                lease: r[3].as_i64(),
                open: r[4].as_i64() == 1,
                deadline: r[5].as_i64(),
            })
            .collect()
    }

    /// The invariants that hold after every event. Reads again only the
    /// databases the event wrote to.
    fn check(&mut self) {
        if self.seen.store.is_none() {
            // The counters equal the rows (and no code is added or lost:
            // `check_final` counts them), each in one of the four states.
            let audit = Store::new(self.store).audit().unwrap();
            assert_eq!(audit, Vec::<String>::new(), "counters != rows");
            let codes = self.store_codes();
            for (code, c) in &codes {
                assert!((0..=3).contains(&c.state), "{code} in state {}", c.state);
                if c.state == CodeState::Leased as i64 {
                    assert!(
                        c.holder.is_some(),
                        "{code} leased under lease {:?}, which is not open",
                        c.lease
                    );
                }
            }
            self.seen.store = Some(codes);
        }
        for d in 0..self.dispensers.len() {
            if self.seen.held[d].is_none() {
                self.seen.held[d] = Some(self.held_codes(d));
            }
        }
        let codes = self.seen.store.as_ref().unwrap();

        // What each dispenser may hand out, or has handed out unacknowledged.
        let mut usable: BTreeMap<&str, usize> = BTreeMap::new();
        let mut handed: BTreeMap<String, Vec<(usize, Option<String>)>> = BTreeMap::new();
        for (d, held) in self.seen.held.iter().enumerate() {
            let held = held.as_ref().unwrap();
            let name = self.dispensers[d].name.as_str();
            let now = self.now_at(d);
            for h in held {
                let at_store = codes.get(&h.code).unwrap_or(&AVAILABLE);
                if h.usable(now) {
                    if let Some(other) = usable.insert(&h.code, d) {
                        panic!("{} may be handed out by d{other} and d{d}", h.code);
                    }
                    assert!(
                        at_store.state == CodeState::Leased as i64
                            && at_store.lease == Some(h.lease)
                            && at_store.holder.as_deref() == Some(name),
                        "d{d} may hand out {} (lease {}), which the store has as {at_store:?}",
                        h.code,
                        h.lease
                    );
                }
                if h.state == D_HANDED {
                    let leased_here = at_store.state == CodeState::Leased as i64
                        && at_store.lease == Some(h.lease)
                        && at_store.holder.as_deref() == Some(name);
                    let recorded = at_store.state == CodeState::Assigned as i64
                        && at_store.customer == h.customer
                        || at_store.state == CodeState::Redeemed as i64;
                    assert!(
                        leased_here || recorded,
                        "d{d} handed out {} to {:?} (lease {}, unacknowledged), which the \
                         store has as {at_store:?}",
                        h.code,
                        h.customer,
                        h.lease
                    );
                    handed
                        .entry(h.code.clone())
                        .or_default()
                        .push((d, h.customer.clone()));
                }
            }
        }
        for (code, by) in &handed {
            assert!(by.len() == 1, "{code} handed out by more than one: {by:?}");
        }

        // Every code a client got (or would have, but for a lost answer).
        let got = self
            .received
            .iter()
            .map(|(code, (_, customer))| (code, customer))
            .chain(self.lost.iter().map(|(code, customer)| (code, customer)));
        for (code, customer) in got {
            let at_store = codes.get(code).unwrap_or(&AVAILABLE);
            let ok = match at_store.state {
                s if s == CodeState::Assigned as i64 => at_store.customer == *customer,
                s if s == CodeState::Redeemed as i64 => at_store.owner() == customer.as_deref(),
                s if s == CodeState::Leased as i64 => handed
                    .get(code)
                    .is_some_and(|by| by.len() == 1 && by[0].1 == *customer),
                _ => false,
            };
            assert!(
                ok,
                "{code} reached {customer:?}; the store has it as {at_store:?}, \
                 the dispensers handed it out as {:?}",
                handed.get(code)
            );
        }
    }

    /// Once everything is returned: the store's records are what clients got.
    fn check_final(&self) {
        let counts = Store::new(self.store).pool(POOL, NOW).unwrap().counts;
        assert_eq!(
            counts.leased, 0,
            "codes still leased at the end: {counts:?}"
        );
        assert_eq!(counts.total, self.cfg.codes as i64);
        assert_eq!(
            counts.available + counts.leased + counts.assigned + counts.redeemed,
            counts.total
        );
        let at_store: BTreeSet<(String, Option<String>)> = self
            .store_codes()
            .into_iter()
            .filter(|(_, c)| c.state != CodeState::Available as i64)
            .map(|(code, c)| (code, c.customer))
            .collect();
        let got: BTreeSet<(String, Option<String>)> = self
            .received
            .iter()
            .map(|(code, (_, customer))| (code.clone(), customer.clone()))
            .chain(self.lost.iter().cloned())
            .collect();
        let missing: Vec<_> = got.difference(&at_store).collect();
        let extra: Vec<_> = at_store.difference(&got).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "the store's records differ from what clients received: \
             received but not recorded {missing:?}; recorded but never handed out {extra:?}"
        );
    }
}

fn brief(event: &Event) -> String {
    match event {
        Event::ToStore { call, exchange } => format!(
            "call {call} reaches the store: {}",
            brief_exchange(exchange)
        ),
        Event::FromStore { call, answer } => {
            format!("answer to call {call}: {}", brief_answer(answer))
        }
        Event::Answer { k, reservation } => format!(
            "display {k}'s client gets {:?} short {:?}",
            reservation.codes, reservation.short
        ),
        other => format!("{other:?}"),
    }
}

fn brief_exchange(e: &Exchange) -> String {
    format!(
        "{} handed {:?} returned {:?} known {:?} want {:?}",
        e.dispenser,
        e.handed
            .iter()
            .map(|h| (&h.code, h.lease))
            .collect::<Vec<_>>(),
        e.returned,
        e.known,
        e.want
    )
}

fn brief_answer(a: &Exchanged) -> String {
    format!(
        "granted {:?} recall {:?} withdrawn {:?}",
        a.granted
            .iter()
            .map(|l| (l.id, &l.codes, l.deadline - NOW))
            .collect::<Vec<_>>(),
        a.recall,
        a.withdrawn
    )
}

fn brief_call(c: &Call) -> String {
    match c {
        Call::Store { d, purpose, .. } => format!("d{d} to the store for {purpose:?}"),
        Call::Recall { d, k } => format!("display {k} at d{d} recalling"),
    }
}
