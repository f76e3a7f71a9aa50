//! Every statement of a project's store, on any [`Database`].

use crate::error::{Error, ErrorKind, Result};
use crate::layer::{Assignment, Layer, LayerSettings};
use crate::pool::{check_name, Pool, PoolCounts, PoolSettings};
use crate::schema::MIGRATIONS;
use crate::sql::{Database, Value};
use crate::time::rfc3339;

/// A project's pools, codes and layers in one SQLite database.
pub struct Store<'a, D: Database> {
    pub(crate) db: &'a D,
}

pub mod activity;
mod campaign;
mod codes;
mod events;
mod import;
mod reserve;

/// A pool's id and counts, as read inside a transaction.
pub(crate) struct PoolRow {
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

    pub(crate) fn pool_row(&self, name: &str) -> Result<PoolRow> {
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

    /// Creates or replaces a layer; its version grows by one.
    pub fn put_layer(&self, name: &str, settings: &LayerSettings, now: i64) -> Result<Layer> {
        check_name("layer", name)?;
        self.db.execute(
            "INSERT INTO layers (name, template, active, assignment, signed_customer, variables,
                version, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?6, ?7, 1, ?5)
             ON CONFLICT (name) DO UPDATE SET template = excluded.template,
                active = excluded.active, assignment = excluded.assignment,
                signed_customer = excluded.signed_customer, variables = excluded.variables,
                version = layers.version + 1, updated_at = excluded.updated_at",
            &[
                name.into(),
                settings.template.as_str().into(),
                i64::from(settings.active).into(),
                settings.assignment.as_str().into(),
                now.into(),
                i64::from(settings.signed_customer).into(),
                serde_json::Value::Object(settings.variables.clone())
                    .to_string()
                    .into(),
            ],
        )?;
        self.layer(name)
    }

    /// One layer.
    pub fn layer(&self, name: &str) -> Result<Layer> {
        self.db
            .query(&format!("{LAYER_COLUMNS} WHERE name = ?1"), &[name.into()])?
            .into_iter()
            .next()
            .map(layer_from_row)
            .ok_or_else(|| unknown_layer(name))
    }

    /// All layers of the project, by name.
    pub fn layers(&self) -> Result<Vec<Layer>> {
        let rows = self
            .db
            .query(&format!("{LAYER_COLUMNS} ORDER BY name"), &[])?;
        Ok(rows.into_iter().map(layer_from_row).collect())
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
        Ok(first_column(rows))
    }
}

const LAYER_COLUMNS: &str =
    "SELECT name, template, active, assignment, signed_customer, variables, version, updated_at
     FROM layers";

/// The error for a layer that does not exist.
pub(crate) fn unknown_layer(name: &str) -> Error {
    Error::new(
        ErrorKind::UnknownLayer,
        format!("there is no layer {name:?} in this project: create it with PUT /layers/{name}"),
    )
}

fn layer_from_row(row: Vec<Value>) -> Layer {
    let mut row = row.into_iter();
    let mut next = || row.next().unwrap_or(Value::Null);
    Layer {
        name: next().into_string(),
        template: next().into_string(),
        active: next().as_i64() != 0,
        assignment: Assignment::from_stored(next().as_opt_str().unwrap_or_default()),
        signed_customer: next().as_i64() != 0,
        variables: serde_json::from_str(next().as_opt_str().unwrap_or("{}")).unwrap_or_default(),
        version: next().as_i64(),
        updated_at: rfc3339(next().as_i64()),
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
    Error::new(
        ErrorKind::UnknownPool,
        format!("there is no pool {name:?} in this project: create it with PUT /pools/{name}"),
    )
}

/// The first column of each row, as text.
pub(crate) fn first_column(rows: Vec<Vec<Value>>) -> Vec<String> {
    rows.into_iter()
        .map(|r| r.into_iter().next().unwrap_or(Value::Null).into_string())
        .collect()
}
