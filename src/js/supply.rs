//! The voucher source of a JavaScript render: the caller's object or callback,
//! asked only for the pools and codes the template actually uses. The
//! caller's value is kept in the render's [`Frame`].

use std::cell::RefCell;

use js_sys::{Array, Function, JsString, Reflect};
use minijinja::ErrorKind;
use wasm_bindgen::prelude::*;

use super::frame::{Frame, Stop};
use crate::template::{Count, Supply};

/// Pool names kept as JavaScript strings across renders; past that (a
/// caller with many templates over many pools) they are made afresh.
const KEYS_KEPT: usize = 64;

thread_local! {
    /// Pool names as JavaScript strings: a template names the same few pools
    /// every time, and making a JS string from Rust costs more than the
    /// property lookup it serves.
    static KEYS: RefCell<Vec<(Box<str>, JsValue)>> = const { RefCell::new(Vec::new()) };
}

/// `pool` as a JavaScript string, from [`KEYS`] if it is there.
fn key(pool: &str) -> JsValue {
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if let Some((_, key)) = keys.iter().find(|(kept, _)| &**kept == pool) {
            return key.clone();
        }
        let key = JsValue::from_str(pool);
        if keys.len() < KEYS_KEPT {
            keys.push((pool.into(), key.clone()));
        }
        key
    })
}

// The field names of a pool's entry, made into JavaScript strings once.
// (rustfmt would drop the initialisers, which are wasm-bindgen syntax.)
#[rustfmt::skip]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, static_string)]
    static CODES: JsString = "codes";
    #[wasm_bindgen(thread_local_v2, static_string)]
    static AVAILABLE: JsString = "available";
    #[wasm_bindgen(thread_local_v2, static_string)]
    static TOTAL: JsString = "total";
}

impl Frame {
    /// Ends the render: records why, and returns the error that unwinds it.
    fn end(&mut self, stop: Stop, message: String) -> minijinja::Error {
        self.stop(stop);
        stopped(message)
    }

    /// Where `vouchers[pool]` is in `self.pools`, looked up if it is not yet.
    fn pool(&mut self, pool: &str) -> Result<usize, minijinja::Error> {
        if let Some(at) = self.pools.iter().position(|(name, _)| name == pool) {
            return Ok(at);
        }
        let entry = if self.vouchers.is_null_or_undefined() || self.vouchers.is_function() {
            JsValue::UNDEFINED
        } else {
            Reflect::get(&self.vouchers, &key(pool)).map_err(|t| self.thrown(t))?
        };
        self.pools.push((pool.to_owned(), entry));
        Ok(self.pools.len() - 1)
    }

    /// A field of `vouchers[pool]`: undefined if there is no such pool.
    fn field(&mut self, pool: &str, field: &JsString) -> Result<JsValue, minijinja::Error> {
        let at = self.pool(pool)?;
        let entry = &self.pools[at].1;
        if entry.is_null_or_undefined() {
            return Ok(JsValue::UNDEFINED);
        }
        Reflect::get(entry, field).map_err(|t| self.thrown(t))
    }

    /// Ends the render with an exception the caller's code threw.
    fn thrown(&mut self, thrown: JsValue) -> minijinja::Error {
        self.end(
            Stop::Thrown(thrown),
            "the caller's voucher code threw".into(),
        )
    }

    fn code(&mut self, pool: &str, index: usize) -> Result<Option<String>, minijinja::Error> {
        let code = if self.vouchers.is_function() {
            let callback: &Function = self.vouchers.unchecked_ref();
            let result = callback.call1(&JsValue::UNDEFINED, &key(pool));
            result.map_err(|t| self.thrown(t))?
        } else {
            let codes = CODES.with(|key| self.field(pool, key))?;
            if codes.is_function() {
                let callback: &Function = codes.unchecked_ref();
                callback
                    .call0(&JsValue::UNDEFINED)
                    .map_err(|t| self.thrown(t))?
            } else if Array::is_array(&codes) {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                Reflect::get_u32(&codes, index).map_err(|t| self.thrown(t))?
            } else if codes.is_undefined() {
                JsValue::UNDEFINED
            } else {
                let message = format!(
                    "vouchers['{pool}'].codes is neither an array of codes nor a function \
                     returning one: pass {{ {pool}: {{ codes: ['A', 'B'] }} }}"
                );
                return Err(self.end(Stop::Invalid("invalid_vouchers"), message));
            }
        };
        if code.is_null_or_undefined() {
            let message = format!("pool '{pool}' has no code left for this render");
            return Err(self.end(Stop::Short(pool.to_owned()), message));
        }
        match code.as_string() {
            Some(code) if !code.is_empty() => {
                self.taken.push((pool.to_owned(), code.clone()));
                Ok(Some(code))
            }
            _ => {
                let message = format!(
                    "a code for pool '{pool}' is not a non-empty string: \
                     codes are strings like 'SPRING-7F3K'; return null when there are none"
                );
                Err(self.end(Stop::Invalid("invalid_vouchers"), message))
            }
        }
    }

    fn count(&mut self, pool: &str, count: Count) -> Result<i64, minijinja::Error> {
        let (field, key) = match count {
            Count::Available => ("available", &AVAILABLE),
            Count::Total => ("total", &TOTAL),
        };
        let function = count.function();
        if self.vouchers.is_function() {
            let message = format!(
                "the template calls {function} on pool '{pool}', and a function as the voucher \
                 source gives no counts: pass {{ {pool}: {{ codes, available, total }} }} instead"
            );
            return Err(self.end(Stop::Invalid("missing_count"), message));
        }
        let value = key.with(|key| self.field(pool, key))?;
        match value.as_f64() {
            Some(n) if n.fract() == 0.0 && (0.0..=9e15).contains(&n) => Ok(n as i64),
            Some(_) => {
                let message = format!(
                    "vouchers['{pool}'].{field} is not a whole number of codes (0 or more)"
                );
                Err(self.end(Stop::Invalid("invalid_vouchers"), message))
            }
            None => {
                let message = format!(
                    "the template calls {function} on pool '{pool}', but the vouchers give no \
                     number for it: pass {{ {pool}: {{ codes, {field}: <number> }} }}"
                );
                Err(self.end(Stop::Invalid("missing_count"), message))
            }
        }
    }
}

/// An error that ends the render; [`Frame::stop`] says why.
fn stopped(message: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, message.into())
}

/// The [`Supply`] of a JavaScript render: asks the current [`Frame`].
#[derive(Debug)]
pub(crate) struct JsSupply;

impl Supply for JsSupply {
    fn code(&self, pool: &str, index: usize) -> Result<Option<String>, minijinja::Error> {
        Frame::with(|frame| frame.code(pool, index)).unwrap_or_else(|| Err(busy()))
    }

    fn count(&self, pool: &str, count: Count) -> Result<i64, minijinja::Error> {
        Frame::with(|frame| frame.count(pool, count)).unwrap_or_else(|| Err(busy()))
    }
}

/// The error when the supply is asked outside its render's frame, which
/// only a render nested in the caller's code could do.
fn busy() -> minijinja::Error {
    stopped("the vouchers of this render are not available here")
}
