//! The OpenAPI document (`openapi.json`) against the routes the Worker serves
//! ([`codepool::api::ROUTES`]): the same (method, path) pairs, and each
//! operation's `security` matching the route's [`Access`] (down to the
//! project key scopes that open it); the error codes and their statuses the
//! same as [`ErrorKind::ALL`].

use std::collections::BTreeSet;

use codepool::api::{Access, Route, ROUTES};
use codepool::ErrorKind;
use serde_json::Value;

/// The document the Worker serves at `GET /v1/openapi.json`.
const OPENAPI: &str = include_str!("../../openapi.json");

/// The HTTP methods an OpenAPI path item may hold, in its lower-case spelling.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The parsed document.
fn document() -> Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is valid JSON")
}

/// Every (METHOD, path) under `paths`, methods upper-case as in [`ROUTES`].
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

/// The operation object of a route.
fn operation<'a>(doc: &'a Value, route: &Route) -> &'a Value {
    let op = &doc["paths"][route.path][route.method.to_lowercase()];
    assert!(
        op.is_object(),
        "{} {} is not documented",
        route.method,
        route.path
    );
    op
}

/// Each alternative of an operation's `security`, as `scheme` or
/// `scheme:role` for each of its schemes and roles, sorted.
fn security(op: &Value) -> Vec<Vec<String>> {
    let list = op["security"]
        .as_array()
        .expect("every operation states its own `security`");
    let mut alternatives: Vec<Vec<String>> = list
        .iter()
        .map(|requirement| {
            let schemes = requirement
                .as_object()
                .expect("a security requirement is an object");
            schemes
                .iter()
                .flat_map(|(scheme, roles)| {
                    let roles = roles.as_array().expect("a requirement's roles are a list");
                    if roles.is_empty() {
                        vec![scheme.clone()]
                    } else {
                        roles
                            .iter()
                            .map(|role| format!("{scheme}:{}", role.as_str().unwrap()))
                            .collect()
                    }
                })
                .collect()
        })
        .collect();
    alternatives.sort();
    alternatives
}

/// What `security` must say for an access level: one alternative per token
/// that is accepted on its own: the operator's token, the deployment's
/// tracking token where it opens the route, and a project key of each scope
/// that reaches it (`projectKey:<scope>`).
fn expected_security(access: Access) -> Vec<Vec<String>> {
    if access == Access::Public {
        return Vec::new();
    }
    let mut alternatives = vec![vec!["operator".to_owned()]];
    if access.takes_tracking_token() {
        alternatives.push(vec!["tracking".to_owned()]);
    }
    for scope in access.key_scopes() {
        alternatives.push(vec![format!("projectKey:{}", scope.as_str())]);
    }
    alternatives.sort();
    alternatives
}

#[test]
fn the_security_schemes_are_the_ones_operations_name() {
    let doc = document();
    let schemes: BTreeSet<&String> = doc["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes is an object")
        .keys()
        .collect();
    let named: BTreeSet<String> = ROUTES
        .iter()
        .flat_map(|r| expected_security(r.access).concat())
        .map(|s| s.split(':').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(schemes, named.iter().collect());
}

/// `ListPools` → `listPools`.
fn camel_case(id: &str) -> String {
    let mut chars = id.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[test]
fn documents_exactly_the_routes() {
    let documented = documented_operations(&document());
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = routes.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "openapi.json and ROUTES differ\n  missing from openapi.json: {missing:?}\n  \
         in openapi.json but not in ROUTES: {extra:?}"
    );
}

#[test]
fn security_matches_each_routes_access() {
    let doc = document();
    for route in ROUTES {
        assert_eq!(
            security(operation(&doc, route)),
            expected_security(route.access),
            "security of {} {} ({:?})",
            route.method,
            route.path,
            route.access
        );
    }
}

#[test]
fn operation_ids_are_the_route_ids() {
    let doc = document();
    for route in ROUTES {
        assert_eq!(
            operation(&doc, route)["operationId"],
            camel_case(&format!("{:?}", route.id)),
            "operationId of {} {}",
            route.method,
            route.path
        );
    }
}

#[test]
fn no_path_or_schema_is_written_twice() {
    // A JSON parser keeps the last of two equal keys, so a merge that left a
    // path or a schema in twice would go unseen by the tests above.
    let doc = document();
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("`components.schemas` is an object");
    for name in paths.keys().chain(schemas.keys()) {
        let key = format!("{}:", serde_json::Value::from(name.as_str()));
        assert_eq!(
            OPENAPI.matches(&key).count(),
            1,
            "{name} is written more than once"
        );
    }
}

#[test]
fn documents_exactly_the_error_codes_with_their_statuses() {
    let doc = document();
    let code = &doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"];
    let documented: Vec<&str> = code["enum"]
        .as_array()
        .expect("ErrorDetail.code lists its codes in `enum`")
        .iter()
        .map(|c| c.as_str().expect("codes are strings"))
        .collect();
    let kinds: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
    assert_eq!(
        documented, kinds,
        "openapi.json's error codes and ErrorKind"
    );
    for kind in ErrorKind::ALL {
        assert_eq!(
            code["x-codepool-status"][kind.code()],
            kind.status(),
            "the status of {kind}"
        );
    }
    let statuses = code["x-codepool-status"].as_object().unwrap();
    assert_eq!(
        statuses.len(),
        ErrorKind::ALL.len(),
        "statuses of unknown codes"
    );
}
