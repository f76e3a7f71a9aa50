//! How an import's valid codes are grouped into store calls.
//!
//! Codes are unique per project through SQLite indexes on the code and on
//! its key ([`crate::pool::code_key`]). Voucher codes are random, so a batch
//! in file order touches index pages all over the indexes, and every
//! touched page is written again at each commit: with
//! batches of a few thousand codes into a pool of a million, that is about
//! one 4 KiB page written per code. So codes are gathered in windows of
//! [`IMPORT_WINDOW`], each window is sorted by key, and the sorted window is
//! stored in batches of at most [`IMPORT_BATCH`] codes (one transaction
//! each, kept short because it holds up the project's renders). A sorted
//! batch covers a narrow range of codes and touches few pages: for random
//! codes this made importing a million codes several times faster.
//!
//! The price: within one import, codes are stored (and later handed out)
//! in key order per window, not in file order; an earlier import's codes
//! still go out before a later one's. Counts do not depend on the order
//! (see [`crate::store::Store::import_batch`]).

/// Valid codes gathered and sorted before they are stored. Bounds the
/// importer's memory: a window of 20-character codes takes about 5 MB.
pub const IMPORT_WINDOW: usize = 100_000;

/// Most codes per call of [`crate::store::Store::import_batch`].
pub const IMPORT_BATCH: usize = 5_000;

/// Most bytes of codes per batch, counted as twice their UTF-8 length (room
/// for JSON escapes): keeps the JSON text of a batch, bound as one SQL
/// parameter, well under Durable Object SQLite's 2 MB limit on a value
/// even when codes are 128 characters long.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// A valid code of an import file, with its own expiry if the file gives
/// one (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportCode {
    /// The code, trimmed and checked.
    pub code: String,
    /// When it expires, from the file's `expires_at` column or entry.
    pub expires_at: Option<i64>,
}

/// What a window holds: a code (`AsRef<str>`), and maybe its expiry. A
/// plain `String` is a code without one.
pub trait WindowCode: AsRef<str> {
    /// The code's own expiry (Unix ms), if any.
    fn expires_at(&self) -> Option<i64> {
        None
    }
}

impl WindowCode for String {}

impl WindowCode for ImportCode {
    fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }
}

impl AsRef<str> for ImportCode {
    fn as_ref(&self) -> &str {
        &self.code
    }
}

/// A batch as [`crate::api::Command::ImportBatch`] carries it: the codes,
/// and their expiries in the same order (empty when none has one, so a
/// batch without expiry costs nothing more).
pub fn batch_parts<T: WindowCode>(batch: &[T]) -> (Vec<String>, Vec<Option<i64>>) {
    let codes = batch.iter().map(|c| c.as_ref().to_owned()).collect();
    let expires = match batch.iter().any(|c| c.expires_at().is_some()) {
        true => batch.iter().map(WindowCode::expires_at).collect(),
        false => Vec::new(),
    };
    (codes, expires)
}

/// Sorts a window of codes into the order they are stored in: the byte
/// order of their keys, as in SQLite's index on the key (for codes of one
/// case, that is also their order in the index on the code).
pub fn sort_window<T: AsRef<str>>(window: &mut [T]) {
    window.sort_by_cached_key(|code| crate::pool::code_key(code.as_ref()));
}

/// Cuts a (sorted) window into batches of at most [`IMPORT_BATCH`] codes
/// and [`MAX_BATCH_BYTES`]; each batch holds at least one code.
pub fn batches<T: WindowCode>(window: &[T]) -> Batches<'_, T> {
    Batches { rest: window }
}

/// The batches of a window, in order; see [`batches`].
#[derive(Debug, Clone)]
pub struct Batches<'a, T> {
    rest: &'a [T],
}

impl<'a, T: WindowCode> Iterator for Batches<'a, T> {
    type Item = &'a [T];

    fn next(&mut self) -> Option<&'a [T]> {
        if self.rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut len = 0;
        for code in self.rest.iter().take(IMPORT_BATCH) {
            // An expiry adds `,1234567890123` to the batch's JSON.
            let expiry = if code.expires_at().is_some() { 16 } else { 0 };
            bytes += 2 * code.as_ref().len() + 3 + expiry;
            if len > 0 && bytes > MAX_BATCH_BYTES {
                break;
            }
            len += 1;
        }
        let (batch, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let short: Vec<String> = (0..12_345).map(|i| format!("C{i}")).collect();
        let sizes: Vec<usize> = batches(&short).map(<[String]>::len).collect();
        assert_eq!(sizes, [5_000, 5_000, 2_345]);

        // 128 four-byte characters: 1027 counted bytes a code.
        let long = vec!["😀".repeat(128); 2_500];
        let sizes: Vec<usize> = batches(&long).map(<[String]>::len).collect();
        assert_eq!(sizes, [1_021, 1_021, 458]);
        for batch in batches(&long) {
            assert!(serde_json::to_string(batch).unwrap().len() < MAX_BATCH_BYTES);
        }
        assert_eq!(batches::<String>(&[]).count(), 0);
    }

    #[test]
    fn windows_sort_by_key_like_sqlite_binary_collation() {
        let mut window: Vec<String> = ["b", "C", "é", "a-2", "A-10", "Z"]
            .map(str::to_owned)
            .to_vec();
        sort_window(&mut window);
        // By key: lowercase, and decomposed (é is e + U+0301).
        assert_eq!(window, ["A-10", "a-2", "b", "C", "é", "Z"]);
    }
}
