//! The ProjectStore Durable Object (one per project) and the Worker's client for it.

use codepool::command::{self, Command};
use codepool::store::Store;
use codepool::Error;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State};

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
        let result = serde_json::from_slice::<Command>(&body)
            .map_err(|e| Error::bad_request("invalid_command", e.to_string()))
            .and_then(|cmd| command::execute(&Store::new(&self.db), &cmd, now()));
        match result {
            Ok(value) => Response::from_json(&value),
            Err(err) => Ok(Response::from_json(&err)?.with_status(err.status)),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// Sends a command to a project's store and returns its answer.
pub async fn call<T: DeserializeOwned>(
    env: &Env,
    project: &str,
    command: &Command,
) -> Result<T, Error> {
    let namespace = env.durable_object(BINDING).map_err(platform)?;
    let stub = namespace
        .id_from_name(project)
        .and_then(|id| id.get_stub())
        .map_err(platform)?;
    let body = serde_json::to_string(command).map_err(|e| Error::internal(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&body)));
    let req = Request::new_with_init("https://project.store/", &init).map_err(platform)?;
    let mut resp = stub.fetch_with_request(req).await.map_err(platform)?;
    let text = resp.text().await.map_err(platform)?;
    if resp.status_code() == 200 {
        serde_json::from_str(&text).map_err(|e| Error::internal(format!("store answer: {e}")))
    } else {
        Err(serde_json::from_str::<Error>(&text).unwrap_or_else(|_| {
            Error::internal(format!("store answered {}: {text}", resp.status_code()))
        }))
    }
}
