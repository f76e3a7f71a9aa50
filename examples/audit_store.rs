//! Audits a project's SQLite file (a copy of a Durable Object's storage, as
//! `wrangler dev --persist-to` keeps it) with the store's own statements,
//! for the crash test (`tests/crash/crash.mjs`); and reads a dispenser's
//! file, which the crash test holds against the store's.
//!
//! Usage: `audit_store FILE.sqlite [POOL...]`. Prints one JSON line with the
//! findings, `{"audit": [pools whose counters disagree with their codes],
//! "inconsistent": [codes whose fields disagree with their state],
//! "pools": [...], "leases": [the store's open leases]}`, then one JSON line
//! per code of the named pools (of every pool if none is named), with its
//! pool, and its lease while it is leased.
//!
//! `audit_store --dispenser FILE.sqlite` prints one JSON line with what a
//! Dispenser Durable Object's file holds (src/dispenser/held.rs): `{"post":
//! {project, layer, dispenser} or null, "leases": [...], "codes": [...]}`.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use codepool::pool::listing::CodeQuery;
use codepool::store::sql::{Database, Value};
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;
use serde_json::json;

/// Codes read per page.
const PAGE: usize = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: audit_store FILE.sqlite [POOL...] | audit_store --dispenser FILE.sqlite";
    let mut args = std::env::args_os().skip(1);
    let first = args.next().ok_or(usage)?;
    if first == "--dispenser" {
        let path: PathBuf = args.next().ok_or(usage)?.into();
        return dispenser(&path);
    }
    let path: PathBuf = first.into();
    let listed: Vec<String> = std::env::args().skip(2).collect();
    let db = NativeDatabase::open(&path)?;
    let store = Store::new(&db);
    // Reading a pool marks the codes that expired by now (as the store
    // would at its next call): the counts and the listing agree after.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let pools = store.pools(now)?;
    // A code's fields follow its state: handed out means when and by what;
    // redeemed means when. (Whom is optional: a render may have no customer.)
    // A leased code (3) is not handed out yet, and is held under an open
    // lease of its pool; available, assigned and expired (4) codes are
    // under none (a redeemed one may keep the lease it was redeemed from).
    // An expired code was never handed out; a void one (5) keeps what it
    // was when voided.
    let inconsistent: Vec<String> = db
        .query(
            "SELECT code FROM codes
             WHERE state NOT IN (0, 1, 2, 3, 4, 5)
                OR (state IN (0, 3, 4) AND (assigned_at IS NOT NULL OR source IS NOT NULL
                    OR customer_id IS NOT NULL))
                OR (state IN (1, 2) AND (assigned_at IS NULL OR source IS NULL))
                OR (state = 2) != (redeemed_at IS NOT NULL)
                OR (state IN (0, 1, 4) AND lease_id IS NOT NULL)
                OR (state = 3 AND (lease_id IS NULL OR lease_id NOT IN
                    (SELECT id FROM leases WHERE leases.pool_id = codes.pool_id)))
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
    let leases = rows_json(
        &db,
        &[
            "id",
            "dispenser",
            "layer",
            "version",
            "pool",
            "granted",
            "deadline",
            "created_at",
            "leased",
        ],
        "SELECT l.id, l.dispenser, l.layer, l.version, p.name AS pool, l.granted,
                l.deadline, l.created_at,
                (SELECT COUNT(*) FROM codes WHERE lease_id = l.id AND state = 3) AS leased
         FROM leases AS l JOIN pools AS p ON p.id = l.pool_id ORDER BY l.id",
    )?;
    let leased: HashMap<String, Option<i64>> = db
        .query("SELECT code, lease_id FROM codes WHERE state = 3", &[])?
        .into_iter()
        .map(|row| (row[0].clone().into_string(), row[1].as_opt_i64()))
        .collect();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let findings = json!({
        "audit": store.audit()?,
        "inconsistent": inconsistent,
        "pools": pools,
        "leases": leases,
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
            let page = store.codes(&pool.name, &query, now)?;
            for code in &page.codes {
                let mut line = serde_json::to_value(code)?;
                line["pool"] = pool.name.clone().into();
                if let Some(&lease) = leased.get(&code.code) {
                    line["lease"] = lease.into();
                }
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

/// A dispenser's file: where it serves, its leases and its codes (state 0
/// held, 1 handed out; report 0 not yet sent, 1 sent, 2 acknowledged).
/// A dispenser that never served has no tables: empty lists.
fn dispenser(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let db = NativeDatabase::open(path)?;
    let has = |table: &str| -> Result<bool, Box<dyn std::error::Error>> {
        let rows = db.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            &[table.into()],
        )?;
        Ok(!rows.is_empty())
    };
    let post = if has("meta")? {
        db.query("SELECT value FROM meta WHERE key = 'post'", &[])?
            .into_iter()
            .next()
            .map(|row| serde_json::from_str(&row[0].clone().into_string()))
            .transpose()?
    } else {
        None
    };
    let post: serde_json::Value = post.unwrap_or(serde_json::Value::Null);
    let (leases, codes) = if has("leases")? && has("codes")? {
        (
            rows_json(
                &db,
                &["id", "pool", "deadline", "given_back"],
                "SELECT id, pool, deadline, given_back FROM leases ORDER BY id",
            )?,
            rows_json(
                &db,
                &[
                    "code",
                    "pool",
                    "lease_id",
                    "state",
                    "customer_id",
                    "at",
                    "report",
                ],
                "SELECT code, pool, lease_id, state, customer_id, at, report FROM codes
                 ORDER BY seq",
            )?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let line = json!({ "post": post, "leases": leases, "codes": codes });
    println!("{line}");
    Ok(())
}

/// The rows of a query as JSON objects, with these names for its columns.
fn rows_json(
    db: &NativeDatabase,
    names: &[&str],
    sql: &str,
) -> Result<Vec<serde_json::Value>, Box<dyn std::error::Error>> {
    Ok(db
        .query(sql, &[])?
        .into_iter()
        .map(|row| {
            let object: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .map(|n| n.to_string())
                .zip(row.into_iter().map(value_json))
                .collect();
            serde_json::Value::Object(object)
        })
        .collect())
}

fn value_json(value: Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => i.into(),
        Value::Real(f) => f.into(),
        Value::Text(s) => s.into(),
    }
}
