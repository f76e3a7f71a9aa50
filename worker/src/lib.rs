//! codepool's Cloudflare Worker: a thin adapter from HTTP to the core crate.
//!
//! Routes come from [`codepool::api::ROUTES`]: `fetch` finds the route
//! once, tells who is calling from the token ([`auth`]), checks the names
//! in the path, makes sure the project was created (the registry of
//! projects, [`registry`]; [`projects::open`]) and hands the request to the
//! route's handler. A handler reads its query and body into the core's
//! types ([`http`]) and sends a [`codepool::api::Command`] to the project's
//! Durable Object ([`project::ProjectStore`], statements on [`database`])
//! through [`project::Project`], which carries the caller's project key for
//! the store to check; routes that only forward a command answer with the
//! store's JSON as it is ([`project::Project::forward`]). Calls go over
//! Durable Object RPC ([`rpc`], with `worker/entry.js`), and the
//! reservations of displays arriving together share one ([`batch`]).
//! Static files (`www/`) are served by the assets binding.
//!
//! One file per resource: `projects.rs` (creating and showing projects),
//! `keys.rs` (project keys), `pools.rs` (with activity and deletion),
//! `codes.rs` (listing, CSV export, void and rollback), `import.rs`
//! (streamed CSV import), `generate.rs` (random codes of a pattern, stored
//! as an import), `layers.rs`, `render.rs` (the public display,
//! `POST /render`, the compiled-layer cache and the render driver),
//! `campaigns.rs`, `settings.rs`, `events.rs`; `rate_limit.rs` guards the
//! public route. `alerts.rs` is the project object's alarm: near-expiry
//! checks and webhook deliveries of alerts.

mod alerts;
mod auth;
mod batch;
mod campaigns;
mod codes;
mod database;
mod dispenser;
mod events;
mod generate;
mod http;
mod import;
mod keys;
mod layers;
mod pools;
mod project;
mod projects;
mod rate_limit;
mod registry;
mod render;
mod rpc;
mod settings;

use std::sync::OnceLock;

use codepool::api::query::NoParams;
use codepool::api::{Access, Matched, RouteId, Router};
use codepool::input::name::{check_name, NameOf};
use codepool::Error;
use worker::{event, Context, Env, Method, Request, Response};

use project::Project;
pub use project::ProjectStore;
pub use registry::ProjectRegistry;

fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(Router::new)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    #[cfg(feature = "bench")]
    if let Some(route) = path.strip_prefix("/v1/bench/") {
        return Ok(bench(&env, route)
            .await
            .unwrap_or_else(|err| http::error(&err)));
    }
    // The route is found once: it decides CORS, auth and the handler.
    let found = router().find(req.method().as_ref(), &path);
    let public = match &found {
        Ok(m) => m.route.access == Access::Public,
        Err(_) if req.method() == Method::Options => {
            let public = router()
                .find("GET", &path)
                .is_ok_and(|m| m.route.access == Access::Public);
            if public {
                return Ok(http::preflight());
            }
            false
        }
        Err(_) => false,
    };
    let response = match found {
        Ok(m) => handle(req, &env, m, ctx).await,
        Err(err) => Err(err),
    }
    .unwrap_or_else(|err| {
        if err.status() >= 500 {
            worker::console_error!("codepool: {err}");
        }
        http::error(&err)
    });
    Ok(if public {
        http::with_cors(response)
    } else {
        response
    })
}

/// Benchmark-only routes, compiled in with feature `bench` (bench/hotpath.mjs):
/// - `baseline/{project}`: one store call that updates one row, the floor of
///   any display;
/// - `reservation/{project}/{layer}/{pool}`: the store call a display of that
///   layer makes (one code, the pool's counts), without the render around it;
/// - `dispenser/{project}/{layer}/{version}/{pool}`: the same call made to the
///   layer's first dispenser instead (the call a display of a layer with one
///   dispenser makes), without the render around it;
/// - `exchanges/{project}`: what the store's exchanges with dispensers came
///   to so far (bench/dispensers.mjs): counts of exchanges, grants, codes
///   granted, reported (as sent) and assigned, leases given back (as sent)
///   and closed.
#[cfg(feature = "bench")]
async fn bench(env: &Env, route: &str) -> Result<Response, Error> {
    use codepool::api::command::Command;
    use codepool::render::{Reservation, ReservationRequest, Source};
    let parts: Vec<&str> = route.split('/').collect();
    let answer = match parts[..] {
        ["baseline", project] => {
            let n: i64 = project::Project::new(env, project, None)
                .call(&Command::Touch)
                .await?;
            n.to_string()
        }
        ["dispenser", project, layer, version, pool] => {
            let request = ReservationRequest {
                customer_id: Some("visitor".to_owned()),
                source: Source::Layer(layer.to_owned()),
                layer_version: version.parse().ok(),
                customer_signature: None,
                signature_expiry: None,
                take: [(pool.to_owned(), 1)].into(),
                count: vec![pool.to_owned()],
                release: Vec::new(),
            };
            let project = project::Project::new(env, project, None);
            let reservation = dispenser::reserve(&project, layer, 1, request, None).await?;
            reservation.fresh.join(",")
        }
        ["exchanges", project] => {
            let counts: std::collections::BTreeMap<String, i64> =
                project::Project::new(env, project, None)
                    .call(&Command::BenchExchanges)
                    .await?;
            serde_json::to_string(&counts).map_err(|e| Error::internal(e.to_string()))?
        }
        ["reservation", project, layer, pool] => {
            let request = ReservationRequest {
                customer_id: Some("visitor".to_owned()),
                source: Source::Layer(layer.to_owned()),
                layer_version: None,
                customer_signature: None,
                signature_expiry: None,
                take: [(pool.to_owned(), 1)].into(),
                count: vec![pool.to_owned()],
                release: Vec::new(),
            };
            let reservation: Reservation = project::Project::new(env, project, None)
                .call(&Command::Reserve(request))
                .await?;
            reservation.fresh.join(",")
        }
        _ => {
            return Err(Error::new(
                codepool::ErrorKind::NoSuchRoute,
                "no such bench route",
            ))
        }
    };
    Response::ok(answer).map_err(http::platform)
}

async fn handle(req: Request, env: &Env, m: Matched, ctx: Context) -> Result<Response, Error> {
    // Authenticate before anything else answers, so strangers learn nothing.
    let caller = auth::caller(m.route.access, &req, env)?;
    if m.route.id == RouteId::RenderLayer {
        rate_limit::check(&req, env).await?;
    }
    // Every name in the path is checked before anything looks it up: a name
    // that can never exist is refused as invalid, not reported as missing.
    for (param, name) in &m.params {
        if let Some(of) = NameOf::of_param(param) {
            check_name(of, name)?;
        }
    }
    if m.route.id == RouteId::OpenApi {
        http::read_query::<NoParams>(&req)?;
        return openapi(env).await;
    }
    // Nothing reaches the store of a project that was never created.
    let project = projects::open(env, &m, caller).await?.with_context(ctx);
    let answer = async {
        // One policy for query strings: a route reads its own type, the
        // others take none, so a misspelt parameter is never silently ignored.
        if !m.route.id.takes_query() {
            http::read_query::<NoParams>(&req)?;
        }
        dispatch(req, &project, &m).await
    }
    .await;
    project.settle(answer).await
}

async fn dispatch(req: Request, project: &Project, m: &Matched) -> Result<Response, Error> {
    match m.route.id {
        RouteId::PutProject => projects::put(req, project).await,
        RouteId::GetProject => projects::get(project).await,
        RouteId::CreateKey => keys::create(req, project).await,
        RouteId::ListKeys => keys::list(project).await,
        RouteId::RevokeKey => keys::revoke(project, m).await,
        RouteId::ListPools => pools::list(project).await,
        RouteId::PutPool => pools::put(req, project, m).await,
        RouteId::GetPool => pools::get(project, m).await,
        RouteId::DeletePool => pools::delete(project, m).await,
        RouteId::ImportCodes => import::import(req, project, m).await,
        RouteId::GenerateCodes => generate::generate(req, project, m).await,
        RouteId::ListCodes => codes::list(&req, project, m).await,
        RouteId::VoidCode => codes::void(project, m).await,
        RouteId::RollbackCode => codes::rollback(project, m).await,
        RouteId::PoolActivity => pools::activity(&req, project, m).await,
        RouteId::PutLayer => layers::put(req, project, m).await,
        RouteId::GetLayer => layers::get(project, m).await,
        RouteId::DeleteLayer => layers::delete(project, m).await,
        RouteId::RenderLayer => render::display(&req, project, m).await,
        RouteId::ListLayers => layers::list(project).await,
        RouteId::GetSettings => settings::get(project).await,
        RouteId::PutSettings => settings::put(req, project).await,
        RouteId::TrackEvents => events::track(req, project).await,
        RouteId::ListEvents => events::list(&req, project).await,
        RouteId::SendCampaign => campaigns::send(req, project, m).await,
        RouteId::Render => render::render(req, project).await,
        // Answered by `handle` before a project is opened.
        RouteId::OpenApi => Err(Error::internal("openapi.json is served by handle")),
    }
}

/// The OpenAPI 3.1 description of this API: `openapi.json`, which
/// scripts/build-worker.sh copies to the static files as `www/v1/openapi.json`.
/// It is read from the assets binding rather than compiled in, which keeps
/// its 115 KB (18 KB gzipped) out of the Worker's wasm. `/v1/*` goes to the
/// Worker first (wrangler.toml), so the asset is only ever served here,
/// after the route's checks, and answered with the same bytes and headers
/// as when it was compiled in.
const OPENAPI_ASSET: &str = "https://assets.invalid/v1/openapi.json";

async fn openapi(env: &Env) -> Result<Response, Error> {
    let assets = env.assets("ASSETS").map_err(http::platform)?;
    let mut asset = assets
        .fetch(OPENAPI_ASSET, None)
        .await
        .map_err(http::platform)?;
    if asset.status_code() != 200 {
        return Err(Error::internal(format!(
            "openapi.json: the assets answered {}",
            asset.status_code()
        )));
    }
    let body = asset.bytes().await.map_err(http::platform)?;
    let response = Response::from_bytes(body).map_err(http::platform)?;
    let _ = response.headers().set("content-type", "application/json");
    Ok(response)
}
