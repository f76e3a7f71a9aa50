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
use codepool::render::{Reservation, ReservationRequest};
use codepool::store::Store;
use codepool::{Error, ErrorKind};
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{durable_object, Context, DurableObject, Env, Request, Response, State};

use crate::alerts::Alarm;
use crate::batch;
use crate::database::DurableDatabase;
use crate::http::platform;
use crate::rpc::{self, Answer};

/// The binding name of the ProjectStore namespace in wrangler.toml.
pub const BINDING: &str = "PROJECTS";

/// One project's pools, codes, layers and keys in Durable Object SQLite.
#[durable_object]
pub struct ProjectStore {
    db: DurableDatabase,
    /// Whether the store was opened ([`Store::open`]) in this instance.
    open: Cell<bool>,
    /// Alerts' near-expiry checks and webhook deliveries ([`alerts`]).
    alarm: Alarm,
}

impl DurableObject for ProjectStore {
    fn new(state: State, env: Env) -> Self {
        // No migration here: a store is migrated when it is opened for a
        // command, and only if its project was created.
        ProjectStore {
            db: DurableDatabase::new(state.storage()),
            open: Cell::new(false),
            // Addressed by the project's name, which the platform passes on.
            alarm: Alarm::new(state.storage(), state.id().name(), &env),
        }
    }

    /// Checks near expiries and delivers alerts ([`Alarm::ring`]).
    async fn alarm(&self) -> worker::Result<Response> {
        let store = Store::new(&self.db);
        // Only a created project ever sets an alarm; a store that will not
        // open has nothing to deliver.
        if self.open(&store, false).is_ok() {
            self.alarm
                .ring(&self.db)
                .await
                .map_err(|err| worker::Error::RustError(err.to_string()))?;
        }
        Response::ok("")
    }

    /// The same commands as [`ProjectStore::command`], as HTTP: how Workers
    /// before RPC called the store, still answered so that a deploy does
    /// not fail the requests of the Workers it replaces.
    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        // No await between reading the command and answering.
        let body = req.bytes().await?;
        let ran = self.run(&body);
        let response = match ran.answer {
            Ok(json) => Response::ok(json)?,
            Err(err) => Response::ok(to_json(&err))?.with_status(err.status()),
        };
        if ran.key_accepted {
            response.headers().set("x-codepool-key-accepted", "1")?;
        }
        Ok(response)
    }
}

#[wasm_bindgen]
impl ProjectStore {
    /// Runs one command (the JSON of a [`Call`]): the RPC method the Worker
    /// calls ([`crate::rpc`]). Synchronous from the command to the answer,
    /// so the store's statements never interleave with another call's.
    pub fn command(&self, body: String) -> JsValue {
        let ran = self.run(body.as_bytes());
        match ran.answer {
            Ok(json) => Answer::encode(200, ran.key_accepted, &json),
            Err(err) => Answer::encode(err.status(), ran.key_accepted, &to_json(&err)),
        }
    }
}

/// An error as the JSON the Worker reads back.
pub fn to_json(err: &Error) -> String {
    serde_json::to_string(err).unwrap_or_else(|_| String::from("{}"))
}

impl ProjectStore {
    /// Runs the JSON of a [`Call`].
    fn run(&self, body: &[u8]) -> Ran {
        match serde_json::from_slice::<Call>(body) {
            Ok(call) => {
                let store = Store::new(&self.db);
                let create = matches!(*call.command, Command::CreateProject);
                match self.open(&store, create) {
                    Ok(()) => {
                        let ran = command::run(&store, &call, now());
                        self.alarm.after_command(&store);
                        ran
                    }
                    Err(err) => Ran::stopped(err),
                }
            }
            // The Worker built this command from a checked request: one the
            // store cannot read is the Worker's bug, not the caller's.
            Err(e) => Ran::stopped(Error::internal(format!(
                "the store could not read a command: {e}"
            ))),
        }
    }

    /// Opens the store once per instance ([`Store::open`]): only a project
    /// being created (`create`), or created before, gets its tables.
    fn open(&self, store: &Store<'_, DurableDatabase>, create: bool) -> Result<(), Error> {
        if !self.open.get() {
            store.open(create)?;
            self.alarm.opened(store)?;
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
    /// The request's context: with it, reservations share store calls
    /// ([`batch`]).
    ctx: Option<Rc<Context>>,
}

impl Project {
    /// The project `name`, called with `key` (`None`: a trusted caller).
    pub fn new(env: &Env, name: &str, key: Option<KeyCheck>) -> Self {
        Project {
            env: env.clone(),
            name: name.to_owned(),
            key,
            checked: Rc::default(),
            ctx: None,
        }
    }

    /// The same project, its reservations sharing store calls with other
    /// requests' ([`batch`]) under this request's context.
    pub fn with_context(self, ctx: Context) -> Self {
        Project {
            ctx: Some(Rc::new(ctx)),
            ..self
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

    /// Reserves codes for a render. Without a project key the reservation
    /// goes in the next call its project's displays share ([`batch`]); a
    /// call with a key goes alone, as the store checks one key per call.
    pub async fn reserve(&self, request: ReservationRequest) -> Result<Reservation, Error> {
        match (&self.key, &self.ctx) {
            (None, Some(ctx)) => batch::reserve(self, ctx, request).await,
            _ => self.call(&Command::Reserve(request)).await,
        }
    }

    /// Sends a command and returns its answer.
    pub async fn call<T: DeserializeOwned>(&self, command: &Command) -> Result<T, Error> {
        // Only the decoding is generic: one copy of the call for every answer type.
        let text = self.call_text(command).await?;
        serde_json::from_slice(text.as_bytes())
            .map_err(|e| Error::internal(format!("store answer: {e}")))
    }

    async fn call_text(&self, command: &Command) -> Result<String, Error> {
        let call = Call {
            key: self.key.as_ref().map(Cow::Borrowed),
            command: Cow::Borrowed(command),
        };
        let body = serde_json::to_string(&call).map_err(|e| Error::internal(e.to_string()))?;
        let answer = rpc::call(&self.env, BINDING, &self.name, body).await?;
        // The store says whether it accepted the key, whatever the command
        // answered (success, or the command's own error).
        if answer.key_accepted {
            self.checked.set(true);
        }
        answer.into_result()
    }
}
