//! A per-client rate limit on the public render route.
//!
//! Uses the Workers rate limiting binding `RENDER_RATE_LIMIT` (configured in
//! wrangler.toml: requests per period per client). Without the binding there
//! is no limit, which is what benchmarks run with. A client is an IPv4
//! address or an IPv6 /64 ([`codepool::api::client::rate_limit_key`]).

use codepool::api::client::rate_limit_key;
use codepool::{Error, ErrorKind};
use worker::{Env, Request};

/// The binding name in wrangler.toml.
pub const BINDING: &str = "RENDER_RATE_LIMIT";

/// Answers 429 when the client (by IP) went over the configured rate.
pub async fn check(req: &Request, env: &Env) -> Result<(), Error> {
    let Ok(limiter) = env.rate_limiter(BINDING) else {
        return Ok(());
    };
    let headers = req.headers();
    let address = headers
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .or_else(|| headers.get("x-real-ip").ok().flatten());
    match limiter.limit(rate_limit_key(address.as_deref())).await {
        Ok(outcome) if !outcome.success => Err(Error::new(
            ErrorKind::RateLimited,
            "too many layer requests from this client: try again in a minute",
        )),
        // A failing limiter must not take layers down with it.
        _ => Ok(()),
    }
}
