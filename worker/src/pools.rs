//! Pool routes: create, list, show (imports: `import.rs`, codes: `codes.rs`).

use codepool::api::command::Command;
use codepool::api::Matched;
use codepool::pool::{Pool, PoolSettings};
use codepool::Error;
use worker::{Env, Request, Response};

use crate::http::{json, read_json};
use crate::project::call;

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
