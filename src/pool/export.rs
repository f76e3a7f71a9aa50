//! The CSV export of a pool's codes, safe to open in a spreadsheet.

use crate::error::{Error, Result};
use crate::pool::listing::CodeEntry;

/// The columns of the CSV export, in order.
pub const CSV_HEADER: [&str; 6] = [
    "code",
    "state",
    "assigned_at",
    "customer_id",
    "source",
    "redeemed_at",
];

/// Writes the CSV header row of the export.
pub fn write_csv_header(out: &mut Vec<u8>) -> Result<()> {
    write_csv(out, |w| w.write_record(CSV_HEADER))
}

/// Writes codes as CSV rows of the export (fields quoted where needed; empty
/// for a missing value).
///
/// A customer id that a spreadsheet would run as a formula gets a leading
/// `'` (see [`spreadsheet_text`]): anyone who loads a page with a layer
/// chooses their `customer_id`, and marketers open exports in spreadsheets.
pub fn write_csv_rows(codes: &[CodeEntry], out: &mut Vec<u8>) -> Result<()> {
    write_csv(out, |w| {
        for c in codes {
            let opt = |v: &Option<String>| v.as_deref().unwrap_or("").to_owned();
            w.write_record([
                c.code.as_str(),
                c.state.name(),
                &opt(&c.assigned_at),
                &spreadsheet_text(c.customer_id.as_deref().unwrap_or("")),
                &opt(&c.source),
                &opt(&c.redeemed_at),
            ])?;
        }
        Ok(())
    })
}

/// Text a spreadsheet shows as text: one that starts like a formula (`=`,
/// `+`, `-`, `@`, tab or carriage return) gets a leading `'`, as OWASP
/// advises against CSV injection.
pub fn spreadsheet_text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn write_csv(
    out: &mut Vec<u8>,
    f: impl FnOnce(&mut csv::Writer<&mut Vec<u8>>) -> csv::Result<()>,
) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
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
                },
                CodeEntry {
                    code: "B".into(),
                    state: CodeState::Available,
                    assigned_at: None,
                    customer_id: None,
                    source: None,
                    redeemed_at: None,
                },
            ],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "code,state,assigned_at,customer_id,source,redeemed_at\n\
             \"A,1\",assigned,2025-11-25T19:00:00.123Z,\"say \"\"hi\"\"\",layer:welcome,\n\
             B,available,,,,\n"
        );
    }
}
