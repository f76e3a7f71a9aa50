//! Deleting a pool: one that has handed out no code that is still around.

use crate::error::Result;
use crate::pool::void::{pool_held, pool_in_use};
use crate::pool::Pool;
use crate::store::sql::Database;

use super::Store;

impl<D: Database> Store<'_, D> {
    /// Deletes a pool with its codes and imports, so that its codes may be
    /// imported again (into any pool of the project); answers the pool as
    /// it was. Logged as type `pool_deleted`.
    ///
    /// Only a pool without assigned or redeemed codes: one that handed
    /// codes out keeps them for their redemptions and the record of who got
    /// them (archive it instead: `PoolSettings::archived`). Its available,
    /// expired and void codes go with it.
    ///
    /// # Errors
    ///
    /// `unknown_pool`; `pool_in_use`; `held_by_dispenser` while dispensers
    /// hold leases of it (the Worker recalls them first).
    pub fn delete_pool(&self, pool: &str, now: i64) -> Result<Pool> {
        self.db.transaction(|| {
            let shown = self.pool_now(pool, now)?;
            let counts = shown.counts;
            if counts.assigned > 0 || counts.redeemed > 0 {
                return Err(pool_in_use(pool, counts.assigned, counts.redeemed));
            }
            let id = self.pool_id(pool)?;
            // A lease row without leased codes is closed by its holder's
            // next exchange; until then it names the pool.
            let leases = self.db.query(
                "SELECT 1 FROM leases WHERE pool_id = ?1 LIMIT 1",
                &[id.into()],
            )?;
            if counts.leased > 0 || !leases.is_empty() {
                return Err(pool_held(pool));
            }
            // Its alerts' state and undelivered webhooks go with it.
            self.forget_alerts(id)?;
            for statement in [
                // Few rows, each one seek: not a scan of the pool's codes.
                "DELETE FROM void_requests
                 WHERE (SELECT pool_id FROM codes WHERE codes.id = code_id) = ?1",
                "DELETE FROM codes WHERE pool_id = ?1",
                "DELETE FROM imports WHERE pool_id = ?1",
                "DELETE FROM pools WHERE id = ?1",
            ] {
                self.db.execute(statement, &[id.into()])?;
            }
            // A code the migration left without key (its key was an older
            // twin's) in another pool takes the key if the twin was deleted:
            // imports find codes by key only. None in a database created
            // with keys: one seek.
            let mut after = 0;
            while let Some(last) = self.backfill_batch(after)? {
                after = last;
            }
            let properties = serde_json::json!({
                "pool": pool,
                "total": counts.total,
                "available": counts.available,
                "expired": counts.expired,
                "void": counts.void,
            })
            .to_string();
            self.db.execute(
                "INSERT INTO events (type, timestamp, properties) VALUES ('pool_deleted', ?1, ?2)",
                &[now.into(), properties.into()],
            )?;
            Ok(shown)
        })
    }
}
