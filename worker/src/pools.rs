//! Pool routes: create, list, show, import.

use codepool::api::Matched;
use codepool::code::normalize_code;
use codepool::command::Command;
use codepool::import_report::{BatchCounts, ImportReport};
use codepool::pool::{Pool, PoolSettings};
use codepool::Error;
use serde::Deserialize;
use worker::{Env, Request, Response};

use crate::http::{json, read_body, read_json, require_type};
use crate::project::call;

/// Valid codes sent to the store per call: large enough to amortise the
/// call, small enough to keep each transaction short.
pub const IMPORT_BATCH: usize = 5_000;

/// Largest JSON import body.
pub const MAX_JSON_IMPORT: usize = 16 * 1024 * 1024;

/// `PUT /pools/{pool}`
pub async fn put(mut req: Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let settings: PoolSettings = read_json(&mut req).await?.unwrap_or_default();
    let pool: Pool = call(
        env,
        m.param("project"),
        &Command::PutPool {
            pool: m.param("pool").to_owned(),
            settings,
        },
    )
    .await?;
    json(&pool)
}

/// `GET /pools/{pool}`
pub async fn get(env: &Env, m: &Matched) -> Result<Response, Error> {
    let pool: Pool = call(
        env,
        m.param("project"),
        &Command::GetPool {
            pool: m.param("pool").to_owned(),
        },
    )
    .await?;
    json(&pool)
}

/// `GET /pools`
pub async fn list(env: &Env, m: &Matched) -> Result<Response, Error> {
    let pools: serde_json::Value = call(env, m.param("project"), &Command::ListPools).await?;
    json(&pools)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonImport {
    codes: Vec<serde_json::Value>,
}

/// `POST /pools/{pool}/import` with `{"codes": [...]}`.
pub async fn import(mut req: Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    require_type(&req, &["application/json"])?;
    let body = read_body(&mut req, MAX_JSON_IMPORT).await?;
    let JsonImport { codes } = serde_json::from_slice(&body)?;
    let mut report = ImportReport::default();
    let mut valid = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let line = i as u64 + 1;
        match code.as_str().map(normalize_code) {
            Some(Ok(code)) => valid.push(code.to_owned()),
            Some(Err(invalid)) => report.add_invalid(line, invalid.to_string()),
            None => report.add_invalid(line, "not a string"),
        }
    }
    let (project, pool) = (m.param("project"), m.param("pool").to_owned());
    let started: serde_json::Value =
        call(env, project, &Command::BeginImport { pool: pool.clone() }).await?;
    let import_id = started["import_id"].as_i64().unwrap_or_default();
    for batch in valid.chunks(IMPORT_BATCH) {
        let counts: BatchCounts = call(
            env,
            project,
            &Command::ImportBatch {
                pool: pool.clone(),
                import_id,
                codes: batch.to_vec(),
            },
        )
        .await?;
        report.add_batch(counts);
    }
    json(&report)
}
