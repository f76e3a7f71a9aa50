//! Admin authentication: a bearer token compared in constant time.

use codepool::Error;
use subtle::ConstantTimeEq;
use worker::{Env, Request};

/// Checks `Authorization: Bearer <ADMIN_TOKEN>`.
pub fn require_admin(req: &Request, env: &Env) -> Result<(), Error> {
    let expected = env
        .secret("ADMIN_TOKEN")
        .map(|s| s.to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::internal(
                "ADMIN_TOKEN is not set: put it in .dev.vars locally, or run \
                 `wrangler secret put ADMIN_TOKEN`",
            )
        })?;
    let header = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let Some(given) = header.strip_prefix("Bearer ") else {
        return Err(unauthorized(
            "this route needs `Authorization: Bearer <token>`",
        ));
    };
    if bool::from(given.trim().as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(unauthorized("the token is wrong"))
    }
}

fn unauthorized(message: &str) -> Error {
    Error::new(401, "unauthorized", message)
}
