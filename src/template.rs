//! Jinja templates with the voucher functions, compiled once, rendered many times.
//!
//! A render never talks to storage: it draws codes and counts from a
//! [`Vouchers`] given to it, and records what the template asked for. The same
//! function therefore serves as the *plan* (a dry run with no codes, which
//! learns how many codes each pool must give) and as the real render (with
//! the codes reserved for it); see [`crate::render`].

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Mutex};

use minijinja::value::{merge_maps, Object, Serde, Value};
use minijinja::{AutoEscape, Environment, ErrorKind, State};

use crate::error::{Error, Result};
use crate::pool::{check_name, PoolCounts};

/// Bounds on one template and one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest template source, in bytes.
    pub max_template_bytes: usize,
    /// Largest rendered output, in bytes.
    pub max_output_bytes: usize,
    /// Execution fuel (minijinja instructions) for one render.
    pub fuel: u64,
    /// Deepest nesting of macro calls and includes.
    pub recursion: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_template_bytes: 64 * 1024,
            max_output_bytes: 512 * 1024,
            fuel: 200_000,
            recursion: 64,
        }
    }
}

/// A template compiled once and rendered many times.
pub struct Template {
    env: Environment<'static>,
    source: String,
    limits: Limits,
}

const NAME: &str = "template";

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("source", &self.source)
            .finish()
    }
}

impl Template {
    /// Compiles a template; a syntax error names its line and column.
    pub fn compile(source: &str, limits: Limits) -> Result<Template> {
        if source.len() > limits.max_template_bytes {
            return Err(Error::template(
                "template_too_large",
                format!(
                    "the template is {} bytes, at most {} are allowed",
                    source.len(),
                    limits.max_template_bytes
                ),
            ));
        }
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_fuel(Some(limits.fuel));
        env.set_recursion_limit(limits.recursion);
        // Debug info would copy the context into every error; lines and
        // columns come from spans, which are kept regardless.
        env.set_debug(false);
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|err| template_error(&err, source))?;
        Ok(Template {
            env,
            source: source.to_owned(),
            limits,
        })
    }

    /// The template's source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders with a context (any JSON-like value, its top-level keys become
    /// variables) and a voucher source.
    pub fn render(&self, context: &Value, vouchers: &Arc<Vouchers>) -> Result<String> {
        let template = self
            .env
            .get_template(NAME)
            .map_err(|err| template_error(&err, &self.source))?;
        // The last map wins: a context key `vouchers` cannot shadow the pools.
        let root = merge_maps([
            context.clone(),
            minijinja::context! { vouchers => Value::from_dyn_object(vouchers.clone()) },
        ]);
        let mut out = LimitedWriter {
            buf: Vec::new(),
            limit: self.limits.max_output_bytes,
        };
        match template.render_captured_to(root, &mut out) {
            Ok(_) => Ok(String::from_utf8(out.buf).unwrap_or_default()),
            Err(_) if out.buf.len() > self.limits.max_output_bytes => Err(Error::template(
                "output_too_large",
                format!(
                    "the rendered output passed {} bytes: render less (check loops)",
                    self.limits.max_output_bytes
                ),
            )),
            Err(err) => Err(template_error(&err, &self.source)),
        }
    }
}

/// Converts any serializable value (e.g. `serde_json::Value`) to a context.
pub fn context_from<T: serde::Serialize>(value: &T) -> Value {
    Value::from(Serde(value))
}

struct LimitedWriter {
    buf: Vec<u8>,
    limit: usize,
}

impl io::Write for LimitedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() > self.limit {
            return Err(io::Error::other("output limit"));
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Turns a minijinja error into an API error naming line and column.
fn template_error(err: &minijinja::Error, source: &str) -> Error {
    let (code, what) = match err.kind() {
        ErrorKind::SyntaxError => ("template_syntax_error", "syntax error"),
        ErrorKind::OutOfFuel => (
            "template_too_slow",
            "the template ran out of fuel (an endless or very long loop?)",
        ),
        _ => ("template_error", "template error"),
    };
    let kind = err.kind().to_string();
    let detail = err.detail().unwrap_or(&kind);
    let mut message = match err.kind() {
        ErrorKind::OutOfFuel => what.to_owned(),
        _ => format!("{what}: {detail}"),
    };
    if let Some(line) = err.line() {
        let column = err.range().map_or(1, |range| {
            let start = range.start.min(source.len());
            let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
            source[line_start..start].chars().count() + 1
        });
        message = format!("line {line}, column {column}: {message}");
    }
    Error::template(code, message)
}

/// The codes and counts one render draws from, and what it asked for.
///
/// For a plan it holds no codes; for a real render, the codes reserved for
/// it. Either way it records every assign call by pool, so the caller can
/// compare what the template used with what was reserved.
#[derive(Debug, Default)]
pub struct Vouchers {
    codes: BTreeMap<String, Vec<String>>,
    counts: BTreeMap<String, PoolCounts>,
    asked: Mutex<Asked>,
}

/// What a render asked of its vouchers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Asked {
    /// Assign calls that ran, by pool.
    pub take: BTreeMap<String, usize>,
    /// Pools whose counts were read.
    pub count: BTreeSet<String>,
}

/// What a count function answers when the counts are not known yet (in the
/// first plan): "plenty", so that a branch guarded by a count plans to assign.
/// The reservation then returns the real counts and the plan is redone if
/// they change it.
pub const UNKNOWN_COUNT: i64 = i64::MAX / 2;

impl Vouchers {
    /// A voucher source with these codes and counts.
    pub fn new(
        codes: BTreeMap<String, Vec<String>>,
        counts: BTreeMap<String, PoolCounts>,
    ) -> Arc<Vouchers> {
        Arc::new(Vouchers {
            codes,
            counts,
            asked: Mutex::default(),
        })
    }

    /// What the render asked for.
    pub fn asked(&self) -> Asked {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The codes this source was given, by pool.
    pub fn codes(&self) -> &BTreeMap<String, Vec<String>> {
        &self.codes
    }

    fn assign(&self, pool: &str) -> Value {
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        let n = asked.take.entry(pool.to_owned()).or_default();
        *n += 1;
        match self.codes.get(pool).and_then(|codes| codes.get(*n - 1)) {
            Some(code) => Value::from(code.as_str()),
            // No code (a plan, or a render that asks for more than was
            // reserved): the output is thrown away, the count is what matters.
            None => Value::from(""),
        }
    }

    fn count(&self, pool: &str, pick: fn(&PoolCounts) -> i64) -> Value {
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        asked.count.insert(pool.to_owned());
        Value::from(self.counts.get(pool).map_or(UNKNOWN_COUNT, pick))
    }
}

impl Object for Vouchers {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let pool = key.as_str()?.to_owned();
        Some(Value::from_object(PoolHandle {
            vouchers: self.clone(),
            pool,
        }))
    }
}

/// `vouchers['name']`: the pool's three functions.
#[derive(Debug)]
struct PoolHandle {
    vouchers: Arc<Vouchers>,
    pool: String,
}

impl Object for PoolHandle {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> std::result::Result<Value, minijinja::Error> {
        if !args.is_empty() {
            return Err(minijinja::Error::new(
                ErrorKind::TooManyArguments,
                format!("{method}() takes no arguments"),
            ));
        }
        if let Err(err) = check_name("pool", &self.pool) {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                err.message,
            ));
        }
        match method {
            "assign_available_code" => Ok(self.vouchers.assign(&self.pool)),
            "count_available_codes" => Ok(self.vouchers.count(&self.pool, |c| c.available)),
            "count_total_codes" => Ok(self.vouchers.count(&self.pool, |c| c.total)),
            _ => Err(minijinja::Error::new(
                ErrorKind::UnknownMethod,
                format!(
                    "a voucher pool has no method {method}(): use assign_available_code(), \
                     count_available_codes() or count_total_codes()"
                ),
            )),
        }
    }
}
