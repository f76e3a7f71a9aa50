//! `GET` and `PUT /settings`: which event redeems a code, the signing key.

use codepool::api::Command;
use codepool::Error;
use worker::{Request, Response};

use crate::http::read_json;
use crate::project::Project;

/// `GET /settings`
pub async fn get(project: &Project) -> Result<Response, Error> {
    project.forward(&Command::GetSettings).await
}

/// `PUT /settings`
pub async fn put(mut req: Request, project: &Project) -> Result<Response, Error> {
    let settings = read_json(&mut req).await?.unwrap_or_default();
    project.forward(&Command::PutSettings(settings)).await
}
