//! The CSV export of a pool's codes, safe to open in a spreadsheet.
//!
//! Whoever loads a page with a layer chooses their `customer_id`, and
//! marketers open exports in spreadsheets, whose readers split cells on `,`,
//! `;` or tab depending on the locale. So every field is quoted (a `;` or a
//! tab inside a field never starts a cell, whatever the separator), and
//! every cell that starts like a formula gets a leading `'` (quotes alone
//! do not stop a spreadsheet from running `"=1+1"`), in every column.

use crate::error::{Error, Result};
use crate::pool::listing::CodeEntry;

/// The columns of the CSV export, in order. `code` and `expires_at` are
/// what an import reads, so an export imports back with its expiry.
pub const CSV_HEADER: [&str; 7] = [
    "code",
    "state",
    "assigned_at",
    "customer_id",
    "source",
    "redeemed_at",
    "expires_at",
];

/// Writes the CSV header row of the export.
pub fn write_csv_header(out: &mut Vec<u8>) -> Result<()> {
    write_csv(out, |w| w.write_record(CSV_HEADER))
}

/// Writes codes as CSV rows of the export: every field quoted and made
/// [`spreadsheet_text`]; empty for a missing value.
///
/// A code never needs the `'` (codes may not begin like a formula, see
/// [`crate::pool::code`]), so the code column of an export imports back as
/// the same codes; only a code stored before that rule could.
pub fn write_csv_rows(codes: &[CodeEntry], out: &mut Vec<u8>) -> Result<()> {
    write_csv(out, |w| {
        for c in codes {
            w.write_record(
                [
                    c.code.as_str(),
                    c.state.name(),
                    c.assigned_at.as_deref().unwrap_or(""),
                    c.customer_id.as_deref().unwrap_or(""),
                    c.source.as_deref().unwrap_or(""),
                    c.redeemed_at.as_deref().unwrap_or(""),
                    c.expires_at.as_deref().unwrap_or(""),
                ]
                .map(spreadsheet_text)
                .iter()
                .map(|cell| cell.as_bytes()),
            )?;
        }
        Ok(())
    })
}

/// Text a spreadsheet shows as text: one that starts like a formula (`=`,
/// `+`, `-`, `@`, tab, carriage return or line feed) gets a leading `'`,
/// as OWASP advises against CSV injection.
pub fn spreadsheet_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn write_csv(
    out: &mut Vec<u8>,
    f: impl FnOnce(&mut csv::Writer<&mut Vec<u8>>) -> csv::Result<()>,
) -> Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(out);
    f(&mut writer)
        .and_then(|()| writer.flush().map_err(csv::Error::from))
        .map_err(|e| Error::internal(format!("CSV export: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::CodeState;

    #[test]
    fn csv_quotes_what_needs_it() {
        let mut out = Vec::new();
        write_csv_header(&mut out).unwrap();
        write_csv_rows(
            &[
                CodeEntry {
                    code: "A,1".into(),
                    state: CodeState::Assigned,
                    assigned_at: Some("2025-11-25T19:00:00.123Z".into()),
                    customer_id: Some("say \"hi\"".into()),
                    source: Some("layer:welcome".into()),
                    redeemed_at: None,
                    expires_at: None,
                },
                CodeEntry {
                    code: "B".into(),
                    state: CodeState::Available,
                    assigned_at: None,
                    customer_id: None,
                    source: None,
                    redeemed_at: None,
                    expires_at: None,
                },
            ],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"code\",\"state\",\"assigned_at\",\"customer_id\",\"source\",\"redeemed_at\",\"expires_at\"\n\
             \"A,1\",\"assigned\",\"2025-11-25T19:00:00.123Z\",\"say \"\"hi\"\"\",\"layer:welcome\",\"\",\"\"\n\
             \"B\",\"available\",\"\",\"\",\"\",\"\",\"\"\n"
        );
    }

    #[test]
    fn no_cell_runs_as_a_formula_whatever_the_separator() {
        let entry = |code: &str, customer: &str| CodeEntry {
            code: code.into(),
            state: CodeState::Assigned,
            assigned_at: Some("2025-11-25T19:00:00.123Z".into()),
            customer_id: Some(customer.into()),
            source: Some("layer:l".into()),
            redeemed_at: None,
            expires_at: None,
        };
        let mut out = Vec::new();
        write_csv_rows(
            &[
                // Finding 8: a `;` reader would see `=1+1` as a cell.
                entry("A-1", "x;=1+1;"),
                entry("A-2", "x\t=1+1"),
                entry("A-3", "@SUM(1)"),
                // A code stored before codes could not begin like this.
                entry("=HYPERLINK(\"http://x\")", "-2+3"),
            ],
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "\"A-1\",\"assigned\",\"2025-11-25T19:00:00.123Z\",\"x;=1+1;\",\"layer:l\",\"\",\"\"\n\
             \"A-2\",\"assigned\",\"2025-11-25T19:00:00.123Z\",\"x\t=1+1\",\"layer:l\",\"\",\"\"\n\
             \"A-3\",\"assigned\",\"2025-11-25T19:00:00.123Z\",\"'@SUM(1)\",\"layer:l\",\"\",\"\"\n\
             \"'=HYPERLINK(\"\"http://x\"\")\",\"assigned\",\"2025-11-25T19:00:00.123Z\",\"'-2+3\",\"layer:l\",\"\",\"\"\n"
        );
    }
}
