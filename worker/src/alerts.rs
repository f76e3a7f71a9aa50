//! The project's alarm: it runs the near-expiry checks that time alone
//! makes due and delivers alerts to the project's webhook
//! ([`codepool::alert`]), with retries that survive a restart because the
//! outbox and the alarm are both persisted.
//!
//! What to send, when to retry and what to log are the store's; this file
//! POSTs, keeps the timeout, and sets the alarm: after a command that gave
//! it something to do ([`Store::wants_alarm`]), and at the end of each
//! alarm for the next thing due ([`Store::next_wake`]).
//!
//! The Worker's variables `ALERT_RETRY_BASE_MS` (the wait before the first
//! retry; default 10 s, then 30 s, 2 min, 10 min, 1 h) and
//! `WEBHOOK_TIMEOUT_MS` (how long a webhook may take; default 10 s) tune
//! it, so that tests run in seconds.

use std::cell::Cell;
use std::time::Duration;

use codepool::alert::{Delivery, DeliveryPolicy, Outcome};
use codepool::store::Store;
use codepool::Error;
use futures_util::future::{join_all, select, Either};
use wasm_bindgen::{JsCast, JsValue};
use worker::{AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit, Storage};

use crate::database::DurableDatabase;
use crate::http::platform;
use crate::project::now;

/// Rounds of deliveries one alarm makes at most (each of up to
/// `delivery::BATCH`); more come at the next alarm, set at once.
const ROUNDS: usize = 5;

/// A project's alarm, as its Durable Object instance knows it.
pub struct Alarm {
    storage: Storage,
    /// The project's name, for the bodies: the platform passes it to an
    /// object addressed by name, but not always to one an alarm woke up
    /// after a restart; then the name the store kept serves.
    project: Option<String>,
    policy: DeliveryPolicy,
    /// The time this instance last set the alarm for: set again only when
    /// sooner. A new instance knows none, and sets it from the store.
    set: Cell<Option<i64>>,
}

impl Alarm {
    /// The alarm of the object with this storage, named `project`.
    pub fn new(storage: Storage, project: Option<String>, env: &Env) -> Self {
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
        Alarm {
            storage,
            project,
            policy: DeliveryPolicy::from_vars(
                var("ALERT_RETRY_BASE_MS").as_deref(),
                var("WEBHOOK_TIMEOUT_MS").as_deref(),
            ),
            set: Cell::new(None),
        }
    }

    /// After the store opened for a command: keeps the project's name
    /// where an alarm without it finds it.
    pub fn opened<D: codepool::store::Database>(&self, store: &Store<'_, D>) -> Result<(), Error> {
        match &self.project {
            Some(name) => store.keep_project_name(name),
            None => Ok(()),
        }
    }

    /// After a command: if it gave the alarm something to do, sets the
    /// alarm for the next thing due, unless set sooner already.
    /// Synchronous, as commands are: the storage orders the write, and
    /// holds the command's answer until it is written.
    pub fn after_command<D: codepool::store::Database>(&self, store: &Store<'_, D>) {
        if !store.wants_alarm() {
            return;
        }
        match store.next_wake() {
            Ok(Some(at)) if self.set.get().is_none_or(|set| at < set) => {
                if let Err(err) = self.set_now(at) {
                    worker::console_error!("codepool: the alert alarm was not set: {err}");
                }
            }
            Ok(_) => {}
            Err(err) => worker::console_error!("codepool: the alert alarm was not set: {err}"),
        }
    }

    /// The alarm: near-expiry checks due, then the deliveries due, round
    /// by round, then the alarm set for what comes next. An error fails
    /// the alarm, which the platform runs again.
    pub async fn ring(&self, db: &DurableDatabase) -> Result<(), Error> {
        self.set.set(None);
        let store = Store::new(db);
        store.alert_tick(now())?;
        let project = match &self.project {
            Some(name) => name.clone(),
            None => store.project_name()?.unwrap_or_default(),
        };
        for _ in 0..ROUNDS {
            let due = store.claim_deliveries(&project, now(), &self.policy)?;
            if due.is_empty() {
                break;
            }
            // The claims are stored: if a restart cuts the POSTs off, the
            // alarm comes back when the claims lapse, and sends them again.
            self.schedule(&store).await?;
            let outcomes = join_all(due.iter().map(|d| post(d, self.policy.timeout_ms))).await;
            for (delivery, outcome) in due.iter().zip(&outcomes) {
                if let Outcome::Failed { error, .. } = outcome {
                    worker::console_warn!(
                        "codepool: alert {} not delivered: {error}",
                        delivery.alert_id
                    );
                }
                store.record_delivery(delivery.outbox_id, outcome, now(), &self.policy)?;
            }
        }
        self.schedule(&store).await
    }

    /// Sets the alarm for the next thing due, if anything is.
    async fn schedule<D: codepool::store::Database>(
        &self,
        store: &Store<'_, D>,
    ) -> Result<(), Error> {
        let Some(at) = store.next_wake()? else {
            return Ok(());
        };
        self.storage
            .set_alarm(worker::ScheduledTime::new(date(at)))
            .await
            .map_err(platform)?;
        self.set.set(Some(at));
        Ok(())
    }

    /// `storage.setAlarm`, not awaited (see [`Alarm::after_command`]).
    fn set_now(&self, at: i64) -> Result<(), Error> {
        let raw: &JsValue = self.storage.as_raw().as_ref();
        let failed = |e: JsValue| Error::internal(format!("storage.setAlarm: {e:?}"));
        let set_alarm: js_sys::Function = js_sys::Reflect::get(raw, &JsValue::from_str("setAlarm"))
            .and_then(|f| f.dyn_into())
            .map_err(failed)?;
        let pending = set_alarm.call1(raw, &date(at)).map_err(failed)?;
        // Awaited in the background only so that a failure is logged.
        worker::wasm_bindgen_futures::spawn_local(async move {
            let promise = js_sys::Promise::resolve(&pending);
            if let Err(e) = worker::wasm_bindgen_futures::JsFuture::from(promise).await {
                worker::console_error!("codepool: storage.setAlarm failed: {e:?}");
            }
        });
        self.set.set(Some(at));
        Ok(())
    }
}

/// A time as a `Date`: the `worker` crate reads a bare i64 as an offset
/// from now (see worker/src/dispenser.rs).
fn date(at: i64) -> js_sys::Date {
    js_sys::Date::new(&JsValue::from_f64(at.max(now() + 1) as f64))
}

/// POSTs one delivery, signed, and answers what came of it; no answer
/// within `timeout_ms` (headers and body) aborts it and counts as a failure.
async fn post(delivery: &Delivery, timeout_ms: i64) -> Outcome {
    let controller = AbortController::default();
    let signal = controller.signal();
    let send = async {
        let headers = Headers::new();
        for (name, value) in delivery.headers(now().div_euclid(1000)) {
            headers.set(name, &value)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&delivery.body)));
        let request = Request::new_with_init(&delivery.url, &init)?;
        let mut response = Fetch::Request(request).send_with_signal(&signal).await?;
        let status = response.status_code();
        // Read to the end, so the connection is done with; not kept.
        let _ = response.bytes().await;
        Ok::<u16, worker::Error>(status)
    };
    let timeout = Delay::from(Duration::from_millis(timeout_ms.max(1) as u64));
    let raced = select(Box::pin(send), Box::pin(timeout)).await;
    match raced {
        Either::Left((Ok(status), _)) => Outcome::of_status(status),
        Either::Left((Err(err), _)) => Outcome::Failed {
            status: None,
            error: format!("no answer: {err}"),
        },
        Either::Right(_) => {
            controller.abort();
            Outcome::Failed {
                status: None,
                error: format!("no answer within {timeout_ms} ms"),
            }
        }
    }
}
