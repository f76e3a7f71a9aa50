//! The CSV import parser on any bytes, split into chunks anywhere.
//!
//! Input: two bytes of configuration (the column option, the chunk sizes),
//! then the file. Checks that the parser never panics, that a file it
//! refuses is refused before any row comes out, that rows come with
//! strictly increasing line numbers within the file and hold valid codes,
//! and that the result does not depend on how the body was cut.
#![no_main]

use codepool::import::{ImportError, ImportOptions, ImportParser, ImportRow};
use codepool::pool::normalize_code;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [column, chunking, file @ ..] = data else {
        return;
    };
    let options = ImportOptions {
        column: match column % 4 {
            0 => None,
            1 => Some("code".into()),
            2 => Some(" Voucher ".into()),
            _ => Some(String::new()),
        },
    };
    let whole = parse(&options, &[file]);
    let chunks = split(file, *chunking);
    let chunked = parse(&options, &chunks);
    assert_eq!(
        whole, chunked,
        "the result depends on where the body was cut"
    );
    // Byte by byte: the worst case for every buffer boundary.
    if file.len() <= 512 {
        let bytes: Vec<&[u8]> = file.chunks(1).collect();
        assert_eq!(whole, parse(&options, &bytes), "byte by byte differs");
    }

    let (rows, ..) = whole;
    let lines = physical_lines(file);
    let mut last = 1;
    for row in &rows {
        // The header is on line 1 or later, so a row is on line 2 or later.
        assert!(row.line() > last, "line {} after line {last}", row.line());
        assert!(row.line() <= lines, "line {} of {lines}", row.line());
        last = row.line();
        if let ImportRow::Code { code, .. } = row {
            assert_eq!(
                normalize_code(code),
                Ok(code.as_str()),
                "an invalid code passed"
            );
        }
    }
});

/// Rows, the error that refused the file, and the chosen column.
type Parsed = (Vec<ImportRow>, Option<ImportError>, Option<String>);

fn parse(options: &ImportOptions, chunks: &[&[u8]]) -> Parsed {
    let mut parser = ImportParser::new(options.clone());
    let mut rows = Vec::new();
    let mut out = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(err) = parser.feed(chunk, &mut out) {
            error = Some(err);
            break;
        }
        rows.append(&mut out);
    }
    if error.is_none() {
        error = parser.finish(&mut out).err();
        rows.append(&mut out);
    }
    match &error {
        Some(err) => {
            // Refused whole: nothing came out, and the parser stays failed.
            assert!(rows.is_empty() && out.is_empty(), "rows before {err:?}");
            assert_eq!(
                parser.feed(b"code\nX\n", &mut out).err().as_ref(),
                Some(err)
            );
            assert_eq!(parser.finish(&mut out).err().as_ref(), Some(err));
            assert!(out.is_empty());
        }
        None => {
            // Finishing again adds nothing.
            assert_eq!(parser.finish(&mut out), Ok(()));
            assert!(out.is_empty(), "a second finish added rows");
        }
    }
    (rows, error, parser.column().map(str::to_owned))
}

/// Cuts the file into chunks of 1 to 97 bytes, from a small generator.
fn split(file: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut chunks = Vec::new();
    let mut rest = file;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (1 + state as usize % 97).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// Physical lines as an editor counts them: CRLF, LF and CR end a line.
fn physical_lines(file: &[u8]) -> u64 {
    let ends = file
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && file.get(i + 1) != Some(&b'\n')))
        .count();
    ends as u64 + 1
}
