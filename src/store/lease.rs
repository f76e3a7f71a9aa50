//! The store's side of the lease protocol ([`crate::dispenser`]): reports
//! of codes handed out, leases given back, and new leases, in one
//! transaction per exchange.

use std::collections::{BTreeMap, BTreeSet};

use crate::dispenser::protocol::{Exchange, Exchanged, Handed, Holder, LayerTerms, Lease};
use crate::dispenser::{LEASE_MS, SKEW_MARGIN_MS};
use crate::error::{ErrorKind, Result};
use crate::layer::Assignment;
use crate::pool::{code_key, CodeState, PoolStatus};
use crate::store::sql::Database;

use super::alerts::ALERT_COLUMNS;
use super::layers::{ANY_ID, SIGNED_WITH_EXPIRY};
use super::{first_column, PoolRow, Store};

const LEASED: i64 = CodeState::Leased as i64;
const VOID: i64 = CodeState::Void as i64;

impl<D: Database> Store<'_, D> {
    /// Runs one exchange with a dispenser; `now` is Unix milliseconds.
    ///
    /// In order: the codes it handed out become assigned (a code no longer
    /// leased to it is left alone: reported before), the leases it gives
    /// back return their codes, leases of its that it does not know and
    /// are past their deadline and the skew margin are taken back, and
    /// then, if the layer is active at the version it asks for, new leases
    /// are granted, each at most a fair share of what the pool has left.
    pub fn exchange(&self, exchange: &Exchange, now: i64) -> Result<Exchanged> {
        self.db.transaction(|| {
            #[cfg(feature = "bench")]
            let before = self.bench_snapshot()?;
            self.db.execute(
                "INSERT INTO dispensers (name, layer, last_seen) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET layer = excluded.layer,
                    last_seen = excluded.last_seen",
                &[
                    exchange.dispenser.as_str().into(),
                    exchange.layer.as_str().into(),
                    now.into(),
                ],
            )?;
            let source = format!("layer:{}", exchange.layer);
            let mut assigned: BTreeMap<i64, i64> = BTreeMap::new();
            for handed in &exchange.handed {
                if let Some(pool_id) = self.report_handed(handed, &source)? {
                    *assigned.entry(pool_id).or_insert(0) += 1;
                }
            }
            // The pools' counters once per pool, not once per code; codes
            // reported are no longer left to hand out: alerts may fire.
            for (pool_id, n) in assigned {
                let rows = self.db.query(
                    &format!(
                        "UPDATE pools SET leased = leased - ?1, assigned = assigned + ?1
                         WHERE id = ?2 RETURNING {ALERT_COLUMNS}"
                    ),
                    &[n.into(), pool_id.into()],
                )?;
                for row in rows {
                    self.alerts_after_row(row, now)?;
                }
            }
            for &lease in &exchange.returned {
                self.close_lease(lease, &exchange.dispenser, now)?;
            }
            self.take_back_lost(exchange, now)?;

            let mut answer = Exchanged {
                terms: self.layer_terms(&exchange.layer)?,
                withdrawn: self.withdrawn(exchange)?,
                ..Exchanged::default()
            };
            let grant = answer
                .terms
                .as_ref()
                .is_some_and(|t| t.active && t.version == exchange.version);
            // A layer's leases are all of its current version: before any
            // dispenser is granted more, the holders of older ones give
            // them back (and report, so a per_customer customer's code is
            // known to the store before another dispenser meets them).
            let stale = match &answer.terms {
                Some(terms) if grant => self.holders(
                    "SELECT DISTINCT dispenser FROM leases WHERE layer = ?1 AND version < ?2",
                    &[exchange.layer.as_str().into(), terms.version.into()],
                )?,
                _ => Vec::new(),
            };
            let dispensers = answer.terms.as_ref().map_or(1, |t| t.dispensers.max(1));
            let mut recall = BTreeSet::from_iter(stale.iter().cloned());
            for (pool, &wanted) in &exchange.want {
                let Some(row) = self.known_pool(pool, now, &mut answer)? else {
                    continue;
                };
                if let Some(customer) = &exchange.lookup {
                    let codes = self.codes_of(row.id, customer, &source, wanted, now)?;
                    if !codes.is_empty() {
                        answer.found.insert(pool.clone(), codes);
                    }
                }
                if !grant || !stale.is_empty() || wanted == 0 {
                    continue;
                }
                let left = row.counts.available;
                // A pool that hands out nothing now recalls no one: its
                // holders stop at its close by their leases' deadlines.
                if left < wanted as i64 && row.status == PoolStatus::Active {
                    recall.extend(self.holders(
                        "SELECT DISTINCT dispenser FROM leases WHERE pool_id = ?1
                         AND dispenser != ?2",
                        &[row.id.into(), exchange.dispenser.as_str().into()],
                    )?);
                    // A lease of this pool granted to the asker that it does
                    // not know yet: the answer granting it is on its way (to
                    // another exchange of its own that crossed this one) or
                    // was lost. Naming the asker has it exchange again
                    // (`Serving`) rather than answer short: by then it may
                    // hold those codes.
                    if self.unknown_lease(exchange, row.id)? {
                        recall.insert(exchange.dispenser.clone());
                    }
                }
                let share = fair_share(left, dispensers).min(wanted as i64);
                let until = row.lifecycle.hand_out_until(now, LEASE_MS);
                if let (true, Some(deadline)) = (share > 0, until) {
                    let lease = Grant {
                        pool,
                        pool_id: row.id,
                        n: share,
                        deadline,
                        // Codes that would expire (less the pool's margin)
                        // before the lease ends are not leased.
                        good_after: deadline.saturating_add(row.lifecycle.stop_before),
                    };
                    answer.granted.extend(self.grant(exchange, lease, now)?);
                }
            }
            for pool in exchange.want.keys().chain(&exchange.count) {
                if !answer.counts.contains_key(pool) && !answer.unknown_pools.contains(pool) {
                    if let Some(row) = self.known_pool(pool, now, &mut answer)? {
                        answer.counts.insert(pool.clone(), row.counts);
                    }
                }
            }
            answer.recall = recall.into_iter().collect();
            #[cfg(feature = "bench")]
            self.count_exchange(exchange, &answer, before)?;
            Ok(answer)
        })
    }

    /// A pool an exchange names, or `None` (and named in the answer's
    /// `unknown_pools`) if the project has no such pool: one deleted while
    /// a layer still uses it must not stop the reports and returns of the
    /// layer's dispensers, who ask for its counts from then on.
    fn known_pool(&self, pool: &str, now: i64, answer: &mut Exchanged) -> Result<Option<PoolRow>> {
        match self.pool_row(pool, now) {
            Ok(row) => Ok(Some(row)),
            Err(err) if err.kind() == ErrorKind::UnknownPool => {
                answer.unknown_pools.push(pool.to_owned());
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// The dispensers that have served a layer: those to tell when it
    /// changes (the Worker recalls them).
    pub fn dispensers_of(&self, layer: &str) -> Result<Vec<String>> {
        self.holders(
            "SELECT name FROM dispensers WHERE layer = ?1 ORDER BY name",
            &[layer.into()],
        )
    }

    /// The dispensers holding leases of these pools: those to recall when
    /// the store itself (a layer without dispensers, a campaign) runs short
    /// of codes they hold.
    pub fn holders_of(&self, pools: &[String]) -> Result<Vec<Holder>> {
        let mut holders = BTreeSet::new();
        for pool in pools {
            let id = self.pool_id(pool)?;
            let rows = self.db.query(
                "SELECT DISTINCT dispenser, layer FROM leases WHERE pool_id = ?1",
                &[id.into()],
            )?;
            for row in rows {
                let mut row = row.into_iter();
                let mut next = || {
                    row.next()
                        .unwrap_or(crate::store::Value::Null)
                        .into_string()
                };
                holders.insert((next(), next()));
            }
        }
        Ok(holders
            .into_iter()
            .map(|(dispenser, layer)| Holder { dispenser, layer })
            .collect())
    }

    /// A reported code: leased to this lease, now assigned to its customer.
    /// Answers its pool if it changed state (the caller counts it).
    fn report_handed(&self, handed: &Handed, source: &str) -> Result<Option<i64>> {
        let rows = self.db.query(
            "UPDATE codes SET state = ?1, assigned_at = ?2, customer_id = ?3, source = ?4,
                lease_id = NULL
             WHERE (code_key = ?5 OR code_key IS NULL) AND code = ?6 AND state = ?7 AND lease_id = ?8
             RETURNING pool_id",
            &[
                (CodeState::Assigned as i64).into(),
                handed.at.into(),
                handed.customer_id.as_deref().into(),
                source.into(),
                code_key(&handed.code).into(),
                handed.code.as_str().into(),
                LEASED.into(),
                handed.lease.into(),
            ],
        )?;
        if rows.is_empty() {
            // Redeemed by a tracked event before this report (the purchase
            // came first: events.rs): it stays redeemed, but it was handed
            // out all the same, so the store records to whom and when, as
            // for any other code. Without this the code would stay without
            // a customer, and the export and a `per_customer` lookup would
            // not know who holds it. So too for such a code whose
            // redemption was rolled back since (assigned, with no holder
            // yet: store/rollback.rs).
            self.db.execute(
                "UPDATE codes SET assigned_at = ?1, customer_id = ?2, source = ?3,
                    lease_id = NULL
                 WHERE (code_key = ?4 OR code_key IS NULL) AND code = ?5 AND state IN (?6, ?8)
                    AND lease_id = ?7",
                &[
                    handed.at.into(),
                    handed.customer_id.as_deref().into(),
                    source.into(),
                    code_key(&handed.code).into(),
                    handed.code.as_str().into(),
                    (CodeState::Redeemed as i64).into(),
                    handed.lease.into(),
                    (CodeState::Assigned as i64).into(),
                ],
            )?;
        }
        Ok(rows.first().map(|row| row[0].as_i64()))
    }

    /// Ends a lease of this dispenser: what is left of it is available
    /// again, but for codes an admin asked to void meanwhile, which are
    /// void now (store/void.rs).
    fn close_lease(&self, lease: i64, dispenser: &str, now: i64) -> Result<()> {
        let owned = self.db.query(
            "DELETE FROM leases WHERE id = ?1 AND dispenser = ?2 RETURNING pool_id",
            &[lease.into(), dispenser.into()],
        )?;
        let Some(row) = owned.into_iter().next() else {
            return Ok(()); // closed before: an exchange sent twice
        };
        let back = self.db.query(
            "UPDATE codes SET lease_id = NULL, state = CASE
                WHEN id IN (SELECT code_id FROM void_requests) THEN ?4 ELSE ?1 END
             WHERE lease_id = ?2 AND state = ?3
             RETURNING expires_at, state, id, code",
            &[
                (CodeState::Available as i64).into(),
                lease.into(),
                LEASED.into(),
                VOID.into(),
            ],
        )?;
        let voided: Vec<_> = back.iter().filter(|r| r[1].as_i64() == VOID).collect();
        let n = back.len() as i64;
        let void = voided.len() as i64;
        self.db.execute(
            "UPDATE pools SET leased = leased - ?1, available = available + ?1 - ?3,
                void = void + ?3 WHERE id = ?2",
            &[n.into(), row[0].clone(), void.into()],
        )?;
        if !voided.is_empty() {
            let pool = self
                .db
                .query("SELECT name FROM pools WHERE id = ?1", &[row[0].clone()])?;
            let pool = pool[0][0].as_opt_str().unwrap_or_default().to_owned();
            for code in voided {
                self.db.execute(
                    "DELETE FROM void_requests WHERE code_id = ?1",
                    &[code[2].clone()],
                )?;
                let text = code[3].as_opt_str().unwrap_or_default();
                self.log_void(&pool, text, None, "leased", now)?;
            }
            // Fewer codes left to hand out: alerts may fire.
            self.check_alerts(row[0].as_i64(), now)?;
        }
        // Leased codes count in `next_expiry` already; this keeps it a
        // lower bound should a sweep have passed them by meanwhile.
        let soonest = back.iter().filter_map(|r| r[0].as_opt_i64()).min();
        self.note_expiry(row[0].as_i64(), soonest)
    }

    /// Leases granted to this dispenser that it does not know (the answer
    /// granting them was lost) and that it can no longer use: past their
    /// deadline by more than any clock skew between it and the store, or
    /// any granted by an earlier exchange when this one is `alone` (no
    /// answer to those can reach it any more).
    fn take_back_lost(&self, exchange: &Exchange, now: i64) -> Result<()> {
        // Alone: any lease granted by an earlier exchange of its.
        let rows = self.db.query(
            "SELECT id FROM leases WHERE dispenser = ?1
             AND (deadline < ?2 OR (?3 AND seq < ?4))",
            &[
                exchange.dispenser.as_str().into(),
                (now - SKEW_MARGIN_MS).into(),
                i64::from(exchange.alone).into(),
                exchange.seq.into(),
            ],
        )?;
        for row in rows {
            let id = row[0].as_i64();
            if !exchange.known.contains(&id) {
                self.close_lease(id, &exchange.dispenser, now)?;
            }
        }
        Ok(())
    }

    /// Whether the dispenser holds a lease of the pool that its exchange
    /// does not list as known.
    fn unknown_lease(&self, exchange: &Exchange, pool_id: i64) -> Result<bool> {
        let rows = self.db.query(
            "SELECT id FROM leases WHERE dispenser = ?1 AND pool_id = ?2",
            &[exchange.dispenser.as_str().into(), pool_id.into()],
        )?;
        Ok(rows
            .iter()
            .any(|r| !exchange.known.contains(&r[0].as_i64())))
    }

    /// Codes of the dispenser's known leases that are no longer leased
    /// (a tracked event redeemed them before it reported them).
    fn withdrawn(&self, exchange: &Exchange) -> Result<Vec<String>> {
        let mut withdrawn = Vec::new();
        for &lease in &exchange.known {
            let rows = self.db.query(
                "SELECT code FROM codes WHERE lease_id = ?1 AND state != ?2",
                &[lease.into(), LEASED.into()],
            )?;
            withdrawn.extend(first_column(rows));
        }
        Ok(withdrawn)
    }

    /// Leases up to `n` available codes of a pool to the dispenser, none
    /// that expires before the lease ends; `None` if there was none.
    fn grant(&self, exchange: &Exchange, grant: Grant<'_>, now: i64) -> Result<Option<Lease>> {
        let Grant {
            pool,
            pool_id,
            n,
            deadline,
            good_after,
        } = grant;
        let id = self.db.query(
            "INSERT INTO leases (dispenser, layer, version, pool_id, granted, deadline, created_at,
                seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            &[
                exchange.dispenser.as_str().into(),
                exchange.layer.as_str().into(),
                exchange.version.into(),
                pool_id.into(),
                n.into(),
                deadline.into(),
                now.into(),
                exchange.seq.into(),
            ],
        )?[0][0]
            .as_i64();
        // LIMIT written into the text, as in reserve.rs: a bound LIMIT
        // expires the prepared statement.
        let codes = first_column(self.db.query(
            &format!(
                "UPDATE codes SET state = ?1, lease_id = ?2
                 WHERE id IN (SELECT id FROM codes WHERE pool_id = ?3 AND state = ?4
                                AND (expires_at IS NULL OR expires_at > ?5)
                              ORDER BY id LIMIT {n})
                 RETURNING code"
            ),
            &[
                LEASED.into(),
                id.into(),
                pool_id.into(),
                (CodeState::Available as i64).into(),
                good_after.into(),
            ],
        )?);
        if codes.len() as i64 != n {
            // Fewer: the pool's next codes expire before the lease would end.
            self.db.execute(
                "UPDATE leases SET granted = ?2 WHERE id = ?1",
                &[id.into(), (codes.len() as i64).into()],
            )?;
        }
        if codes.is_empty() {
            self.db
                .execute("DELETE FROM leases WHERE id = ?1", &[id.into()])?;
            return Ok(None);
        }
        self.db.execute(
            "UPDATE pools SET available = available - ?1, leased = leased + ?1 WHERE id = ?2",
            &[(codes.len() as i64).into(), pool_id.into()],
        )?;
        Ok(Some(Lease {
            id,
            pool: pool.to_owned(),
            codes,
            deadline,
        }))
    }

    /// The layer's terms, as a dispenser needs them.
    fn layer_terms(&self, layer: &str) -> Result<Option<LayerTerms>> {
        let Some(row) = self
            .db
            .query(
                "SELECT version, active, assignment, signed_customer, dispensers,
                    customers_at_store FROM layers WHERE name = ?1",
                &[layer.into()],
            )?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let signed = row[3].as_i64();
        let signing_key = if signed == ANY_ID {
            None
        } else {
            self.settings()?.customer_signing_key
        };
        Ok(Some(LayerTerms {
            version: row[0].as_i64(),
            active: row[1].as_i64() != 0,
            assignment: Assignment::from_stored(row[2].as_opt_str().unwrap_or_default()),
            signed_customer: signed != ANY_ID,
            require_expiry: signed == SIGNED_WITH_EXPIRY,
            signing_key,
            dispensers: row[4].as_i64() as u32,
            customers_at_store: row[5].as_i64() != 0,
        }))
    }

    /// Benchmarks only: codes assigned in all pools and leases open, so
    /// that [`Store::count_exchange`] can tell what an exchange changed.
    #[cfg(feature = "bench")]
    fn bench_snapshot(&self) -> Result<(i64, i64)> {
        let row = self.db.query(
            "SELECT (SELECT COALESCE(SUM(assigned), 0) FROM pools), (SELECT COUNT(*) FROM leases)",
            &[],
        )?;
        Ok((row[0][0].as_i64(), row[0][1].as_i64()))
    }

    /// Benchmarks only: counts the exchange, what it reported and gave
    /// back (as sent, repeats included, and what that changed) and what it
    /// granted ([`Store::bench_exchanges`]).
    #[cfg(feature = "bench")]
    fn count_exchange(
        &self,
        exchange: &Exchange,
        answer: &Exchanged,
        (assigned, open): (i64, i64),
    ) -> Result<()> {
        let (assigned_now, open_now) = self.bench_snapshot()?;
        let granted: usize = answer.granted.iter().map(|l| l.codes.len()).sum();
        let counts = [
            ("exchanges", 1),
            ("grants", answer.granted.len() as i64),
            ("granted", granted as i64),
            // Codes reported, as sent (a code sent again by an exchange
            // that overlapped the one that first sent it counts twice) ...
            ("reported", exchange.handed.len() as i64),
            // ... and the codes those reports assigned.
            ("assigned", assigned_now - assigned),
            ("returned", exchange.returned.len() as i64),
            // Leases closed: given back, or taken back as lost.
            ("closed", open + answer.granted.len() as i64 - open_now),
        ];
        for (name, n) in counts {
            self.db.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?2",
                &[format!("bench_exchanges_{name}").into(), n.into()],
            )?;
        }
        Ok(())
    }

    fn holders(&self, sql: &str, params: &[crate::store::Value]) -> Result<Vec<String>> {
        Ok(first_column(self.db.query(sql, params)?))
    }
}

/// The most one lease may take of what a pool has left: half of an equal
/// split between the layer's dispensers, and never less than one code, so
/// that blocks shrink as the pool empties and its last codes go one by one
/// to whichever dispenser has visitors.
pub fn fair_share(left: i64, dispensers: u32) -> i64 {
    if left <= 0 {
        return 0;
    }
    (left / (2 * i64::from(dispensers.max(1)))).max(1)
}

/// One grant the store is about to make.
struct Grant<'a> {
    pool: &'a str,
    pool_id: i64,
    /// At most this many codes.
    n: i64,
    /// The lease's deadline: the dispenser hands out none of its codes after.
    deadline: i64,
    /// Only codes that expire after this (`deadline` plus the pool's
    /// `stop_before`).
    good_after: i64,
}
