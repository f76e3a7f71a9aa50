//! Project keys: `POST /keys` (the key is shown once), `GET /keys`,
//! `DELETE /keys/{key}`.

use codepool::api::{Command, Matched};
use codepool::project::key::{CreatedKey, KeyInfo, KeyRequest, NewKey, RANDOM_BYTES};
use codepool::{Error, ErrorKind};
use worker::{Request, Response};

use crate::http::{json, read_json};
use crate::project::Project;

/// `POST /keys` `{"name", "scope"}`: 201 with the key, which is never shown
/// again (the store keeps its hash).
pub async fn create(mut req: Request, project: &Project) -> Result<Response, Error> {
    let request: KeyRequest = read_json(&mut req).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::MissingBody,
            "send the key as JSON: {\"name\": \"shop back end\", \"scope\": \"tracking\"}",
        )
    })?;
    request.check()?;
    let mut random = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut random)
        .map_err(|e| Error::internal(format!("no random bytes for a key: {e}")))?;
    let new = NewKey::from_random(&random);
    let info: KeyInfo = project
        .call(&Command::CreateKey {
            key: new.stored,
            request,
        })
        .await?;
    Ok(json(&CreatedKey { info, key: new.key })?.with_status(201))
}

/// `GET /keys`: the project's keys, without secrets.
pub async fn list(project: &Project) -> Result<Response, Error> {
    project.forward(&Command::ListKeys).await
}

/// `DELETE /keys/{key}`: the key opens nothing from now on.
pub async fn revoke(project: &Project, m: &Matched) -> Result<Response, Error> {
    let key = m.param("key").to_owned();
    project.forward(&Command::RevokeKey { key }).await
}
