//! A dispenser's own storage: the leases it holds, their codes, what it
//! handed out and has not reported, and its layer's terms. Every method is
//! one synchronous SQLite transaction, so displays never see a half-done
//! change; the Durable Object around it (worker/src/dispenser.rs) and the
//! simulation (tests/native/dispenser.rs) do the messaging.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::layer::signature::{check_customer, CustomerProof};
use crate::layer::Assignment;
use crate::pool::PoolCounts;
use crate::render::{Reservation, ReservationRequest};
use crate::store::sql::{Database, Value};
use crate::store::{first_column, unknown_layer};

use super::demand::Demand;
use super::protocol::{Exchange, Exchanged, Handed, LayerTerms, Lease, Post};
use super::{MAX_REPORT, REPORT_MS, TERMS_MS};

/// The dispenser's schema; idempotent.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    // given_back: 1 once the dispenser is done with the lease (recalled,
    // the layer changed); its codes are no longer handed out.
    "CREATE TABLE IF NOT EXISTS leases (
        id INTEGER PRIMARY KEY,
        pool TEXT NOT NULL,
        deadline INTEGER NOT NULL,
        given_back INTEGER NOT NULL DEFAULT 0
    )",
    // state: 0 held, 1 handed out, 2 a per_customer customer's code
    // learned from the store. report: 0 not yet in an exchange, 1 sent,
    // 2 the store has it. seq keeps the store's order of the codes.
    "CREATE TABLE IF NOT EXISTS codes (
        seq INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        pool TEXT NOT NULL,
        lease_id INTEGER NOT NULL,
        state INTEGER NOT NULL DEFAULT 0,
        customer_id TEXT,
        at INTEGER,
        report INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE INDEX IF NOT EXISTS codes_by_pool ON codes(pool, state)",
    "CREATE INDEX IF NOT EXISTS codes_by_lease ON codes(lease_id, state)",
    "CREATE INDEX IF NOT EXISTS codes_by_customer ON codes(customer_id, pool)
        WHERE customer_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS codes_unreported ON codes(report) WHERE report < 2",
    // Customers the store was asked about: what it knew is in codes.
    "CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY)",
];

const HELD: i64 = 0;
const HANDED: i64 = 1;
const KNOWN: i64 = 2;

/// The layer's terms as the dispenser last heard them, with the store's
/// counts of the pools it serves from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Heard {
    terms: Option<LayerTerms>,
    /// When (the dispenser's clock).
    at: i64,
    counts: BTreeMap<String, PoolCounts>,
}

/// What a display needs before the dispenser can serve it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Need {
    /// The layer version the display planned with.
    pub version: i64,
    /// Codes missing, by pool.
    pub want: BTreeMap<String, usize>,
    /// Pools whose counts it reads.
    pub count: Vec<String>,
    /// A `per_customer` customer to look up in the store.
    pub lookup: Option<String>,
}

/// What [`Held::reserve`] came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Served {
    /// Served from what the dispenser holds.
    Reserved(Reservation),
    /// Exchange with the store first ([`Held::exchange`]), then try again.
    Needs(Need),
}

/// A dispenser's storage, on any [`Database`].
pub struct Held<'a, D: Database> {
    db: &'a D,
}

impl<'a, D: Database> Held<'a, D> {
    /// The dispenser's storage on a database; [`Held::migrate`] it once.
    pub fn new(db: &'a D) -> Self {
        Held { db }
    }

    /// Creates the schema if it is not there.
    pub fn migrate(&self) -> Result<()> {
        self.db.transaction(|| {
            for statement in SCHEMA {
                self.db.execute(statement, &[])?;
            }
            Ok(())
        })
    }

    /// Serves a display from held codes, as the store would
    /// ([`crate::store::Store::reserve`]): the same checks of the layer and
    /// the customer, all codes or none. Answers what is missing instead
    /// when the terms are old, a pool is short, or a `per_customer`
    /// customer must be looked up.
    pub fn reserve(&self, layer: &str, request: &ReservationRequest, now: i64) -> Result<Served> {
        self.db.transaction(|| {
            // Codes a render gives back need no check: they go back even if
            // the layer changed (as in the store).
            if request.take.is_empty() && request.count.is_empty() {
                self.release(&request.release)?;
                return Ok(Served::Reserved(Reservation::default()));
            }
            let heard = self.heard()?;
            let asked = request.layer_version.unwrap_or(0);
            let mut need = Need {
                version: asked,
                count: request.count.clone(),
                ..Need::default()
            };
            let fresh = heard
                .terms
                .as_ref()
                .filter(|t| now - heard.at < TERMS_MS && t.version >= asked);
            let Some(terms) = fresh else {
                need.want = request.take.keys().map(|p| (p.clone(), 0)).collect();
                return Ok(Served::Needs(need));
            };
            if !terms.active {
                return Err(Error::new(
                    ErrorKind::LayerPaused,
                    format!("layer {layer:?} is paused"),
                ));
            }
            if terms.version != asked {
                return Err(Error::new(
                    ErrorKind::LayerChanged,
                    format!("layer {layer:?} changed while it was rendering: render it again"),
                ));
            }
            let customer = request.customer_id.as_deref();
            terms.assignment.check_customer(layer, customer)?;
            if terms.signed_customer {
                let Some(key) = &terms.signing_key else {
                    return Err(Error::new(
                        ErrorKind::NoSigningKey,
                        "this layer needs signed customer ids but the project has no \
                         customer_signing_key: set one with PUT /settings",
                    ));
                };
                let proof = CustomerProof {
                    customer_id: customer,
                    signature: request.customer_signature.as_deref(),
                    expiry: request.signature_expiry,
                };
                check_customer(key, proof, now.div_euclid(1000), terms.require_expiry)?;
            }
            self.release(&request.release)?;

            let per_customer = match (terms.assignment, customer) {
                (Assignment::PerCustomer, Some(customer)) => Some(customer),
                _ => None,
            };
            let mut again = BTreeMap::new();
            for (pool, &wanted) in &request.take {
                let codes = match per_customer {
                    Some(customer) => self.codes_of(customer, pool, wanted)?,
                    None => Vec::new(),
                };
                if codes.len() < wanted {
                    if let Some(customer) = per_customer {
                        if terms.customers_at_store && !self.looked_up(customer)? {
                            need.lookup = Some(customer.to_owned());
                        }
                    }
                    let usable = self.usable(pool, now)?;
                    if usable < wanted - codes.len() {
                        need.want
                            .insert(pool.clone(), wanted - codes.len() - usable);
                    }
                }
                again.insert(pool.clone(), codes);
            }
            let counted = request.take.keys().chain(&request.count);
            let uncounted: Vec<&String> =
                counted.filter(|p| !heard.counts.contains_key(*p)).collect();
            if need.lookup.is_some() || !need.want.is_empty() || !uncounted.is_empty() {
                for pool in request.take.keys() {
                    need.want.entry(pool.clone()).or_insert(0);
                }
                return Ok(Served::Needs(need));
            }

            let mut reservation = Reservation::default();
            for pool in request.take.keys().chain(&request.count) {
                let counts = self.counts(&heard, pool)?;
                reservation.counts.insert(pool.clone(), counts);
            }
            for (pool, &wanted) in &request.take {
                let mut codes = again.remove(pool).unwrap_or_default();
                let missing = wanted - codes.len();
                if missing > 0 {
                    let fresh = self.hand_out(pool, missing, customer, now)?;
                    reservation.fresh.extend(fresh.iter().cloned());
                    codes.extend(fresh);
                }
                reservation.codes.insert(pool.clone(), codes);
            }
            Ok(Served::Reserved(reservation))
        })
    }

    /// The pools short of what they would need, when the dispenser has no
    /// answer it must give: the display is refused as short by the store
    /// would be (nothing taken). Used after exchanges could not fill it.
    pub fn short(&self, request: &ReservationRequest, now: i64) -> Result<Reservation> {
        let heard = self.heard()?;
        let mut reservation = Reservation::default();
        for pool in request.take.keys().chain(&request.count) {
            reservation
                .counts
                .insert(pool.clone(), self.counts(&heard, pool)?);
        }
        for (pool, &wanted) in &request.take {
            if self.usable(pool, now)? < wanted {
                reservation.short.push(pool.clone());
            }
        }
        if reservation.short.is_empty() {
            reservation.short = request.take.keys().cloned().collect();
        }
        Ok(reservation)
    }

    /// The message for the store: every code handed out and not yet
    /// acknowledged (at most [`MAX_REPORT`]), the leases it is done with,
    /// and the codes to ask for: what `need` lacks, and with `demand`, a
    /// block of recent demand for pools that run low. Without `demand` it
    /// asks for nothing more than `need`: a recalled dispenser gives back
    /// without taking again in the same breath.
    pub fn exchange(
        &self,
        dispenser: &str,
        layer: &str,
        need: Option<&Need>,
        demand: Option<&Demand>,
        now: i64,
    ) -> Result<Exchange> {
        self.db.transaction(|| {
            let heard = self.heard()?;
            let rows = self.db.query(
                &format!(
                    "SELECT lease_id, code, customer_id, at FROM codes
                     WHERE report < 2 AND state = {HANDED} ORDER BY seq LIMIT {}",
                    MAX_REPORT + 1
                ),
                &[],
            )?;
            let complete = rows.len() <= MAX_REPORT;
            let handed: Vec<Handed> = rows
                .into_iter()
                .take(MAX_REPORT)
                .map(|r| Handed {
                    lease: r[0].as_i64(),
                    code: r[1].clone().into_string(),
                    customer_id: r[2].as_opt_str().map(str::to_owned),
                    at: r[3].as_i64(),
                })
                .collect();
            self.db.execute(
                &format!("UPDATE codes SET report = 1 WHERE report = 0 AND state = {HANDED}"),
                &[],
            )?;
            // Pools of leases given back before their deadline: recalled
            // (another dispenser is short) or the layer changed. No block
            // of them is asked for along with the give-back: the store would
            // lease the codes just returned straight back to this dispenser,
            // and the one that recalled it would stay short, recalling it
            // again and again. A display here still asks for what it needs.
            let recalled: Vec<String> = first_column(self.db.query(
                "SELECT DISTINCT pool FROM leases WHERE given_back = 1 AND deadline > ?1",
                &[now.into()],
            )?);
            // Done with: recalled or past its deadline. Only when this
            // message reports all it handed out.
            let done = if complete {
                self.done_leases(now)?
            } else {
                Vec::new()
            };
            for &id in &done {
                self.db.execute(
                    "UPDATE leases SET given_back = 1 WHERE id = ?1",
                    &[id.into()],
                )?;
            }
            let known = self
                .db
                .query("SELECT id FROM leases ORDER BY id", &[])?
                .into_iter()
                .map(|r| r[0].as_i64())
                .collect();

            let mut want = BTreeMap::new();
            let mut count = Vec::new();
            let version = match need {
                Some(need) => {
                    for (pool, &missing) in &need.want {
                        let block = demand.map_or(1, |d| d.block(pool, now));
                        want.insert(pool.clone(), missing.max(block));
                    }
                    count.clone_from(&need.count);
                    need.version
                }
                None => heard.terms.as_ref().map_or(0, |t| t.version),
            };
            // Refill what runs low, so displays seldom wait for the store.
            let current = heard
                .terms
                .as_ref()
                .is_some_and(|t| t.active && t.version == version);
            if let Some(demand) = demand.filter(|_| current) {
                for pool in demand.pools(now) {
                    let block = demand.block(pool, now);
                    let usable = self.usable(pool, now)?;
                    if usable * 2 < block
                        && !want.contains_key(pool)
                        && !recalled.iter().any(|p| p == pool)
                    {
                        want.insert(pool.to_owned(), block - usable);
                    }
                }
            }
            for pool in heard.counts.keys() {
                if !want.contains_key(pool) && !count.contains(pool) {
                    count.push(pool.clone());
                }
            }
            Ok(Exchange {
                dispenser: dispenser.to_owned(),
                layer: layer.to_owned(),
                version,
                handed,
                returned: done,
                known,
                want,
                count,
                // The caller knows whether another exchange is in flight.
                alone: false,
                seq: self.next_seq()?,
                lookup: need.and_then(|n| n.lookup.clone()),
            })
        })
    }

    /// Takes in the store's answer to an exchange this dispenser sent.
    pub fn apply(&self, sent: &Exchange, answer: &Exchanged, now: i64) -> Result<()> {
        self.db.transaction(|| {
            let mut heard = self.heard()?;
            // An answer from before the layer's version this dispenser has
            // heard of (it crossed a newer one): its reports and returns
            // count, but not its grants, of a version no longer served.
            let outdated = matches!(
                (&heard.terms, &answer.terms),
                (Some(old), Some(new)) if new.version < old.version
            );
            let keep_handed = matches!(
                answer.terms.as_ref().or(heard.terms.as_ref()),
                Some(t) if t.assignment == Assignment::PerCustomer
            );
            for handed in &sent.handed {
                let params = [handed.lease.into(), handed.code.as_str().into()];
                let sql = if keep_handed {
                    "UPDATE codes SET report = 2 WHERE lease_id = ?1 AND code = ?2 AND state = 1"
                } else {
                    "DELETE FROM codes WHERE lease_id = ?1 AND code = ?2 AND state = 1"
                };
                self.db.execute(sql, &params)?;
            }
            for &id in &sent.returned {
                self.db
                    .execute("DELETE FROM leases WHERE id = ?1", &[id.into()])?;
                self.db.execute(
                    &format!("DELETE FROM codes WHERE lease_id = ?1 AND state = {HELD}"),
                    &[id.into()],
                )?;
            }
            for code in &answer.withdrawn {
                self.db.execute(
                    &format!("DELETE FROM codes WHERE code = ?1 AND state = {HELD}"),
                    &[code.as_str().into()],
                )?;
            }
            // A grant that arrives too late is not used: the store takes
            // it back once its deadline and the skew margin are past.
            let usable = |l: &&Lease| l.deadline > now && !outdated;
            for lease in answer.granted.iter().filter(usable) {
                self.db.execute(
                    "INSERT OR IGNORE INTO leases (id, pool, deadline) VALUES (?1, ?2, ?3)",
                    &[
                        lease.id.into(),
                        lease.pool.as_str().into(),
                        lease.deadline.into(),
                    ],
                )?;
                for code in &lease.codes {
                    self.db.execute(
                        "INSERT INTO codes (code, pool, lease_id) VALUES (?1, ?2, ?3)",
                        &[
                            code.as_str().into(),
                            lease.pool.as_str().into(),
                            lease.id.into(),
                        ],
                    )?;
                }
            }
            if let Some(customer) = &sent.lookup {
                for (pool, codes) in &answer.found {
                    for code in codes {
                        self.db.execute(
                            &format!(
                                "INSERT INTO codes (code, pool, lease_id, state, customer_id,
                                    report) VALUES (?1, ?2, 0, {KNOWN}, ?3, 2)"
                            ),
                            &[
                                code.as_str().into(),
                                pool.as_str().into(),
                                customer.as_str().into(),
                            ],
                        )?;
                    }
                }
                self.db.execute(
                    "INSERT OR IGNORE INTO customers (id) VALUES (?1)",
                    &[customer.as_str().into()],
                )?;
            }
            // A layer changed, paused or gone: every lease goes back.
            let changed = !outdated
                && match (&heard.terms, &answer.terms) {
                    (_, None) => true,
                    (_, Some(new)) if !new.active => true,
                    (Some(old), Some(new)) => {
                        new.version != old.version || new.dispensers != old.dispensers
                    }
                    (None, Some(_)) => false,
                };
            if changed {
                self.recall()?;
            }
            // The store's counts include every code this exchange reported.
            for (pool, counts) in &answer.counts {
                heard.counts.insert(pool.clone(), *counts);
            }
            // A deleted pool is asked about no more.
            for pool in &answer.unknown_pools {
                heard.counts.remove(pool);
            }
            if !outdated && (answer.terms.is_some() || heard.terms.is_some()) {
                heard.terms.clone_from(&answer.terms);
                heard.at = now;
            }
            self.put_meta("heard", &heard)?;
            if answer.terms.is_none() {
                // Gone: a layer created again under its name starts afresh.
                self.db.execute("DELETE FROM customers", &[])?;
                self.db
                    .execute(&format!("DELETE FROM codes WHERE state = {KNOWN}"), &[])?;
            }
            Ok(())
        })
    }

    /// Keeps where the dispenser serves (its alarm has no call to say it).
    pub fn remember(&self, post: &Post) -> Result<()> {
        self.put_meta("post", post)
    }

    /// Where the dispenser serves, once a call said it.
    pub fn post(&self) -> Result<Option<Post>> {
        self.meta("post")
    }

    /// The next exchange's number ([`Exchange::seq`]).
    fn next_seq(&self) -> Result<i64> {
        let rows = self.db.query(
            "INSERT INTO meta (key, value) VALUES ('seq', '1')
             ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1
             RETURNING CAST(value AS INTEGER)",
            &[],
        )?;
        Ok(rows.first().map_or(1, |r| r[0].as_i64()))
    }

    /// Forgets codes the store voided after this dispenser handed them
    /// out: kept for a `per_customer` customer, each would be shown to
    /// them again. A void code is in no lease any more and was reported
    /// (the store voids no code a dispenser may still hand out), so
    /// nothing of it is left to report or hand out here.
    pub fn forget(&self, codes: &[String]) -> Result<()> {
        self.db.transaction(|| {
            for code in codes {
                self.db
                    .execute("DELETE FROM codes WHERE code = ?1", &[code.as_str().into()])?;
            }
            Ok(())
        })
    }

    /// Stops handing out every lease: the next exchange gives them back.
    pub fn recall(&self) -> Result<()> {
        self.db.execute("UPDATE leases SET given_back = 1", &[])
    }

    /// Whether the dispenser should exchange with the store now, without a
    /// display waiting: reports due, leases to give back, terms getting
    /// old, or a pool running low.
    pub fn wants_exchange(&self, demand: &Demand, now: i64) -> Result<bool> {
        if let Some(at) = self.next_alarm(now)? {
            if at <= now {
                return Ok(true);
            }
        }
        let heard = self.heard()?;
        if heard.terms.is_some() && now - heard.at > TERMS_MS / 2 {
            return Ok(true);
        }
        for pool in demand.pools(now) {
            if self.usable(pool, now)? * 2 < demand.block(pool, now) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// When the dispenser must next exchange even with no displays: the
    /// oldest unreported code is [`REPORT_MS`] old, a lease reaches its
    /// deadline or is to be given back. `None` when nothing is pending.
    pub fn next_alarm(&self, now: i64) -> Result<Option<i64>> {
        let rows = self.db.query(
            &format!(
                "SELECT MIN(at) + {REPORT_MS} FROM codes WHERE report < 2 AND state = {HANDED}
                 UNION ALL SELECT MIN(CASE WHEN given_back = 1 THEN ?1 ELSE deadline END)
                 FROM leases"
            ),
            &[now.into()],
        )?;
        Ok(rows.iter().filter_map(|r| r[0].as_opt_i64()).min())
    }

    /// Every code handed out, with its customer: what the simulation checks.
    pub fn handed(&self) -> Result<Vec<(String, Option<String>)>> {
        let rows = self.db.query(
            &format!("SELECT code, customer_id FROM codes WHERE state = {HANDED} ORDER BY seq"),
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut r = r.into_iter();
                let code = r.next().unwrap_or(Value::Null).into_string();
                let customer = r.next().and_then(|v| v.as_opt_str().map(str::to_owned));
                (code, customer)
            })
            .collect())
    }

    /// Codes held (not handed out) under open leases, by pool.
    pub fn held(&self) -> Result<BTreeMap<String, i64>> {
        let rows = self.db.query(
            &format!("SELECT pool, COUNT(*) FROM codes WHERE state = {HELD} GROUP BY pool"),
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| (r[0].clone().into_string(), r[1].as_i64()))
            .collect())
    }

    fn heard(&self) -> Result<Heard> {
        Ok(self.meta("heard")?.unwrap_or_default())
    }

    /// A value kept as JSON in `meta`, if it was ever put there.
    fn meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let rows = self
            .db
            .query("SELECT value FROM meta WHERE key = ?1", &[key.into()])?;
        rows.into_iter()
            .next()
            .map(|row| {
                serde_json::from_str(row[0].as_opt_str().unwrap_or("{}"))
                    .map_err(|e| Error::internal(format!("a dispenser's {key}: {e}")))
            })
            .transpose()
    }

    /// Keeps a value as JSON in `meta`.
    fn put_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value).map_err(|e| Error::internal(e.to_string()))?;
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[key.into(), json.into()],
        )
    }

    /// A pool's counts for a display: the store's at the last exchange,
    /// less what this dispenser handed out that the store does not know.
    fn counts(&self, heard: &Heard, pool: &str) -> Result<PoolCounts> {
        let mut counts = heard.counts.get(pool).copied().unwrap_or_default();
        let rows = self.db.query(
            &format!(
                "SELECT COUNT(*) FROM codes WHERE pool = ?1 AND state = {HANDED} AND report < 2"
            ),
            &[pool.into()],
        )?;
        let unreported = rows.first().map_or(0, |r| r[0].as_i64());
        // What is left to hand out anywhere, as far as this dispenser knows.
        counts.available = (counts.unassigned() - unreported).max(0);
        counts.leased = 0;
        counts.assigned += unreported;
        Ok(counts)
    }

    /// Held codes of a pool under leases still in use.
    fn usable(&self, pool: &str, now: i64) -> Result<usize> {
        let rows = self.db.query(
            &format!(
                "SELECT COUNT(*) FROM codes AS c JOIN leases AS l ON c.lease_id = l.id
                 WHERE c.pool = ?1 AND c.state = {HELD} AND l.given_back = 0 AND l.deadline > ?2"
            ),
            &[pool.into(), now.into()],
        )?;
        Ok(rows.first().map_or(0, |r| r[0].as_i64()) as usize)
    }

    /// Hands out `n` held codes of a pool, first leased first.
    fn hand_out(
        &self,
        pool: &str,
        n: usize,
        customer: Option<&str>,
        now: i64,
    ) -> Result<Vec<String>> {
        let rows = self.db.query(
            &format!(
                "UPDATE codes SET state = {HANDED}, customer_id = ?1, at = ?2
                 WHERE seq IN (SELECT c.seq FROM codes AS c JOIN leases AS l
                                 ON c.lease_id = l.id
                               WHERE c.pool = ?3 AND c.state = {HELD} AND l.given_back = 0
                                 AND l.deadline > ?2
                               ORDER BY c.seq LIMIT {n})
                 RETURNING code"
            ),
            &[customer.into(), now.into(), pool.into()],
        )?;
        if rows.len() != n {
            return Err(Error::internal(format!(
                "a dispenser counted {n} codes of {pool:?} to hand out and found {}",
                rows.len()
            )));
        }
        Ok(first_column(rows))
    }

    /// A customer's codes of a pool: handed out here, or learned from the store.
    fn codes_of(&self, customer: &str, pool: &str, limit: usize) -> Result<Vec<String>> {
        let rows = self.db.query(
            &format!(
                "SELECT code FROM codes WHERE customer_id = ?1 AND pool = ?2
                 AND state IN ({HANDED}, {KNOWN}) ORDER BY seq LIMIT {limit}"
            ),
            &[customer.into(), pool.into()],
        )?;
        Ok(first_column(rows))
    }

    fn looked_up(&self, customer: &str) -> Result<bool> {
        let rows = self
            .db
            .query("SELECT 1 FROM customers WHERE id = ?1", &[customer.into()])?;
        Ok(!rows.is_empty())
    }

    /// Codes a render took and did not show go back to held, if no
    /// exchange has reported them yet (then they stay handed out: never
    /// shown, never handed twice, as with the store).
    fn release(&self, codes: &[String]) -> Result<()> {
        for code in codes {
            self.db.execute(
                &format!(
                    "UPDATE codes SET state = {HELD}, customer_id = NULL, at = NULL
                     WHERE code = ?1 AND state = {HANDED} AND report = 0"
                ),
                &[code.as_str().into()],
            )?;
        }
        Ok(())
    }

    /// Leases to give back: recalled, or past their deadline.
    fn done_leases(&self, now: i64) -> Result<Vec<i64>> {
        let rows = self.db.query(
            "SELECT id FROM leases WHERE given_back = 1 OR deadline <= ?1 ORDER BY id",
            &[now.into()],
        )?;
        Ok(rows.into_iter().map(|r| r[0].as_i64()).collect())
    }
}

/// Whether an error means the layer cannot be served as asked (paused,
/// changed, gone): such a display changes nothing anywhere.
pub fn is_layer_refusal(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::LayerPaused | ErrorKind::LayerChanged | ErrorKind::UnknownLayer
    )
}

/// The answer for a display whose layer the store no longer has.
pub fn gone(layer: &str) -> Error {
    unknown_layer(layer)
}
