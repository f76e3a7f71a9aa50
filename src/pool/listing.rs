//! Listing a pool's codes: pages with a keyset cursor, and the CSV export.
//!
//! A page is ordered by the code's id (import order) and continues after the
//! last id of the page before, so a code whose state changes while a client
//! pages through is listed once, in its state when its page was read.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::pool::CodeState;

/// Codes per page when the caller does not say.
pub const DEFAULT_LIMIT: usize = 100;

/// Most codes per page of the JSON listing.
pub const MAX_LIMIT: usize = 1000;

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
}
