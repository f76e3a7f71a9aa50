//! The JSON import, `{"codes": [...]}`, for codes sent by a program. An
//! entry is a code, or `{"code": "...", "expires_at": "..."}` for a code
//! with its own expiry (as the CSV column, [`crate::time::parse_expiry`]).
//!
//! The body is read whole (so that a body that is not valid JSON changes
//! nothing), then parsed entry by entry: each entry is checked as it is
//! read, a valid code is kept packed in one buffer and anything else only
//! counted in the report. Nothing else of the body is kept, so the memory an
//! import takes is the body and its codes, whatever the entries are (a
//! `Vec<serde_json::Value>` of the body took 441 MB for 16 MiB of zeros).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::Result;
use crate::import::batches::{sort_window, ImportCode, IMPORT_WINDOW};
use crate::import::report::ImportReport;
use crate::pool::normalize_code;
use crate::time::parse_expiry;

/// A parsed JSON import: its valid codes, in the body's order, and the report
/// of its invalid entries (by 1-based position).
#[derive(Debug, Default)]
pub struct JsonImport {
    codes: PackedCodes,
    report: ImportReport,
}

impl JsonImport {
    /// Parses a body, checking each entry as it is read; a body that is not
    /// `{"codes": [...]}` is `invalid_json`.
    pub fn parse(body: &[u8]) -> Result<JsonImport> {
        let Body { codes } = serde_json::from_slice(body)?;
        Ok(codes)
    }

    /// How many valid codes the body holds.
    pub fn len(&self) -> usize {
        self.codes.len
    }

    /// Whether the body holds no valid code.
    pub fn is_empty(&self) -> bool {
        self.codes.len == 0
    }

    /// The valid codes in windows of [`IMPORT_WINDOW`], each sorted for the
    /// store, and the report of the invalid entries. Only the window being
    /// stored is unpacked.
    pub fn into_windows(self) -> (Windows, ImportReport) {
        (
            Windows {
                codes: self.codes,
                next: 0,
            },
            self.report,
        )
    }
}

/// The valid codes of a JSON import, one sorted window at a time.
#[derive(Debug)]
pub struct Windows {
    codes: PackedCodes,
    /// Where the next window starts in the packed text.
    next: usize,
}

impl Iterator for Windows {
    type Item = Vec<ImportCode>;

    fn next(&mut self) -> Option<Vec<ImportCode>> {
        let rest = &self.codes.text[self.next..];
        if rest.is_empty() {
            return None;
        }
        let mut window = Vec::with_capacity(IMPORT_WINDOW.min(self.codes.len));
        for entry in rest.split_terminator(PackedCodes::END).take(IMPORT_WINDOW) {
            self.next += entry.len() + PackedCodes::END.len_utf8();
            let (code, expires_at) = match entry.split_once(PackedCodes::EXPIRY) {
                Some((code, ms)) => (code, ms.parse().ok()),
                None => (entry, None),
            };
            window.push(ImportCode {
                code: code.to_owned(),
                expires_at,
            });
        }
        sort_window(&mut window);
        Some(window)
    }
}

/// Codes packed in one string, each ended by a newline (which no valid code
/// holds): a code is a few bytes, where a `String` of its own would add a
/// pointer, two lengths and an allocation. The text is never longer than
/// the body it came from (a code is at most its JSON string, and its
/// newline takes the place of the quotes).
#[derive(Debug, Default)]
struct PackedCodes {
    text: String,
    len: usize,
}

impl PackedCodes {
    /// Ends each code: a control character, never part of a valid code.
    const END: char = '\n';
    /// Comes between a code and its expiry (Unix ms), if it has one:
    /// another control character.
    const EXPIRY: char = '\t';

    fn push(&mut self, code: &str, expires_at: Option<i64>) {
        debug_assert!(!code.contains(Self::END) && !code.contains(Self::EXPIRY));
        self.text.push_str(code);
        if let Some(ms) = expires_at {
            self.text.push(Self::EXPIRY);
            self.text.push_str(&ms.to_string());
        }
        self.text.push(Self::END);
        self.len += 1;
    }
}

/// The body's shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    codes: JsonImport,
}

impl<'de> Deserialize<'de> for JsonImport {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_seq(CodesVisitor)
    }
}

/// Reads the `codes` array entry by entry.
struct CodesVisitor;

impl<'de> Visitor<'de> for CodesVisitor {
    type Value = JsonImport;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of codes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<JsonImport, A::Error> {
        let mut import = JsonImport::default();
        let mut position = 0u64;
        while let Some(entry) = seq.next_element::<Entry<'de>>()? {
            position += 1;
            match entry {
                Entry::Text(text) => match normalize_code(&text) {
                    Ok(code) => import.codes.push(code, None),
                    Err(invalid) => import.report.add_invalid(position, invalid.to_string()),
                },
                Entry::Expiring { code, expires_at } => {
                    let expiry = match expires_at.as_deref().map(parse_expiry) {
                        None => Ok(None),
                        Some(Some(ms)) => Ok(Some(ms)),
                        Some(None) => Err(
                            "expires_at is not a time: use RFC 3339 (2026-12-31T23:59:59Z) \
                             or a date (2026-12-31)"
                                .to_owned(),
                        ),
                    };
                    match (normalize_code(&code), expiry) {
                        (Ok(code), Ok(expiry)) => import.codes.push(code, expiry),
                        (Err(invalid), _) => {
                            import.report.add_invalid(position, invalid.to_string())
                        }
                        (Ok(_), Err(reason)) => import.report.add_invalid(position, reason),
                    }
                }
                Entry::Other => import.report.add_invalid(
                    position,
                    "not a code: a string, or {\"code\": \"...\", \"expires_at\": \"...\"}",
                ),
            }
        }
        Ok(import)
    }
}

/// One entry of the array: a string (borrowed from the body unless it has
/// escapes), or any other value, which is read past and not kept.
enum Entry<'de> {
    Text(Cow<'de, str>),
    /// `{"code": "...", "expires_at": "..."}` (`expires_at` null or absent:
    /// none).
    Expiring {
        code: Cow<'de, str>,
        expires_at: Option<Cow<'de, str>>,
    },
    Other,
}

impl<'de> Deserialize<'de> for Entry<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor)
    }
}

/// Keeps strings, reads past everything else.
struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a code")
    }

    fn visit_borrowed_str<E: de::Error>(
        self,
        text: &'de str,
    ) -> std::result::Result<Entry<'de>, E> {
        Ok(Entry::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<Entry<'de>, E> {
        Ok(Entry::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Entry<'de>, E> {
        Ok(Entry::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Entry<'de>, E> {
        Ok(Entry::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Entry<'de>, E> {
        Ok(Entry::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Entry<'de>, E> {
        Ok(Entry::Other)
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Entry<'de>, E> {
        Ok(Entry::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Entry<'de>, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| Entry::Other)
    }

    /// `{"code", "expires_at"}`; any other key, or a value that is not a
    /// string, makes the entry [`Entry::Other`] (the rest read past).
    fn visit_map<A: de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Entry<'de>, A::Error> {
        let (mut code, mut expires_at, mut other) = (None, None, false);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match (key.as_ref(), other) {
                ("code", false) => match map.next_value::<Entry<'de>>()? {
                    Entry::Text(text) if code.is_none() => code = Some(text),
                    _ => other = true,
                },
                ("expires_at", false) => match map.next_value::<Option<Entry<'de>>>()? {
                    Some(Entry::Text(text)) if expires_at.is_none() => expires_at = Some(text),
                    None => {}
                    _ => other = true,
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    other = true;
                }
            }
        }
        Ok(match (code, other) {
            (Some(code), false) => Entry::Expiring { code, expires_at },
            _ => Entry::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> JsonImport {
        JsonImport::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn sorts_out_what_is_no_code() {
        let import = parse(
            r#"{"codes": [" A-1 ", 7, "", "B\u0000", "C", [1, [2]], {"a": "D"}, null, "\u0045"]}"#,
        );
        let (windows, report) = import.into_windows();
        assert_eq!(codes(windows), [["A-1", "C", "E"]]);
        let lines: Vec<u64> = report.invalid_samples.iter().map(|s| s.line).collect();
        assert_eq!(lines, [2, 3, 4, 6, 7, 8]);
        assert_eq!(report.invalid, 6);
        assert!(report.invalid_samples[0].reason.starts_with("not a code"));
    }

    fn codes(windows: Windows) -> Vec<Vec<String>> {
        windows
            .map(|w| w.into_iter().map(|c| c.code).collect())
            .collect()
    }

    #[test]
    fn an_entry_may_carry_its_expiry() {
        let import = parse(
            r#"{"codes": [{"code": "B", "expires_at": "2026-12-31"}, {"code": "A"},
                {"code": "C", "expires_at": null}, {"code": "D", "expires_at": "soon"},
                {"code": "E", "note": 1}, {"code": 5}]}"#,
        );
        let (mut windows, report) = import.into_windows();
        let window = windows.next().unwrap();
        let end_of_day = crate::time::parse_rfc3339("2027-01-01T00:00:00Z");
        let got: Vec<(&str, Option<i64>)> = window
            .iter()
            .map(|c| (c.code.as_str(), c.expires_at))
            .collect();
        assert_eq!(got, [("A", None), ("B", end_of_day), ("C", None)]);
        let lines: Vec<u64> = report.invalid_samples.iter().map(|s| s.line).collect();
        assert_eq!(lines, [4, 5, 6]);
        assert!(report.invalid_samples[0]
            .reason
            .starts_with("expires_at is not a time"));
    }

    #[test]
    fn windows_are_sorted_and_keep_every_code_once() {
        let list: Vec<String> = (0..IMPORT_WINDOW + 5)
            .rev()
            .map(|i| format!("C{i}"))
            .collect();
        let body = serde_json::json!({ "codes": list }).to_string();
        let import = parse(&body);
        assert_eq!(import.len(), IMPORT_WINDOW + 5);
        let (windows, report) = import.into_windows();
        let windows: Vec<Vec<String>> = codes(windows);
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[1], ["C0", "C1", "C2", "C3", "C4"]);
        assert!(windows[0].is_sorted());
        assert_eq!(report.invalid, 0);
    }

    #[test]
    fn a_body_of_another_shape_is_invalid_json() {
        for body in [
            r#"{"codes": "A"}"#,
            r#"{"codes": ["A"], "pool": "p"}"#,
            r#"{"codes": ["A"]"#,
            r#"["A"]"#,
            r#"{}"#,
            r#"{"codes": ["A"], "codes": ["B"]}"#,
        ] {
            let err = JsonImport::parse(body.as_bytes()).unwrap_err();
            assert_eq!(err.code(), "invalid_json", "{body}");
        }
    }

    #[test]
    fn err_an_entry_object_nested_deep_is_refused_whole_without_overflow() {
        // Each level is read as an entry: serde_json's depth limit refuses
        // the body (nothing stored) long before the Worker's stack ends.
        let deep = format!(
            r#"{{"codes": ["A", {}"B"{}]}}"#,
            r#"{"code": "X", "expires_at": "#.repeat(50_000),
            "}".repeat(50_000)
        );
        let err = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || JsonImport::parse(deep.as_bytes()).unwrap_err())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(err.code(), "invalid_json");
    }

    #[test]
    fn a_deeply_nested_entry_is_one_invalid_entry() {
        // Read past without recursion, on the Worker's 1 MiB stack.
        let deep = format!(
            r#"{{"codes": [{}{}, "A"]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let import = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || parse(&deep))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(import.len(), 1);
        assert_eq!(import.report.invalid, 1);
    }
}
