//! The render function for JavaScript: the wasm-bindgen exports behind the
//! npm package `codepool`, built on the core crate `codepool` through its
//! public API only.
//!
//! A template is compiled once into a [`JsTemplate`] and rendered many times
//! with a context and the caller's vouchers, under the same rules as the edge
//! (see `codepool::render`): the output, or `null` when a pool the template
//! assigns from has no code; nothing half-rendered.
//!
//! The context crosses the boundary as one byte string that the wrapper
//! encodes (`context.rs`): one copy instead of a boundary call per property,
//! which measured fastest. The vouchers stay a JavaScript value and are
//! asked lazily (`supply.rs`), so a caller may pass many pools or long code
//! lists at no cost.
//!
//! # Where things are
//!
//! - `src/lib.rs` (here): the exported `Template` class, and `Failure`,
//!   an error as the package throws it.
//! - `src/context.rs`: the encoded context, read in place as minijinja values.
//! - `src/frame.rs`: the render in progress, which holds the caller's vouchers.
//! - `src/supply.rs`: the core's `Supply` over the caller's vouchers.
//! - `npm/`: the package's JavaScript: `index.js` (the wrapper that loads the
//!   module and encodes the context), `vouchers.js` (the readers
//!   `supply.rs` calls), `index.d.ts`, `package.json`, `README.md`.
//! - `tests/*.test.mjs`: the package's tests under `node --test`, against
//!   the built `pkg/`; the Rust unit tests (`context.rs`) run natively.
//! - `bench/render.mjs`: the package against nunjucks, handlebars and
//!   minijinja-js on the reference layer (`bench/fixtures/` at the root).
//!
//! `scripts/build-js.sh` builds this crate for wasm32 (profile `js`), runs
//! wasm-bindgen and wasm-opt, and puts the package in `pkg/` at the root.
#![warn(missing_docs)]

mod context;
mod frame;
mod supply;

use codepool::error::{Error, Location};
use codepool::render::{Limits, Template, Vouchers};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use frame::{Frame, Stop};
use supply::JsSupply;

/// A template compiled once, rendered many times from JavaScript.
#[wasm_bindgen(js_name = Template)]
pub struct JsTemplate {
    template: Template,
}

/// One render's result before it becomes a JavaScript value.
struct Rendered {
    /// The output, or `None` when a pool ran short.
    output: Option<String>,
    /// The frame of the render: codes taken, and why it stopped.
    frame: Frame,
}

#[wasm_bindgen(js_class = Template)]
impl JsTemplate {
    /// Compiles `source`; throws an `Error` with `code`, `line` and `column`
    /// on a syntax error.
    #[wasm_bindgen(constructor)]
    pub fn new(source: &str) -> Result<JsTemplate, JsValue> {
        let template = Template::compile(source, Limits::default()).map_err(js_error)?;
        Ok(JsTemplate { template })
    }

    /// Renders with a context encoded by the wrapper (`encodeContext` in
    /// `npm/index.js`: an object, or `null` for none) and the caller's
    /// vouchers. Returns the output, or `undefined` when a pool the template
    /// assigns from has no code.
    pub fn render(&self, context: Vec<u8>, vouchers: JsValue) -> Result<Option<String>, JsValue> {
        Ok(self.run(context, vouchers, false)?.output)
    }

    /// Like [`JsTemplate::render`], and tells what the render consumed:
    /// `{ output: string | null, codes: { pool: [code, …] }, short: pool | null }`.
    /// `codes` lists every code handed to the template, also when the render
    /// was suppressed (codes a callback gave before another pool ran short).
    #[wasm_bindgen(js_name = renderDetailed)]
    pub fn render_detailed(&self, context: Vec<u8>, vouchers: JsValue) -> Result<JsValue, JsValue> {
        let rendered = self.run(context, vouchers, true)?;
        let codes = Object::new();
        for (pool, code) in &rendered.frame.taken {
            let key = JsValue::from_str(pool);
            let list = Reflect::get(&codes, &key)?;
            let list: Array = if list.is_undefined() {
                let list = Array::new();
                Reflect::set(&codes, &key, &list)?;
                list
            } else {
                list.unchecked_into()
            };
            list.push(&JsValue::from_str(code));
        }
        let short = match &rendered.frame.stop {
            Some(Stop::Short(pool)) => JsValue::from_str(pool),
            _ => JsValue::NULL,
        };
        let output = rendered
            .output
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from_str);
        let result = Object::new();
        Reflect::set(&result, &"output".into(), &output)?;
        Reflect::set(&result, &"codes".into(), &codes)?;
        Reflect::set(&result, &"short".into(), &short)?;
        Ok(result.into())
    }

    /// The template's source.
    #[wasm_bindgen(getter)]
    pub fn source(&self) -> String {
        self.template.source().to_owned()
    }
}

impl JsTemplate {
    fn run(&self, context: Vec<u8>, vouchers: JsValue, record: bool) -> Result<Rendered, JsValue> {
        let supply = Vouchers::with_supply(JsSupply);
        let root = context::decode_root(context, supply.to_value()).map_err(Failure::into_js)?;
        let entered = Frame::enter(vouchers, record)
            .map_err(|message| Failure::new("reentrant_render", message).into_js())?;
        let result = self.template.render_root(root);
        let frame = Frame::leave(entered);
        match (result, &frame.stop) {
            (Ok(output), None) => Ok(Rendered {
                output: Some(output),
                frame,
            }),
            // A template that caught the supply's error (it cannot, but the
            // rule must not depend on it) still shows nothing.
            (Ok(_), Some(Stop::Short(_))) | (Err(_), Some(Stop::Short(_))) => Ok(Rendered {
                output: None,
                frame,
            }),
            (_, Some(Stop::Thrown(thrown))) => Err(thrown.clone()),
            (Err(err), Some(Stop::Invalid(code))) => Err(Failure {
                code,
                ..Failure::from(err)
            }
            .into_js()),
            (Ok(_), Some(Stop::Invalid(code))) => {
                Err(Failure::new(code, "the vouchers were unusable for this template").into_js())
            }
            (Err(err), None) => Err(js_error(err)),
        }
    }
}

/// An error as the package throws it: a code (the core's, or one of the
/// package's own: `invalid_context`, `invalid_vouchers`, `missing_count`,
/// `reentrant_render`), a message, and where in the template, if known.
#[derive(Debug)]
pub(crate) struct Failure {
    code: &'static str,
    message: String,
    location: Option<Location>,
}

impl Failure {
    /// A failure of the package's own, with no place in the template.
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            location: None,
        }
    }

    /// A JavaScript `Error` with `code`, and `line` and `column` if placed.
    pub(crate) fn into_js(self) -> JsValue {
        let error = js_sys::Error::new(&self.message);
        let object: &JsValue = error.as_ref();
        // Setting a property on a fresh Error cannot fail.
        let _ = Reflect::set(object, &"code".into(), &JsValue::from_str(self.code));
        if let Some(at) = self.location {
            let _ = Reflect::set(object, &"line".into(), &JsValue::from(at.line));
            if let Some(column) = at.column {
                let _ = Reflect::set(object, &"column".into(), &JsValue::from(column));
            }
        }
        error.into()
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure {
            code: err.code(),
            location: err.location(),
            message: err.message().to_owned(),
        }
    }
}

/// A core error as a JavaScript `Error`.
fn js_error(err: Error) -> JsValue {
    Failure::from(err).into_js()
}
