//! Every statement of a project's store, on any [`Database`].

use std::collections::{BTreeMap, HashSet};

use crate::error::{Error, Result};
use crate::import_report::BatchCounts;
use crate::layer::{Assignment, Layer, LayerSettings};
use crate::pool::{check_name, Pool, PoolCounts, PoolSettings};
use crate::reservation::{Reservation, ReservationRequest, Source};
use crate::schema::{CodeState, MIGRATIONS};
use crate::sql::{Database, Value};
use crate::time::rfc3339;

/// A project's pools, codes and layers in one SQLite database.
pub struct Store<'a, D: Database> {
    db: &'a D,
}

/// A pool's id and counts, as read inside a transaction.
struct PoolRow {
    id: i64,
    counts: PoolCounts,
}

impl<'a, D: Database> Store<'a, D> {
    /// Opens the store on a database; call [`Store::migrate`] once first.
    pub fn new(db: &'a D) -> Self {
        Store { db }
    }

    /// Creates the schema if it is not there yet.
    pub fn migrate(&self) -> Result<()> {
        self.db.transaction(|| {
            for statement in MIGRATIONS {
                self.db.execute(statement, &[])?;
            }
            Ok(())
        })
    }

    /// Creates a pool, or updates its settings if it exists.
    pub fn put_pool(&self, name: &str, settings: &PoolSettings, now: i64) -> Result<Pool> {
        check_name("pool", name)?;
        self.db.execute(
            "INSERT INTO pools (name, description, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET description = excluded.description",
            &[
                name.into(),
                settings.description.as_str().into(),
                now.into(),
            ],
        )?;
        self.pool(name)
    }

    /// One pool with its counts.
    pub fn pool(&self, name: &str) -> Result<Pool> {
        let rows = self.db.query(
            "SELECT name, description, created_at, total, available, assigned, redeemed
             FROM pools WHERE name = ?1",
            &[name.into()],
        )?;
        rows.into_iter()
            .next()
            .map(pool_from_row)
            .ok_or_else(|| unknown_pool(name))
    }

    /// All pools of the project, by name.
    pub fn pools(&self) -> Result<Vec<Pool>> {
        let rows = self.db.query(
            "SELECT name, description, created_at, total, available, assigned, redeemed
             FROM pools ORDER BY name",
            &[],
        )?;
        Ok(rows.into_iter().map(pool_from_row).collect())
    }

    fn pool_row(&self, name: &str) -> Result<PoolRow> {
        let row = self
            .db
            .query(
                "SELECT id, total, available, assigned, redeemed FROM pools WHERE name = ?1",
                &[name.into()],
            )?
            .into_iter()
            .next()
            .ok_or_else(|| unknown_pool(name))?;
        Ok(PoolRow {
            id: row[0].as_i64(),
            counts: PoolCounts {
                total: row[1].as_i64(),
                available: row[2].as_i64(),
                assigned: row[3].as_i64(),
                redeemed: row[4].as_i64(),
            },
        })
    }

    /// Starts an import into a pool and returns its id, which marks the codes
    /// it adds (so a later batch can tell a duplicate in the same file from a
    /// code that was in the project before).
    pub fn begin_import(&self, pool: &str, now: i64) -> Result<i64> {
        let pool = self.pool_row(pool)?;
        let rows = self.db.query(
            "INSERT INTO imports (pool_id, started_at) VALUES (?1, ?2) RETURNING id",
            &[pool.id.into(), now.into()],
        )?;
        Ok(rows.first().map_or(0, |r| r[0].as_i64()))
    }

    /// Adds a batch of valid, trimmed codes to a pool, as one transaction.
    ///
    /// A code already in any pool of the project is discarded; one seen
    /// earlier in the same import counts as a duplicate in the file.
    pub fn import_batch(
        &self,
        pool: &str,
        import_id: i64,
        codes: &[String],
    ) -> Result<BatchCounts> {
        let mut counts = BatchCounts::default();
        let mut seen = HashSet::with_capacity(codes.len());
        let mut unique = Vec::with_capacity(codes.len());
        for code in codes {
            if seen.insert(code.as_str()) {
                unique.push(code.as_str());
            } else {
                counts.duplicates_in_file += 1;
            }
        }
        let json = serde_json::to_string(&unique).map_err(|e| Error::internal(e.to_string()))?;
        self.db.transaction(|| {
            let pool = self.pool_row(pool)?;
            let started = self.db.query(
                "SELECT 1 FROM imports WHERE id = ?1 AND pool_id = ?2",
                &[import_id.into(), pool.id.into()],
            )?;
            if started.is_empty() {
                return Err(Error::not_found(
                    "unknown_import",
                    format!("import {import_id} was not started for this pool"),
                ));
            }
            // Which of the batch's codes exist, and whether this import added them.
            let existing = self.db.query(
                "SELECT c.import_id = ?2 FROM json_each(?1) AS j JOIN codes AS c ON c.code = j.value",
                &[json.as_str().into(), import_id.into()],
            )?;
            for row in &existing {
                if row[0].as_i64() == 1 {
                    counts.duplicates_in_file += 1;
                } else {
                    counts.already_in_project += 1;
                }
            }
            let imported = (unique.len() - existing.len()) as i64;
            self.db.execute(
                "INSERT INTO codes (code, pool_id, import_id)
                 SELECT j.value, ?2, ?3 FROM json_each(?1) AS j WHERE true
                 ON CONFLICT (code) DO NOTHING",
                &[json.as_str().into(), pool.id.into(), import_id.into()],
            )?;
            self.db.execute(
                "UPDATE pools SET total = total + ?1, available = available + ?1 WHERE id = ?2",
                &[imported.into(), pool.id.into()],
            )?;
            counts.imported = imported as u64;
            Ok(counts)
        })
    }

    /// Creates or replaces a layer; its version grows by one.
    pub fn put_layer(&self, name: &str, settings: &LayerSettings, now: i64) -> Result<Layer> {
        check_name("layer", name)?;
        self.db.execute(
            "INSERT INTO layers (name, template, active, assignment, version, updated_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5)
             ON CONFLICT (name) DO UPDATE SET template = excluded.template,
                active = excluded.active, assignment = excluded.assignment,
                version = layers.version + 1, updated_at = excluded.updated_at",
            &[
                name.into(),
                settings.template.as_str().into(),
                i64::from(settings.active).into(),
                settings.assignment.as_str().into(),
                now.into(),
            ],
        )?;
        self.layer(name)
    }

    /// One layer.
    pub fn layer(&self, name: &str) -> Result<Layer> {
        let row = self
            .db
            .query(
                "SELECT name, template, active, assignment, version, updated_at
                 FROM layers WHERE name = ?1",
                &[name.into()],
            )?
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::not_found(
                    "unknown_layer",
                    format!("there is no layer {name:?} in this project: create it with PUT /layers/{name}"),
                )
            })?;
        let mut row = row.into_iter();
        let mut next = || row.next().unwrap_or(Value::Null);
        Ok(Layer {
            name: next().into_string(),
            template: next().into_string(),
            active: next().as_i64() != 0,
            assignment: Assignment::from_stored(next().as_opt_str().unwrap_or_default()),
            version: next().as_i64(),
            updated_at: rfc3339(next().as_i64()),
        })
    }

    /// Reserves codes and reads counts, as one transaction: all codes asked
    /// for, or none if any pool is short.
    pub fn reserve(&self, request: &ReservationRequest, now: i64) -> Result<Reservation> {
        self.db.transaction(|| {
            let assignment = self.assignment_of(request)?;
            let source = request.source.stored();
            self.release(&request.release, &source)?;

            let mut reservation = Reservation::default();
            let mut pools = BTreeMap::new();
            for name in request.take.keys().chain(&request.count) {
                if !pools.contains_key(name) {
                    let row = self.pool_row(name)?;
                    reservation.counts.insert(name.clone(), row.counts);
                    pools.insert(name.clone(), row);
                }
            }

            let customer = request.customer_id.as_deref();
            let mut found = BTreeMap::new();
            for (name, &wanted) in &request.take {
                let pool = &pools[name];
                let again = match (assignment, customer) {
                    (Assignment::PerCustomer, Some(customer)) => {
                        self.codes_of(pool.id, customer, &source, wanted)?
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
                }
                reservation.codes.insert(name.clone(), codes);
            }
            Ok(reservation)
        })
    }

    /// The layer's assignment mode, after checking the layer may render.
    fn assignment_of(&self, request: &ReservationRequest) -> Result<Assignment> {
        let Source::Layer(name) = &request.source else {
            return Ok(Assignment::PerDisplay);
        };
        // A pure release needs no check: codes go back even if the layer changed.
        if request.take.is_empty() && request.layer_version.is_none() {
            return Ok(Assignment::PerDisplay);
        }
        let layer = self.layer(name)?;
        if !layer.active {
            return Err(Error::conflict(
                "layer_paused",
                format!("layer {name:?} is paused"),
            ));
        }
        if request.layer_version.is_some_and(|v| v != layer.version) {
            return Err(Error::conflict(
                "layer_changed",
                format!("layer {name:?} changed while it was rendering: render it again"),
            ));
        }
        Ok(layer.assignment)
    }

    /// Codes a customer already holds from a pool through a source.
    fn codes_of(
        &self,
        pool_id: i64,
        customer: &str,
        source: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let rows = self.db.query(
            "SELECT code FROM codes WHERE customer_id = ?1 AND source = ?2 AND pool_id = ?3
             ORDER BY id LIMIT ?4",
            &[
                customer.into(),
                source.into(),
                pool_id.into(),
                (limit as i64).into(),
            ],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().next().unwrap_or(Value::Null).into_string())
            .collect())
    }

    /// Marks the first `n` available codes of a pool assigned.
    fn assign(
        &self,
        pool_id: i64,
        n: usize,
        customer: Option<&str>,
        source: &str,
        now: i64,
    ) -> Result<Vec<String>> {
        let rows = self.db.query(
            "UPDATE codes SET state = ?1, assigned_at = ?2, customer_id = ?3, source = ?4
             WHERE id IN (SELECT id FROM codes WHERE pool_id = ?5 AND state = ?6 ORDER BY id LIMIT ?7)
             RETURNING code",
            &[
                (CodeState::Assigned as i64).into(),
                now.into(),
                customer.into(),
                source.into(),
                pool_id.into(),
                (CodeState::Available as i64).into(),
                (n as i64).into(),
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
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().next().unwrap_or(Value::Null).into_string())
            .collect())
    }

    /// Returns codes that a render reserved but never showed.
    fn release(&self, codes: &[String], source: &str) -> Result<()> {
        for code in codes {
            let rows = self.db.query(
                "UPDATE codes SET state = ?1, assigned_at = NULL, customer_id = NULL, source = NULL
                 WHERE code = ?2 AND state = ?3 AND source = ?4 RETURNING pool_id",
                &[
                    (CodeState::Available as i64).into(),
                    code.as_str().into(),
                    (CodeState::Assigned as i64).into(),
                    source.into(),
                ],
            )?;
            for row in rows {
                self.db.execute(
                    "UPDATE pools SET available = available + 1, assigned = assigned - 1 WHERE id = ?1",
                    &[row[0].clone()],
                )?;
            }
        }
        Ok(())
    }

    /// Checks that every pool's counters equal what its code rows say.
    ///
    /// Returns the pools whose counters disagree (empty when all is well);
    /// tests and the crash test call it after every round.
    pub fn audit(&self) -> Result<Vec<String>> {
        let rows = self.db.query(
            "SELECT p.name FROM pools AS p LEFT JOIN (
                SELECT pool_id, COUNT(*) AS total,
                       SUM(state = 0) AS available, SUM(state = 1) AS assigned,
                       SUM(state = 2) AS redeemed
                FROM codes GROUP BY pool_id) AS c ON c.pool_id = p.id
             WHERE p.total != IFNULL(c.total, 0) OR p.available != IFNULL(c.available, 0)
                OR p.assigned != IFNULL(c.assigned, 0) OR p.redeemed != IFNULL(c.redeemed, 0)
             ORDER BY p.name",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().next().unwrap_or(Value::Null).into_string())
            .collect())
    }
}

fn pool_from_row(row: Vec<Value>) -> Pool {
    let mut row = row.into_iter();
    let mut next = || row.next().unwrap_or(Value::Null);
    Pool {
        name: next().into_string(),
        description: next().into_string(),
        created_at: rfc3339(next().as_i64()),
        counts: PoolCounts {
            total: next().as_i64(),
            available: next().as_i64(),
            assigned: next().as_i64(),
            redeemed: next().as_i64(),
        },
    }
}

fn unknown_pool(name: &str) -> Error {
    Error::not_found(
        "unknown_pool",
        format!("there is no pool {name:?} in this project: create it with PUT /pools/{name}"),
    )
}
