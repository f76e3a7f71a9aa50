//! Authentication: who is calling, from the bearer token alone.
//!
//! The deployment's tokens (`ADMIN_TOKEN`, the operator's; `TRACKING_TOKEN`,
//! for posting events) are compared here in constant time. A token in the
//! form of a project key (`cpk_…`) can only be checked by its project's
//! store, which [`crate::project::Project`] asks; any other token is refused
//! here, before anything is looked up.

use codepool::api::Access;
use codepool::project::key::PresentedKey;
use codepool::{Error, ErrorKind};
use subtle::ConstantTimeEq;
use worker::{Env, Request};

/// Who is calling, as far as the Worker can tell without a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A public route: no token is needed, none is looked at.
    Public,
    /// The operator's `ADMIN_TOKEN`, or `TRACKING_TOKEN` on the route it
    /// opens: trusted, nothing left to check.
    Deployment,
    /// A token in the form of a project key: its project's store checks it.
    Key(String),
}

/// Who calls a route with this access: 401 without a token or with one
/// that can open nothing; 403 for the tracking token anywhere but
/// `POST /events`.
pub fn caller(access: Access, req: &Request, env: &Env) -> Result<Caller, Error> {
    if access == Access::Public {
        return Ok(Caller::Public);
    }
    let admin = secret(env, "ADMIN_TOKEN").ok_or_else(|| {
        Error::internal(
            "ADMIN_TOKEN is not set: put it in .dev.vars locally, or run \
             `wrangler secret put ADMIN_TOKEN`",
        )
    })?;
    let tracking = secret(env, "TRACKING_TOKEN");
    let given = bearer(req)?;
    // Both comparisons always run, so timing tells nothing about which failed.
    let is_admin = bool::from(given.as_bytes().ct_eq(admin.as_bytes()));
    let is_tracking = tracking.is_some_and(|t| bool::from(given.as_bytes().ct_eq(t.as_bytes())));
    if is_admin {
        Ok(Caller::Deployment)
    } else if is_tracking {
        if access.takes_tracking_token() {
            Ok(Caller::Deployment)
        } else {
            Err(Error::new(
                ErrorKind::Forbidden,
                "the tracking token may only post events (POST /events)",
            ))
        }
    } else if PresentedKey::parse(&given).is_some() {
        Ok(Caller::Key(given))
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

/// 401 with this message.
pub fn unauthorized(message: &str) -> Error {
    Error::new(ErrorKind::Unauthorized, message)
}
