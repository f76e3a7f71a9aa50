//! Imports: codes added to a pool in batches, each counted exactly.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::import_report::BatchCounts;
use crate::sql::Database;

use super::Store;

impl<D: Database> Store<'_, D> {
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
}
