//! The voucher source of a JavaScript render: the caller's object or
//! callbacks, asked only for the pools and codes the template actually
//! uses, through the small readers in `npm/vouchers.js` (one boundary call
//! per voucher function). The caller's value is kept in the render's
//! [`Frame`].

use std::cell::RefCell;

use codepool::render::{Count, Supply};
use js_sys::JsString;
use minijinja::ErrorKind;
use wasm_bindgen::prelude::*;

use crate::frame::{Frame, Stop};

#[wasm_bindgen(module = "/npm/vouchers.js")]
extern "C" {
    #[wasm_bindgen(js_name = voucherCode, catch)]
    fn voucher_code(
        vouchers: &JsValue,
        pool: &JsValue,
        index: u32,
    ) -> Result<Option<String>, JsValue>;

    #[wasm_bindgen(js_name = voucherProblem)]
    fn voucher_problem() -> String;

    #[wasm_bindgen(js_name = voucherCount, catch)]
    fn voucher_count(vouchers: &JsValue, pool: &JsValue, field: &JsString) -> Result<f64, JsValue>;
}

// The count fields of a pool, made into JavaScript strings once.
// (rustfmt would drop the initialisers, which are wasm-bindgen syntax.)
#[rustfmt::skip]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, static_string)]
    static AVAILABLE: JsString = "available";
    #[wasm_bindgen(thread_local_v2, static_string)]
    static TOTAL: JsString = "total";
}

/// Pool names kept as JavaScript strings across renders; past that (a
/// caller with many templates over many pools) they are made afresh.
const KEYS_KEPT: usize = 64;

thread_local! {
    /// Pool names as JavaScript strings: a template names the same few pools
    /// every time, and making a JS string from Rust costs more than the
    /// lookup it serves.
    static KEYS: RefCell<Vec<(Box<str>, JsValue)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `pool` as a JavaScript string, from [`KEYS`] if it is
/// there. Lent rather than cloned: a clone and its drop cost two trips
/// through wasm-bindgen's table of JavaScript values.
fn with_key<T>(pool: &str, f: impl FnOnce(&JsValue) -> T) -> T {
    KEYS.with(|keys| {
        let kept = keys.borrow().iter().position(|(kept, _)| &**kept == pool);
        let at = kept.or_else(|| {
            let mut keys = keys.try_borrow_mut().ok()?;
            if keys.len() >= KEYS_KEPT {
                return None;
            }
            keys.push((pool.into(), JsValue::from_str(pool)));
            Some(keys.len() - 1)
        });
        match at {
            // Borrowed across the call: the caller's code cannot render (and
            // so cannot reach this cache) while a render is running.
            Some(at) => f(&keys.borrow()[at].1),
            None => f(&JsValue::from_str(pool)),
        }
    })
}

impl Frame {
    /// Ends the render: records why, and returns the error that unwinds it.
    fn end(&mut self, stop: Stop, message: String) -> minijinja::Error {
        self.stop(stop);
        stopped(message)
    }

    /// Ends the render with an exception the caller's code threw.
    fn thrown(&mut self, thrown: JsValue) -> minijinja::Error {
        self.end(
            Stop::Thrown(thrown),
            "the caller's voucher code threw".into(),
        )
    }

    fn code(&mut self, pool: &str, index: usize) -> Result<Option<String>, minijinja::Error> {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let code = with_key(pool, |key| voucher_code(&self.vouchers, key, index));
        match code.map_err(|t| self.thrown(t))? {
            Some(code) if !code.is_empty() => {
                if self.record {
                    self.taken.push((pool.to_owned(), code.clone()));
                }
                Ok(Some(code))
            }
            Some(_) => {
                let message = if voucher_problem() == "codes" {
                    format!(
                        "vouchers['{pool}'].codes is neither an array of codes nor a function \
                         returning one: pass {{ {pool}: {{ codes: ['A', 'B'] }} }}"
                    )
                } else {
                    format!(
                        "a code for pool '{pool}' is not a non-empty string: codes are strings \
                         like 'SPRING-7F3K'; give null when there are none"
                    )
                };
                Err(self.end(Stop::Invalid("invalid_vouchers"), message))
            }
            None => {
                let message = format!("pool '{pool}' has no code left for this render");
                Err(self.end(Stop::Short(pool.to_owned()), message))
            }
        }
    }

    fn count(&mut self, pool: &str, count: Count) -> Result<i64, minijinja::Error> {
        let (field, name) = match count {
            Count::Available => (&AVAILABLE, "available"),
            Count::Total => (&TOTAL, "total"),
        };
        let n = field
            .with(|field| with_key(pool, |key| voucher_count(&self.vouchers, key, field)))
            .map_err(|t| self.thrown(t))?;
        let function = count.function();
        let (code, message) = match n {
            n if n >= 0.0 => return Ok(n as i64),
            -1.0 => (
                "missing_count",
                format!(
                    "the template calls {function} on pool '{pool}', but the vouchers give no \
                     number for it: pass {{ {pool}: {{ codes, {name}: <number> }} }}"
                ),
            ),
            -3.0 => (
                "missing_count",
                format!(
                    "the template calls {function} on pool '{pool}', and a function as the \
                     vouchers gives no counts: pass {{ {pool}: {{ codes, available, total }} }}"
                ),
            ),
            _ => (
                "invalid_vouchers",
                format!("vouchers['{pool}'].{name} is not a whole number of codes (0 or more)"),
            ),
        };
        Err(self.end(Stop::Invalid(code), message))
    }
}

/// An error that ends the render; [`Frame::end`] says why.
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
