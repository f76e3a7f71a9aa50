//! Authentication: bearer tokens compared in constant time.

use codepool::api::Access;
use codepool::{Error, ErrorKind};
use subtle::ConstantTimeEq;
use worker::{Env, Request};

/// Checks the request may use a route: admin routes need `ADMIN_TOKEN`;
/// tracking accepts `ADMIN_TOKEN` or `TRACKING_TOKEN`.
pub fn require(access: Access, req: &Request, env: &Env) -> Result<(), Error> {
    if access == Access::Public {
        return Ok(());
    }
    let admin = secret(env, "ADMIN_TOKEN").ok_or_else(|| {
        Error::internal(
            "ADMIN_TOKEN is not set: put it in .dev.vars locally, or run \
             `wrangler secret put ADMIN_TOKEN`",
        )
    })?;
    let tracking = match access {
        Access::Tracking => secret(env, "TRACKING_TOKEN"),
        Access::Admin | Access::Public => None,
    };
    let given = bearer(req)?;
    // Both comparisons always run, so timing tells nothing about which failed.
    let is_admin = bool::from(given.as_bytes().ct_eq(admin.as_bytes()));
    let is_tracking = tracking.is_some_and(|t| bool::from(given.as_bytes().ct_eq(t.as_bytes())));
    if is_admin || is_tracking {
        Ok(())
    } else {
        Err(unauthorized("the token is wrong for this route"))
    }
}

fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .ok()
        .filter(|s| !s.is_empty())
}

fn bearer(req: &Request) -> Result<String, Error> {
    let header = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    match header.strip_prefix("Bearer ") {
        Some(token) if !token.trim().is_empty() => Ok(token.trim().to_owned()),
        _ => Err(unauthorized(
            "this route needs `Authorization: Bearer <token>`",
        )),
    }
}

fn unauthorized(message: &str) -> Error {
    Error::new(ErrorKind::Unauthorized, message)
}
