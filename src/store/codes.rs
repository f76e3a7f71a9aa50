//! Listing a pool's codes, page by page.

use crate::error::Result;
use crate::pool::listing::{encode_cursor, CodeEntry, CodePage, CodeQuery};
use crate::pool::{CodeState, PoolStatus};
use crate::store::sql::{Database, Value};
use crate::time::rfc3339;

use super::Store;

impl<D: Database> Store<'_, D> {
    /// One page of a pool's codes in import order, after the query's cursor.
    ///
    /// Each state is read with its own seek on the `(pool_id, state)` index,
    /// which is ordered by id within a state, and the parts are merged: the
    /// cost of a page grows with its size, not with the pool's, and no index
    /// is added that every import would have to fill.
    ///
    /// In a pool past its own expiry, the codes it had left to hand out
    /// are listed (and found by `state=expired`) as expired.
    pub fn codes(&self, pool: &str, query: &CodeQuery, now: i64) -> Result<CodePage> {
        let pool = self.db.transaction(|| self.pool_row(pool, now))?;
        let closed = pool.status == PoolStatus::Expired;
        let states = match (query.state, closed) {
            (Some(CodeState::Available), true) => Vec::new(),
            (Some(CodeState::Expired), true) => vec![CodeState::Available, CodeState::Expired],
            (Some(state), _) => vec![state],
            (None, _) => CodeState::ALL.to_vec(),
        };
        if states.is_empty() {
            return Ok(CodePage::default());
        }
        let part = |state: CodeState| {
            format!(
                "SELECT * FROM (SELECT id, code, state, assigned_at, customer_id, source,
                    redeemed_at, expires_at FROM codes WHERE pool_id = ?1 AND state = {} AND id > ?2
                    ORDER BY id LIMIT ?3)",
                state as i64
            )
        };
        // Durable Object SQLite allows at most 5 terms in a compound
        // SELECT (SQLITE_LIMIT_COMPOUND_SELECT), and there are six states:
        // the parts go in groups of three, each group a subquery.
        let parts: Vec<String> = states.into_iter().map(part).collect();
        let groups: Vec<String> = parts
            .chunks(3)
            .map(|group| format!("SELECT * FROM ({})", group.join(" UNION ALL ")))
            .collect();
        let sql = format!("{} ORDER BY id LIMIT ?3", groups.join(" UNION ALL "));
        // One more than asked: whether there is a next page.
        let limit = query.limit.max(1);
        let mut rows = self.db.query(
            &sql,
            &[
                pool.id.into(),
                query.after()?.into(),
                (limit as i64 + 1).into(),
            ],
        )?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = more
            .then(|| rows.last().map(|row| encode_cursor(row[0].as_i64())))
            .flatten();
        Ok(CodePage {
            codes: rows
                .into_iter()
                .map(|row| {
                    let mut entry = entry_from_row(row);
                    if closed && entry.state == CodeState::Available {
                        entry.state = CodeState::Expired;
                    }
                    entry
                })
                .collect(),
            next_cursor,
        })
    }
}

/// A code as listed, from the columns `id, code, state, assigned_at,
/// customer_id, source, redeemed_at, expires_at` (more after are ignored).
pub(super) fn entry_from_row(row: Vec<Value>) -> CodeEntry {
    let mut row = row.into_iter().skip(1);
    let mut next = || row.next().unwrap_or(Value::Null);
    let code = next().into_string();
    let state = CodeState::from_stored(next().as_i64()).unwrap_or(CodeState::Available);
    let time = |v: Value| v.as_opt_i64().map(rfc3339);
    let text = |v: Value| v.as_opt_str().map(str::to_owned);
    CodeEntry {
        code,
        state,
        assigned_at: time(next()),
        customer_id: text(next()),
        source: text(next()),
        redeemed_at: time(next()),
        expires_at: time(next()),
    }
}
