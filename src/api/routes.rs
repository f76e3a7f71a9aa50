//! The HTTP API's routes as data: what the Worker serves and the tests walk.
//!
//! The Worker maps each [`RouteId`] to a handler with an exhaustive match, so
//! a route cannot be added here without a handler, and the OpenAPI document
//! and the auth test check themselves against [`ROUTES`].

use crate::error::{Error, ErrorKind};
use crate::project::key::Scope;

/// Who may call a route.
///
/// The deployment's `ADMIN_TOKEN` (the operator's) opens every route. A
/// project key ([`crate::project::key`]) opens the [`Access::Project`] routes of its
/// own project that its scope allows ([`Scope::allows`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (CORS allowed): the rendering of stored, active layers, and
    /// the API description.
    Public,
    /// Only the operator's `ADMIN_TOKEN`: creating projects.
    Operator,
    /// `ADMIN_TOKEN`, or a key of the project whose scope allows this one;
    /// `Project(Scope::Tracking)` also takes the deployment's
    /// `TRACKING_TOKEN`.
    Project(Scope),
}

impl Access {
    /// Whether the deployment's `TRACKING_TOKEN` opens the route.
    pub fn takes_tracking_token(self) -> bool {
        self == Access::Project(Scope::Tracking)
    }

    /// The key scopes that open the route, strongest first.
    pub fn key_scopes(self) -> Vec<Scope> {
        match self {
            Access::Project(needed) => Scope::ALL
                .into_iter()
                .filter(|scope| scope.allows(needed))
                .collect(),
            Access::Public | Access::Operator => Vec::new(),
        }
    }
}

/// Every route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    /// `PUT /v1/projects/{project}` (operator)
    PutProject,
    /// `GET /v1/projects/{project}`
    GetProject,
    /// `POST /keys`
    CreateKey,
    /// `GET /keys`
    ListKeys,
    /// `DELETE /keys/{key}`
    RevokeKey,
    /// `GET /pools`
    ListPools,
    /// `PUT /pools/{pool}`
    PutPool,
    /// `GET /pools/{pool}`
    GetPool,
    /// `DELETE /pools/{pool}`
    DeletePool,
    /// `POST /pools/{pool}/import`
    ImportCodes,
    /// `POST /pools/{pool}/generate`
    GenerateCodes,
    /// `GET /pools/{pool}/codes`
    ListCodes,
    /// `POST /pools/{pool}/codes/{code}/void`
    VoidCode,
    /// `POST /pools/{pool}/codes/{code}/rollback`
    RollbackCode,
    /// `GET /pools/{pool}/activity`
    PoolActivity,
    /// `PUT /layers/{layer}`
    PutLayer,
    /// `GET /layers/{layer}`
    GetLayer,
    /// `DELETE /layers/{layer}`
    DeleteLayer,
    /// `GET /layers/{layer}/render` (public)
    RenderLayer,
    /// `GET /layers`
    ListLayers,
    /// `GET /settings`
    GetSettings,
    /// `PUT /settings`
    PutSettings,
    /// `POST /events` (also the tracking token)
    TrackEvents,
    /// `GET /events`
    ListEvents,
    /// `POST /campaigns/{campaign}/send`
    SendCampaign,
    /// `POST /render`
    Render,
    /// `GET /v1/openapi.json` (public)
    OpenApi,
}

impl RouteId {
    /// Whether the route reads a query string (its type is in
    /// [`crate::api::query`]); the others refuse any parameter.
    pub fn takes_query(self) -> bool {
        matches!(
            self,
            RouteId::ImportCodes
                | RouteId::ListCodes
                | RouteId::PoolActivity
                | RouteId::RenderLayer
                | RouteId::ListEvents
        )
    }
}

/// A route: method, path pattern (matchit syntax), access and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path pattern, e.g. `/v1/projects/{project}/pools/{pool}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Which handler serves it.
    pub id: RouteId,
}

const fn route(method: &'static str, path: &'static str, access: Access, id: RouteId) -> Route {
    Route {
        method,
        path,
        access,
        id,
    }
}

const READ: Access = Access::Project(Scope::Read);
const ADMIN: Access = Access::Project(Scope::Admin);
const TRACKING: Access = Access::Project(Scope::Tracking);

/// All routes.
pub const ROUTES: &[Route] = &[
    route(
        "PUT",
        "/v1/projects/{project}",
        Access::Operator,
        RouteId::PutProject,
    ),
    route("GET", "/v1/projects/{project}", READ, RouteId::GetProject),
    route(
        "POST",
        "/v1/projects/{project}/keys",
        ADMIN,
        RouteId::CreateKey,
    ),
    route(
        "GET",
        "/v1/projects/{project}/keys",
        ADMIN,
        RouteId::ListKeys,
    ),
    route(
        "DELETE",
        "/v1/projects/{project}/keys/{key}",
        ADMIN,
        RouteId::RevokeKey,
    ),
    route(
        "GET",
        "/v1/projects/{project}/pools",
        READ,
        RouteId::ListPools,
    ),
    route(
        "PUT",
        "/v1/projects/{project}/pools/{pool}",
        ADMIN,
        RouteId::PutPool,
    ),
    route(
        "GET",
        "/v1/projects/{project}/pools/{pool}",
        READ,
        RouteId::GetPool,
    ),
    route(
        "DELETE",
        "/v1/projects/{project}/pools/{pool}",
        ADMIN,
        RouteId::DeletePool,
    ),
    route(
        "POST",
        "/v1/projects/{project}/pools/{pool}/import",
        ADMIN,
        RouteId::ImportCodes,
    ),
    route(
        "POST",
        "/v1/projects/{project}/pools/{pool}/generate",
        ADMIN,
        RouteId::GenerateCodes,
    ),
    route(
        "GET",
        "/v1/projects/{project}/pools/{pool}/codes",
        READ,
        RouteId::ListCodes,
    ),
    route(
        "POST",
        "/v1/projects/{project}/pools/{pool}/codes/{code}/void",
        ADMIN,
        RouteId::VoidCode,
    ),
    route(
        "POST",
        "/v1/projects/{project}/pools/{pool}/codes/{code}/rollback",
        ADMIN,
        RouteId::RollbackCode,
    ),
    route(
        "GET",
        "/v1/projects/{project}/pools/{pool}/activity",
        READ,
        RouteId::PoolActivity,
    ),
    route(
        "PUT",
        "/v1/projects/{project}/layers/{layer}",
        ADMIN,
        RouteId::PutLayer,
    ),
    route(
        "GET",
        "/v1/projects/{project}/layers/{layer}",
        READ,
        RouteId::GetLayer,
    ),
    route(
        "DELETE",
        "/v1/projects/{project}/layers/{layer}",
        ADMIN,
        RouteId::DeleteLayer,
    ),
    route(
        "GET",
        "/v1/projects/{project}/layers/{layer}/render",
        Access::Public,
        RouteId::RenderLayer,
    ),
    route(
        "GET",
        "/v1/projects/{project}/layers",
        READ,
        RouteId::ListLayers,
    ),
    route(
        "GET",
        "/v1/projects/{project}/settings",
        READ,
        RouteId::GetSettings,
    ),
    route(
        "PUT",
        "/v1/projects/{project}/settings",
        ADMIN,
        RouteId::PutSettings,
    ),
    route(
        "POST",
        "/v1/projects/{project}/events",
        TRACKING,
        RouteId::TrackEvents,
    ),
    route(
        "GET",
        "/v1/projects/{project}/events",
        READ,
        RouteId::ListEvents,
    ),
    route(
        "POST",
        "/v1/projects/{project}/campaigns/{campaign}/send",
        ADMIN,
        RouteId::SendCampaign,
    ),
    route(
        "POST",
        "/v1/projects/{project}/render",
        ADMIN,
        RouteId::Render,
    ),
    route("GET", "/v1/openapi.json", Access::Public, RouteId::OpenApi),
];

/// A matched route with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The route.
    pub route: Route,
    /// Path parameters by name (`project`, `pool`, `layer`, `key`, `code`,
    /// ...), percent-decoded.
    pub params: Vec<(String, String)>,
}

impl Matched {
    /// A path parameter; every route's parameters are present by construction.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The router: path patterns to the routes of each method.
pub struct Router {
    paths: matchit::Router<Vec<Route>>,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    /// Builds the router from [`ROUTES`].
    pub fn new() -> Self {
        let mut paths = matchit::Router::new();
        let mut seen: Vec<&str> = Vec::new();
        for r in ROUTES {
            if !seen.contains(&r.path) {
                seen.push(r.path);
                let methods = ROUTES
                    .iter()
                    .filter(|x| x.path == r.path)
                    .copied()
                    .collect();
                paths
                    .insert(r.path, methods)
                    .expect("route patterns are valid and distinct");
            }
        }
        Router { paths }
    }

    /// Finds the route for a method and path: 404 if no path matches, 405
    /// (naming the allowed methods) if the path exists with other methods.
    pub fn find(&self, method: &str, path: &str) -> Result<Matched, Error> {
        let found = self
            .paths
            .at(path)
            .map_err(|_| Error::new(ErrorKind::NoSuchRoute, format!("there is no route {path}")))?;
        let params: Vec<(String, String)> = found
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), percent_decode(v)))
            .collect();
        match found.value.iter().find(|r| r.method == method) {
            Some(route) => Ok(Matched {
                route: *route,
                params,
            }),
            None => {
                let allowed = found.value.iter().map(|r| r.method.to_owned()).collect();
                Err(Error::method_not_allowed(method, allowed))
            }
        }
    }
}

/// Decodes `%XX` escapes in a path segment (names may contain `%`, which a
/// URL carries as `%25`). Invalid escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_routes_and_says_what_is_allowed() {
        let router = Router::new();
        let m = router
            .find("GET", "/v1/projects/demo/pools/spring%2510")
            .unwrap();
        assert_eq!(m.route.id, RouteId::GetPool);
        assert_eq!(m.param("pool"), "spring%10");
        let err = router
            .find("POST", "/v1/projects/demo/pools/x")
            .unwrap_err();
        assert_eq!((err.status(), err.code()), (405, "method_not_allowed"));
        assert_eq!(err.allowed(), ["PUT", "GET", "DELETE"]);
        let void = router
            .find(
                "POST",
                "/v1/projects/demo/pools/p/codes/CODE%2F1%20%C3%A4/void",
            )
            .unwrap();
        assert_eq!(void.route.id, RouteId::VoidCode);
        assert_eq!(void.param("code"), "CODE/1 ä");
        let events = router.find("POST", "/v1/projects/demo/events").unwrap();
        assert_eq!(events.route.access, Access::Project(Scope::Tracking));
        assert!(events.route.access.takes_tracking_token());
        let project = router.find("PUT", "/v1/projects/demo").unwrap();
        assert_eq!(project.route.id, RouteId::PutProject);
        assert_eq!(project.route.access, Access::Operator);
        let revoke = router
            .find("DELETE", "/v1/projects/demo/keys/0123456789abcdef")
            .unwrap();
        assert_eq!(revoke.param("key"), "0123456789abcdef");
        assert_eq!(router.find("GET", "/v2/x").unwrap_err().status(), 404);
        let delete = router.find("DELETE", "/v1/projects/demo/layers/l").unwrap();
        assert_eq!(
            (delete.route.id, delete.route.access),
            (RouteId::DeleteLayer, ADMIN)
        );
    }

    #[test]
    fn every_reading_route_is_a_get_and_every_write_needs_admin() {
        for r in ROUTES {
            match r.access {
                Access::Project(Scope::Read) => assert_eq!(r.method, "GET", "{r:?}"),
                Access::Project(Scope::Admin) | Access::Operator => {}
                Access::Project(Scope::Tracking) => assert_eq!(r.id, RouteId::TrackEvents),
                Access::Public => assert_eq!(r.method, "GET", "{r:?}"),
            }
            if r.method != "GET" {
                assert!(
                    matches!(
                        r.access,
                        Access::Operator | Access::Project(Scope::Admin | Scope::Tracking)
                    ),
                    "{r:?}"
                );
            }
        }
        assert_eq!(
            Access::Project(Scope::Read).key_scopes(),
            [Scope::Admin, Scope::Read]
        );
        assert!(Access::Operator.key_scopes().is_empty());
    }
}
