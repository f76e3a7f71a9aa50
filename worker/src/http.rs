//! HTTP plumbing: JSON answers, JSON errors, bodies with limits, CORS.

use codepool::api::body::MAX_JSON_VALUES;
use codepool::{Error, ErrorKind};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsCast;
use worker::{Request, Response};

/// Largest JSON body of an admin route (a layer template fits many times).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// A 200 JSON answer.
pub fn json<T: Serialize>(value: &T) -> Result<Response, Error> {
    Response::from_json(value).map_err(platform)
}

/// The JSON error answer with its status. A 5xx answer shows only an id;
/// its detail is logged under that id.
pub fn error(err: &Error) -> Response {
    let incident = if err.kind().is_server_error() {
        let id = incident_id();
        worker::console_error!("codepool: error {id}: {err}");
        id
    } else {
        String::new()
    };
    let response = Response::from_json(&err.to_body(&incident))
        .unwrap_or_else(|_| Response::empty().expect("an empty response can always be built"))
        .with_status(err.status());
    let headers = response.headers();
    match err.kind() {
        ErrorKind::RateLimited => {
            let _ = headers.set("retry-after", "60");
        }
        ErrorKind::MethodNotAllowed => {
            let _ = headers.set("allow", &err.allowed().join(", "));
        }
        _ => {}
    }
    response
}

/// An id to find a 5xx answer's detail in the log: the time and a random part.
fn incident_id() -> String {
    let now = js_sys::Date::now() as u64;
    let random = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("{now:x}-{random:08x}")
}

/// Reads a JSON body of at most [`MAX_JSON_BODY`] bytes. An empty body is
/// `None`; a body must come as `application/json`, and nest at most
/// [`codepool::input::json::MAX_BODY_DEPTH`] levels.
pub async fn read_json<T: DeserializeOwned>(req: &mut Request) -> Result<Option<T>, Error> {
    let bytes = read_body(req, MAX_JSON_BODY).await?;
    if bytes.is_empty() {
        return Ok(None);
    }
    require_type(req, &["application/json"])?;
    codepool::input::json::from_body(&bytes, MAX_JSON_VALUES).map(Some)
}

/// Reads a JSON body that must be there, of at most `limit` bytes and
/// `max_values` values, sent as `application/json`.
pub async fn read_json_body<T: DeserializeOwned>(
    req: &mut Request,
    limit: usize,
    max_values: usize,
) -> Result<T, Error> {
    require_type(req, &["application/json"])?;
    let bytes = read_body(req, limit).await?;
    codepool::input::json::from_body(&bytes, max_values)
}

/// The request's content type without parameters, lower case (`text/csv`).
pub fn media_type(req: &Request) -> String {
    content_type(req)
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn content_type(req: &Request) -> String {
    req.headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Checks the request's content type is one of `allowed`.
pub fn require_type(req: &Request, allowed: &[&str]) -> Result<(), Error> {
    let given = content_type(req);
    if allowed.contains(&media_type(req).as_str()) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            format!(
                "content type {given:?} is not accepted here: send {}",
                allowed.join(" or ")
            ),
        ))
    }
}

/// Reads a whole body, refusing more than `limit` bytes with 413.
///
/// The body's chunks are copied into the Worker's memory as they arrive,
/// into a buffer sized once by the declared length: the platform never holds
/// the whole body besides (reading it as one `ArrayBuffer` would, briefly
/// doubling what a large body takes), and one larger than `limit` is refused
/// at the chunk that passes it.
pub async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, Error> {
    let too_large = || {
        Error::new(
            ErrorKind::BodyTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let Some(stream) = req.inner().body() else {
        return Ok(Vec::new());
    };
    let mut chunks = wasm_streams::ReadableStream::from_raw(stream).into_stream();
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|err| incomplete(&format!("{err:?}")))?
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| Error::internal("the request body is not bytes"))?;
        let start = body.len();
        let end = start.saturating_add(chunk.length() as usize);
        if end > limit {
            return Err(too_large());
        }
        body.resize(end, 0);
        chunk.copy_to(&mut body[start..]);
    }
    if let Some(declared) = declared.filter(|&n| body.len() < n) {
        let got = body.len();
        return Err(incomplete(&format!("{got} of {declared} bytes arrived")));
    }
    Ok(body)
}

/// A body that ended before it was whole (the client went away).
fn incomplete(detail: &str) -> Error {
    Error::new(
        ErrorKind::BodyIncomplete,
        format!("the body did not arrive completely ({detail}): send it again"),
    )
}

/// Reads the request's query string into a route's query type
/// ([`codepool::api::query`]).
///
/// Reads the query off the URL the platform already serialized rather than
/// parsing the whole URL again (which the hot render route would pay for).
pub fn read_query<T: DeserializeOwned>(req: &Request) -> Result<T, Error> {
    let url = req.inner().url();
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    codepool::api::query::parse(query)
}

/// Adds the headers that let any site fetch a public route's answer.
pub fn with_cors(response: Response) -> Response {
    let headers = response.headers();
    let _ = headers.set("access-control-allow-origin", "*");
    // A layer hands out a code per display: never cache it.
    let _ = headers.set("cache-control", "no-store");
    response
}

/// The answer to a CORS preflight of a public route. Only a preflight needs
/// the allowed methods and headers, so other answers do not carry them.
pub fn preflight() -> Response {
    let response = with_cors(
        Response::empty()
            .expect("an empty response can always be built")
            .with_status(204),
    );
    let headers = response.headers();
    let _ = headers.set("access-control-allow-methods", "GET, OPTIONS");
    let _ = headers.set("access-control-allow-headers", "content-type");
    let _ = headers.set("access-control-max-age", "86400");
    response
}

/// A platform failure as a 500.
pub fn platform(err: worker::Error) -> Error {
    Error::internal(format!("platform: {err}"))
}
