//! The JSON import, `{"codes": [...]}`, for a few codes sent by a program.

use serde::Deserialize;

use crate::import::report::ImportReport;
use crate::pool::normalize_code;

/// The body of a JSON import.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonImport {
    /// The codes; an entry that is not a valid code is reported, not stored.
    pub codes: Vec<serde_json::Value>,
}

impl JsonImport {
    /// The valid codes, trimmed, in the body's order; every invalid entry is
    /// added to `report` by its 1-based position.
    pub fn valid_codes(self, report: &mut ImportReport) -> Vec<String> {
        let mut valid = Vec::with_capacity(self.codes.len());
        for (i, code) in self.codes.iter().enumerate() {
            let line = i as u64 + 1;
            match code.as_str().map(normalize_code) {
                Some(Ok(code)) => valid.push(code.to_owned()),
                Some(Err(invalid)) => report.add_invalid(line, invalid.to_string()),
                None => report.add_invalid(line, "not a string"),
            }
        }
        valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_out_what_is_no_code() {
        let import: JsonImport =
            serde_json::from_str(r#"{"codes": [" A-1 ", 7, "", "B\u0000", "C"]}"#).unwrap();
        let mut report = ImportReport::default();
        assert_eq!(import.valid_codes(&mut report), ["A-1", "C"]);
        let lines: Vec<u64> = report.invalid_samples.iter().map(|s| s.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert_eq!(report.invalid, 3);
    }
}
