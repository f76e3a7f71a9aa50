//! Templates on any text: compile, then plan and render with a fake voucher
//! store, as a layer render does.
//!
//! Checks that nothing panics or overflows the stack (the render runs on a
//! thread with the Worker's 1 MiB stack), that fuel ends every render (a
//! hang is a libFuzzer timeout), that the output stays within its limit,
//! that a render is all or nothing (what stays taken is exactly what the
//! output was given; a suppressed or failed render keeps nothing), and that
//! no code reaches the output unless it was given to this render.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use codepool::pool::PoolCounts;
use codepool::render::{
    context_from, preview, Limits, Outcome, RenderJob, Reservation, ReservationRequest, Source,
    Template,
};
use codepool::{Error, ErrorKind};
use libfuzzer_sys::fuzz_target;

/// The Worker's WebAssembly stack.
const STACK: usize = 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data).into_owned();
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || check(&source))
        .expect("a thread starts")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
});

fn check(source: &str) {
    let limits = Limits::default();
    let Ok(template) = Template::compile(source, limits) else {
        return;
    };
    let context = context_from(&serde_json::json!({
        "customer": { "id": "c1", "first_name": "Ada", "tier": 2 },
        "params": { "utm": "mail" },
        "items": [1, 2, 3],
    }));
    let mut store = FakeStore::new();
    let mut job = RenderJob::new(
        &template,
        context.clone(),
        Some("c1".into()),
        Source::Render,
        None,
    );
    let outcome = job.run(|request| store.reserve(request));
    let held: BTreeSet<&str> = store.held().collect();
    match &outcome {
        Ok(Outcome::Rendered { output, codes }) => {
            assert!(
                output.len() <= limits.max_output_bytes,
                "output of {} bytes",
                output.len()
            );
            let given: BTreeSet<&str> = codes.values().flatten().map(String::as_str).collect();
            assert_eq!(held, given, "what stays taken is not what the render shows");
            for code in store.codes() {
                if !given.contains(code) && !source.contains(code) {
                    assert!(
                        !output.contains(code),
                        "{code} is in the output but was not given"
                    );
                }
            }
        }
        Ok(Outcome::Suppressed { pools }) => {
            assert!(!pools.is_empty());
            assert!(held.is_empty(), "a suppressed render keeps {held:?}");
        }
        Err(err) => {
            assert!(held.is_empty(), "a failed render keeps {held:?}");
            assert!(err.status() < 500, "an internal error: {err:?}");
        }
    }
    // The admin preview: sample codes, nothing taken.
    if let Ok(output) = preview(&template, &context, store.counts()) {
        assert!(output.len() <= limits.max_output_bytes);
        for code in store.codes() {
            assert!(
                source.contains(code) || !output.contains(code),
                "preview shows {code}"
            );
        }
    }
}

/// Pools in memory that reserve like the store: all codes asked for, or
/// none when a pool is short; an unknown pool is an error.
struct FakeStore {
    /// Codes by pool, with whether each is taken.
    pools: BTreeMap<String, Vec<(String, bool)>>,
}

impl FakeStore {
    fn new() -> Self {
        let pool = |prefix: &str, n: usize| {
            (1..=n)
                .map(|i| (format!("{prefix}-ZQ{i:03}"), false))
                .collect()
        };
        FakeStore {
            pools: BTreeMap::from([
                ("p".to_owned(), pool("CODEP", 5)),
                ("q".to_owned(), pool("CODEQ", 1)),
                ("e".to_owned(), Vec::new()),
            ]),
        }
    }

    fn codes(&self) -> impl Iterator<Item = &str> {
        self.pools.values().flatten().map(|(c, _)| c.as_str())
    }

    fn held(&self) -> impl Iterator<Item = &str> {
        self.pools
            .values()
            .flatten()
            .filter(|(_, taken)| *taken)
            .map(|(c, _)| c.as_str())
    }

    fn counts(&self) -> BTreeMap<String, PoolCounts> {
        self.pools
            .iter()
            .map(|(name, codes)| {
                let assigned = codes.iter().filter(|(_, t)| *t).count() as i64;
                let total = codes.len() as i64;
                let counts = PoolCounts {
                    total,
                    available: total - assigned,
                    assigned,
                    redeemed: 0,
                };
                (name.clone(), counts)
            })
            .collect()
    }

    fn reserve(&mut self, request: &ReservationRequest) -> Result<Reservation, Error> {
        // Checked before anything changes, as the store's transaction would.
        for name in request.take.keys().chain(&request.count) {
            if !self.pools.contains_key(name) {
                return Err(Error::new(ErrorKind::UnknownPool, name.clone()));
            }
        }
        for code in &request.release {
            let slot = self
                .pools
                .values_mut()
                .flatten()
                .find(|(c, _)| c == code)
                .expect("a released code exists");
            assert!(slot.1, "{code} released but not taken");
            slot.1 = false;
        }
        let counts = self.counts();
        let mut reservation = Reservation {
            counts: request
                .take
                .keys()
                .chain(&request.count)
                .map(|name| (name.clone(), counts[name]))
                .collect(),
            ..Reservation::default()
        };
        for (name, &wanted) in &request.take {
            if counts[name].available < wanted as i64 {
                reservation.short.push(name.clone());
            }
        }
        if !reservation.short.is_empty() {
            return Ok(reservation);
        }
        for (name, &wanted) in &request.take {
            let mut taken = Vec::new();
            for (code, used) in self.pools.get_mut(name).into_iter().flatten() {
                if taken.len() == wanted {
                    break;
                }
                if !*used {
                    *used = true;
                    taken.push(code.clone());
                }
            }
            reservation.fresh.extend(taken.iter().cloned());
            reservation.codes.insert(name.clone(), taken);
        }
        Ok(reservation)
    }
}
