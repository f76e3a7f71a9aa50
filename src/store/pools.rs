//! Pools: create, read and count; their codes' expiry brought up to date.

use super::{PoolRow, Store};
use crate::alert::{AlertKind, AlertSettings, PoolAlerts};
use crate::error::{Error, ErrorKind, Result};
use crate::input::name::{check_name, NameOf};
use crate::pool::{CodeState, Lifecycle, Pool, PoolCounts, PoolSettings};
use crate::store::sql::{Database, Value};
use crate::time::rfc3339;

/// The columns [`StoredPool::from_row`] reads, in its order.
const POOL_COLUMNS: &str = "id, name, description, created_at, total, available, leased,
    assigned, redeemed, expired, void, valid_from, expires_at, stop_before, archived,
    next_expiry, alerts, alert_held";

/// The lowest expiry of a pool's codes still to hand out (available or
/// leased), `?1` the pool's id: two seeks on `codes_by_expiry`.
const NEXT_EXPIRY: &str = "(SELECT MIN(e) FROM (
        SELECT MIN(expires_at) AS e FROM codes WHERE pool_id = ?1 AND state = 0
            AND expires_at IS NOT NULL
        UNION ALL SELECT MIN(expires_at) FROM codes WHERE pool_id = ?1 AND state = 3
            AND expires_at IS NOT NULL))";

impl<D: Database> Store<'_, D> {
    /// Creates a pool, or updates its settings if it exists.
    ///
    /// A shorter `stop_assigning_before_expiry` gives back the codes it no
    /// longer keeps from being handed out; a longer one expires more the
    /// next time the pool is read (this same call answers with them).
    ///
    /// Its alerts are replaced by those of `settings` (absent: none). An
    /// alert kind newly set starts armed, one kept keeps its state, one
    /// removed forgets it; then the pool's alerts are evaluated, so one
    /// set on a pool already past it fires at once.
    pub fn put_pool(&self, name: &str, settings: &PoolSettings, now: i64) -> Result<Pool> {
        check_name(NameOf::Pool, name)?;
        let lifecycle = settings.lifecycle()?;
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
            let rows = self.db.query(
                "INSERT INTO pools (name, description, created_at, valid_from, expires_at,
                    stop_before, archived, alerts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (name) DO UPDATE SET description = excluded.description,
                    valid_from = excluded.valid_from, expires_at = excluded.expires_at,
                    stop_before = excluded.stop_before, archived = excluded.archived,
                    alerts = excluded.alerts, alert_held = alert_held & ?9
                 RETURNING id",
                &[
                    name.into(),
                    settings.description.as_str().into(),
                    now.into(),
                    lifecycle.valid_from.into(),
                    lifecycle.expires_at.into(),
                    lifecycle.stop_before.into(),
                    i64::from(lifecycle.archived).into(),
                    stored.into(),
                    i64::from(kinds).into(),
                ],
            )?;
            let id = rows.first().map_or(0, |r| r[0].as_i64());
            for kind in AlertKind::ALL {
                if kinds & kind.bit() == 0 {
                    self.db.execute(
                        "DELETE FROM alert_states WHERE pool_id = ?1 AND kind = ?2",
                        &[id.into(), kind.as_str().into()],
                    )?;
                }
            }
            self.unexpire(id, lifecycle.cutoff(now))?;
            // Read first: that expires what the new margin holds back.
            self.read_pool(name, now)?;
            self.check_alerts(id, now)?;
            self.pool_now(name, now)
        })
    }

    /// One pool with its counts at `now`.
    pub fn pool(&self, name: &str, now: i64) -> Result<Pool> {
        self.db.transaction(|| self.pool_now(name, now))
    }

    /// All pools of the project, by name, with their counts at `now`.
    pub fn pools(&self, now: i64) -> Result<Vec<Pool>> {
        self.db.transaction(|| {
            let names =
                super::first_column(self.db.query("SELECT name FROM pools ORDER BY name", &[])?);
            names.iter().map(|name| self.pool_now(name, now)).collect()
        })
    }

    /// One pool as the API shows it at `now` (inside a transaction: it
    /// may expire codes).
    pub(super) fn pool_now(&self, name: &str, now: i64) -> Result<Pool> {
        let (stored, row) = self.read_pool(name, now)?;
        let (alerts, alert_state) =
            self.alert_view(row.id, row.alerts.as_deref(), row.alert_held)?;
        let mut settings = PoolSettings {
            description: stored.description,
            alerts,
            ..PoolSettings::default()
        };
        row.lifecycle.show_in(&mut settings);
        Ok(Pool {
            name: stored.name,
            settings,
            created_at: rfc3339(stored.created_at),
            counts: stored.counts.as_shown(row.status),
            // Only the API shows it: not in the row a render reads.
            dispensers: self.db.query(
                "SELECT COUNT(DISTINCT dispenser) FROM leases WHERE pool_id = ?1",
                &[row.id.into()],
            )?[0][0]
                .as_i64(),
            status: row.status,
            alert_state,
        })
    }

    /// A pool's id (for statements that need nothing else of it).
    pub(crate) fn pool_id(&self, name: &str) -> Result<i64> {
        self.db
            .query("SELECT id FROM pools WHERE name = ?1", &[name.into()])?
            .first()
            .map(|r| r[0].as_i64())
            .ok_or_else(|| unknown_pool(name))
    }

    /// A pool as it hands out codes at `now`: codes that expired by then
    /// are marked so first, and the counts are as a render sees them
    /// ([`PoolCounts::to_hand_out`]). Call inside a transaction: it may
    /// write.
    pub(crate) fn pool_row(&self, name: &str, now: i64) -> Result<PoolRow> {
        self.read_pool(name, now).map(|(_, row)| row)
    }

    fn read_pool(&self, name: &str, now: i64) -> Result<(StoredPool, PoolRow)> {
        let row = self
            .db
            .query(
                &format!("SELECT {POOL_COLUMNS} FROM pools WHERE name = ?1"),
                &[name.into()],
            )?
            .into_iter()
            .next()
            .ok_or_else(|| unknown_pool(name))?;
        let mut stored = StoredPool::from_row(row);
        let cutoff = stored.lifecycle.cutoff(now);
        if stored.next_expiry.is_some_and(|next| next <= cutoff) {
            stored.counts = self.expire(stored.id, cutoff)?;
            // Fewer codes left to hand out: a low-stock alert may fire.
            self.check_alerts(stored.id, now)?;
        }
        let status = stored.lifecycle.status(now);
        let row = PoolRow {
            id: stored.id,
            counts: stored.counts.to_hand_out(status),
            lifecycle: stored.lifecycle,
            status,
            alerts: stored.alerts.take(),
            alert_held: stored.alert_held,
        };
        Ok((stored, row))
    }

    /// Marks the pool's available codes that expire at or before `cutoff`
    /// expired; answers the pool's stored counts after.
    fn expire(&self, pool_id: i64, cutoff: i64) -> Result<PoolCounts> {
        let n = self.db.query(
            "SELECT COUNT(*) FROM codes WHERE pool_id = ?1 AND state = 0 AND expires_at <= ?2",
            &[pool_id.into(), cutoff.into()],
        )?[0][0]
            .as_i64();
        if n > 0 {
            self.db.execute(
                "UPDATE codes SET state = ?3 WHERE pool_id = ?1 AND state = 0
                    AND expires_at <= ?2",
                &[
                    pool_id.into(),
                    cutoff.into(),
                    (CodeState::Expired as i64).into(),
                ],
            )?;
        }
        let rows = self.db.query(
            &format!(
                "UPDATE pools SET available = available - ?2, expired = expired + ?2,
                    next_expiry = {NEXT_EXPIRY}
                 WHERE id = ?1
                 RETURNING total, available, leased, assigned, redeemed, expired, void"
            ),
            &[pool_id.into(), n.into()],
        )?;
        let row = rows.into_iter().next().unwrap_or_default();
        Ok(counts_from(&mut row.into_iter()))
    }

    /// Gives back the expired codes of a pool that expire after `cutoff`
    /// (its margin became shorter), and makes its `next_expiry` exact.
    fn unexpire(&self, pool_id: i64, cutoff: i64) -> Result<()> {
        let n = self.db.query(
            "SELECT COUNT(*) FROM codes WHERE pool_id = ?1 AND state = ?3 AND expires_at > ?2",
            &[
                pool_id.into(),
                cutoff.into(),
                (CodeState::Expired as i64).into(),
            ],
        )?[0][0]
            .as_i64();
        if n > 0 {
            self.db.execute(
                "UPDATE codes SET state = 0 WHERE pool_id = ?1 AND state = ?3
                    AND expires_at > ?2",
                &[
                    pool_id.into(),
                    cutoff.into(),
                    (CodeState::Expired as i64).into(),
                ],
            )?;
        }
        self.db.execute(
            &format!(
                "UPDATE pools SET available = available + ?2, expired = expired - ?2,
                    next_expiry = {NEXT_EXPIRY} WHERE id = ?1"
            ),
            &[pool_id.into(), n.into()],
        )
    }

    /// Lowers a pool's `next_expiry` to `expires_at` if that is sooner:
    /// for codes that become available again (released, given back).
    pub(crate) fn note_expiry(&self, pool_id: i64, expires_at: Option<i64>) -> Result<()> {
        match expires_at {
            None => Ok(()),
            Some(at) => self.db.execute(
                "UPDATE pools SET next_expiry = ?2
                 WHERE id = ?1 AND (next_expiry IS NULL OR next_expiry > ?2)",
                &[pool_id.into(), at.into()],
            ),
        }
    }
}

/// A pool's row as stored.
struct StoredPool {
    id: i64,
    name: String,
    description: String,
    created_at: i64,
    counts: PoolCounts,
    lifecycle: Lifecycle,
    next_expiry: Option<i64>,
    /// Its alerts as stored (JSON), if any, and which of their conditions
    /// held (`store/alerts.rs`).
    alerts: Option<String>,
    alert_held: i64,
}

impl StoredPool {
    fn from_row(row: Vec<Value>) -> Self {
        let mut row = row.into_iter();
        let id = row.next().unwrap_or(Value::Null).as_i64();
        let name = row.next().unwrap_or(Value::Null).into_string();
        let description = row.next().unwrap_or(Value::Null).into_string();
        let created_at = row.next().unwrap_or(Value::Null).as_i64();
        let counts = counts_from(&mut row);
        let mut next = || row.next().unwrap_or(Value::Null);
        let lifecycle = Lifecycle {
            valid_from: next().as_opt_i64(),
            expires_at: next().as_opt_i64(),
            stop_before: next().as_i64(),
            archived: next().as_i64() != 0,
        };
        StoredPool {
            id,
            name,
            description,
            created_at,
            counts,
            lifecycle,
            next_expiry: next().as_opt_i64(),
            alerts: next().as_opt_str().map(str::to_owned),
            alert_held: next().as_i64(),
        }
    }
}

/// Counts from the columns `total, available, leased, assigned, redeemed,
/// expired, void`.
fn counts_from(row: &mut impl Iterator<Item = Value>) -> PoolCounts {
    let mut next = || row.next().unwrap_or(Value::Null).as_i64();
    PoolCounts {
        total: next(),
        available: next(),
        leased: next(),
        assigned: next(),
        redeemed: next(),
        expired: next(),
        void: next(),
    }
}

/// 404: the project has no pool of this name.
pub(crate) fn unknown_pool(name: &str) -> Error {
    Error::new(
        ErrorKind::UnknownPool,
        format!("there is no pool {name:?} in this project: create it with PUT /pools/{name}"),
    )
}
