//! The ProjectStore Durable Object (one per project) and the Worker's client for it.

use codepool::api::command::{self, Command};
use codepool::store::Store;
use codepool::Error;
use js_sys::futures::JsFuture;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use worker::{durable_object, web_sys, worker_sys, DurableObject, Env, Request, Response, State};

use crate::database::DurableDatabase;
use crate::http::platform;

/// The binding name of the ProjectStore namespace in wrangler.toml.
pub const BINDING: &str = "PROJECTS";

/// One project's pools, codes and layers in Durable Object SQLite.
#[durable_object]
pub struct ProjectStore {
    db: DurableDatabase,
}

impl DurableObject for ProjectStore {
    fn new(state: State, _env: Env) -> Self {
        let db = DurableDatabase::new(state.storage());
        if let Err(err) = Store::new(&db).migrate() {
            worker::console_error!("codepool: migration failed: {err}");
        }
        ProjectStore { db }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        // No await between reading the command and answering: the store's
        // statements run without other requests interleaving.
        let body = req.bytes().await?;
        // The Worker built this command from a checked request: one the
        // store cannot read is the Worker's bug, not the caller's.
        let result = serde_json::from_slice::<Command>(&body)
            .map_err(|e| Error::internal(format!("the store could not read a command: {e}")))
            .and_then(|cmd| command::execute(&Store::new(&self.db), &cmd, now()));
        match result {
            Ok(json) => Response::ok(json),
            Err(err) => Ok(Response::from_json(&err)?.with_status(err.status())),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// Sends a command to a project's store and answers with the store's JSON
/// as it is: for routes that only forward a command.
pub async fn forward(env: &Env, project: &str, command: &Command) -> Result<Response, Error> {
    let text = call_text(env, project, command).await?;
    let response = Response::ok(text).map_err(platform)?;
    response
        .headers()
        .set("content-type", "application/json")
        .map_err(platform)?;
    Ok(response)
}

/// Sends a command to a project's store and returns its answer.
pub async fn call<T: DeserializeOwned>(
    env: &Env,
    project: &str,
    command: &Command,
) -> Result<T, Error> {
    // Only the decoding is generic: one copy of the call for every answer type.
    let text = call_text(env, project, command).await?;
    serde_json::from_str(&text).map_err(|e| Error::internal(format!("store answer: {e}")))
}

/// Sends a command and returns the store's JSON answer, or its error.
///
/// Speaks to the stub with the platform's own `Request` and `Response`: the
/// `worker` crate's wrappers read the answer through a stream reader, which
/// cost every display about 100 µs (V8 CPU profile of the hot path).
async fn call_text(env: &Env, project: &str, command: &Command) -> Result<String, Error> {
    let namespace = env.durable_object(BINDING).map_err(platform)?;
    let stub: worker_sys::DurableObject = namespace
        .id_from_name(project)
        .and_then(|id| id.get_stub())
        .map_err(platform)?
        .into_rpc();
    let body = serde_json::to_string(command).map_err(|e| Error::internal(e.to_string()))?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    let (status, text) = async {
        let req = web_sys::Request::new_with_str_and_init("https://project.store/", &init)?;
        let resp: web_sys::Response = JsFuture::from(stub.fetch_with_request(&req)?)
            .await?
            .dyn_into()?;
        let text = JsFuture::from(resp.text()?).await?;
        Ok::<_, JsValue>((resp.status(), text.as_string().unwrap_or_default()))
    }
    .await
    .map_err(|e| Error::internal(format!("platform: the project's store failed: {e:?}")))?;
    if status == 200 {
        Ok(text)
    } else {
        Err(serde_json::from_str::<Error>(&text)
            .unwrap_or_else(|_| Error::internal(format!("store answered {status}: {text}"))))
    }
}
