//! Imports: codes added to a pool in batches, each counted exactly.

use std::collections::HashMap;

use crate::error::{Error, ErrorKind, Result};
use crate::import::report::BatchCounts;
use crate::store::sql::Database;

use super::Store;

/// What a batch's code was before the batch ran.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Not in the project: its first row is imported.
    New,
    /// Added by an earlier batch of this same import.
    ThisImport,
    /// In the project before this import added anything.
    Before,
}

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
    /// Every row is counted once: a code that was in any pool of the project
    /// before this import counts as `already_in_project` each time it appears
    /// (it is discarded); otherwise its first row is `imported` and each
    /// later row of the same import, in this batch or a later one, is a
    /// `duplicates_in_file`. So the counts do not depend on where batches
    /// are cut, and importing a file again reports every row as already in
    /// the project.
    pub fn import_batch(
        &self,
        pool: &str,
        import_id: i64,
        codes: &[String],
    ) -> Result<BatchCounts> {
        // Rows per distinct code, in first-seen order (JSON array index).
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(codes.len());
        let mut unique: Vec<&str> = Vec::with_capacity(codes.len());
        let mut rows: Vec<u64> = Vec::with_capacity(codes.len());
        for code in codes {
            let i = *index.entry(code.as_str()).or_insert_with(|| {
                unique.push(code.as_str());
                rows.push(0);
                unique.len() - 1
            });
            rows[i] += 1;
        }
        let json = serde_json::to_string(&unique).map_err(|e| Error::internal(e.to_string()))?;
        self.db.transaction(|| {
            let pool = self.pool_row(pool)?;
            let started = self.db.query(
                "SELECT 1 FROM imports WHERE id = ?1 AND pool_id = ?2",
                &[import_id.into(), pool.id.into()],
            )?;
            if started.is_empty() {
                return Err(Error::new(
                    ErrorKind::UnknownImport,
                    format!("import {import_id} was not started for this pool"),
                ));
            }
            // Which of the batch's codes exist, and whether this import added them.
            let existing = self.db.query(
                "SELECT j.key, c.import_id = ?2 FROM json_each(?1) AS j
                 JOIN codes AS c ON c.code = j.value",
                &[json.as_str().into(), import_id.into()],
            )?;
            let mut seen = vec![Seen::New; unique.len()];
            for row in &existing {
                let i = usize::try_from(row[0].as_i64()).unwrap_or(usize::MAX);
                if let Some(slot) = seen.get_mut(i) {
                    *slot = if row[1].as_i64() == 1 {
                        Seen::ThisImport
                    } else {
                        Seen::Before
                    };
                }
            }
            let mut counts = BatchCounts::default();
            for (seen, rows) in seen.iter().zip(&rows) {
                match seen {
                    Seen::New => {
                        counts.imported += 1;
                        counts.duplicates_in_file += rows - 1;
                    }
                    Seen::ThisImport => counts.duplicates_in_file += rows,
                    Seen::Before => counts.already_in_project += rows,
                }
            }
            if counts.imported > 0 {
                self.db.execute(
                    "INSERT INTO codes (code, pool_id, import_id)
                     SELECT j.value, ?2, ?3 FROM json_each(?1) AS j WHERE true
                     ON CONFLICT (code) DO NOTHING",
                    &[json.as_str().into(), pool.id.into(), import_id.into()],
                )?;
                self.db.execute(
                    "UPDATE pools SET total = total + ?1, available = available + ?1 WHERE id = ?2",
                    &[(counts.imported as i64).into(), pool.id.into()],
                )?;
            }
            Ok(counts)
        })
    }
}
