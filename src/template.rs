//! Jinja templates with the voucher functions, compiled once, rendered many times.
//!
//! A render never talks to storage: it draws codes and counts from a
//! [`Vouchers`] given to it, and records what the template asked for. The same
//! function therefore serves as the *plan* (a dry run with no codes, which
//! learns how many codes each pool must give) and as the real render (with
//! the codes reserved for it); see [`crate::render`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};

use minijinja::value::{merge_maps, Object, Serde, Value};
use minijinja::{AutoEscape, Environment, ErrorKind, State};

use crate::error::{Error, ErrorKind as Kind, Location, Result};
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
    /// Deepest nesting of one expression (operators, filters, attribute
    /// lookups, brackets) and of `{% elif %}` chains, as the source shows it.
    pub max_nesting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_template_bytes: 64 * 1024,
            max_output_bytes: 512 * 1024,
            fuel: 200_000,
            recursion: 64,
            // Measured in the Worker: about 5,000 levels overflow its stack.
            max_nesting: 256,
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
            return Err(Error::new(
                Kind::TemplateTooLarge,
                format!(
                    "the template is {} bytes, at most {} are allowed",
                    source.len(),
                    limits.max_template_bytes
                ),
            ));
        }
        check_nesting(source, limits.max_nesting)?;
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
        // The last map wins: a context key `vouchers` cannot shadow the pools.
        let root = merge_maps([
            context.clone(),
            minijinja::context! { vouchers => vouchers.to_value() },
        ]);
        self.render_root(root)
    }

    /// Renders with the variables as one map that the caller assembled, the
    /// voucher functions among them under `vouchers` ([`Vouchers::to_value`]).
    ///
    /// [`Template::render`] merges a context with the vouchers, so every
    /// variable is looked up in two maps; a caller that builds its context
    /// anyway (the JavaScript package) saves that by building the root.
    pub fn render_root(&self, root: Value) -> Result<String> {
        let template = self
            .env
            .get_template(NAME)
            .map_err(|err| template_error(&err, &self.source))?;
        // minijinja charges every byte of output against the fuel (64 bytes
        // a unit), so the fuel already bounds how much a render can write
        // (about 12 MB at the default); the output limit is checked on the
        // result. That is faster than checking while writing, which needs
        // minijinja's io::Write path and an adapter for every write.
        let output = template
            .render(root)
            .map_err(|err| template_error(&err, &self.source))?;
        if output.len() > self.limits.max_output_bytes {
            return Err(Error::new(
                Kind::OutputTooLarge,
                format!(
                    "the rendered output passed {} bytes: render less (check loops)",
                    self.limits.max_output_bytes
                ),
            ));
        }
        Ok(output)
    }
}

/// Refuses a source that could nest deeper than `max`: parsing it would
/// overflow the stack (see [`crate::nesting`]), so it is refused unparsed.
fn check_nesting(source: &str, max: usize) -> Result<()> {
    let nesting = crate::nesting::nesting(source);
    let (what, line) = if nesting.expression > max {
        (
            "an expression nests too deeply (too many operators, filters or \
             attribute lookups in one tag)",
            nesting.expression_line,
        )
    } else if nesting.elif > max {
        ("too many {% elif %} branches in a row", nesting.elif_line)
    } else {
        return Ok(());
    };
    Err(Error::new(
        Kind::TemplateTooComplex,
        format!("line {line}: {what}: at most {max} levels are allowed, split it up"),
    ))
}

/// Converts any serializable value (e.g. `serde_json::Value`) to a context.
pub fn context_from<T: serde::Serialize>(value: &T) -> Value {
    Value::from(Serde(value))
}

/// Turns a minijinja error into an API error naming line and column.
fn template_error(err: &minijinja::Error, source: &str) -> Error {
    let (code, what) = match err.kind() {
        ErrorKind::SyntaxError => (Kind::TemplateSyntaxError, "syntax error"),
        ErrorKind::OutOfFuel => (
            Kind::TemplateTooSlow,
            "the template ran out of fuel (an endless or very long loop?)",
        ),
        _ => (Kind::TemplateError, "template error"),
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
        let at = Location {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        };
        return Error::new(code, message).at(at);
    }
    Error::new(code, message)
}

/// The codes and counts one render draws from, and what it asked for.
///
/// For a plan it holds no codes; for a real render, the codes reserved for
/// it; for a caller that keeps codes elsewhere (the JavaScript package), a
/// [`Supply`] asked on demand. Either way it records every assign call by
/// pool, so the caller can compare what the template used with what was
/// reserved.
#[derive(Debug, Default)]
pub struct Vouchers {
    codes: BTreeMap<String, Vec<String>>,
    counts: BTreeMap<String, PoolCounts>,
    supply: Option<Box<dyn Supply>>,
    asked: Mutex<Asked>,
    /// `vouchers['name']` values made so far, by pool name.
    handles: Mutex<Vec<(String, Value)>>,
}

/// A voucher source asked lazily, one call per voucher function that runs.
///
/// For callers whose codes and counts live outside the core and are cheaper
/// to look up than to copy in whole: only the pools a render touches are
/// asked. Returning an `Err` ends the render with that error, which is how a
/// supply stops a render at its first missing code (all or nothing) or
/// refuses a count it was not given (rather than inventing a number).
pub trait Supply: Send + Sync + std::fmt::Debug {
    /// The code for the `index`-th assign call (from 0) on `pool` in this
    /// render; `Ok(None)` renders an empty string, as a plan does.
    fn code(&self, pool: &str, index: usize) -> Result<Option<String>, minijinja::Error>;

    /// One of the pool's counts.
    fn count(&self, pool: &str, count: Count) -> Result<i64, minijinja::Error>;
}

/// Which count a template function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// `count_available_codes()`: codes not yet handed out.
    Available,
    /// `count_total_codes()`: every code in the pool.
    Total,
}

impl Count {
    /// The template function that reads this count, for messages.
    pub fn function(self) -> &'static str {
        match self {
            Count::Available => "count_available_codes()",
            Count::Total => "count_total_codes()",
        }
    }

    fn pick(self, counts: &PoolCounts) -> i64 {
        match self {
            Count::Available => counts.available,
            Count::Total => counts.total,
        }
    }
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
            supply: None,
            asked: Mutex::default(),
            handles: Mutex::default(),
        })
    }

    /// A voucher source that asks `supply` for every code and count.
    pub fn with_supply(supply: impl Supply + 'static) -> Arc<Vouchers> {
        Arc::new(Vouchers {
            supply: Some(Box::new(supply)),
            ..Vouchers::default()
        })
    }

    /// The template's `vouchers` variable, for [`Template::render_root`].
    pub fn to_value(self: &Arc<Self>) -> Value {
        Value::from_dyn_object(self.clone())
    }

    /// What the render asked for.
    pub fn asked(&self) -> Asked {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The codes this source was given, by pool.
    pub fn codes(&self) -> &BTreeMap<String, Vec<String>> {
        &self.codes
    }

    /// Whether every count the render read was a real one (not
    /// [`UNKNOWN_COUNT`]): a render that read an unknown count must not be shown.
    pub fn counts_known(&self, asked: &Asked) -> bool {
        asked
            .count
            .iter()
            .all(|pool| self.counts.contains_key(pool))
    }

    fn assign(&self, pool: &str) -> Result<Value, minijinja::Error> {
        let index = {
            let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
            // Look up before inserting: renders run hot, and most calls
            // find their pool already there (no allocation for the key).
            match asked.take.get_mut(pool) {
                Some(n) => {
                    *n += 1;
                    *n - 1
                }
                None => {
                    asked.take.insert(pool.to_owned(), 1);
                    0
                }
            }
        };
        if let Some(supply) = &self.supply {
            return Ok(Value::from(supply.code(pool, index)?.unwrap_or_default()));
        }
        match self.codes.get(pool).and_then(|codes| codes.get(index)) {
            Some(code) => Ok(Value::from(code.as_str())),
            // No code (a plan, or a render that asks for more than was
            // reserved): the output is thrown away, the count is what matters.
            None => Ok(Value::from("")),
        }
    }

    fn count(&self, pool: &str, count: Count) -> Result<Value, minijinja::Error> {
        {
            let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
            if !asked.count.contains(pool) {
                asked.count.insert(pool.to_owned());
            }
        }
        if let Some(supply) = &self.supply {
            return Ok(Value::from(supply.count(pool, count)?));
        }
        Ok(Value::from(
            self.counts
                .get(pool)
                .map_or(UNKNOWN_COUNT, |counts| count.pick(counts)),
        ))
    }
}

impl Object for Vouchers {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let pool = key.as_str()?;
        // A template names the same pool again and again (the reference
        // layer three times): make its handle once per render.
        let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = handles.iter().find(|(name, _)| name == pool) {
            return Some(handle.1.clone());
        }
        let handle = Value::from_object(PoolHandle {
            // Weak: the handles live in the vouchers, and a strong pointer
            // back would keep both alive for ever.
            vouchers: Arc::downgrade(self),
            valid: check_name("pool", pool).map_err(|err| err.message().to_owned()),
            pool: pool.to_owned(),
        });
        handles.push((pool.to_owned(), handle.clone()));
        Some(handle)
    }
}

/// `vouchers['name']`: the pool's three functions.
#[derive(Debug)]
struct PoolHandle {
    vouchers: Weak<Vouchers>,
    pool: String,
    /// Whether `pool` is a valid pool name, checked once; else why not.
    valid: std::result::Result<(), String>,
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
        if let Err(message) = &self.valid {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                message.clone(),
            ));
        }
        let Some(vouchers) = self.vouchers.upgrade() else {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "the vouchers of this render are gone: use a pool only while rendering",
            ));
        };
        match method {
            "assign_available_code" => vouchers.assign(&self.pool),
            "count_available_codes" => vouchers.count(&self.pool, Count::Available),
            "count_total_codes" => vouchers.count(&self.pool, Count::Total),
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
