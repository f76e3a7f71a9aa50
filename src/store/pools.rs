//! Pools: create, read and count.

use super::{PoolRow, Store};
use crate::error::{Error, ErrorKind, Result};
use crate::input::name::{check_name, NameOf};
use crate::pool::{Pool, PoolCounts, PoolSettings};
use crate::store::sql::{Database, Value};
use crate::time::rfc3339;

impl<D: Database> Store<'_, D> {
    /// Creates a pool, or updates its settings if it exists.
    pub fn put_pool(&self, name: &str, settings: &PoolSettings, now: i64) -> Result<Pool> {
        check_name(NameOf::Pool, name)?;
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
            "SELECT name, description, created_at, total, available, leased, assigned, redeemed,
                (SELECT COUNT(DISTINCT dispenser) FROM leases WHERE pool_id = pools.id)
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
            "SELECT name, description, created_at, total, available, leased, assigned, redeemed,
                (SELECT COUNT(DISTINCT dispenser) FROM leases WHERE pool_id = pools.id)
             FROM pools ORDER BY name",
            &[],
        )?;
        Ok(rows.into_iter().map(pool_from_row).collect())
    }

    pub(crate) fn pool_row(&self, name: &str) -> Result<PoolRow> {
        let row = self
            .db
            .query(
                "SELECT id, total, available, leased, assigned, redeemed FROM pools WHERE name = ?1",
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
                leased: row[3].as_i64(),
                assigned: row[4].as_i64(),
                redeemed: row[5].as_i64(),
            },
        })
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
            leased: next().as_i64(),
            assigned: next().as_i64(),
            redeemed: next().as_i64(),
        },
        dispensers: next().as_i64(),
    }
}

fn unknown_pool(name: &str) -> Error {
    Error::new(
        ErrorKind::UnknownPool,
        format!("there is no pool {name:?} in this project: create it with PUT /pools/{name}"),
    )
}
