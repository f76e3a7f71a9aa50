//! A project's store: every SQL statement, on any [`Database`].
//!
//! One [`Store`] wraps one project's SQLite database (a Durable Object's in
//! the Worker, [`NativeDatabase`] in tests). Its methods are grouped by what
//! they touch, a file each: [`schema`] (the tables), `pools.rs`, `layers.rs`,
//! `import.rs` (batches of an import), `reserve.rs` (codes for a render, all
//! or nothing), `campaign.rs` (a whole send), `codes.rs` (listing),
//! `events.rs` (settings, tracked events, the log), `void.rs` (voiding
//! codes), `rollback.rs` (undoing redemptions), `delete.rs` (deleting
//! pools), `activity.rs`, `keys.rs` (project keys) and `alerts.rs` (alert
//! states, the outbox of webhook deliveries). [`Registry`] is the
//! deployment's list of created projects, in a database of its own
//! (`registry.rs`).

use std::cell::Cell;

use crate::error::{Error, ErrorKind, Result};
use crate::pool::{Lifecycle, PoolCounts, PoolStatus};

pub mod schema;
pub mod sql;
#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;

mod activity;
mod alerts;
mod campaign;
mod codes;
mod delete;
mod events;
mod import;
mod keys;
mod layers;
mod lease;
mod pools;
mod registry;
mod reserve;
mod rollback;
mod void;

pub use registry::Registry;
pub use schema::{Migration, MIGRATIONS};
pub use sql::{Database, Row, Value};
#[cfg(not(target_arch = "wasm32"))]
pub use sqlite::NativeDatabase;

pub(crate) use layers::unknown_layer;
pub use lease::fair_share;
pub(crate) use pools::unknown_pool;

/// A project's pools, codes and layers in one SQLite database.
pub struct Store<'a, D: Database> {
    pub(crate) db: &'a D,
    /// Set when a call gave the project's alarm something to do (a
    /// delivery to make, a near-expiry check to run): see
    /// [`Store::wants_alarm`].
    wake: Cell<bool>,
}

/// A pool as it hands out codes at one moment, read inside a transaction
/// ([`Store::pool_row`]), with its alerts (`None`: none set) and the alert
/// conditions that held (`store/alerts.rs`).
pub(crate) struct PoolRow {
    pub(crate) id: i64,
    /// As a render sees them: nothing available unless it is active.
    pub(crate) counts: PoolCounts,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) status: PoolStatus,
    pub(crate) alerts: Option<String>,
    pub(crate) alert_held: i64,
}

impl<'a, D: Database> Store<'a, D> {
    /// Opens the store on a database; call [`Store::open`] (or
    /// [`Store::migrate`]) once first.
    pub fn new(db: &'a D) -> Self {
        Store {
            db,
            wake: Cell::new(false),
        }
    }

    /// Readies the store of a project for its commands: migrates when the
    /// project is being created (`create`), or when it was created before
    /// (its schema is there; an older version may lack newer tables, which
    /// this adds). Otherwise answers `unknown_project` having written
    /// nothing, so a database that was never created stays empty.
    pub fn open(&self, create: bool) -> Result<()> {
        if create || has_table(self.db, schema::PROJECT_TABLE)? {
            self.migrate()
        } else {
            Err(unknown_project())
        }
    }

    /// Creates the schema if it is not there yet, or brings an older one up
    /// to date; then gives codes stored before code keys their keys.
    pub fn migrate(&self) -> Result<()> {
        self.db.transaction(|| {
            for migration in MIGRATIONS {
                match *migration {
                    Migration::Sql(statement) => self.db.execute(statement, &[])?,
                    Migration::AddColumn {
                        table,
                        column,
                        definition,
                    } => {
                        // PRAGMA table_info: one row per column, its name second.
                        let columns = self.db.query(&format!("PRAGMA table_info({table})"), &[])?;
                        if !columns.iter().any(|c| c[1].as_opt_str() == Some(column)) {
                            self.db.execute(
                                &format!("ALTER TABLE {table} ADD COLUMN {column} {definition}"),
                                &[],
                            )?;
                        }
                    }
                }
            }
            Ok(())
        })?;
        self.backfill_code_keys()
    }

    /// Benchmarks only: updates one row, the baseline cost of a store call.
    #[cfg(feature = "bench")]
    pub fn touch(&self) -> Result<i64> {
        let rows = self.db.query(
            "INSERT INTO settings (key, value) VALUES ('bench', '1')
             ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value",
            &[],
        )?;
        Ok(rows.first().map_or(0, |r| r[0].as_i64()))
    }

    /// Benchmarks only: what the exchanges with dispensers came to so far,
    /// by counter (`exchanges`, `grants`, `granted`, `reported`, `assigned`,
    /// `returned`, `closed`), from the rows [`Store::exchange`] keeps in a bench build
    /// (bench/dispensers.mjs reads them to count store calls per display).
    #[cfg(feature = "bench")]
    pub fn bench_exchanges(&self) -> Result<std::collections::BTreeMap<String, i64>> {
        let rows = self.db.query(
            "SELECT substr(key, 17), CAST(value AS INTEGER) FROM settings
             WHERE key LIKE 'bench_exchanges_%'",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| (r[0].clone().into_string(), r[1].as_i64()))
            .collect())
    }

    /// Checks that every pool's counters equal what its code rows say.
    ///
    /// Returns the pools whose counters disagree (empty when all is well);
    /// tests and the crash test call it after every round.
    pub fn audit(&self) -> Result<Vec<String>> {
        let rows = self.db.query(
            "SELECT p.name FROM pools AS p LEFT JOIN (
                SELECT pool_id, COUNT(*) AS total,
                       SUM(state = 0) AS available, SUM(state = 3) AS leased,
                       SUM(state = 1) AS assigned, SUM(state = 2) AS redeemed,
                       SUM(state = 4) AS expired, SUM(state = 5) AS void
                FROM codes GROUP BY pool_id) AS c ON c.pool_id = p.id
             WHERE p.total != IFNULL(c.total, 0) OR p.available != IFNULL(c.available, 0)
                OR p.leased != IFNULL(c.leased, 0)
                OR p.assigned != IFNULL(c.assigned, 0) OR p.redeemed != IFNULL(c.redeemed, 0)
                OR p.expired != IFNULL(c.expired, 0) OR p.void != IFNULL(c.void, 0)
             ORDER BY p.name",
            &[],
        )?;
        Ok(first_column(rows))
    }
}

/// Whether the database has a table of this name (reads only).
pub(crate) fn has_table<D: Database>(db: &D, name: &str) -> Result<bool> {
    let rows = db.query(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        &[name.into()],
    )?;
    Ok(!rows.is_empty())
}

/// The answer for a project that was never created.
pub fn unknown_project() -> Error {
    Error::new(
        ErrorKind::UnknownProject,
        "there is no such project: the operator creates one with PUT /v1/projects/{project}",
    )
}

/// The first column of each row, as text.
pub(crate) fn first_column(rows: Vec<Vec<Value>>) -> Vec<String> {
    rows.into_iter()
        .map(|r| r.into_iter().next().unwrap_or(Value::Null).into_string())
        .collect()
}
