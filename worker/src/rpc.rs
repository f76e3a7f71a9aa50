//! Calls from the Worker to its Durable Objects, over Durable Object RPC.
//!
//! A call is one method, `command(body)`, taking the JSON of a command and
//! answering `[status, key accepted, JSON]`. The objects' classes are the
//! wasm-bindgen ones wrapped by `worker/entry.js`, which declares them with
//! `extends DurableObject` (workerd offers RPC only to such classes) and
//! forwards `command` to the Rust method.
//!
//! Why not `fetch`: a fetch builds a `Request` and a `Response` on both
//! sides, with headers and body streams, and the `worker` crate reads every
//! request's `cf` object on the way in. The V8 CPU profile of the bare store
//! call (bench/profile.mjs) spent most of its JavaScript time there; an RPC
//! call passes one string each way (BENCHMARKS.md, issue 14).

use codepool::Error;
use js_sys::futures::JsFuture;
use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

use crate::http::platform;

/// The name of the RPC method of every codepool Durable Object.
const METHOD: &str = "command";

/// A Durable Object's answer to a call.
pub struct Answer {
    status: u16,
    text: String,
    /// Whether the store accepted the call's project key.
    pub key_accepted: bool,
}

impl Answer {
    /// An answer as the object sends it back: `[status, key accepted, text]`.
    pub fn encode(status: u16, key_accepted: bool, text: &str) -> JsValue {
        js_sys::Array::of3(
            &JsValue::from(status),
            &JsValue::from(key_accepted),
            &JsValue::from_str(text),
        )
        .into()
    }

    fn decode(value: &JsValue) -> Option<Answer> {
        let array = value.dyn_ref::<js_sys::Array>()?;
        Some(Answer {
            status: array.get(0).as_f64()? as u16,
            key_accepted: array.get(1).as_bool()?,
            text: array.get(2).as_string()?,
        })
    }

    /// The JSON answer, or the error the object answered with.
    pub fn into_result(self) -> Result<String, Error> {
        let Answer { status, text, .. } = self;
        if status == 200 {
            Ok(text)
        } else {
            Err(serde_json::from_slice::<Error>(text.as_bytes())
                .unwrap_or_else(|_| Error::internal(format!("store answered {status}: {text}"))))
        }
    }
}

/// Sends the JSON `body` of a command to the Durable Object `name` of
/// namespace `binding` and returns its answer.
pub async fn call(env: &Env, binding: &str, name: &str, body: String) -> Result<Answer, Error> {
    call_with_hint(env, binding, name, None, body).await
}

/// [`call`], with a location hint for the object if this call creates it.
pub async fn call_with_hint(
    env: &Env,
    binding: &str,
    name: &str,
    hint: Option<&str>,
    body: String,
) -> Result<Answer, Error> {
    let namespace = env.durable_object(binding).map_err(platform)?;
    let stub = match hint {
        Some(hint) => namespace.get_by_name_with_location_hint(name, hint),
        None => namespace.id_from_name(name).and_then(|id| id.get_stub()),
    };
    let stub: JsValue = stub.map_err(platform)?.into_rpc();
    let failed =
        |e: JsValue| Error::internal(format!("platform: the {binding} object failed: {e:?}"));
    let method: js_sys::Function = js_sys::Reflect::get(&stub, &JsValue::from_str(METHOD))
        .and_then(|m| m.dyn_into())
        .map_err(failed)?;
    // `Reflect.apply`, not `method.call(…)`: on an RPC stub, `.call` would
    // name a remote method `command.call`. The call answers a thenable, not
    // always a `Promise`: adopt it.
    let args = js_sys::Array::of1(&JsValue::from_str(&body));
    let pending = js_sys::Reflect::apply(&method, &stub, &args).map_err(failed)?;
    let value = JsFuture::from(js_sys::Promise::resolve(&pending))
        .await
        .map_err(failed)?;
    Answer::decode(&value).ok_or_else(|| {
        Error::internal(format!("platform: the {binding} object answered {value:?}"))
    })
}
