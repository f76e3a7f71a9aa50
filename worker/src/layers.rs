//! Layer routes: store, show, list (the public render: `render.rs`).

use codepool::api::{Command, Matched};
use codepool::layer::LayerSettings;
use codepool::{Error, ErrorKind};
use worker::{Request, Response};

use crate::http::read_json;
use crate::project::Project;

/// `PUT /layers/{layer}`
pub async fn put(mut req: Request, project: &Project, m: &Matched) -> Result<Response, Error> {
    let settings: LayerSettings = read_json(&mut req).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::MissingBody,
            "send the layer as JSON: {\"template\": \"...\", \"active\": true}",
        )
    })?;
    let layer = m.param("layer").to_owned();
    project
        .forward(&Command::PutLayer { layer, settings })
        .await
}

/// `GET /layers`
pub async fn list(project: &Project) -> Result<Response, Error> {
    project.forward(&Command::ListLayers).await
}

/// `GET /layers/{layer}`
pub async fn get(project: &Project, m: &Matched) -> Result<Response, Error> {
    let layer = m.param("layer").to_owned();
    project.forward(&Command::GetLayer { layer }).await
}
