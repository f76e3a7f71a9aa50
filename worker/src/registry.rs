//! The registry of created projects: one Durable Object for the deployment
//! (ProjectRegistry), and the Worker's client for it, which remembers the
//! projects it saw.
//!
//! Every request for a project passes here before anything reaches the
//! project's own Durable Object, because reaching one, even to ask whether
//! it holds anything, makes its SQLite database (workerd creates the file
//! when the object starts). So a made-up project name costs one read of
//! the registry and creates nothing.

use std::cell::RefCell;
use std::collections::HashSet;

use codepool::api::command::{self, RegistryCommand};
use codepool::project::{ProjectInfo, Registered};
use codepool::store::Registry;
use codepool::Error;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::database::DurableDatabase;
use crate::project::{now, to_json};
use crate::rpc::{self, Answer};

/// The binding name of the ProjectRegistry namespace in wrangler.toml.
pub const BINDING: &str = "REGISTRY";

/// The name of the one registry object.
const INSTANCE: &str = "projects";

/// The deployment's list of created projects in Durable Object SQLite.
#[durable_object]
pub struct ProjectRegistry {
    db: DurableDatabase,
}

impl DurableObject for ProjectRegistry {
    fn new(state: State, _env: Env) -> Self {
        ProjectRegistry {
            db: DurableDatabase::new(state.storage()),
        }
    }

    /// The same commands as [`ProjectRegistry::command`], as HTTP: how
    /// Workers before RPC called the registry (see `ProjectStore::fetch`).
    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let body = req.bytes().await?;
        match self.run(&body) {
            Ok(json) => Response::ok(json),
            Err(err) => Ok(Response::ok(to_json(&err))?.with_status(err.status())),
        }
    }
}

#[wasm_bindgen]
impl ProjectRegistry {
    /// Runs one [`RegistryCommand`] (its JSON): the RPC method the Worker
    /// calls ([`crate::rpc`]).
    pub fn command(&self, body: String) -> JsValue {
        match self.run(body.as_bytes()) {
            Ok(json) => Answer::encode(200, false, &json),
            Err(err) => Answer::encode(err.status(), false, &to_json(&err)),
        }
    }
}

impl ProjectRegistry {
    /// Runs the JSON of a [`RegistryCommand`].
    fn run(&self, body: &[u8]) -> Result<String, Error> {
        // The Worker built this command: one the registry cannot read is a
        // bug of the Worker's, not the caller's.
        serde_json::from_slice::<RegistryCommand>(body)
            .map_err(|e| Error::internal(format!("the registry could not read a command: {e}")))
            .and_then(|cmd| command::execute_registry(&Registry::new(&self.db), &cmd, now()))
    }
}

thread_local! {
    /// Projects this isolate saw created. Projects are never deleted, so a
    /// name in here needs no second look; only created projects get in, so
    /// made-up names cannot grow it.
    static KNOWN: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

fn remember(name: &str) {
    KNOWN.with(|known| known.borrow_mut().insert(name.to_owned()));
}

async fn call<T: DeserializeOwned>(env: &Env, command: &RegistryCommand) -> Result<T, Error> {
    let body = serde_json::to_string(command).map_err(|e| Error::internal(e.to_string()))?;
    let text = rpc::call(env, BINDING, INSTANCE, body)
        .await?
        .into_result()?;
    serde_json::from_slice(text.as_bytes())
        .map_err(|e| Error::internal(format!("registry answer: {e}")))
}

/// Whether the project was created; asks the registry only for a name this
/// isolate has not seen created.
pub async fn exists(env: &Env, name: &str) -> Result<bool, Error> {
    if KNOWN.with(|known| known.borrow().contains(name)) {
        return Ok(true);
    }
    Ok(lookup(env, name).await?.is_some())
}

/// The project, if it was created.
pub async fn lookup(env: &Env, name: &str) -> Result<Option<ProjectInfo>, Error> {
    let project: Option<ProjectInfo> = call(
        env,
        &RegistryCommand::Lookup {
            project: name.to_owned(),
        },
    )
    .await?;
    if project.is_some() {
        remember(name);
    }
    Ok(project)
}

/// Records the project as created (idempotent).
pub async fn create(env: &Env, name: &str) -> Result<Registered, Error> {
    let registered: Registered = call(
        env,
        &RegistryCommand::Create {
            project: name.to_owned(),
        },
    )
    .await?;
    remember(name);
    Ok(registered)
}
