//! codepool's Cloudflare Worker: a thin adapter from HTTP to the core crate.
//!
//! Routes come from [`codepool::api::ROUTES`]; each handler turns a request
//! into a [`codepool::command::Command`] for the project's Durable Object
//! ([`project::ProjectStore`]), or renders a layer with codes it reserved
//! there. Static files (`www/`) are served by the assets binding.

mod activity;
mod auth;
mod campaigns;
mod codes;
mod database;
mod events;
mod http;
mod import;
mod layers;
mod pools;
mod project;
mod rate_limit;

use std::sync::OnceLock;

use codepool::api::{Access, RouteId, Router};
use codepool::pool::check_name;
use codepool::Error;
use worker::{event, Context, Env, Method, Request, Response};

pub use project::ProjectStore;

fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(Router::new)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let public = is_public(&req);
    let response = match handle(req, &env).await {
        Ok(response) => response,
        Err(err) => {
            if err.status >= 500 {
                worker::console_error!("codepool: {err}");
            }
            http::error(&err)
        }
    };
    Ok(if public {
        http::with_cors(response)
    } else {
        response
    })
}

fn is_public(req: &Request) -> bool {
    let method = req.method();
    let method = if method == Method::Options {
        "GET"
    } else {
        method.as_ref()
    };
    router()
        .find(method, &req.path())
        .is_ok_and(|m| m.route.access == Access::Public)
}

async fn handle(req: Request, env: &Env) -> Result<Response, Error> {
    let path = req.path();
    #[cfg(feature = "bench")]
    if let Some(project) = path.strip_prefix("/v1/bench/baseline/") {
        // (a) of the benchmarks: one store call that updates one row.
        let n: i64 = project::call(env, project, &codepool::command::Command::Touch).await?;
        return Response::ok(n.to_string()).map_err(http::platform);
    }
    if req.method() == Method::Options && is_public(&req) {
        // CORS preflight of a public route.
        return Ok(Response::empty().map_err(http::platform)?.with_status(204));
    }
    let m = router().find(req.method().as_ref(), &path)?;
    // Authenticate before anything else answers, so strangers learn nothing.
    auth::require(m.route.access, &req, env)?;
    if m.route.id == RouteId::RenderLayer {
        rate_limit::check(&req, env).await?;
    }
    // Every name in the path is checked before anything looks it up: a name
    // that can never exist is refused as invalid, not reported as missing.
    for (kind, name) in &m.params {
        check_name(kind, name)?;
    }
    match m.route.id {
        RouteId::ListPools => pools::list(env, &m).await,
        RouteId::PutPool => pools::put(req, env, &m).await,
        RouteId::GetPool => pools::get(env, &m).await,
        RouteId::ImportCodes => import::import(req, env, &m).await,
        RouteId::ListCodes => codes::list(&req, env, &m).await,
        RouteId::PoolActivity => activity::get(&req, env, &m).await,
        RouteId::PutLayer => layers::put(req, env, &m).await,
        RouteId::GetLayer => layers::get(env, &m).await,
        RouteId::RenderLayer => layers::render(&req, env, &m).await,
        RouteId::ListLayers => layers::list(env, &m).await,
        RouteId::GetSettings => events::get_settings(env, &m).await,
        RouteId::PutSettings => events::put_settings(req, env, &m).await,
        RouteId::TrackEvents => events::track(req, env, &m).await,
        RouteId::ListEvents => events::list(&req, env, &m).await,
        RouteId::SendCampaign => campaigns::send(req, env, &m).await,
        RouteId::Render => campaigns::render(req, env, &m).await,
        RouteId::OpenApi => openapi(),
    }
}

/// The OpenAPI 3.1 description of this API.
const OPENAPI: &str = include_str!("../../openapi.json");

fn openapi() -> Result<Response, Error> {
    let response = Response::ok(OPENAPI).map_err(http::platform)?;
    let _ = response.headers().set("content-type", "application/json");
    Ok(response)
}
