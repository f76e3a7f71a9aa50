//! Layer routes: store, show, list (the public render: `render.rs`).

use codepool::api::{Command, Matched};
use codepool::layer::LayerSettings;
use codepool::{Error, ErrorKind};
use worker::{Env, Request, Response};

use crate::http::read_json;
use crate::project::forward;

/// `PUT /layers/{layer}`
pub async fn put(mut req: Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let settings: LayerSettings = read_json(&mut req).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::MissingBody,
            "send the layer as JSON: {\"template\": \"...\", \"active\": true}",
        )
    })?;
    let layer = m.param("layer").to_owned();
    forward(
        env,
        m.param("project"),
        &Command::PutLayer { layer, settings },
    )
    .await
}

/// `GET /layers`
pub async fn list(env: &Env, m: &Matched) -> Result<Response, Error> {
    forward(env, m.param("project"), &Command::ListLayers).await
}

/// `GET /layers/{layer}`
pub async fn get(env: &Env, m: &Matched) -> Result<Response, Error> {
    let layer = m.param("layer").to_owned();
    forward(env, m.param("project"), &Command::GetLayer { layer }).await
}
