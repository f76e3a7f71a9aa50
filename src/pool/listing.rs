//! Listing a pool's codes: pages with a keyset cursor, and the CSV export.
//!
//! A page is ordered by the code's id (import order) and continues after the
//! last id of the page before, so a code whose state changes while a client
//! pages through is listed once, in its state when its page was read.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::pool::CodeState;

/// One code as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeEntry {
    /// The code.
    pub code: String,
    /// `available`, `leased`, `assigned`, `redeemed`, `expired` or `void`.
    pub state: CodeState,
    /// When it was handed out (RFC 3339).
    pub assigned_at: Option<String>,
    /// To whom it was handed out, if the render knew the customer.
    pub customer_id: Option<String>,
    /// What handed it out: `layer:NAME`, `campaign:NAME` or `render`.
    pub source: Option<String>,
    /// When a tracked event marked it used (RFC 3339).
    pub redeemed_at: Option<String>,
    /// When it expires (RFC 3339), if it has an expiry of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
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
    /// Codes on the page (1 to [`MAX_PAGE`](crate::api::query::MAX_PAGE) for
    /// the JSON listing; the CSV
    /// export asks the store for larger pages).
    pub limit: usize,
}

impl CodeQuery {
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

/// The id a cursor continues after; 400 `invalid_cursor` if no page
/// answered it.
pub(crate) fn decode_cursor(cursor: &str) -> Result<i64> {
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
