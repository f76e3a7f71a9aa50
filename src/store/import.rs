//! Imports: codes added to a pool in batches, each counted exactly.

use std::collections::HashMap;

use crate::error::{Error, ErrorKind, Result};
use crate::import::report::BatchCounts;
use crate::pool::code_key;
use crate::store::sql::Database;

use super::alerts::ALERT_COLUMNS;
use super::Store;
use crate::alert::PoolAlerts;

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
        let pool_id = self.pool_id(pool)?;
        let rows = self.db.query(
            "INSERT INTO imports (pool_id, started_at) VALUES (?1, ?2) RETURNING id",
            &[pool_id.into(), now.into()],
        )?;
        Ok(rows.first().map_or(0, |r| r[0].as_i64()))
    }

    /// Adds a batch of valid, trimmed codes to a pool, as one transaction.
    ///
    /// Codes are the same code when their [`code_key`]s are equal (`code-1`
    /// is `CODE-1`). Every row is counted once: a code that was in any pool
    /// of the project before this import counts as `already_in_project` each
    /// time it appears (it is discarded); otherwise its first row is
    /// `imported` and each later row of the same import, in this batch or a
    /// later one, is a `duplicates_in_file`. So the counts do not depend on
    /// where batches are cut, and importing a file again reports every row
    /// as already in the project.
    pub fn import_batch(
        &self,
        pool: &str,
        import_id: i64,
        codes: &[String],
    ) -> Result<BatchCounts> {
        self.import_expiring(pool, import_id, codes, &[])
    }

    /// [`Store::import_batch`], where `expires_at` gives each code its own
    /// expiry (Unix ms), in the order of `codes` (empty: none has one); a
    /// code's first row gives it.
    pub fn import_expiring(
        &self,
        pool: &str,
        import_id: i64,
        codes: &[String],
        expires_at: &[Option<i64>],
    ) -> Result<BatchCounts> {
        let keys: Vec<String> = codes.iter().map(|c| code_key(c)).collect();
        let expiry = |i: usize| expires_at.get(i).copied().flatten();
        // Rows per distinct code, in first-seen order (JSON array index).
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(codes.len());
        let mut unique: Vec<BatchCode<'_>> = Vec::with_capacity(codes.len());
        let mut rows: Vec<u64> = Vec::with_capacity(codes.len());
        let mut soonest: Option<i64> = None;
        for (n, (code, key)) in codes.iter().zip(&keys).enumerate() {
            let i = *index.entry(key.as_str()).or_insert_with(|| {
                unique.push(match expiry(n) {
                    Some(at) => {
                        soonest = Some(soonest.map_or(at, |s| s.min(at)));
                        BatchCode::Expiring(code, key, at)
                    }
                    None if code.is_ascii() => BatchCode::Ascii(code),
                    None => BatchCode::Keyed(code, key),
                });
                rows.push(0);
                unique.len() - 1
            });
            rows[i] += 1;
        }
        let json = serde_json::to_string(&unique).map_err(|e| Error::internal(e.to_string()))?;
        self.db.transaction(|| {
            let pool_id = self.pool_id(pool)?;
            let started = self.db.query(
                "SELECT started_at FROM imports WHERE id = ?1 AND pool_id = ?2",
                &[import_id.into(), pool_id.into()],
            )?;
            let Some(started_at) = started.first().map(|r| r[0].as_i64()) else {
                return Err(Error::new(
                    ErrorKind::UnknownImport,
                    format!("import {import_id} was not started for this pool"),
                ));
            };
            // Which of the batch's codes exist, and whether this import added
            // them. A row left without key by the migration has a twin that
            // holds its key (a deleted pool's codes hand their keys on to
            // such rows: delete.rs), so keys find them all.
            let existing = self.db.query(
                "SELECT j.key, c.import_id = ?2 FROM json_each(?1) AS j
                 JOIN codes AS c ON c.code_key =
                     CASE j.type WHEN 'text' THEN lower(j.value) ELSE j.value ->> 1 END",
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
                    "INSERT INTO codes (code, code_key, pool_id, import_id, expires_at)
                     SELECT CASE j.type WHEN 'text' THEN j.value ELSE j.value ->> 0 END,
                            CASE j.type WHEN 'text' THEN lower(j.value) ELSE j.value ->> 1 END,
                            ?2, ?3,
                            CASE j.type WHEN 'text' THEN NULL ELSE j.value ->> 2 END
                     FROM json_each(?1) AS j WHERE true ON CONFLICT DO NOTHING",
                    &[json.as_str().into(), pool_id.into(), import_id.into()],
                )?;
                let rows = self.db.query(
                    &format!(
                        "UPDATE pools SET total = total + ?1, available = available + ?1
                         WHERE id = ?2 RETURNING {ALERT_COLUMNS}"
                    ),
                    &[(counts.imported as i64).into(), pool_id.into()],
                )?;
                // A lower bound is enough (the codes of the batch that were
                // in the project already count too): it only says when the
                // next read looks for codes to expire.
                self.note_expiry(pool_id, soonest)?;
                // A refill only re-arms count alerts (adding codes never
                // crosses a threshold downwards), so the import's start
                // serves as its time. Its codes may expire sooner than
                // those before: the alarm checks near expiry at once.
                for row in rows {
                    // The alerts' JSON is the third of ALERT_COLUMNS.
                    let near = match row.get(2).and_then(|v| v.as_opt_str()) {
                        Some(json) => PoolAlerts::from_stored(json)?.near_expiry.is_some(),
                        None => false,
                    };
                    self.alerts_after_row(row, started_at)?;
                    if near {
                        self.check_soon(pool_id, started_at)?;
                    }
                }
            }
            Ok(counts)
        })
    }

    /// Gives the codes stored before code keys existed their keys, in
    /// batches of [`BACKFILL_BATCH`] (one transaction each: a batch cut off
    /// is done again at the next start). The oldest code keeps a key that
    /// several share; the others keep none and are found by their exact
    /// text (`redeem`) and by their twin's key (`import_batch`).
    pub(crate) fn backfill_code_keys(&self) -> Result<()> {
        let mut after = 0;
        while let Some(last) = self.db.transaction(|| self.backfill_batch(after))? {
            after = last;
        }
        Ok(())
    }

    /// One batch of [`Store::backfill_code_keys`], in the caller's
    /// transaction: the codes without key after id `after` take their key
    /// where no other code holds it. Answers the last id looked at if
    /// there may be more. Also run when a pool is deleted: a code that kept
    /// no key because a deleted code held it takes the key then.
    pub(super) fn backfill_batch(&self, after: i64) -> Result<Option<i64>> {
        let rows = self.db.query(
            "SELECT id, code FROM codes WHERE code_key IS NULL AND id > ?1
             ORDER BY id LIMIT ?2",
            &[after.into(), (BACKFILL_BATCH as i64).into()],
        )?;
        let Some(last) = rows.last().map(|r| r[0].as_i64()) else {
            return Ok(None);
        };
        let mut taken = std::collections::HashSet::with_capacity(rows.len());
        let keyed: Vec<(i64, String)> = rows
            .iter()
            .map(|r| (r[0].as_i64(), code_key(r[1].as_opt_str().unwrap_or(""))))
            .filter(|(_, key)| taken.insert(key.clone()))
            .collect();
        let json = serde_json::to_string(&keyed).map_err(|e| Error::internal(e.to_string()))?;
        // OR IGNORE: a key an older code holds stays with it.
        self.db.execute(
            "UPDATE OR IGNORE codes SET code_key = j.value ->> 1
             FROM json_each(?1) AS j WHERE codes.id = j.value ->> 0",
            &[json.into()],
        )?;
        Ok((rows.len() == BACKFILL_BATCH).then_some(last))
    }
}

/// A code of a batch as its statements read it: an ASCII code alone (its
/// key is its lowercase, which SQLite's `lower` makes: that halves the JSON
/// SQLite parses for the nearly all codes that are ASCII), any other as
/// `[code, key]`.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum BatchCode<'a> {
    Ascii(&'a str),
    Keyed(&'a str, &'a str),
    /// `[code, key, expires_at]`.
    Expiring(&'a str, &'a str, i64),
}

/// Codes given their key per transaction when an older database migrates.
const BACKFILL_BATCH: usize = 5_000;
