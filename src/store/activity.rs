//! A pool's activity: the statement behind its chart.

use super::Store;
use crate::error::Result;
use crate::pool::activity::{check_days, DayActivity, PoolActivity};
use crate::store::sql::Database;

const DAY_MS: i64 = 86_400_000;

impl<D: Database> Store<'_, D> {
    /// Codes assigned and redeemed per UTC day over the last `days` days
    /// (today included); `now` is Unix milliseconds.
    pub fn pool_activity(&self, pool: &str, days: u32, now: i64) -> Result<PoolActivity> {
        check_days(days)?;
        let pool_id = self.pool_id(pool)?;
        let first_day = now.div_euclid(DAY_MS) - i64::from(days) + 1;
        let since = first_day * DAY_MS;
        // Only assigned or redeemed codes carry these times, so `state != 0`
        // lets the (pool_id, state) index skip the pool's available codes.
        let rows = self.db.query(
            "SELECT day, SUM(assigned), SUM(redeemed) FROM (
                SELECT assigned_at / 86400000 AS day, 1 AS assigned, 0 AS redeemed
                FROM codes WHERE pool_id = ?1 AND state != 0 AND assigned_at >= ?2
                UNION ALL
                SELECT redeemed_at / 86400000, 0, 1
                FROM codes WHERE pool_id = ?1 AND state != 0 AND redeemed_at >= ?2
             ) GROUP BY day",
            &[pool_id.into(), since.into()],
        )?;
        let mut out: Vec<DayActivity> = (0..i64::from(days))
            .map(|i| DayActivity {
                date: date(first_day + i),
                assigned: 0,
                redeemed: 0,
            })
            .collect();
        for row in rows {
            // A redemption stamped later than now (a back end's clock ahead)
            // falls outside the window and is left out.
            let index = row[0].as_i64() - first_day;
            if let Some(day) = usize::try_from(index).ok().and_then(|i| out.get_mut(i)) {
                day.assigned = row[1].as_i64();
                day.redeemed = row[2].as_i64();
            }
        }
        Ok(PoolActivity {
            pool: pool.to_owned(),
            days: out,
        })
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01, UTC).
fn date(day: i64) -> String {
    chrono::DateTime::from_timestamp_millis(day * DAY_MS)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}
