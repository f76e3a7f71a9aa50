//! Audits a project's SQLite file (a copy of a Durable Object's storage, as
//! `wrangler dev --persist-to` keeps it) with the store's own statements,
//! for the crash test (`tests/crash/crash.mjs`).
//!
//! Usage: `audit_store FILE.sqlite [POOL...]`. Prints one JSON line with the
//! findings, `{"audit": [pools whose counters disagree with their codes],
//! "inconsistent": [codes whose fields disagree with their state],
//! "pools": [...]}`, then one JSON line per code of the named pools (of
//! every pool if none is named), with its pool.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use codepool::pool::listing::CodeQuery;
use codepool::store::sql::Database;
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

/// Codes read per page.
const PAGE: usize = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: audit_store FILE.sqlite [POOL...]")?
        .into();
    let listed: Vec<String> = std::env::args().skip(2).collect();
    let db = NativeDatabase::open(&path)?;
    let store = Store::new(&db);
    let pools = store.pools()?;
    // A code's fields follow its state: handed out means when and by what;
    // redeemed means when. (Whom is optional: a render may have no customer.)
    let inconsistent: Vec<String> = db
        .query(
            "SELECT code FROM codes
             WHERE state NOT IN (0, 1, 2)
                OR (state = 0) != (assigned_at IS NULL)
                OR (state = 0) != (source IS NULL)
                OR (state = 0 AND customer_id IS NOT NULL)
                OR (state = 2) != (redeemed_at IS NOT NULL)
             ORDER BY id",
            &[],
        )?
        .into_iter()
        .map(|row| {
            row.into_iter()
                .next()
                .map(|v| v.into_string())
                .unwrap_or_default()
        })
        .collect();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let findings = serde_json::json!({
        "audit": store.audit()?,
        "inconsistent": inconsistent,
        "pools": pools,
    });
    writeln!(out, "{findings}")?;
    for pool in pools
        .iter()
        .filter(|p| listed.is_empty() || listed.contains(&p.name))
    {
        let mut query = CodeQuery {
            limit: PAGE,
            ..CodeQuery::default()
        };
        loop {
            let page = store.codes(&pool.name, &query)?;
            for code in &page.codes {
                let mut line = serde_json::to_value(code)?;
                line["pool"] = pool.name.clone().into();
                writeln!(out, "{line}")?;
            }
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
    }
    out.flush()?;
    Ok(())
}
