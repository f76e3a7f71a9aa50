//! `GET` and `PUT /settings`: which event redeems a code, the signing key.

use codepool::api::{Command, Matched};
use codepool::Error;
use worker::{Env, Request, Response};

use crate::http::read_json;
use crate::project::forward;

/// `GET /settings`
pub async fn get(env: &Env, m: &Matched) -> Result<Response, Error> {
    forward(env, m.param("project"), &Command::GetSettings).await
}

/// `PUT /settings`
pub async fn put(mut req: Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let settings = read_json(&mut req).await?.unwrap_or_default();
    forward(env, m.param("project"), &Command::PutSettings(settings)).await
}
