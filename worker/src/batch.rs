//! Displays that share a store call.
//!
//! The displays of one project in this isolate form a lane. A display that
//! finds no call of its lane in flight sends its reservation at once,
//! alone; displays arriving while a call is in flight queue up and go
//! together in the next one (`Command::ReserveEach`), where the store gives
//! each its own transaction and answer. No timer holds a display back: one
//! alone waits for nothing, and under load each call carries what gathered
//! during the one before (BENCHMARKS.md, issue 14: the call is what a
//! display costs, not the render).
//!
//! The call runs under the `waitUntil` of the display that sends it, so a
//! client going away cannot cancel a call others depend on. The displays
//! queued meanwhile look for their answer every millisecond, each on a
//! timer of its own request: being woken by another request's promise
//! instead is deferred by workerd, by up to half a second under load (a
//! cross-request resolution runs its continuation in the waiting request's
//! context), and a request that waits on nothing of its own is cancelled as
//! hung.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use codepool::api::Command;
use codepool::render::{Reservation, ReservationRequest};
use codepool::Error;
use js_sys::futures::JsFuture;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::Context;

use crate::project::Project;

/// Most reservations in one call: bounds the store's work per event and
/// the size of its answer; more wait for the next call.
const MAX_BATCH: usize = 64;

/// How often a queued display looks for its answer.
const POLL_MS: i32 = 1;

/// How long a display waits for the calls before its own before it gives
/// up: a safety net, as a call always ends (answered, or failed by the
/// platform).
const GIVE_UP_MS: f64 = 30_000.0;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: i32) -> JsValue;
}

thread_local! {
    /// The lanes of the projects with displays in this isolate, by project.
    static LANES: RefCell<HashMap<String, Lane>> = RefCell::new(HashMap::new());
}

/// One project's displays in this isolate.
#[derive(Default)]
struct Lane {
    /// Reservations not sent yet, in arrival order.
    queue: Vec<Rc<Slot>>,
    /// Whether a call is in flight.
    busy: bool,
    /// Displays in [`reserve`] now: whether a sender is alone.
    displays: usize,
}

/// One display's reservation: its request until sent, its answer once back.
struct Slot {
    request: RefCell<Option<ReservationRequest>>,
    answer: RefCell<Option<Result<Reservation, Error>>>,
}

fn with_lane<T>(project: &str, f: impl FnOnce(&mut Lane) -> T) -> T {
    LANES.with(|lanes| f(lanes.borrow_mut().entry(project.to_owned()).or_default()))
}

/// Reserves for one display, in the next call of its project's lane.
pub async fn reserve(
    project: &Project,
    ctx: &Context,
    request: ReservationRequest,
) -> Result<Reservation, Error> {
    let slot = Rc::new(Slot {
        request: RefCell::new(Some(request)),
        answer: RefCell::default(),
    });
    let name = project.name();
    with_lane(name, |lane| {
        lane.queue.push(slot.clone());
        lane.displays += 1;
    });
    let _present = Present {
        project: name,
        slot: slot.clone(),
    };
    let since = js_sys::Date::now();
    loop {
        if let Some(answer) = slot.answer.borrow_mut().take() {
            return answer;
        }
        if js_sys::Date::now() - since >= GIVE_UP_MS {
            return Err(Error::internal(
                "a display waited 30 s for its project's store calls",
            ));
        }
        // Not answered: in the call in flight, or queued. With no call in
        // flight, this display sends the queue, itself included.
        let (mut batch, alone) = with_lane(name, |lane| {
            let batch = (!lane.busy).then(|| {
                lane.busy = true;
                let n = lane.queue.len().min(MAX_BATCH);
                lane.queue.drain(..n).collect::<Vec<_>>()
            });
            (batch, lane.displays == 1)
        });
        let woken = js_sys::Promise::new(&mut |wake, _| match batch.take() {
            // A display alone is woken by its own call's end.
            Some(batch) if alone => ctx.wait_until(send(project.clone(), batch, Some(wake))),
            // Any other looks again on a timer, its call's sender too:
            // woken at once by its call, a sender would run ahead of the
            // displays that call answered, whose timers wait for the event
            // loop to be idle.
            Some(batch) => {
                ctx.wait_until(send(project.clone(), batch, None));
                set_timeout(&wake, POLL_MS);
            }
            None => {
                set_timeout(&wake, POLL_MS);
            }
        });
        let _ = JsFuture::from(woken).await;
    }
}

/// Sends one call for `batch`, answers each of its displays, frees the
/// lane for the next call and calls `done`, if given.
async fn send(project: Project, batch: Vec<Rc<Slot>>, done: Option<js_sys::Function>) {
    let requests: Vec<ReservationRequest> = batch
        .iter()
        .filter_map(|slot| slot.request.borrow_mut().take())
        .collect();
    let answers: Result<Vec<Result<Reservation, Error>>, Error> =
        project.call(&Command::ReserveEach { requests }).await;
    let answers = match answers {
        Ok(answers) if answers.len() == batch.len() => answers,
        Ok(answers) => vec![
            Err(Error::internal(format!(
                "the store answered {} reservations for {}",
                answers.len(),
                batch.len()
            )));
            batch.len()
        ],
        // The call failed as a whole: every display of it fails alike.
        Err(err) => vec![Err(err); batch.len()],
    };
    for (slot, answer) in batch.iter().zip(answers) {
        *slot.answer.borrow_mut() = Some(answer);
    }
    LANES.with(|lanes| {
        let mut lanes = lanes.borrow_mut();
        if let Some(lane) = lanes.get_mut(project.name()) {
            lane.busy = false;
            if lane.displays == 0 && lane.queue.is_empty() {
                lanes.remove(project.name());
            }
        }
    });
    if let Some(done) = done {
        let _ = done.call0(&JsValue::UNDEFINED);
    }
}

/// A display in [`reserve`]. Leaving, it takes its reservation out of the
/// queue if it was not sent (a display that gave up takes no code), and
/// the last to leave an idle lane removes it.
struct Present<'a> {
    project: &'a str,
    slot: Rc<Slot>,
}

impl Drop for Present<'_> {
    fn drop(&mut self) {
        LANES.with(|lanes| {
            let mut lanes = lanes.borrow_mut();
            if let Some(lane) = lanes.get_mut(self.project) {
                lane.queue.retain(|queued| !Rc::ptr_eq(queued, &self.slot));
                lane.displays -= 1;
                if lane.displays == 0 && !lane.busy && lane.queue.is_empty() {
                    lanes.remove(self.project);
                }
            }
        });
    }
}
