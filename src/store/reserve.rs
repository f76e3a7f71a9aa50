//! Reservations: codes taken for a render, all or nothing, in one transaction.

use std::collections::BTreeMap;

use crate::error::{Error, ErrorKind, Result};
use crate::layer::signature::{check_customer, CustomerProof};
use crate::layer::Assignment;
use crate::pool::{code_key, CodeState, PoolStatus};
use crate::render::{Reservation, ReservationRequest, Source};
use crate::store::sql::Database;

use super::alerts::ALERT_COLUMNS;
use super::layers::{ANY_ID, SIGNED_WITH_EXPIRY};
use super::{first_column, unknown_layer, Store};

impl<D: Database> Store<'_, D> {
    /// Reserves codes and reads counts, as one transaction: all codes asked
    /// for, or none if any pool is short.
    pub fn reserve(&self, request: &ReservationRequest, now: i64) -> Result<Reservation> {
        self.db.transaction(|| {
            let assignment = self.assignment_of(request, now)?;
            let source = request.source.stored();
            self.release(&request.release, &source, now)?;

            let mut reservation = Reservation::default();
            let mut pools = BTreeMap::new();
            for name in request.take.keys().chain(&request.count) {
                if !pools.contains_key(name) {
                    let row = self.pool_row(name, now)?;
                    reservation.counts.insert(name.clone(), row.counts);
                    pools.insert(name.clone(), row);
                }
            }

            let customer = request.customer_id.as_deref();
            let mut found = BTreeMap::new();
            for (name, &wanted) in &request.take {
                let pool = &pools[name];
                let again = match (assignment, customer) {
                    (Assignment::PerCustomer, Some(customer))
                        if pool.status == PoolStatus::Active =>
                    {
                        self.codes_of(pool.id, customer, &source, wanted, now)?
                    }
                    _ => Vec::new(),
                };
                if pool.counts.available < (wanted - again.len()) as i64 {
                    reservation.short.push(name.clone());
                }
                found.insert(name.clone(), again);
            }
            if !reservation.short.is_empty() {
                return Ok(reservation);
            }

            for (name, &wanted) in &request.take {
                let pool = &pools[name];
                let mut codes = found.remove(name).unwrap_or_default();
                let missing = wanted - codes.len();
                if missing > 0 {
                    let fresh = self.assign(pool.id, missing, customer, &source, now)?;
                    reservation.fresh.extend(fresh.iter().cloned());
                    codes.extend(fresh);
                    if pool.alerts.is_some() {
                        let mut after = pool.counts;
                        after.available -= missing as i64;
                        after.assigned += missing as i64;
                        self.alerts_after(pool, name, &after, now)?;
                    }
                }
                reservation.codes.insert(name.clone(), codes);
            }
            Ok(reservation)
        })
    }

    /// Reserves for several renders, one after the other, each as its own
    /// transaction ([`Store::reserve`]): one refused, failing or short
    /// changes nothing for the others, and a `per_customer` customer met
    /// twice finds the code the first took. The answers are in the order of
    /// the requests.
    pub fn reserve_each(
        &self,
        requests: &[ReservationRequest],
        now: i64,
    ) -> Vec<Result<Reservation>> {
        requests.iter().map(|r| self.reserve(r, now)).collect()
    }

    /// The layer's assignment mode, after checking the layer may render
    /// this request: active, the version the caller planned with, a
    /// customer id where the mode needs one, a signature where it must be
    /// signed. Any refusal comes before a code is taken.
    fn assignment_of(&self, request: &ReservationRequest, now: i64) -> Result<Assignment> {
        let name = match &request.source {
            Source::Layer(name) => name,
            // A campaign id names one send: repeating it reuses the codes.
            Source::Campaign(_) => return Ok(Assignment::PerCustomer),
            Source::Render => return Ok(Assignment::PerDisplay),
        };
        // A pure release needs no check: codes go back even if the layer changed.
        if request.take.is_empty() && request.layer_version.is_none() {
            return Ok(Assignment::PerDisplay);
        }
        // Only the columns the check needs: the template and variables are
        // large, and the Worker already holds them compiled.
        let row = self
            .db
            .query(
                "SELECT active, signed_customer, version, assignment FROM layers WHERE name = ?1",
                &[name.as_str().into()],
            )?
            .into_iter()
            .next()
            .ok_or_else(|| unknown_layer(name))?;
        if row[0].as_i64() == 0 {
            return Err(Error::new(
                ErrorKind::LayerPaused,
                format!("layer {name:?} is paused"),
            ));
        }
        if request.layer_version.is_some_and(|v| v != row[2].as_i64()) {
            return Err(Error::new(
                ErrorKind::LayerChanged,
                format!("layer {name:?} changed while it was rendering: render it again"),
            ));
        }
        let assignment = Assignment::from_stored(row[3].as_opt_str().unwrap_or_default());
        assignment.check_customer(name, request.customer_id.as_deref())?;
        let signed = row[1].as_i64();
        if signed != ANY_ID {
            self.check_signature(request, now, signed == SIGNED_WITH_EXPIRY)?;
        }
        Ok(assignment)
    }

    /// Checks the request's customer id is signed with the project's key;
    /// `now` is Unix milliseconds.
    fn check_signature(
        &self,
        request: &ReservationRequest,
        now: i64,
        require_expiry: bool,
    ) -> Result<()> {
        let Some(key) = self.settings()?.customer_signing_key else {
            return Err(Error::new(
                ErrorKind::NoSigningKey,
                "this layer needs signed customer ids but the project has no \
                 customer_signing_key: set one with PUT /settings",
            ));
        };
        let proof = CustomerProof {
            customer_id: request.customer_id.as_deref(),
            signature: request.customer_signature.as_deref(),
            expiry: request.signature_expiry,
        };
        check_customer(&key, proof, now.div_euclid(1000), require_expiry)
    }

    // The hot statements below write LIMIT into their text rather than bind
    // it: SQLite plans with a bound LIMIT's value, so binding it again expires
    // the prepared statement, and every reservation paid for a re-prepare
    // (sqlite3Reprepare under workerd, found with perf). A count is no input
    // to escape, and one or two values keep the statement cache warm.

    /// Codes a customer already holds from a pool through a source, that
    /// are still good at `now`: not void, not past their own expiry (a
    /// customer whose code expired gets a fresh one).
    pub(super) fn codes_of(
        &self,
        pool_id: i64,
        customer: &str,
        source: &str,
        limit: usize,
        now: i64,
    ) -> Result<Vec<String>> {
        let rows = self.db.query(
            &format!(
                "SELECT code FROM codes WHERE customer_id = ?1 AND source = ?2 AND pool_id = ?3
                   AND state IN (1, 2) AND (expires_at IS NULL OR expires_at > ?4)
                 ORDER BY id LIMIT {limit}"
            ),
            &[customer.into(), source.into(), pool_id.into(), now.into()],
        )?;
        Ok(first_column(rows))
    }

    /// Marks the first `n` available codes of a pool assigned.
    pub(super) fn assign(
        &self,
        pool_id: i64,
        n: usize,
        customer: Option<&str>,
        source: &str,
        now: i64,
    ) -> Result<Vec<String>> {
        let rows = self.db.query(
            &format!(
                "UPDATE codes SET state = ?1, assigned_at = ?2, customer_id = ?3, source = ?4
                 WHERE id IN (SELECT id FROM codes WHERE pool_id = ?5 AND state = ?6
                              ORDER BY id LIMIT {n})
                 RETURNING code"
            ),
            &[
                (CodeState::Assigned as i64).into(),
                now.into(),
                customer.into(),
                source.into(),
                pool_id.into(),
                (CodeState::Available as i64).into(),
            ],
        )?;
        if rows.len() != n {
            // The counters said there were enough: they disagree with the rows.
            return Err(Error::internal(format!(
                "pool counters are out of step with its codes: wanted {n}, found {}",
                rows.len()
            )));
        }
        self.db.execute(
            "UPDATE pools SET available = available - ?1, assigned = assigned + ?1 WHERE id = ?2",
            &[(n as i64).into(), pool_id.into()],
        )?;
        Ok(first_column(rows))
    }

    /// Returns codes that a render reserved but never showed (which may
    /// re-arm their pools' alerts).
    fn release(&self, codes: &[String], source: &str, now: i64) -> Result<()> {
        for code in codes {
            // By key (the index), and the exact code: also a code that the
            // migration left without key (see `redeem`).
            let rows = self.db.query(
                "UPDATE codes SET state = ?1, assigned_at = NULL, customer_id = NULL, source = NULL
                 WHERE (code_key = ?5 OR code_key IS NULL) AND code = ?2 AND state = ?3
                   AND source = ?4 RETURNING pool_id, expires_at",
                &[
                    (CodeState::Available as i64).into(),
                    code.as_str().into(),
                    (CodeState::Assigned as i64).into(),
                    source.into(),
                    code_key(code).into(),
                ],
            )?;
            for row in rows {
                let pool = self.db.query(
                    &format!(
                        "UPDATE pools SET available = available + 1, assigned = assigned - 1
                         WHERE id = ?1 RETURNING {ALERT_COLUMNS}"
                    ),
                    &[row[0].clone()],
                )?;
                // Back among the codes to hand out: the next read expires
                // it if its time has come.
                self.note_expiry(row[0].as_i64(), row[1].as_opt_i64())?;
                for pool in pool {
                    self.alerts_after_row(pool, now)?;
                }
            }
        }
        Ok(())
    }
}
