//! The HTTP API's routes as data: what the Worker serves and the tests walk.
//!
//! The Worker maps each [`RouteId`] to a handler with an exhaustive match, so
//! a route cannot be added here without a handler, and the OpenAPI document
//! and the auth test check themselves against [`ROUTES`].

use crate::error::{Error, ErrorKind};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (CORS allowed): the rendering of stored, active layers, and
    /// the API description.
    Public,
    /// `Authorization: Bearer <ADMIN_TOKEN>`.
    Admin,
    /// The admin token or `TRACKING_TOKEN`, which can do nothing else: for
    /// shop back ends that post tracked events.
    Tracking,
}

/// Every route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    /// `GET /pools`
    ListPools,
    /// `PUT /pools/{pool}`
    PutPool,
    /// `GET /pools/{pool}`
    GetPool,
    /// `POST /pools/{pool}/import`
    ImportCodes,
    /// `GET /pools/{pool}/codes`
    ListCodes,
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
    /// `POST /events` (admin or tracking token)
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

/// All routes.
pub const ROUTES: &[Route] = &[
    route(
        "GET",
        "/v1/projects/{project}/pools",
        Access::Admin,
        RouteId::ListPools,
    ),
    route(
        "PUT",
        "/v1/projects/{project}/pools/{pool}",
        Access::Admin,
        RouteId::PutPool,
    ),
    route(
        "GET",
        "/v1/projects/{project}/pools/{pool}",
        Access::Admin,
        RouteId::GetPool,
    ),
    route(
        "POST",
        "/v1/projects/{project}/pools/{pool}/import",
        Access::Admin,
        RouteId::ImportCodes,
    ),
    route(
        "GET",
        "/v1/projects/{project}/pools/{pool}/codes",
        Access::Admin,
        RouteId::ListCodes,
    ),
    route(
        "GET",
        "/v1/projects/{project}/pools/{pool}/activity",
        Access::Admin,
        RouteId::PoolActivity,
    ),
    route(
        "PUT",
        "/v1/projects/{project}/layers/{layer}",
        Access::Admin,
        RouteId::PutLayer,
    ),
    route(
        "GET",
        "/v1/projects/{project}/layers/{layer}",
        Access::Admin,
        RouteId::GetLayer,
    ),
    route(
        "DELETE",
        "/v1/projects/{project}/layers/{layer}",
        Access::Admin,
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
        Access::Admin,
        RouteId::ListLayers,
    ),
    route(
        "GET",
        "/v1/projects/{project}/settings",
        Access::Admin,
        RouteId::GetSettings,
    ),
    route(
        "PUT",
        "/v1/projects/{project}/settings",
        Access::Admin,
        RouteId::PutSettings,
    ),
    route(
        "POST",
        "/v1/projects/{project}/events",
        Access::Tracking,
        RouteId::TrackEvents,
    ),
    route(
        "GET",
        "/v1/projects/{project}/events",
        Access::Admin,
        RouteId::ListEvents,
    ),
    route(
        "POST",
        "/v1/projects/{project}/campaigns/{campaign}/send",
        Access::Admin,
        RouteId::SendCampaign,
    ),
    route(
        "POST",
        "/v1/projects/{project}/render",
        Access::Admin,
        RouteId::Render,
    ),
    route("GET", "/v1/openapi.json", Access::Public, RouteId::OpenApi),
];

/// A matched route with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The route.
    pub route: Route,
    /// Path parameters by name (`project`, `pool`, `layer`), percent-decoded.
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
            .find("DELETE", "/v1/projects/demo/pools/x")
            .unwrap_err();
        assert_eq!((err.status(), err.code()), (405, "method_not_allowed"));
        assert_eq!(err.allowed(), ["PUT", "GET"]);
        let events = router.find("POST", "/v1/projects/demo/events").unwrap();
        assert_eq!(events.route.access, Access::Tracking);
        assert_eq!(router.find("GET", "/v2/x").unwrap_err().status(), 404);
        let delete = router.find("DELETE", "/v1/projects/demo/layers/l").unwrap();
        assert_eq!(
            (delete.route.id, delete.route.access),
            (RouteId::DeleteLayer, Access::Admin)
        );
    }
}
