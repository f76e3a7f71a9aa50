//! Incremental parser for CSV files of voucher codes.
//!
//! Marketers upload CSV exports of shop systems with up to millions of codes.
//! The body arrives as byte chunks split anywhere (inside a UTF-8 sequence, a
//! quoted field, a CRLF or the BOM), so [`ImportParser`] is a push parser on
//! top of `csv_core` whose memory does not depend on the file size: at most
//! one record of [`MAX_ROW_BYTES`] plus small buffers.
//!
//! # Rules
//!
//! * UTF-8, with or without BOM. The first [`SNIFF_BYTES`] are checked before
//!   any row is produced, so that a binary file (NUL bytes, many control
//!   bytes), a UTF-16 file or a Latin-1 file is rejected whole with an
//!   [`ImportError`]. Invalid UTF-8 after that only makes its row
//!   [`ImportRow::Invalid`], because earlier rows may already be stored.
//! * A header row is required: the first line that is not blank.
//! * The delimiter is `,`, `;` or tab: the one occurring most often outside
//!   quotes in the header line; ties go to tab, then `;`, then `,`. A header
//!   without any of them means a single column.
//! * The code column is the one named by [`ImportOptions::column`]; else the
//!   only column; else the column named `code`. Names compare trimmed and
//!   case-insensitively.
//! * Quotes follow RFC 4180 (`""` is a quote inside a quoted field); lines end
//!   with CRLF, LF or CR. Blank rows (every field empty or ASCII whitespace)
//!   are skipped.
//! * Each other row yields one [`ImportRow`] carrying the physical line where
//!   it starts, as an editor numbers lines (the header is usually line 1).
//!   A row is invalid if it is longer than [`MAX_ROW_BYTES`], if it ends
//!   before the code column, if it has non-empty fields beyond the header's
//!   (an unquoted delimiter shifted the columns, or a single-column code
//!   contains the delimiter), if its code is not UTF-8, or if
//!   [`normalize_code`] rejects the code.
//! * An optional column named `expires_at` gives each code its own expiry:
//!   RFC 3339 or a date (`2026-12-31`, good through that day in UTC; see
//!   [`parse_expiry`]); an empty cell means none, anything else makes the
//!   row invalid. Other columns are not inspected.

use std::fmt;

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::pool::code::normalize_code;
use crate::time::parse_expiry;

/// The name of the optional column with each code's expiry.
pub const EXPIRY_COLUMN: &str = "expires_at";

/// Longest accepted row (and header row) in bytes, without its line end.
///
/// Bounds the parser's memory; a code row is a few dozen bytes, so only a
/// broken file or one without line breaks gets near it.
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// How much of the file start is checked for binary content and encoding
/// before any row is produced.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// Reason given for a row longer than [`MAX_ROW_BYTES`].
const ROW_TOO_LONG: &str = "row is longer than 64 KiB";

/// Field ends fetched from `csv_core` per call; rows with more fields just
/// take more calls, so this bounds memory, not the field count.
const ENDS_LEN: usize = 64;

/// Column names shown in an error message before the list is cut short.
const SHOWN_COLUMNS: usize = 10;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Options of one import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ImportOptions {
    /// The column holding the codes (`?column=`), matched trimmed and
    /// case-insensitively against the header. `None` or a blank name means
    /// "the only column, else the one named `code`".
    pub column: Option<String>,
}

/// The outcome for one data row of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportRow {
    /// A valid code.
    Code {
        /// 1-based physical line where the row starts.
        line: u64,
        /// The code, trimmed and checked by [`normalize_code`].
        code: String,
        /// Its expiry (Unix ms) from the `expires_at` column, if any.
        expires_at: Option<i64>,
    },
    /// A row that holds no valid code.
    Invalid {
        /// 1-based physical line where the row starts.
        line: u64,
        /// Why, in words a marketer understands.
        reason: String,
    },
}

impl ImportRow {
    /// The 1-based physical line where the row starts.
    pub fn line(&self) -> u64 {
        match self {
            ImportRow::Code { line, .. } | ImportRow::Invalid { line, .. } => *line,
        }
    }
}

/// Why a whole file is rejected. Raised before the first row is produced, so
/// the caller has stored nothing of such a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// No bytes, or only whitespace, blank lines and a BOM: no header row.
    Empty,
    /// NUL bytes or many control bytes in the first [`SNIFF_BYTES`]: not a
    /// text file (e.g. an Excel workbook or a zip archive).
    Binary,
    /// Not UTF-8: invalid UTF-8 in the first [`SNIFF_BYTES`] or in the header
    /// row, or a UTF-16 byte order mark.
    NotUtf8 {
        /// 1-based physical line of the first invalid byte.
        line: u64,
    },
    /// The header row is longer than [`MAX_ROW_BYTES`].
    HeaderTooLong,
    /// The column named in [`ImportOptions::column`] is not in the header.
    NoSuchColumn {
        /// The requested name.
        name: String,
        /// The header's column names, trimmed.
        found: Vec<String>,
    },
    /// Several columns, no column option and no column named `code`.
    NoCodeColumn {
        /// The header's column names, trimmed.
        found: Vec<String>,
    },
    /// Two or more columns carry the name of the code column.
    DuplicateColumn {
        /// The name looked for: `code` or the column option.
        name: String,
    },
}

impl ImportError {
    /// The API's error kind for this rejection.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImportError::Empty => ErrorKind::CsvEmpty,
            ImportError::Binary => ErrorKind::CsvBinary,
            ImportError::NotUtf8 { .. } => ErrorKind::CsvNotUtf8,
            ImportError::HeaderTooLong => ErrorKind::CsvHeaderTooLong,
            ImportError::NoSuchColumn { .. } => ErrorKind::CsvNoSuchColumn,
            ImportError::NoCodeColumn { .. } => ErrorKind::CsvNoCodeColumn,
            ImportError::DuplicateColumn { .. } => ErrorKind::CsvDuplicateColumn,
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Empty => f.write_str(
                "the CSV file is empty: put a first line naming the column, e.g. `code`, \
                 and one code per line below it",
            ),
            ImportError::Binary => f.write_str(
                "the file is not a CSV text file (it contains binary data, e.g. it is an Excel \
                 workbook): export it as \"CSV UTF-8\" and upload that file",
            ),
            ImportError::NotUtf8 { line } => write!(
                f,
                "the CSV file is not UTF-8 encoded (line {line} has bytes that are not UTF-8): \
                 save or export it as \"CSV UTF-8\" and upload it again"
            ),
            ImportError::HeaderTooLong => write!(
                f,
                "the first line of the CSV file is longer than 64 KiB, so it is no header row: \
                 put a first line naming the column, e.g. `code`"
            ),
            ImportError::NoSuchColumn { name, found } => write!(
                f,
                "the CSV file has no column named `{name}` (its columns: {}): \
                 pass one of these as ?column=NAME",
                ColumnList(found)
            ),
            ImportError::NoCodeColumn { found } => write!(
                f,
                "the CSV file has several columns ({}) and none is named `code`: \
                 name the code column `code` or pass ?column=NAME",
                ColumnList(found)
            ),
            ImportError::DuplicateColumn { name } => write!(
                f,
                "the CSV file has more than one column named `{name}`: \
                 rename or delete all but the one holding the codes"
            ),
        }
    }
}

impl std::error::Error for ImportError {}

impl From<ImportError> for Error {
    fn from(err: ImportError) -> Self {
        Error::new(err.kind(), err.to_string())
    }
}

/// Column names for a message, cut short so a broken header stays readable.
struct ColumnList<'a>(&'a [String]);

impl fmt::Display for ColumnList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().take(SHOWN_COLUMNS).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(if name.is_empty() { "(unnamed)" } else { name })?;
        }
        if self.0.len() > SHOWN_COLUMNS {
            write!(f, " and {} more", self.0.len() - SHOWN_COLUMNS)?;
        }
        Ok(())
    }
}

/// Where the parser is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Buffering the first [`SNIFF_BYTES`] to check them before any output.
    Sniff,
    /// Looking for the header line to detect the delimiter.
    Header,
    /// `csv_core` is set up; it parses the header record, then the rows.
    Body,
    /// Finished, or failed (then `failed` is set).
    Done,
}

/// Scans the header line byte by byte to find its end and count delimiters
/// outside quotes; `csv_core` needs the delimiter before it can parse.
#[derive(Debug, Clone, Copy)]
struct HeaderScan {
    in_quotes: bool,
    /// A quote was seen inside quotes: an escaped quote if another follows.
    quote_in_quotes: bool,
    field_start: bool,
    /// Only spaces, tabs, `,` and `;` so far: a blank line, skipped.
    blank: bool,
    found: bool,
    /// Occurrences of tab, `;` and `,` outside quotes.
    counts: [usize; 3],
}

impl HeaderScan {
    fn new() -> Self {
        HeaderScan {
            in_quotes: false,
            quote_in_quotes: false,
            field_start: true,
            blank: true,
            found: false,
            counts: [0; 3],
        }
    }

    /// The most frequent delimiter; ties prefer tab, then `;`, then `,`.
    fn delimiter(&self) -> u8 {
        let [tab, semi, comma] = self.counts;
        if tab > 0 && tab >= semi && tab >= comma {
            b'\t'
        } else if semi > 0 && semi >= comma {
            b';'
        } else {
            b','
        }
    }
}

/// The current record, as far as it has been parsed.
#[derive(Debug, Clone, Default)]
struct Record {
    start_line: u64,
    /// Input bytes consumed for this record, including its line end.
    in_bytes: usize,
    /// Bytes of field data in `ImportParser::out_buf`.
    out_len: usize,
    /// Longer than [`MAX_ROW_BYTES`]: its data is discarded.
    too_long: bool,
    fields: usize,
    prev_end: usize,
    /// Byte range of the code field in `out_buf`.
    code: (usize, usize),
    /// Byte range of the expiry field in `out_buf` (empty if none).
    expiry: (usize, usize),
    /// End of the field data of the header's last column.
    header_end: usize,
}

/// The header as far as the rows need it.
#[derive(Debug, Clone)]
struct Header {
    columns: usize,
    code_index: usize,
    /// The `expires_at` column, if the file has one.
    expiry_index: Option<usize>,
    name: String,
}

/// Push parser for one CSV import; see the [module docs](self) for the rules.
///
/// Feed chunks with [`feed`](Self::feed), then call
/// [`finish`](Self::finish). Rows are appended to the caller's vector, which
/// the caller should drain after each call. After an error the parser stays
/// failed and returns the same error again.
pub struct ImportParser {
    options: ImportOptions,
    phase: Phase,
    failed: Option<ImportError>,
    /// The sniffed file start, then the header line until it is complete.
    buf: Vec<u8>,
    scan: HeaderScan,
    reader: Reader,
    /// Physical line of the next unconsumed byte.
    line: u64,
    /// The last consumed byte was CR, so a following LF ends no extra line.
    prev_cr: bool,
    /// Between records: line ends are skipped before the record starts.
    at_record_start: bool,
    rec: Record,
    /// Field data of the current record; [`MAX_ROW_BYTES`] + 1 bytes once in
    /// [`Phase::Body`].
    out_buf: Vec<u8>,
    ends: [usize; ENDS_LEN],
    /// All field ends of the header record, while it is parsed.
    header_ends: Vec<usize>,
    header: Option<Header>,
}

impl fmt::Debug for ImportParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportParser")
            .field("phase", &self.phase)
            .field("line", &self.line)
            .field("column", &self.column())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl ImportParser {
    /// A parser for one file.
    pub fn new(options: ImportOptions) -> Self {
        ImportParser {
            options,
            phase: Phase::Sniff,
            failed: None,
            buf: Vec::new(),
            scan: HeaderScan::new(),
            reader: Reader::new(),
            line: 1,
            prev_cr: false,
            at_record_start: true,
            rec: Record::default(),
            out_buf: Vec::new(),
            ends: [0; ENDS_LEN],
            header_ends: Vec::new(),
            header: None,
        }
    }

    /// Feeds the next chunk; parsed rows are appended to `out`.
    ///
    /// Chunks may split the input anywhere. Feeding after
    /// [`finish`](Self::finish) is ignored.
    ///
    /// # Errors
    ///
    /// An [`ImportError`] rejects the whole file; it comes before any row of
    /// the file was appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<ImportRow>) -> Result<(), ImportError> {
        self.check_failed()?;
        let result = self.push(chunk, out);
        self.remember(result)
    }

    /// Ends the input: flushes a last row without line end, or reports an
    /// error for a file that had no header row. Calling it again is a no-op.
    ///
    /// # Errors
    ///
    /// As for [`feed`](Self::feed); a file too short to have been checked
    /// during feeding is checked here, and a file without header row is
    /// [`ImportError::Empty`].
    pub fn finish(&mut self, out: &mut Vec<ImportRow>) -> Result<(), ImportError> {
        self.check_failed()?;
        let result = self.finish_inner(out);
        self.remember(result)
    }

    /// Name of the chosen code column (trimmed, as spelled in the header)
    /// once the header was read.
    ///
    /// Worth showing to the user: a file without header row loses its first
    /// code to being taken as the column name.
    pub fn column(&self) -> Option<&str> {
        self.header.as_ref().map(|h| h.name.as_str())
    }

    fn check_failed(&self) -> Result<(), ImportError> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn remember(&mut self, result: Result<(), ImportError>) -> Result<(), ImportError> {
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.phase = Phase::Done;
        }
        result
    }

    fn push(&mut self, mut input: &[u8], out: &mut Vec<ImportRow>) -> Result<(), ImportError> {
        while !input.is_empty() {
            match self.phase {
                Phase::Sniff => {
                    let take = (SNIFF_BYTES - self.buf.len()).min(input.len());
                    self.buf.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if self.buf.len() < SNIFF_BYTES {
                        return Ok(());
                    }
                    self.end_sniff(false, out)?;
                }
                Phase::Header => {
                    let used = self.scan_header(input)?;
                    input = &input[used..];
                    if self.scan.found {
                        self.start_body(out)?;
                    }
                }
                Phase::Body => return self.push_body(input, out),
                Phase::Done => return Ok(()),
            }
        }
        Ok(())
    }

    fn finish_inner(&mut self, out: &mut Vec<ImportRow>) -> Result<(), ImportError> {
        if self.phase == Phase::Sniff {
            self.end_sniff(true, out)?;
        }
        if self.phase == Phase::Header {
            if self.scan.blank {
                return Err(ImportError::Empty);
            }
            // The header is the last line and has no line end.
            self.start_body(out)?;
        }
        if self.phase == Phase::Body {
            self.finish_body(out)?;
            self.phase = Phase::Done;
            if self.header.is_none() {
                return Err(ImportError::Empty);
            }
        }
        Ok(())
    }

    /// Checks the buffered file start, then parses it.
    fn end_sniff(&mut self, finished: bool, out: &mut Vec<ImportRow>) -> Result<(), ImportError> {
        let start = std::mem::take(&mut self.buf);
        let text = start.strip_prefix(BOM).unwrap_or(&start);
        check_start(text, finished)?;
        self.phase = Phase::Header;
        self.push(text, out)
    }

    /// Scans header bytes into `buf` until the end of the first non-blank
    /// line (not consumed); returns how many bytes were used.
    fn scan_header(&mut self, input: &[u8]) -> Result<usize, ImportError> {
        for (i, &b) in input.iter().enumerate() {
            let s = &mut self.scan;
            let mut quoted = false;
            if s.in_quotes {
                if s.quote_in_quotes {
                    s.quote_in_quotes = false;
                    quoted = b == b'"';
                    s.in_quotes = quoted;
                } else {
                    s.quote_in_quotes = b == b'"';
                    quoted = true;
                }
            }
            if !quoted {
                match b {
                    b'\r' | b'\n' if s.blank => {
                        // Blank lines before the header are dropped here so
                        // they neither grow `buf` nor decide the delimiter.
                        self.line += count_line_ends(&self.buf, &mut self.prev_cr)
                            + count_line_ends(&[b], &mut self.prev_cr);
                        self.buf.clear();
                        self.scan = HeaderScan::new();
                        continue;
                    }
                    b'\r' | b'\n' => {
                        s.found = true;
                        return Ok(i);
                    }
                    b'\t' | b';' | b',' => {
                        s.counts[match b {
                            b'\t' => 0,
                            b';' => 1,
                            _ => 2,
                        }] += 1;
                        s.field_start = true;
                    }
                    b'"' if s.field_start => {
                        s.in_quotes = true;
                        s.blank = false;
                        s.field_start = false;
                    }
                    b' ' => s.field_start = false,
                    _ => {
                        s.blank = false;
                        s.field_start = false;
                    }
                }
            }
            if self.buf.len() >= MAX_ROW_BYTES {
                return Err(ImportError::HeaderTooLong);
            }
            self.buf.push(b);
        }
        Ok(input.len())
    }

    /// Sets up `csv_core` with the detected delimiter and parses the
    /// buffered header line.
    fn start_body(&mut self, out: &mut Vec<ImportRow>) -> Result<(), ImportError> {
        self.reader = ReaderBuilder::new()
            .delimiter(self.scan.delimiter())
            .build();
        self.out_buf = vec![0; MAX_ROW_BYTES + 1];
        self.phase = Phase::Body;
        let header = std::mem::take(&mut self.buf);
        self.push_body(&header, out)
    }

    fn push_body(&mut self, input: &[u8], out: &mut Vec<ImportRow>) -> Result<(), ImportError> {
        let mut pos = 0;
        while pos < input.len() {
            if self.at_record_start {
                // Skipping line ends here (csv_core would skip them too) makes
                // the record's first byte, and so its line, known.
                let rest = &input[pos..];
                let skip = rest
                    .iter()
                    .position(|&b| b != b'\r' && b != b'\n')
                    .unwrap_or(rest.len());
                self.line += count_line_ends(&rest[..skip], &mut self.prev_cr);
                pos += skip;
                if pos == input.len() {
                    break;
                }
                self.at_record_start = false;
                self.rec = Record {
                    start_line: self.line,
                    ..Record::default()
                };
                self.header_ends.clear();
            }
            let rest = &input[pos..];
            // Never hand csv_core more than the row limit allows, so a huge
            // row is noticed exactly at the limit whatever the chunk sizes.
            let take = if self.rec.too_long {
                rest.len()
            } else {
                rest.len().min(MAX_ROW_BYTES + 1 - self.rec.in_bytes)
            };
            let (result, used) = self.read(&rest[..take]);
            pos += used;
            if self.rec.too_long && self.header.is_none() {
                return Err(ImportError::HeaderTooLong);
            }
            if result == ReadRecordResult::Record {
                self.at_record_start = true;
                self.end_record(out)?;
            }
        }
        Ok(())
    }

    fn finish_body(&mut self, out: &mut Vec<ImportRow>) -> Result<(), ImportError> {
        loop {
            // Empty input tells csv_core the file ended.
            match self.read(&[]).0 {
                ReadRecordResult::Record => {
                    self.at_record_start = true;
                    self.end_record(out)?;
                }
                ReadRecordResult::End => return Ok(()),
                // Cannot happen at the end of input; do not loop on it.
                _ => return Ok(()),
            }
        }
    }

    /// One `csv_core` call; keeps line count, field positions and the row
    /// limit up to date.
    fn read(&mut self, input: &[u8]) -> (ReadRecordResult, usize) {
        let rec = &mut self.rec;
        let output = if rec.too_long {
            &mut self.out_buf[..]
        } else {
            &mut self.out_buf[rec.out_len..]
        };
        let (result, used, written, ends) = self.reader.read_record(input, output, &mut self.ends);
        self.line += count_line_ends(&input[..used], &mut self.prev_cr);
        rec.in_bytes += used;
        if rec.too_long {
            return (result, used);
        }
        rec.out_len += written;
        for &end in &self.ends[..ends] {
            match &self.header {
                None => self.header_ends.push(end),
                Some(h) => {
                    if rec.fields == h.code_index {
                        rec.code = (rec.prev_end, end);
                    }
                    if Some(rec.fields) == h.expiry_index {
                        rec.expiry = (rec.prev_end, end);
                    }
                    if rec.fields + 1 == h.columns {
                        rec.header_end = end;
                    }
                }
            }
            rec.prev_end = end;
            rec.fields += 1;
        }
        let over = rec.in_bytes > MAX_ROW_BYTES && result != ReadRecordResult::Record;
        if over || result == ReadRecordResult::OutputFull {
            rec.too_long = true;
            rec.out_len = 0;
        }
        (result, used)
    }

    fn end_record(&mut self, out: &mut Vec<ImportRow>) -> Result<(), ImportError> {
        let rec = &self.rec;
        let line = rec.start_line;
        let Some(header) = &self.header else {
            return self.end_header();
        };
        if rec.too_long {
            out.push(ImportRow::Invalid {
                line,
                reason: ROW_TOO_LONG.to_owned(),
            });
            return Ok(());
        }
        let data = &self.out_buf[..rec.out_len];
        if is_blank(data) {
            return Ok(());
        }
        if rec.fields <= header.code_index
            || (rec.fields > header.columns && !is_blank(&data[rec.header_end..]))
        {
            out.push(ImportRow::Invalid {
                line,
                reason: format!(
                    "row has {} field{}, the header has {}",
                    rec.fields,
                    if rec.fields == 1 { "" } else { "s" },
                    header.columns
                ),
            });
            return Ok(());
        }
        let expires_at = match std::str::from_utf8(&data[rec.expiry.0..rec.expiry.1]) {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => parse_expiry(text).map(Some).ok_or_else(|| {
                format!(
                    "{EXPIRY_COLUMN} {:?} is not a time: use RFC 3339 \
                     (2026-12-31T23:59:59Z) or a date (2026-12-31)",
                    text.trim()
                )
            }),
            Err(_) => Err("not valid UTF-8".to_owned()),
        };
        let row = match (
            std::str::from_utf8(&data[rec.code.0..rec.code.1]),
            expires_at,
        ) {
            (Err(_), _) => ImportRow::Invalid {
                line,
                reason: "not valid UTF-8".to_owned(),
            },
            (Ok(text), expires_at) => match (normalize_code(text), expires_at) {
                (Ok(code), Ok(expires_at)) => ImportRow::Code {
                    line,
                    code: code.to_owned(),
                    expires_at,
                },
                (Err(e), _) => ImportRow::Invalid {
                    line,
                    reason: e.to_string(),
                },
                (Ok(_), Err(reason)) => ImportRow::Invalid { line, reason },
            },
        };
        out.push(row);
        Ok(())
    }

    /// Reads the header record and chooses the code column.
    fn end_header(&mut self) -> Result<(), ImportError> {
        let rec = &self.rec;
        if rec.too_long {
            return Err(ImportError::HeaderTooLong);
        }
        let data = &self.out_buf[..rec.out_len];
        if is_blank(data) {
            return Ok(());
        }
        let mut columns = Vec::with_capacity(self.header_ends.len());
        let mut start = 0;
        for &end in &self.header_ends {
            // Each field on its own: a split could fall inside a character.
            let name =
                std::str::from_utf8(&data[start..end]).map_err(|_| ImportError::NotUtf8 {
                    line: rec.start_line,
                })?;
            columns.push(name.trim().to_owned());
            start = end;
        }
        let code_index = choose_column(&columns, self.options.column.as_deref())?;
        let expiry_index = expiry_column(&columns, code_index)?;
        self.header = Some(Header {
            columns: columns.len(),
            code_index,
            expiry_index,
            name: columns.swap_remove(code_index),
        });
        self.header_ends = Vec::new();
        Ok(())
    }
}

/// Index of the code column in the header (see the module docs).
fn choose_column(columns: &[String], wanted: Option<&str>) -> Result<usize, ImportError> {
    let wanted = wanted.map(str::trim).filter(|name| !name.is_empty());
    if wanted.is_none() && columns.len() == 1 {
        return Ok(0);
    }
    let name = wanted.unwrap_or("code");
    let lower = name.to_lowercase();
    let mut matches = columns
        .iter()
        .enumerate()
        .filter(|(_, column)| column.to_lowercase() == lower)
        .map(|(i, _)| i);
    match (matches.next(), matches.next()) {
        (Some(i), None) => Ok(i),
        (Some(_), Some(_)) => Err(ImportError::DuplicateColumn {
            name: name.to_owned(),
        }),
        (None, _) if wanted.is_some() => Err(ImportError::NoSuchColumn {
            name: name.to_owned(),
            found: columns.to_vec(),
        }),
        (None, _) => Err(ImportError::NoCodeColumn {
            found: columns.to_vec(),
        }),
    }
}

/// Index of the `expires_at` column, if any (not the code column).
fn expiry_column(columns: &[String], code_index: usize) -> Result<Option<usize>, ImportError> {
    let mut matches = columns
        .iter()
        .enumerate()
        .filter(|(i, column)| *i != code_index && column.eq_ignore_ascii_case(EXPIRY_COLUMN))
        .map(|(i, _)| i);
    match (matches.next(), matches.next()) {
        (_, Some(_)) => Err(ImportError::DuplicateColumn {
            name: EXPIRY_COLUMN.to_owned(),
        }),
        (found, None) => Ok(found),
    }
}

/// Rejects a file start (BOM removed) that is not UTF-8 text. `finished`
/// means it is the whole file, so a cut-off character at its end is invalid.
fn check_start(text: &[u8], finished: bool) -> Result<(), ImportError> {
    // UTF-16, as Excel's "Unicode text" writes it, would otherwise count as
    // binary for its NUL bytes; "save as UTF-8" is the helpful answer.
    if text.starts_with(b"\xFF\xFE") || text.starts_with(b"\xFE\xFF") {
        return Err(ImportError::NotUtf8 { line: 1 });
    }
    if text.contains(&0) {
        return Err(ImportError::Binary);
    }
    // A stray control character is a bad code; more than 8 of them, over 1
    // in 32 bytes, is a binary file.
    let controls = text
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C)) || b == 0x7F)
        .count();
    if controls > 8 && controls * 32 > text.len() {
        return Err(ImportError::Binary);
    }
    match std::str::from_utf8(text) {
        Ok(_) => Ok(()),
        Err(e) if e.error_len().is_none() && !finished => Ok(()),
        Err(e) => Err(ImportError::NotUtf8 {
            line: 1 + count_line_ends(&text[..e.valid_up_to()], &mut false),
        }),
    }
}

/// Line ends in `bytes` as an editor counts them: LF, CRLF and a lone CR
/// each end one line. `prev_cr` carries a CR across calls so a CRLF split
/// between two calls counts once.
fn count_line_ends(bytes: &[u8], prev_cr: &mut bool) -> u64 {
    let mut count = 0;
    let mut cr = *prev_cr;
    for &b in bytes {
        count += u64::from(b == b'\r' || (b == b'\n' && !cr));
        cr = b == b'\r';
    }
    *prev_cr = cr;
    count
}

/// Field data that is empty or ASCII whitespace only: a blank row.
fn is_blank(data: &[u8]) -> bool {
    data.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunked(
        input: &[u8],
        column: Option<&str>,
        chunk: usize,
    ) -> Result<Vec<ImportRow>, ImportError> {
        let mut parser = ImportParser::new(ImportOptions {
            column: column.map(str::to_owned),
        });
        let mut rows = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            parser.feed(piece, &mut rows)?;
        }
        parser.finish(&mut rows)?;
        Ok(rows)
    }

    /// Parses in one piece and byte by byte, which must agree.
    fn parse(input: &[u8]) -> Result<Vec<ImportRow>, ImportError> {
        let whole = parse_chunked(input, None, input.len());
        assert_eq!(
            whole,
            parse_chunked(input, None, 1),
            "byte-wise parse differs"
        );
        whole
    }

    fn code(line: u64, code: &str) -> ImportRow {
        ImportRow::Code {
            line,
            code: code.to_owned(),
            expires_at: None,
        }
    }

    #[test]
    fn an_expires_at_column_gives_codes_their_expiry() {
        let text = "code;expires_at;note\nA-1;2026-12-31;x\nA-2;;y\nA-3;31.12.2026;z\n\
                    A-4;2026-12-31T10:00:00Z\n";
        let mut parser = ImportParser::new(ImportOptions::default());
        let mut rows = Vec::new();
        parser.feed(text.as_bytes(), &mut rows).unwrap();
        parser.finish(&mut rows).unwrap();
        let day_end = crate::time::parse_rfc3339("2027-01-01T00:00:00Z");
        assert_eq!(
            rows,
            [
                ImportRow::Code {
                    line: 2,
                    code: "A-1".into(),
                    expires_at: day_end
                },
                code(3, "A-2"),
                invalid(
                    4,
                    "expires_at \"31.12.2026\" is not a time: use RFC 3339 \
                     (2026-12-31T23:59:59Z) or a date (2026-12-31)"
                ),
                ImportRow::Code {
                    line: 5,
                    code: "A-4".into(),
                    expires_at: crate::time::parse_rfc3339("2026-12-31T10:00:00Z")
                },
            ]
        );
        let mut twice = ImportParser::new(ImportOptions::default());
        let mut rows = Vec::new();
        twice
            .feed(b"code,expires_at,EXPIRES_AT\nA,,\n", &mut rows)
            .unwrap();
        let err = twice.finish(&mut rows).unwrap_err();
        assert!(matches!(err, ImportError::DuplicateColumn { .. }));
    }

    fn invalid(line: u64, reason: &str) -> ImportRow {
        ImportRow::Invalid {
            line,
            reason: reason.to_owned(),
        }
    }

    #[test]
    fn delimiter_detection() {
        let delimiter = |header: &[u8]| {
            let mut parser = ImportParser::new(ImportOptions::default());
            parser.phase = Phase::Header;
            parser.scan_header(header).unwrap();
            parser.scan.delimiter()
        };
        assert_eq!(delimiter(b"code\n"), b',');
        assert_eq!(delimiter(b"a,b;c;d\n"), b';');
        assert_eq!(delimiter(b"a,b,c;d\n"), b',');
        assert_eq!(delimiter(b"a,b;c\n"), b';');
        assert_eq!(delimiter(b"a\tb;c,d\n"), b'\t');
        assert_eq!(delimiter(b"\"a;b;c\",code\n"), b',');
        assert_eq!(delimiter(b"\"x\"\"y;z\",code\n"), b',');
        assert_eq!(delimiter(b"\n ;;\r\nsku;code\n"), b';');
    }

    #[test]
    fn header_and_rows() {
        let rows = parse(b"sku;Code;value\nA;X-1;3\nB;X-2\n").unwrap();
        assert_eq!(rows, vec![code(2, "X-1"), code(3, "X-2")]);
    }

    #[test]
    fn column_name_is_reported() {
        let mut parser = ImportParser::new(ImportOptions::default());
        let mut rows = Vec::new();
        assert_eq!(parser.column(), None);
        parser.feed(b"sku, CODE \nA,B\n", &mut rows).unwrap();
        assert_eq!(
            parser.column(),
            None,
            "nothing parsed before 8 KiB or finish"
        );
        parser.finish(&mut rows).unwrap();
        assert_eq!(parser.column(), Some("CODE"));
        assert_eq!(rows, vec![code(2, "B")]);
    }

    #[test]
    fn line_numbers_count_editor_lines() {
        let rows = parse(b"code\r\n\r\nA\r\"B\nB\"\r\n\n\rC\n\"\"\nD").unwrap();
        assert_eq!(
            rows,
            vec![
                code(3, "A"),
                invalid(
                    4,
                    "code contains U+000A at position 2: a control or invisible character \
                     that shoppers cannot see or type"
                ),
                code(8, "C"),
                code(10, "D")
            ]
        );
    }

    #[test]
    fn bom_split_anywhere() {
        for chunk in 1..5 {
            let rows = parse_chunked(b"\xEF\xBB\xBFcode\nA\n", None, chunk).unwrap();
            assert_eq!(rows, vec![code(2, "A")]);
        }
    }

    #[test]
    fn fields_count() {
        let rows = parse(b"a;code;b\nx\nx;;\nx;C1\nx;C2;y;;\nx;C3;y;z\n;;;\n").unwrap();
        assert_eq!(
            rows,
            vec![
                invalid(2, "row has 1 field, the header has 3"),
                invalid(3, "code is empty"),
                code(4, "C1"),
                code(5, "C2"),
                invalid(6, "row has 4 fields, the header has 3"),
            ]
        );
    }

    #[test]
    fn options_column() {
        let input = b"sku,Voucher,code\n1,V,C\n";
        assert_eq!(
            parse_chunked(input, Some(" voucher "), 3),
            Ok(vec![code(2, "V")])
        );
        assert_eq!(parse_chunked(input, Some(""), 3), Ok(vec![code(2, "C")]));
        assert_eq!(
            parse_chunked(input, Some("nope"), 3),
            Err(ImportError::NoSuchColumn {
                name: "nope".into(),
                found: vec!["sku".into(), "Voucher".into(), "code".into()]
            })
        );
        assert_eq!(
            parse_chunked(b"v,V\n1,2\n", Some("V"), 3),
            Err(ImportError::DuplicateColumn { name: "V".into() })
        );
    }

    #[test]
    fn file_errors() {
        assert_eq!(parse(b""), Err(ImportError::Empty));
        assert_eq!(
            parse(b"\xEF\xBB\xBF \r\n\t\n;,\n  "),
            Err(ImportError::Empty)
        );
        assert_eq!(parse(b"\"\"\n"), Err(ImportError::Empty));
        assert_eq!(parse(b"code\nA\0\n"), Err(ImportError::Binary));
        assert_eq!(
            parse(b"\xFF\xFEc\0o\0"),
            Err(ImportError::NotUtf8 { line: 1 })
        );
        assert_eq!(
            parse(b"code\nA\n\xE9\n"),
            Err(ImportError::NotUtf8 { line: 3 })
        );
        // A character cut off by the end of the file is invalid too.
        assert_eq!(
            parse(b"code\nA\n\xC3"),
            Err(ImportError::NotUtf8 { line: 3 })
        );
        assert_eq!(
            parse(b"a,b\n1,2\n"),
            Err(ImportError::NoCodeColumn {
                found: vec!["a".into(), "b".into()]
            })
        );
        assert_eq!(
            parse(b"code;CODE\n"),
            Err(ImportError::DuplicateColumn {
                name: "code".into()
            })
        );
    }

    #[test]
    fn control_bytes_make_binary() {
        // One control byte is a bad code, many are a binary file.
        assert_eq!(
            parse(b"code\nA\x01B\n"),
            Ok(vec![invalid(
                2,
                "code contains U+0001 at position 2: a control or invisible character that \
                 shoppers cannot see or type"
            )])
        );
        let mut input = b"code\n".to_vec();
        input.extend([1, 2, 3, 4, 5, 6, 7, 8, 14]);
        assert_eq!(parse(&input), Err(ImportError::Binary));
        input.truncate(input.len() - 1);
        assert_eq!(
            parse(&input),
            Ok(vec![invalid(
                2,
                "code contains U+0001 at position 1: a control or invisible character that \
                 shoppers cannot see or type"
            )])
        );
    }

    #[test]
    fn header_after_sniffed_part() {
        // The header can start after the first 8 KiB; it is checked itself.
        let mut input = b"\n".repeat(SNIFF_BYTES + 10);
        input.extend_from_slice(b"co\xE9de\nA\n");
        assert_eq!(
            parse(&input),
            Err(ImportError::NotUtf8 {
                line: SNIFF_BYTES as u64 + 11
            })
        );
        let mut input = b" \n".repeat(SNIFF_BYTES);
        input.extend_from_slice(b"code\nA\n");
        let line = SNIFF_BYTES as u64 + 2;
        assert_eq!(parse(&input), Ok(vec![code(line, "A")]));
    }

    #[test]
    fn header_too_long() {
        let mut input = b"code,".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_ROW_BYTES));
        input.extend_from_slice(b"\nA\n");
        assert_eq!(parse(&input), Err(ImportError::HeaderTooLong));
        // Exactly at the limit is fine.
        let mut input = b"code,".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_ROW_BYTES - 5));
        input.extend_from_slice(b"\nA,\n");
        assert_eq!(parse(&input), Ok(vec![code(2, "A")]));
    }

    #[test]
    fn row_limit_is_exact() {
        let header = b"code,rest\n";
        for terminator in [&b"\n"[..], b"\r\n", b"\r", b""] {
            let mut input = header.to_vec();
            let mut row = vec![b'x'; MAX_ROW_BYTES];
            row[..2].copy_from_slice(b"A,");
            input.extend_from_slice(&row);
            input.extend_from_slice(terminator);
            assert_eq!(parse(&input), Ok(vec![code(2, "A")]), "{terminator:?}");
            input.truncate(header.len());
            input.extend_from_slice(&row);
            input.push(b'x');
            input.extend_from_slice(terminator);
            assert_eq!(
                parse(&input),
                Ok(vec![invalid(2, ROW_TOO_LONG)]),
                "{terminator:?}"
            );
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let mut parser = ImportParser::new(ImportOptions::default());
        let mut rows = Vec::new();
        // Many blank lines before the header are not kept.
        for _ in 0..100 {
            parser.feed(&b" \n".repeat(10_000), &mut rows).unwrap();
        }
        parser.feed(b"code\nA\n\"", &mut rows).unwrap();
        // A 20 MB quoted field spanning lines is skipped, not buffered.
        let huge = b"xxxxxxxxxxxxxxx\n".repeat(64 * 1024);
        for _ in 0..20 {
            parser.feed(&huge, &mut rows).unwrap();
            assert!(parser.out_buf.capacity() <= MAX_ROW_BYTES + 1);
            assert!(parser.buf.capacity() <= SNIFF_BYTES);
            assert!(parser.header_ends.capacity() == 0);
        }
        parser.feed(b"\"\nB\n", &mut rows).unwrap();
        parser.finish(&mut rows).unwrap();
        let first = 1_000_000 + 1;
        assert_eq!(
            rows,
            vec![
                code(first + 1, "A"),
                invalid(first + 2, ROW_TOO_LONG),
                code(first + 2 + 20 * 64 * 1024 + 1, "B"),
            ]
        );
    }

    #[test]
    fn error_is_sticky_and_finish_idempotent() {
        let mut parser = ImportParser::new(ImportOptions::default());
        let mut rows = Vec::new();
        assert_eq!(parser.finish(&mut rows), Err(ImportError::Empty));
        assert_eq!(
            parser.feed(b"code\nA\n", &mut rows),
            Err(ImportError::Empty)
        );
        let mut parser = ImportParser::new(ImportOptions::default());
        parser.feed(b"code\nA", &mut rows).unwrap();
        parser.finish(&mut rows).unwrap();
        parser.finish(&mut rows).unwrap();
        parser.feed(b"\nB\n", &mut rows).unwrap();
        assert_eq!(rows, vec![code(2, "A")]);
    }

    #[test]
    fn error_codes_and_messages() {
        let found = vec!["sku".to_owned(), "value".to_owned()];
        let e = ImportError::NoCodeColumn { found };
        assert_eq!(e.kind().code(), "csv_no_code_column");
        assert_eq!(
            e.to_string(),
            "the CSV file has several columns (sku, value) and none is named `code`: \
             name the code column `code` or pass ?column=NAME"
        );
        let many: Vec<String> = (1..=12)
            .map(|i| format!("c{i}"))
            .chain([String::new()])
            .collect();
        let e = ImportError::NoSuchColumn {
            name: "x".into(),
            found: many,
        };
        assert!(e
            .to_string()
            .contains("(its columns: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10 and 3 more)"));
        assert_eq!(
            ColumnList(&["a".into(), String::new()]).to_string(),
            "a, (unnamed)"
        );
    }

    #[test]
    fn line_end_counting() {
        let mut cr = false;
        assert_eq!(count_line_ends(b"a\r", &mut cr), 1);
        assert!(cr);
        assert_eq!(count_line_ends(b"\nb\n\r\r", &mut cr), 3);
        assert_eq!(count_line_ends(b"", &mut cr), 0);
        assert!(cr);
    }
}
