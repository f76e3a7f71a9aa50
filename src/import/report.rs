//! The answer to an import: what happened to every row.

use serde::{Deserialize, Serialize};

/// At most this many invalid rows are listed by line; all are counted.
pub const MAX_INVALID_SAMPLES: usize = 100;

/// Counts of one batch of valid codes stored by [`crate::store::Store::import_batch`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCounts {
    /// Codes added to the pool.
    pub imported: u64,
    /// Codes that appeared earlier in the same import.
    pub duplicates_in_file: u64,
    /// Codes already in a pool of the project before this import (discarded,
    /// as the platform does).
    pub already_in_project: u64,
}

impl std::ops::AddAssign for BatchCounts {
    fn add_assign(&mut self, other: Self) {
        self.imported += other.imported;
        self.duplicates_in_file += other.duplicates_in_file;
        self.already_in_project += other.already_in_project;
    }
}

/// One invalid row, by line (CSV) or position (JSON array), 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidSample {
    /// Line in the file (the header is line 1), or position in the JSON array.
    pub line: u64,
    /// Why the row was not imported.
    pub reason: String,
}

/// The answer to `POST /pools/{pool}/import`.
///
/// `total_rows = imported + duplicates_in_file + already_in_project + invalid`.
/// A code that was in the project before the import counts as
/// `already_in_project` on every row it appears; see
/// [`crate::store::Store::import_batch`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Data rows read (blank lines are not rows).
    pub total_rows: u64,
    /// Codes added to the pool.
    pub imported: u64,
    /// Rows repeating a code seen earlier in the same import.
    pub duplicates_in_file: u64,
    /// Rows whose code was in a pool of the project before this import
    /// (discarded, as the platform does).
    pub already_in_project: u64,
    /// Rows that hold no valid code.
    pub invalid: u64,
    /// The first invalid rows, with reasons.
    pub invalid_samples: Vec<InvalidSample>,
    /// The CSV column the codes were read from, as spelled in the header
    /// (absent for a JSON import): shows which column was chosen, and a file
    /// without header row shows its first code here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl ImportReport {
    /// Adds the counts of a stored batch.
    pub fn add_batch(&mut self, batch: BatchCounts) {
        self.imported += batch.imported;
        self.duplicates_in_file += batch.duplicates_in_file;
        self.already_in_project += batch.already_in_project;
        self.total_rows += batch.imported + batch.duplicates_in_file + batch.already_in_project;
    }

    /// Counts an invalid row and keeps it as a sample while there is room.
    pub fn add_invalid(&mut self, line: u64, reason: impl Into<String>) {
        self.total_rows += 1;
        self.invalid += 1;
        if self.invalid_samples.len() < MAX_INVALID_SAMPLES {
            self.invalid_samples.push(InvalidSample {
                line,
                reason: reason.into(),
            });
        }
    }
}
