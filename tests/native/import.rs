//! File-driven tests of the CSV import parser.
//!
//! Every `tests/import/NAME.csv` is parsed and compared with
//! `tests/import/NAME.expected`; an optional `NAME.options` holds the
//! `?column=` value. Each file is parsed in one chunk and in chunks of
//! several small sizes, which must all agree, because a streamed body can be
//! split anywhere. `UPDATE_EXPECTED=1 cargo test -p codepool --test native
//! import::` rewrites the expected files; check the diff by eye before
//! committing.
//!
//! Expected format: `column: NAME` once the header was read, then one line
//! per row (`LINE code CODE` or `LINE invalid REASON`), then a line for each
//! code that several rows spell (`same code KEY: lines L1, L2, …`: one code
//! by its key, `codepool::pool::code_key`, e.g. `CODE-1` and `code-1`; the
//! store imports the first and counts the others as duplicates), or
//! `error ERROR_CODE: MESSAGE` for a rejected file.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use codepool::import::{ImportOptions, ImportParser, ImportRow};
use codepool::pool::code_key;

use crate::common::{assert_no_orphans, updating_expected};

/// Chunk sizes every input is also parsed with.
const CHUNK_SIZES: [usize; 5] = [1, 2, 3, 7, 64];

/// Parses `input` in chunks of `chunk` bytes and renders the outcome.
fn render(input: &[u8], options: &ImportOptions, chunk: usize) -> String {
    let mut parser = ImportParser::new(options.clone());
    let mut rows = Vec::new();
    let mut text = String::new();
    let mut result = Ok(());
    for piece in input.chunks(chunk.max(1)) {
        result = parser.feed(piece, &mut rows);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = parser.finish(&mut rows);
    }
    if let Some(column) = parser.column() {
        writeln!(text, "column: {column}").unwrap();
    }
    let mut lines_by_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for row in &rows {
        match row {
            ImportRow::Code { line, code, .. } => {
                lines_by_key.entry(code_key(code)).or_default().push(*line);
                writeln!(text, "{line} code {code}")
            }
            ImportRow::Invalid { line, reason } => writeln!(text, "{line} invalid {reason}"),
        }
        .unwrap();
    }
    for (key, lines) in lines_by_key.iter().filter(|(_, lines)| lines.len() > 1) {
        let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
        writeln!(text, "same code {key}: lines {}", lines.join(", ")).unwrap();
    }
    if let Err(e) = result {
        // A rejected file must not have produced rows: they may be stored.
        assert!(rows.is_empty(), "rows before error {e:?}");
        writeln!(text, "error {}: {e}", e.kind()).unwrap();
    }
    text
}

/// The rendering, checked to be the same for every chunk size.
fn render_all_chunkings(input: &[u8], options: &ImportOptions, name: &str) -> String {
    let whole = render(input, options, input.len());
    for chunk in CHUNK_SIZES {
        let chunked = render(input, options, chunk);
        assert_eq!(
            whole, chunked,
            "{name}: chunks of {chunk} bytes differ from one chunk"
        );
    }
    whole
}

/// The folder of cases.
fn import_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import")
}

#[test]
fn import_files() {
    let update = updating_expected();
    let mut inputs: Vec<PathBuf> = fs::read_dir(import_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 20, "test inputs missing: {inputs:?}");

    let mut failures = Vec::new();
    for input_path in &inputs {
        let name = input_path.file_name().unwrap().to_string_lossy();
        let input = fs::read(input_path).unwrap();
        let column = fs::read_to_string(input_path.with_extension("options"))
            .ok()
            .map(|text| text.trim_end_matches(['\r', '\n']).to_owned());
        let options = ImportOptions { column };
        let actual = render_all_chunkings(&input, &options, &name);
        let expected_path = input_path.with_extension("expected");
        if update {
            fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        match fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{name}:\n--- expected\n{expected}--- actual\n{actual}"
            )),
            Err(e) => failures.push(format!("{name}: {}: {e}", expected_path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ (UPDATE_EXPECTED=1 rewrites them):\n\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn no_orphan_expected_files() {
    assert_no_orphans(&import_dir(), "csv", &["expected", "options"]);
}

/// A row longer than 64 KiB is reported and skipped without being buffered;
/// generated rather than committed as a big file.
#[test]
fn huge_line() {
    let mut input = b"code,comment\nBEFORE-1,x\n".to_vec();
    // An unquoted 100 KB line, then a quoted field over 3 lines and 70 KB.
    input.extend(std::iter::repeat_n(b'H', 100_000));
    input.extend_from_slice(b"\nBETWEEN-3,x\n\"");
    for _ in 0..3 {
        input.extend(std::iter::repeat_n(b'Q', 23_000));
        input.push(b'\n');
    }
    input.extend_from_slice(b"\",x\r\nAFTER-9\r\n");
    let expected = "column: code\n\
                    2 code BEFORE-1\n\
                    3 invalid row is longer than 64 KiB\n\
                    4 code BETWEEN-3\n\
                    5 invalid row is longer than 64 KiB\n\
                    9 code AFTER-9\n";
    assert_eq!(
        render_all_chunkings(&input, &ImportOptions::default(), "huge_line"),
        expected
    );
}

/// Invalid UTF-8 after the first 8 KiB cannot reject the file any more (rows
/// before it may be stored): only its row is invalid.
#[test]
fn invalid_utf8_late() {
    let mut input = b"code\n".to_vec();
    let mut expected = String::from("column: code\n");
    for i in 0..1000 {
        input.extend_from_slice(format!("LATE-{i:04}\n").as_bytes());
        writeln!(expected, "{} code LATE-{i:04}", i + 2).unwrap();
    }
    assert!(input.len() > 8 * 1024);
    input.extend_from_slice(b"K\xE4SE-1\nAFTER\n");
    expected.push_str("1002 invalid not valid UTF-8\n1003 code AFTER\n");
    assert_eq!(
        render_all_chunkings(&input, &ImportOptions::default(), "invalid_utf8_late"),
        expected
    );
}

/// The same bad byte inside the first 8 KiB rejects the whole file.
#[test]
fn invalid_utf8_early() {
    let input = b"code\nLATE-0000\nK\xE4SE-1\nAFTER\n";
    let text = render_all_chunkings(input, &ImportOptions::default(), "invalid_utf8_early");
    assert!(text.starts_with("error csv_not_utf8: "), "{text}");
    assert!(text.contains("line 3"), "{text}");
}

/// A header line over 64 KiB is rejected, whatever the chunking.
#[test]
fn header_too_long() {
    let mut input = b"code;".to_vec();
    input.extend(std::iter::repeat_n(b'h', 70_000));
    input.extend_from_slice(b"\nA;b\n");
    let text = render_all_chunkings(&input, &ImportOptions::default(), "header_too_long");
    assert!(text.starts_with("error csv_header_too_long: "), "{text}");
}
