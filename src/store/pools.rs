//! Pools: create, read and count.

use super::{PoolRow, Store};
use crate::alert::{AlertKind, AlertSettings, PoolAlerts};
use crate::error::{Error, ErrorKind, Result};
use crate::input::name::{check_name, NameOf};
use crate::pool::{Pool, PoolCounts, PoolSettings};
use crate::store::sql::{Database, Value};
use crate::time::rfc3339;

impl<D: Database> Store<'_, D> {
    /// Creates a pool, or updates its settings if it exists; `now` is
    /// Unix ms.
    ///
    /// Its alerts are replaced by those of `settings` (absent: none). An
    /// alert kind newly set starts armed, one kept keeps its state, one
    /// removed forgets it; then the pool's alerts are evaluated, so one
    /// set on a pool already past it fires at once.
    pub fn put_pool(&self, name: &str, settings: &PoolSettings, now: i64) -> Result<Pool> {
        check_name(NameOf::Pool, name)?;
        let alerts = settings
            .alerts
            .as_ref()
            .map(AlertSettings::parse)
            .transpose()?
            .filter(|a| !a.is_empty());
        let kinds = alerts.as_ref().map_or(0, PoolAlerts::kinds);
        let stored = alerts
            .as_ref()
            .map(|a| serde_json::to_string(&a.settings()))
            .transpose()
            .map_err(|e| Error::internal(e.to_string()))?;
        self.db.transaction(|| {
            let id = self.db.query(
                "INSERT INTO pools (name, description, created_at, alerts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET description = excluded.description,
                    alerts = excluded.alerts, alert_held = alert_held & ?5
                 RETURNING id",
                &[
                    name.into(),
                    settings.description.as_str().into(),
                    now.into(),
                    stored.into(),
                    i64::from(kinds).into(),
                ],
            )?[0][0]
                .as_i64();
            for kind in AlertKind::ALL {
                if kinds & kind.bit() == 0 {
                    self.db.execute(
                        "DELETE FROM alert_states WHERE pool_id = ?1 AND kind = ?2",
                        &[id.into(), kind.as_str().into()],
                    )?;
                }
            }
            self.check_alerts(id, now)
        })?;
        self.pool(name)
    }

    /// One pool with its counts.
    pub fn pool(&self, name: &str) -> Result<Pool> {
        let rows = self
            .db
            .query(&format!("{POOL_COLUMNS} WHERE name = ?1"), &[name.into()])?;
        let row = rows.into_iter().next().ok_or_else(|| unknown_pool(name))?;
        self.pool_from_row(row)
    }

    /// All pools of the project, by name.
    pub fn pools(&self) -> Result<Vec<Pool>> {
        let rows = self
            .db
            .query(&format!("{POOL_COLUMNS} ORDER BY name"), &[])?;
        rows.into_iter().map(|r| self.pool_from_row(r)).collect()
    }

    pub(crate) fn pool_row(&self, name: &str) -> Result<PoolRow> {
        let row = self
            .db
            .query(
                "SELECT id, total, available, leased, assigned, redeemed, alerts, alert_held
                 FROM pools WHERE name = ?1",
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
            alerts: row[6].as_opt_str().map(str::to_owned),
            alert_held: row[7].as_i64(),
        })
    }
}

/// What a pool's JSON is made of, in the order `pool_from_row` reads it.
const POOL_COLUMNS: &str =
    "SELECT name, description, created_at, total, available, leased, assigned, redeemed,
        (SELECT COUNT(DISTINCT dispenser) FROM leases WHERE pool_id = pools.id),
        id, alerts, alert_held
     FROM pools";

impl<D: Database> Store<'_, D> {
    fn pool_from_row(&self, row: Vec<Value>) -> Result<Pool> {
        let mut row = row.into_iter();
        let mut next = || row.next().unwrap_or(Value::Null);
        let mut pool = Pool {
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
            alerts: None,
            alert_state: Default::default(),
        };
        let (id, alerts, held) = (next().as_i64(), next(), next().as_i64());
        (pool.alerts, pool.alert_state) = self.alert_view(id, alerts.as_opt_str(), held)?;
        Ok(pool)
    }
}

fn unknown_pool(name: &str) -> Error {
    Error::new(
        ErrorKind::UnknownPool,
        format!("there is no pool {name:?} in this project: create it with PUT /pools/{name}"),
    )
}
