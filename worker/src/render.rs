//! Rendering: the public display of a layer, `POST /render`, the isolate's
//! cache of compiled layers, and the driver that runs a render against the
//! project's store.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use codepool::api::body::MAX_JSON_VALUES;
use codepool::api::query::DisplayParams;
use codepool::api::{Command, Matched};
use codepool::layer::Layer;
use codepool::pool::PoolCounts;
use codepool::render::request::{RenderAnswer, RenderRequest};
use codepool::render::{
    context_from, preview, DisplayContext, Limits, Outcome, PlanMemory, RenderJob, Reservation,
    ReservationRequest, Source, Step, Template, Vouchers,
};
use codepool::{Error, ErrorKind};
use worker::{Request, Response};

use crate::dispenser;
use crate::http::{json, platform, read_json_body, read_query, MAX_JSON_BODY};
use crate::project::Project;

/// A layer's template compiled in this isolate, with the version it came from.
struct Compiled {
    version: i64,
    /// How many dispensers serve it (0: the store does).
    dispensers: u32,
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
///
/// Every failure after a reservation gives its codes back: a render error
/// in [`drive`], a response that cannot be built here. What this code cannot
/// cover is the isolate itself ending mid-display (killed over its memory,
/// or a trap): the codes then stay assigned to the customer, never shown and
/// never handed twice. Against that, every request's memory is bounded (a
/// render's data, a campaign's answer, JSON bodies, imports: issue 13).
pub async fn display(req: &Request, project: &Project, m: &Matched) -> Result<Response, Error> {
    let name = m.param("layer");
    let key = (project.name().to_owned(), name.to_owned());
    let query: DisplayParams = read_query(req)?;
    query.check()?;
    let expiry = query.expiry()?;
    let customer = query.customer().map(str::to_owned);
    let params = context_from(&query.params);

    // A second round only if the layer changed under a cached template.
    for _ in 0..2 {
        let compiled = match COMPILED.with(|c| c.borrow().get(&key).cloned()) {
            Some(compiled) => compiled,
            None => {
                let layer: Layer = project
                    .call(&Command::GetLayer {
                        layer: name.to_owned(),
                    })
                    .await?;
                if !layer.active {
                    return Ok(no_layer());
                }
                let compiled = Rc::new(Compiled {
                    version: layer.version,
                    dispensers: layer.dispensers,
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
        .with_customer_signature(query.sig.clone(), expiry)
        .with_plan(plan);
        let reserver = match compiled.dispensers {
            0 => Reserver::Store(project),
            dispensers => Reserver::Dispensers {
                project,
                layer: name,
                dispensers,
                req,
            },
        };
        let outcome = drive(&mut job, &reserver).await;
        compiled.plans.borrow_mut().learn(&job);
        match outcome {
            Ok(Outcome::Rendered { output, .. }) => {
                return match Response::from_html(output) {
                    Ok(response) => Ok(response),
                    Err(err) => {
                        // Rendered but not answered: the codes go back.
                        give_back(&reserver, job.release_undelivered()).await;
                        Err(platform(err))
                    }
                };
            }
            Ok(Outcome::Suppressed { .. }) => return Ok(no_layer()),
            Err(err) if err.kind() == ErrorKind::LayerPaused => {
                COMPILED.with(|c| c.borrow_mut().remove(&key));
                return Ok(no_layer());
            }
            Err(err) if err.kind() == ErrorKind::LayerChanged => {
                COMPILED.with(|c| c.borrow_mut().remove(&key));
            }
            // Deleted since it was compiled: 404, as for an isolate that
            // never had it.
            Err(err) if err.kind() == ErrorKind::UnknownLayer => {
                COMPILED.with(|c| c.borrow_mut().remove(&key));
                return Err(err);
            }
            // A pool the template uses was deleted (or never made): say
            // which layer needs it, for whoever reads the failed display.
            Err(err) if err.kind() == ErrorKind::UnknownPool => {
                return Err(err.append(&format!(
                    "; layer {name:?} uses it: change the layer's template, or create the pool"
                )));
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

/// `POST /render`: renders any template; `"preview": true` uses sample codes
/// and consumes nothing, otherwise it assigns like a layer.
pub async fn render(mut req: Request, project: &Project) -> Result<Response, Error> {
    let body: RenderRequest = read_json_body(&mut req, MAX_JSON_BODY, MAX_JSON_VALUES).await?;
    body.check()?;
    let template = Template::compile(&body.template, Limits::default())?;
    let context = body.context();
    if body.preview {
        let plan = Vouchers::new(BTreeMap::new(), BTreeMap::new());
        template.render(&context, &plan)?;
        let asked = plan.asked();
        let pools: BTreeSet<String> = asked.take.into_keys().chain(asked.count).collect();
        let counts = counts(project, pools.into_iter().collect()).await?;
        return json(&RenderAnswer::preview(preview(
            &template, &context, counts,
        )?));
    }
    let mut job = RenderJob::new(&template, context, body.customer_id, Source::Render, None);
    let reserver = Reserver::Store(project);
    let answer = json(&RenderAnswer::from(drive(&mut job, &reserver).await?));
    if answer.is_err() {
        // Rendered but not answered: the codes go back.
        give_back(&reserver, job.release_undelivered()).await;
    }
    answer
}

/// The counts of some pools, reserving nothing; an unknown pool is an error.
pub async fn counts(
    project: &Project,
    pools: Vec<String>,
) -> Result<BTreeMap<String, PoolCounts>, Error> {
    if pools.is_empty() {
        return Ok(BTreeMap::new());
    }
    project.call(&Command::Counts { pools }).await
}

/// Where a render's reservations go.
pub enum Reserver<'a> {
    /// The project's store.
    Store(&'a Project),
    /// The layer's dispensers ([`crate::dispenser`]).
    Dispensers {
        /// The project.
        project: &'a Project,
        /// The layer.
        layer: &'a str,
        /// How many dispensers serve it.
        dispensers: u32,
        /// The display's request (where the visitor is).
        req: &'a Request,
    },
}

impl Reserver<'_> {
    async fn reserve(&self, request: ReservationRequest) -> Result<Reservation, Error> {
        match *self {
            Reserver::Store(project) => {
                let again = request.clone();
                let reservation = project.reserve(request).await?;
                // Short of codes that dispensers hold (the pool is shared
                // with a layer served by dispensers): they give them back,
                // and the display tries once more.
                let held =
                    |pool: &String| reservation.counts.get(pool).is_some_and(|c| c.leased > 0);
                if reservation.short.iter().any(held)
                    && dispenser::recall_pools(project, reservation.short.clone()).await?
                {
                    return project.reserve(again).await;
                }
                Ok(reservation)
            }
            Reserver::Dispensers {
                project,
                layer,
                dispensers,
                req,
            } => dispenser::reserve(project, layer, dispensers, request, Some(req)).await,
        }
    }
}

/// Runs a render job, making each reservation a call to the project's
/// store or the layer's dispenser.
pub async fn drive(job: &mut RenderJob<'_>, reserver: &Reserver<'_>) -> Result<Outcome, Error> {
    let mut step = job.start()?;
    loop {
        let request = match step {
            Step::Done(outcome) => return Ok(outcome),
            Step::Reserve(request) => request,
        };
        let answer = reserver.reserve(request).await;
        match answer.and_then(|r| job.resume(r)) {
            Ok(next) => step = next,
            Err(err) => {
                give_back(reserver, job.release()).await;
                return Err(err);
            }
        }
    }
}

/// Gives codes back to the store ([`RenderJob::release`]), if there are any.
///
/// Best effort: if this fails too, the codes stay assigned to this customer
/// (never shown, but never handed twice).
async fn give_back(reserver: &Reserver<'_>, release: Option<ReservationRequest>) {
    if let Some(release) = release {
        let _: Result<Reservation, Error> = match *reserver {
            Reserver::Store(project) => project.call(&Command::Reserve(release)).await,
            Reserver::Dispensers { .. } => reserver.reserve(release).await,
        };
    }
}
