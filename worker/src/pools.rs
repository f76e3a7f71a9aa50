//! Pool routes: create, list, show, delete, activity (imports:
//! `import.rs`, codes: `codes.rs`).

use codepool::api::query::ActivityParams;
use codepool::api::{Command, Matched};
use codepool::{Error, ErrorKind};
use worker::{Request, Response};

use crate::dispenser;
use crate::http::{read_json, read_query};
use crate::project::Project;

/// `PUT /pools/{pool}`
pub async fn put(mut req: Request, project: &Project, m: &Matched) -> Result<Response, Error> {
    let settings = read_json(&mut req).await?.unwrap_or_default();
    let pool = m.param("pool").to_owned();
    project.forward(&Command::PutPool { pool, settings }).await
}

/// `GET /pools/{pool}`
pub async fn get(project: &Project, m: &Matched) -> Result<Response, Error> {
    let pool = m.param("pool").to_owned();
    project.forward(&Command::GetPool { pool }).await
}

/// `DELETE /pools/{pool}`: answers the pool as it was. Dispensers holding
/// codes of it give them back first.
pub async fn delete(project: &Project, m: &Matched) -> Result<Response, Error> {
    let pool = m.param("pool").to_owned();
    let command = Command::DeletePool { pool: pool.clone() };
    match project.forward(&command).await {
        Err(err) if err.kind() == ErrorKind::HeldByDispenser => {
            dispenser::recall_pools(project, vec![pool]).await?;
            project.forward(&command).await
        }
        answer => answer,
    }
}

/// `GET /pools`
pub async fn list(project: &Project) -> Result<Response, Error> {
    project.forward(&Command::ListPools).await
}

/// `GET /pools/{pool}/activity?days=30`
pub async fn activity(req: &Request, project: &Project, m: &Matched) -> Result<Response, Error> {
    let days = read_query::<ActivityParams>(req)?.check()?;
    let pool = m.param("pool").to_owned();
    project.forward(&Command::PoolActivity { pool, days }).await
}
