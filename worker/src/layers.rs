//! Layer routes: store, show, list, delete (the public render: `render.rs`).

use codepool::api::{Command, Matched};
use codepool::layer::LayerSettings;
use codepool::{Error, ErrorKind};
use worker::{Request, Response};

use crate::dispenser;
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
    // Checked before it goes to the store, which could not read variables
    // nested as deep as a body may be (see codepool::input::json).
    settings.check()?;
    let layer = m.param("layer").to_owned();
    let answer = project
        .forward(&Command::PutLayer {
            layer: layer.clone(),
            settings,
        })
        .await?;
    dispenser::recall_layer(project, &layer).await;
    Ok(answer)
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

/// `DELETE /layers/{layer}`: answers the layer as it was. A Worker that has
/// it compiled learns at its next display, from the store (404).
pub async fn delete(project: &Project, m: &Matched) -> Result<Response, Error> {
    let layer = m.param("layer").to_owned();
    let answer = project
        .forward(&Command::DeleteLayer {
            layer: layer.clone(),
        })
        .await?;
    dispenser::recall_layer(project, &layer).await;
    Ok(answer)
}
