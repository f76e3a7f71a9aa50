//! The Dispenser Durable Object (one per layer and slot): serves a busy
//! layer's displays from codes it holds under leases of the project's
//! store ([`codepool::dispenser`]), and [`reserve`] / [`recall_layer`] /
//! [`forget`], the Worker's side of it.
//!
//! The protocol's decisions are all in the core ([`Serving`], [`Held`]);
//! this file only carries its steps: exchanges to the store, recalls to
//! other dispensers, and the alarm that reports and gives back leases when
//! no display comes.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

use codepool::api::Command;
use codepool::dispenser::{
    self, Demand, DispenserCall, Exchange, Exchanged, Held, Holder, Post, Serving, Step,
};
use codepool::render::{Reservation, ReservationRequest};
use codepool::Error;
use futures_util::future::join_all;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use crate::database::DurableDatabase;
use crate::project::{now, to_json, Project};
use crate::rpc::{self, Answer};

/// The binding name of the Dispenser namespace in wrangler.toml.
pub const BINDING: &str = "DISPENSERS";

/// A layer's dispenser: the leases it holds, in its own SQLite storage.
#[durable_object]
pub struct Dispenser {
    /// Shared with the background exchanges it starts.
    inner: Rc<Inner>,
}

/// A dispenser's state in this instance.
struct Inner {
    db: DurableDatabase,
    state: State,
    env: Env,
    /// Recent demand, by pool: how large a block to ask for.
    demand: RefCell<Demand>,
    /// Whether the schema was made in this instance.
    migrated: Cell<bool>,
    /// Whether an exchange runs in the background (one at a time).
    refilling: Cell<bool>,
    /// The alarm this instance set, if any: set again only when sooner.
    alarm: Cell<Option<i64>>,
    /// Exchanges sent and not yet taken in: with none, the store knows
    /// that a lease this dispenser does not list never reaches it.
    in_flight: Cell<u32>,
}

impl DurableObject for Dispenser {
    fn new(state: State, env: Env) -> Self {
        Dispenser {
            inner: Rc::new(Inner {
                db: DurableDatabase::new(state.storage()),
                state,
                env,
                demand: RefCell::default(),
                migrated: Cell::new(false),
                refilling: Cell::new(false),
                alarm: Cell::new(None),
                in_flight: Cell::new(0),
            }),
        }
    }

    /// Dispensers are called over RPC only ([`Dispenser::command`]).
    async fn fetch(&self, _req: Request) -> worker::Result<Response> {
        Response::error("dispensers answer RPC calls only", 404)
    }

    /// Reports what was handed out and gives back leases that are due,
    /// when no display brought an exchange first. A failed exchange fails
    /// the alarm, which the platform runs again with backoff.
    async fn alarm(&self) -> worker::Result<Response> {
        let inner = &self.inner;
        inner.alarm.set(None);
        if let Some(post) = inner.post().map_err(to_worker)? {
            inner.flush(&post, false).await.map_err(to_worker)?;
        }
        Response::ok("")
    }
}

#[wasm_bindgen(wasm_bindgen_futures = ::worker::wasm_bindgen_futures)]
impl Dispenser {
    /// Runs one call (the JSON of a [`DispenserCall`]): the RPC method.
    pub async fn command(&self, body: String) -> JsValue {
        let answer = match serde_json::from_slice::<DispenserCall>(body.as_bytes()) {
            Ok(call) => self.inner.run(call).await,
            Err(e) => Err(Error::internal(format!(
                "a dispenser could not read a call: {e}"
            ))),
        };
        match answer {
            Ok(json) => Answer::encode(200, false, &json),
            Err(err) => Answer::encode(err.status(), false, &to_json(&err)),
        }
    }
}

impl Inner {
    async fn run(self: &Rc<Self>, call: DispenserCall) -> Result<String, Error> {
        self.migrate()?;
        match call {
            DispenserCall::Reserve { at, request } => {
                self.remember(&at)?;
                let reservation = self.reserve(&at, &request).await?;
                json(&reservation)
            }
            DispenserCall::Recall { at } => {
                self.remember(&at)?;
                Held::new(&self.db).recall()?;
                self.flush(&at, false).await?;
                json(&())
            }
            DispenserCall::Forget { codes, .. } => {
                Held::new(&self.db).forget(&codes)?;
                json(&())
            }
        }
    }

    /// Serves a display: [`Serving`]'s steps, carried out.
    async fn reserve(
        self: &Rc<Self>,
        post: &Post,
        request: &ReservationRequest,
    ) -> Result<Reservation, Error> {
        let held = Held::new(&self.db);
        let mut serving = Serving::new(&post.dispenser, &post.layer, request);
        let mut step = serving.start(&held, &self.demand.borrow(), now())?;
        loop {
            step = match step {
                Step::Done(reservation) => {
                    {
                        let now = now();
                        let mut demand = self.demand.borrow_mut();
                        for (pool, codes) in &reservation.codes {
                            let fresh = codes.iter().filter(|c| reservation.fresh.contains(c));
                            demand.note(pool, fresh.count(), now);
                        }
                    }
                    self.after(post).await;
                    return Ok(reservation);
                }
                Step::Exchange(mut exchange) => {
                    let _flight = self.take_off(&mut exchange);
                    let answer = self.send(post, &exchange).await?;
                    serving.exchanged(&held, &exchange, &answer, &self.demand.borrow(), now())?
                }
                Step::Recall(names) => {
                    let recalls = names.iter().map(|name| {
                        let at = Post {
                            dispenser: name.clone(),
                            ..post.clone()
                        };
                        recall(&self.env, at)
                    });
                    // One that cannot be reached keeps its codes: the
                    // display goes on with what the others gave back.
                    join_all(recalls).await;
                    serving.recalled(&held, &self.demand.borrow(), now())?
                }
            };
        }
    }

    /// Reports and gives back what is due, until nothing is; with
    /// `refill`, also asks for a block of recent demand where held codes
    /// run low (not when recalled: what it gives back is for others).
    async fn flush(&self, post: &Post, refill: bool) -> Result<(), Error> {
        let held = Held::new(&self.db);
        // Each round reports up to MAX_REPORT codes; a few rounds at most.
        for _ in 0..8 {
            let demand = self.demand.borrow().clone();
            let mut exchange = held.exchange(
                &post.dispenser,
                &post.layer,
                None,
                refill.then_some(&demand),
                now(),
            )?;
            let idle = exchange.handed.is_empty()
                && exchange.returned.is_empty()
                && exchange.want.is_empty();
            let flight = self.take_off(&mut exchange);
            let answer = self.send(post, &exchange).await?;
            held.apply(&exchange, &answer, now())?;
            drop(flight);
            if idle || !held.wants_exchange(&Demand::default(), now())? {
                break;
            }
        }
        self.schedule().await
    }

    /// After a display: refill or report in the background if due, and
    /// make sure the alarm will come for what is pending.
    async fn after(self: &Rc<Self>, post: &Post) {
        let due = Held::new(&self.db)
            .wants_exchange(&self.demand.borrow(), now())
            .unwrap_or(false);
        if due && !self.refilling.replace(true) {
            let inner = Rc::clone(self);
            let post = post.clone();
            worker::wasm_bindgen_futures::spawn_local(async move {
                let _ = inner.flush(&post, true).await;
                inner.refilling.set(false);
            });
        }
        let _ = self.schedule().await;
    }

    /// Counts an exchange in flight until the returned guard drops (its
    /// answer taken in, or the call failed), and marks it `alone` if no
    /// other is: built and sent with no await between, its `known` leases
    /// are then all this dispenser will ever hold.
    fn take_off(&self, exchange: &mut Exchange) -> Flight<'_> {
        exchange.alone = self.in_flight.get() == 0;
        self.in_flight.set(self.in_flight.get() + 1);
        Flight(&self.in_flight)
    }

    /// Sets the alarm for the next thing due, if sooner than the one set.
    async fn schedule(&self) -> Result<(), Error> {
        // An alarm within REPORT_MS comes before anything a display just
        // did falls due: no need to look (a query per display).
        if self
            .alarm
            .get()
            .is_some_and(|set| set <= now() + dispenser::REPORT_MS)
        {
            return Ok(());
        }
        let Some(at) = Held::new(&self.db).next_alarm(now())? else {
            return Ok(());
        };
        if self.alarm.get().is_some_and(|set| set <= at) {
            return Ok(());
        }
        // A time, not a bare i64: the worker crate reads an i64 as an
        // offset from now (`From<i64> for ScheduledTime`), which put the
        // alarm some fifty years away, so no alarm ever came.
        let time = js_sys::Date::new(&JsValue::from_f64(at.max(now() + 1) as f64));
        self.state
            .storage()
            .set_alarm(worker::ScheduledTime::new(time))
            .await
            .map_err(crate::http::platform)?;
        self.alarm.set(Some(at));
        Ok(())
    }

    async fn send(&self, post: &Post, exchange: &Exchange) -> Result<Exchanged, Error> {
        Project::new(&self.env, &post.project, None)
            .call(&Command::Exchange(exchange.clone()))
            .await
    }

    fn migrate(&self) -> Result<(), Error> {
        if !self.migrated.get() {
            Held::new(&self.db).migrate()?;
            self.migrated.set(true);
        }
        Ok(())
    }

    /// Keeps who this dispenser is, for its alarm.
    fn remember(&self, post: &Post) -> Result<(), Error> {
        Held::new(&self.db).remember(post)
    }

    fn post(&self) -> Result<Option<Post>, Error> {
        self.migrate()?;
        Held::new(&self.db).post()
    }
}

/// An exchange in flight ([`Inner::take_off`]).
struct Flight<'a>(&'a Cell<u32>);

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

thread_local! {
    /// Dispensers this isolate has called: only a first call gives a
    /// location hint (it places a dispenser when the call creates it).
    static CALLED: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// Serves a display's reservation at the layer's dispenser for its customer.
pub async fn reserve(
    project: &Project,
    layer: &str,
    dispensers: u32,
    request: ReservationRequest,
    req: Option<&Request>,
) -> Result<Reservation, Error> {
    let slot = dispenser::slot(request.customer_id.as_deref(), dispensers, random());
    let at = Post {
        project: project.name().to_owned(),
        layer: layer.to_owned(),
        dispenser: dispenser::name(project.name(), layer, slot),
    };
    let first = CALLED.with(|c| c.borrow_mut().insert(at.dispenser.clone()));
    let hint = if first {
        req.and_then(location_hint)
    } else {
        None
    };
    call_at(
        project.env(),
        &at,
        hint,
        DispenserCall::Reserve {
            at: at.clone(),
            request,
        },
    )
    .await
}

/// Has every dispenser that served a layer give back its leases: after the
/// layer changed, was paused or deleted, so that none serves the old one.
///
/// Best effort: the layer's change is stored whatever happens here, and a
/// dispenser that was not reached hears of it at its next exchange (within
/// [`dispenser::TERMS_MS`]); the store grants nothing for the new version
/// while a lease of the old one is out.
pub async fn recall_layer(project: &Project, layer: &str) {
    let names: Vec<String> = match project
        .call(&Command::Dispensers {
            layer: layer.to_owned(),
        })
        .await
    {
        Ok(names) => names,
        Err(err) => {
            worker::console_error!("dispensers of {layer:?} not recalled: {err}");
            return;
        }
    };
    let recalls = names.into_iter().map(|dispenser| {
        let at = Post {
            project: project.name().to_owned(),
            layer: layer.to_owned(),
            dispenser,
        };
        recall(project.env(), at)
    });
    for result in join_all(recalls).await {
        if let Err(err) = result {
            worker::console_error!("a dispenser of {layer:?} not recalled: {err}");
        }
    }
}

/// Has the dispensers holding leases of these pools give them back, when
/// a display served by the store or a campaign needs codes they hold.
/// Answers whether there were any.
pub async fn recall_pools(project: &Project, pools: Vec<String>) -> Result<bool, Error> {
    let holders: Vec<Holder> = project.call(&Command::Holders { pools }).await?;
    let recalls = holders.iter().map(|holder| {
        let at = Post {
            project: project.name().to_owned(),
            layer: holder.layer.clone(),
            dispenser: holder.dispenser.clone(),
        };
        recall(project.env(), at)
    });
    // One that cannot be reached keeps its codes; the others' count.
    join_all(recalls).await;
    Ok(!holders.is_empty())
}

/// Has dispensers forget a code an admin voided after one of them handed
/// it out ([`Held::forget`]), so none shows it to its customer again.
///
/// Best effort, as [`recall_layer`]: the void is stored whatever happens
/// here; a dispenser that was not reached is logged.
pub async fn forget(project: &Project, holders: Vec<Holder>, code: &str) {
    let calls = holders.into_iter().map(|holder| {
        let at = Post {
            project: project.name().to_owned(),
            layer: holder.layer,
            dispenser: holder.dispenser,
        };
        let call = DispenserCall::Forget {
            at: at.clone(),
            codes: vec![code.to_owned()],
        };
        async move {
            let result: Result<(), Error> = call_at(project.env(), &at, None, call).await;
            result.map_err(|err| (at.dispenser, err))
        }
    });
    for result in join_all(calls).await {
        if let Err((dispenser, err)) = result {
            worker::console_error!("dispenser {dispenser:?} did not forget a void code: {err}");
        }
    }
}

/// Has one dispenser give back its leases.
async fn recall(env: &Env, at: Post) -> Result<(), Error> {
    call_at(env, &at, None, DispenserCall::Recall { at: at.clone() }).await
}

async fn call_at<T: DeserializeOwned>(
    env: &Env,
    at: &Post,
    hint: Option<&'static str>,
    call: DispenserCall,
) -> Result<T, Error> {
    let body = serde_json::to_string(&call).map_err(|e| Error::internal(e.to_string()))?;
    let answer = rpc::call_with_hint(env, BINDING, &at.dispenser, hint, body).await?;
    let text = answer.into_result()?;
    serde_json::from_slice(text.as_bytes())
        .map_err(|e| Error::internal(format!("dispenser answer: {e}")))
}

/// Where the visitor is, from `request.cf`, read only here: the Worker
/// hides `cf` from the `worker` crate (worker/entry.js), so this calls the
/// platform's own getter.
fn location_hint(req: &Request) -> Option<&'static str> {
    use js_sys::Reflect;
    let raw: &JsValue = req.inner().as_ref();
    let proto = js_sys::Object::get_prototype_of(raw);
    let descriptor = js_sys::Object::get_own_property_descriptor(&proto, &JsValue::from_str("cf"));
    let getter: js_sys::Function = Reflect::get(&descriptor, &JsValue::from_str("get"))
        .ok()?
        .dyn_into()
        .ok()?;
    let cf = getter.call0(raw).ok()?;
    let continent = Reflect::get(&cf, &JsValue::from_str("continent"))
        .ok()?
        .as_string()?;
    let longitude = Reflect::get(&cf, &JsValue::from_str("longitude"))
        .ok()
        .and_then(|l| l.as_string().and_then(|s| s.parse().ok()).or(l.as_f64()));
    dispenser::location_hint(&continent, longitude)
}

/// A random number for a display without a customer id.
fn random() -> u32 {
    (js_sys::Math::random() * f64::from(u32::MAX)) as u32
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::internal(e.to_string()))
}

fn to_worker(err: Error) -> worker::Error {
    worker::Error::RustError(err.to_string())
}
