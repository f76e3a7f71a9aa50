//! Layer routes: store, show, and the public render.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use codepool::api::command::Command;
use codepool::api::Matched;
use codepool::layer::{Layer, LayerSettings};
use codepool::render::DisplayContext;
use codepool::render::{context_from, Limits, Template};
use codepool::render::{Outcome, PlanMemory, RenderJob, Step};
use codepool::render::{Reservation, Source};
use codepool::{Error, ErrorKind};
use worker::{Env, Request, Response};

use crate::http::{json, platform, query, read_json};
use crate::project::call;

/// `PUT /layers/{layer}`
pub async fn put(mut req: Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let settings: LayerSettings = read_json(&mut req).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::MissingBody,
            "send the layer as JSON: {\"template\": \"...\", \"active\": true}",
        )
    })?;
    let layer: Layer = call(
        env,
        m.param("project"),
        &Command::PutLayer {
            layer: m.param("layer").to_owned(),
            settings,
        },
    )
    .await?;
    json(&layer)
}

/// `GET /layers`
pub async fn list(env: &Env, m: &Matched) -> Result<Response, Error> {
    let layers: serde_json::Value = call(env, m.param("project"), &Command::ListLayers).await?;
    json(&layers)
}

/// `GET /layers/{layer}`
pub async fn get(env: &Env, m: &Matched) -> Result<Response, Error> {
    let layer: Layer = call(
        env,
        m.param("project"),
        &Command::GetLayer {
            layer: m.param("layer").to_owned(),
        },
    )
    .await?;
    json(&layer)
}

/// A layer's template compiled in this isolate, with the version it came from.
struct Compiled {
    version: i64,
    template: Template,
    context: DisplayContext,
    /// What its displays asked for, so the next can skip its dry run.
    plans: RefCell<PlanMemory>,
}

thread_local! {
    /// Compiled layers by (project, layer): a layer is compiled once per
    /// isolate and reused until the store says it changed.
    static COMPILED: RefCell<HashMap<(String, String), Rc<Compiled>>> = RefCell::new(HashMap::new());
}

/// `GET /layers/{layer}/render?customer_id=…`: 200 with HTML, or 204 when a
/// pool it assigns from is empty or the layer is paused.
pub async fn render(req: &Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let (project, name) = (m.param("project"), m.param("layer"));
    let key = (project.to_owned(), name.to_owned());
    let mut customer = None;
    let mut signature = None;
    let mut params = serde_json::Map::new();
    for (k, v) in query(req) {
        match k.as_str() {
            "customer_id" => customer = Some(v).filter(|c| !c.is_empty()),
            "sig" => signature = Some(v),
            _ => {
                params.insert(k, v.into());
            }
        }
    }
    let params = context_from(&params);

    // A second round only if the layer changed under a cached template.
    for _ in 0..2 {
        let compiled = match COMPILED.with(|c| c.borrow().get(&key).cloned()) {
            Some(compiled) => compiled,
            None => {
                let layer: Layer = call(
                    env,
                    project,
                    &Command::GetLayer {
                        layer: name.to_owned(),
                    },
                )
                .await?;
                if !layer.active {
                    return Ok(no_layer());
                }
                let compiled = Rc::new(Compiled {
                    version: layer.version,
                    template: Template::compile(&layer.template, Limits::default())?,
                    context: DisplayContext::new(&layer),
                    plans: RefCell::default(),
                });
                COMPILED.with(|c| c.borrow_mut().insert(key.clone(), compiled.clone()));
                compiled
            }
        };
        // Displays running at once all start from the same plan.
        let plan = compiled.plans.borrow().next();
        let mut job = RenderJob::new(
            &compiled.template,
            compiled.context.display(customer.as_deref(), &params),
            customer.clone(),
            Source::Layer(name.to_owned()),
            Some(compiled.version),
        )
        .with_customer_signature(signature.clone())
        .with_plan(plan);
        let outcome = drive(&mut job, env, project).await;
        compiled.plans.borrow_mut().learn(&job);
        match outcome {
            Ok(Outcome::Rendered { output, .. }) => {
                return Response::from_html(output).map_err(platform);
            }
            Ok(Outcome::Suppressed { .. }) => return Ok(no_layer()),
            Err(err) if err.kind() == ErrorKind::LayerPaused => {
                COMPILED.with(|c| c.borrow_mut().remove(&key));
                return Ok(no_layer());
            }
            Err(err) if err.kind() == ErrorKind::LayerChanged => {
                COMPILED.with(|c| c.borrow_mut().remove(&key));
            }
            Err(err) => return Err(err),
        }
    }
    Err(Error::new(
        ErrorKind::LayerChanged,
        "the layer keeps changing while it renders: try again",
    ))
}

/// 204: show nothing.
fn no_layer() -> Response {
    Response::empty()
        .expect("an empty response can always be built")
        .with_status(204)
}

/// Runs a render job, making each reservation a call to the project's store.
pub async fn drive(job: &mut RenderJob<'_>, env: &Env, project: &str) -> Result<Outcome, Error> {
    let mut step = job.start()?;
    loop {
        let request = match step {
            Step::Done(outcome) => return Ok(outcome),
            Step::Reserve(request) => request,
        };
        let answer: Result<Reservation, Error> =
            call(env, project, &Command::Reserve(request)).await;
        match answer.and_then(|r| job.resume(r)) {
            Ok(next) => step = next,
            Err(err) => {
                if let Some(release) = job.release() {
                    // Best effort: if this fails too, the codes stay assigned
                    // to this customer (never shown, but never handed twice).
                    let _: Result<Reservation, Error> =
                        call(env, project, &Command::Reserve(release)).await;
                }
                return Err(err);
            }
        }
    }
}
