//! Listing a pool's codes: pages with a keyset cursor, and the CSV export.
//!
//! A page is ordered by the code's id (import order) and continues after the
//! last id of the page before, so a code whose state changes while a client
//! pages through is listed once, in its state when its page was read.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::schema::CodeState;

/// Codes per page when the caller does not say.
pub const DEFAULT_LIMIT: usize = 100;

/// Most codes per page of the JSON listing.
pub const MAX_LIMIT: usize = 1000;

/// The columns of the CSV export, in order.
pub const CSV_HEADER: [&str; 6] = [
    "code",
    "state",
    "assigned_at",
    "customer_id",
    "source",
    "redeemed_at",
];

/// One code as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeEntry {
    /// The code.
    pub code: String,
    /// `available`, `assigned` or `redeemed`.
    pub state: CodeState,
    /// When it was handed out (RFC 3339).
    pub assigned_at: Option<String>,
    /// To whom it was handed out, if the render knew the customer.
    pub customer_id: Option<String>,
    /// What handed it out: `layer:NAME`, `campaign:NAME` or `render`.
    pub source: Option<String>,
    /// When a tracked event marked it used (RFC 3339).
    pub redeemed_at: Option<String>,
}

/// One page of a pool's codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodePage {
    /// The codes, in import order.
    pub codes: Vec<CodeEntry>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Which codes a listing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeQuery {
    /// Only codes in this state; `None` lists all.
    #[serde(default)]
    pub state: Option<CodeState>,
    /// The `next_cursor` of the page before; `None` starts at the first code.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Codes on the page (1 to [`MAX_LIMIT`] for the JSON listing; the CSV
    /// export asks the store for larger pages).
    pub limit: usize,
}

impl CodeQuery {
    /// Reads the query string parameters `state`, `cursor` and `limit`.
    ///
    /// # Errors
    ///
    /// 400 for an unknown state, a cursor that no page answered, or a limit
    /// outside 1 to [`MAX_LIMIT`].
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut query = CodeQuery {
            limit: DEFAULT_LIMIT,
            ..CodeQuery::default()
        };
        for (name, value) in params {
            match name {
                "state" if !value.is_empty() => {
                    query.state = Some(CodeState::from_name(value).ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidState,
                            format!(
                                "state {value:?} is not known: use available, assigned or redeemed"
                            ),
                        )
                    })?);
                }
                "cursor" if !value.is_empty() => {
                    decode_cursor(value)?;
                    query.cursor = Some(value.to_owned());
                }
                "limit" => {
                    query.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            Error::new(
                                ErrorKind::InvalidLimit,
                                format!("limit {value:?} is not valid: use 1 to {MAX_LIMIT}"),
                            )
                        })?;
                }
                _ => {}
            }
        }
        Ok(query)
    }

    /// The id the page starts after.
    pub(crate) fn after(&self) -> Result<i64> {
        self.cursor.as_deref().map_or(Ok(0), decode_cursor)
    }
}

/// The cursor of the page after the code with this id.
pub(crate) fn encode_cursor(id: i64) -> String {
    // Opaque to clients; a prefix keeps them from taking it for a count.
    format!("c{id}")
}

fn decode_cursor(cursor: &str) -> Result<i64> {
    cursor
        .strip_prefix('c')
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id >= 0)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidCursor,
                format!(
                    "cursor {cursor:?} is not valid: pass the next_cursor of the page before, \
                     or leave it out to start at the first code"
                ),
            )
        })
}

impl CodeState {
    /// Every state, in the order a code goes through them.
    pub const ALL: [CodeState; 3] = [
        CodeState::Available,
        CodeState::Assigned,
        CodeState::Redeemed,
    ];

    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            CodeState::Available => "available",
            CodeState::Assigned => "assigned",
            CodeState::Redeemed => "redeemed",
        }
    }

    /// The state with this API name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The state stored as this integer in `codes.state`.
    pub fn from_stored(value: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as i64 == value)
    }
}

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

    #[test]
    fn query_parameters() {
        let q = CodeQuery::from_params([("state", "assigned"), ("limit", "7"), ("cursor", "c42")])
            .unwrap();
        assert_eq!(
            (q.state, q.limit, q.after().unwrap()),
            (Some(CodeState::Assigned), 7, 42)
        );
        let q = CodeQuery::from_params([("other", "x")]).unwrap();
        assert_eq!((q.state, q.limit, q.after().unwrap()), (None, 100, 0));
        for (name, value, code) in [
            ("state", "used", "invalid_state"),
            ("limit", "0", "invalid_limit"),
            ("limit", "1001", "invalid_limit"),
            ("limit", "ten", "invalid_limit"),
            ("cursor", "42", "invalid_cursor"),
            ("cursor", "c-1", "invalid_cursor"),
        ] {
            let err = CodeQuery::from_params([(name, value)]).unwrap_err();
            assert_eq!((err.status(), err.code()), (400, code), "{name}={value}");
        }
    }

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
