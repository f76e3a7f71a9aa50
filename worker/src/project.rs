//! The ProjectStore Durable Object (one per project) and [`Project`], the
//! Worker's client for it.
//!
//! Only created projects are reached: `lib.rs` asks the registry
//! ([`crate::registry`]) first. The store itself also refuses to make
//! tables for a project that was never created ([`Store::open`]).

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

use codepool::api::command::{self, Call, Command, KeyCheck, Ran};
use codepool::store::Store;
use codepool::{Error, ErrorKind};
use js_sys::futures::JsFuture;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use worker::{durable_object, web_sys, worker_sys, DurableObject, Env, Request, Response, State};

use crate::database::DurableDatabase;
use crate::http::platform;

/// The binding name of the ProjectStore namespace in wrangler.toml.
pub const BINDING: &str = "PROJECTS";

/// The header with which the store says it accepted the call's key.
const KEY_ACCEPTED: &str = "x-codepool-key-accepted";

/// One project's pools, codes, layers and keys in Durable Object SQLite.
#[durable_object]
pub struct ProjectStore {
    db: DurableDatabase,
    /// Whether the store was opened ([`Store::open`]) in this instance.
    open: Cell<bool>,
}

impl DurableObject for ProjectStore {
    fn new(state: State, _env: Env) -> Self {
        // No migration here: a store is migrated when it is opened for a
        // command, and only if its project was created.
        ProjectStore {
            db: DurableDatabase::new(state.storage()),
            open: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        // No await between reading the command and answering: the store's
        // statements run without other requests interleaving.
        let body = req.bytes().await?;
        let ran = match serde_json::from_slice::<Call>(&body) {
            Ok(call) => {
                let store = Store::new(&self.db);
                match self.open(&store, &call) {
                    Ok(()) => command::run(&store, &call, now()),
                    Err(err) => Ran::stopped(err),
                }
            }
            // The Worker built this command from a checked request: one the
            // store cannot read is the Worker's bug, not the caller's.
            Err(e) => Ran::stopped(Error::internal(format!(
                "the store could not read a command: {e}"
            ))),
        };
        let response = match ran.answer {
            Ok(json) => Response::ok(json)?,
            Err(err) => Response::from_json(&err)?.with_status(err.status()),
        };
        if ran.key_accepted {
            response.headers().set(KEY_ACCEPTED, "1")?;
        }
        Ok(response)
    }
}

impl ProjectStore {
    /// Opens the store once per instance ([`Store::open`]): only a project
    /// being created, or created before, gets its tables.
    fn open(&self, store: &Store<'_, DurableDatabase>, call: &Call<'_>) -> Result<(), Error> {
        if !self.open.get() {
            store.open(matches!(*call.command, Command::CreateProject))?;
            self.open.set(true);
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch.
pub fn now() -> i64 {
    js_sys::Date::now() as i64
}

/// A created project as one request uses it: every call to its store
/// carries the caller's project key, if any, which the store checks before
/// it runs the command.
#[derive(Clone)]
pub struct Project {
    env: Env,
    name: String,
    key: Option<KeyCheck>,
    /// Whether a store call accepted the key already (shared by clones, as
    /// an export's pages are).
    checked: Rc<Cell<bool>>,
}

impl Project {
    /// The project `name`, called with `key` (`None`: a trusted caller).
    pub fn new(env: &Env, name: &str, key: Option<KeyCheck>) -> Self {
        Project {
            env: env.clone(),
            name: name.to_owned(),
            key,
            checked: Rc::default(),
        }
    }

    /// The project's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Worker's environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Whether the caller presented a project key.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Makes sure the caller's project key, if any, was checked: one call
    /// that does nothing else, unless a store call accepted it already.
    pub async fn check_key(&self) -> Result<(), Error> {
        if self.key.is_some() && !self.checked.get() {
            self.call::<()>(&Command::Authorize).await?;
        }
        Ok(())
    }

    /// Lets an answer go out only once the caller's key was checked: an
    /// answer made before any store call (a malformed query, an invalid
    /// event) waits for one check, so a key that opens nothing here learns
    /// nothing, not even that its request was malformed.
    pub async fn settle(&self, answer: Result<Response, Error>) -> Result<Response, Error> {
        match &answer {
            Err(err) if matches!(err.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden) => {
                answer
            }
            _ => {
                self.check_key().await?;
                answer
            }
        }
    }

    /// Sends a command and answers with the store's JSON as it is: for
    /// routes that only forward a command.
    pub async fn forward(&self, command: &Command) -> Result<Response, Error> {
        let text = self.call_text(command).await?;
        let response = Response::ok(text).map_err(platform)?;
        response
            .headers()
            .set("content-type", "application/json")
            .map_err(platform)?;
        Ok(response)
    }

    /// Sends a command and returns its answer.
    pub async fn call<T: DeserializeOwned>(&self, command: &Command) -> Result<T, Error> {
        // Only the decoding is generic: one copy of the call for every answer type.
        let text = self.call_text(command).await?;
        serde_json::from_str(&text).map_err(|e| Error::internal(format!("store answer: {e}")))
    }

    async fn call_text(&self, command: &Command) -> Result<String, Error> {
        let call = Call {
            key: self.key.as_ref().map(Cow::Borrowed),
            command: Cow::Borrowed(command),
        };
        let body = serde_json::to_string(&call).map_err(|e| Error::internal(e.to_string()))?;
        let answer = call_object(&self.env, BINDING, &self.name, body).await?;
        // The store says whether it accepted the key, whatever the command
        // answered (success, or the command's own error).
        if answer.key_accepted {
            self.checked.set(true);
        }
        answer.into_result()
    }
}

/// A Durable Object's answer to a call.
pub struct ObjectAnswer {
    status: u16,
    text: String,
    /// Whether the store accepted the call's project key.
    key_accepted: bool,
}

impl ObjectAnswer {
    /// The JSON answer, or the error the object answered with.
    pub fn into_result(self) -> Result<String, Error> {
        let ObjectAnswer { status, text, .. } = self;
        if status == 200 {
            Ok(text)
        } else {
            Err(serde_json::from_str::<Error>(&text)
                .unwrap_or_else(|_| Error::internal(format!("store answered {status}: {text}"))))
        }
    }
}

/// Sends a JSON body to the Durable Object `name` of namespace `binding`
/// and returns its answer.
///
/// Speaks to the stub with the platform's own `Request` and `Response`: the
/// `worker` crate's wrappers read the answer through a stream reader, which
/// cost every display about 100 µs (V8 CPU profile of the hot path).
pub async fn call_object(
    env: &Env,
    binding: &str,
    name: &str,
    body: String,
) -> Result<ObjectAnswer, Error> {
    let namespace = env.durable_object(binding).map_err(platform)?;
    let stub: worker_sys::DurableObject = namespace
        .id_from_name(name)
        .and_then(|id| id.get_stub())
        .map_err(platform)?
        .into_rpc();
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    async {
        let req = web_sys::Request::new_with_str_and_init("https://project.store/", &init)?;
        let resp: web_sys::Response = JsFuture::from(stub.fetch_with_request(&req)?)
            .await?
            .dyn_into()?;
        let key_accepted = resp.headers().has(KEY_ACCEPTED)?;
        let text = JsFuture::from(resp.text()?).await?;
        Ok::<_, JsValue>(ObjectAnswer {
            status: resp.status(),
            text: text.as_string().unwrap_or_default(),
            key_accepted,
        })
    }
    .await
    .map_err(|e| Error::internal(format!("platform: the {binding} object failed: {e:?}")))
}
