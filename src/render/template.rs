//! Jinja templates with the voucher functions, compiled once, rendered many times.
//!
//! A render never talks to storage: it draws codes and counts from a
//! [`Vouchers`] given to it, and records what the template asked for. The same
//! function therefore serves as the *plan* (a dry run with no codes, which
//! learns how many codes each pool must give) and as the real render (with
//! the codes reserved for it); see [`crate::render`].

use std::sync::Arc;

use minijinja::value::{merge_maps, Serde, Value};
use minijinja::{AutoEscape, Environment, ErrorKind};

use crate::error::{Error, ErrorKind as Kind, Location, Result};
use crate::render::vouchers::Vouchers;

/// Bounds on one template and one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest template source, in bytes.
    pub max_template_bytes: usize,
    /// Largest rendered output, in bytes.
    pub max_output_bytes: usize,
    /// Most data one render may build, in bytes: its output, the text of
    /// `{% set %}` blocks and macros, and the strings and list slots its
    /// expressions make, all counted as they are made (nothing is given back
    /// when a value is dropped). Every value is checked before it grows (by
    /// the patched minijinja, `vendor/minijinja/CODEPOOL.md`); going over is
    /// `template_too_large`.
    pub max_data_bytes: usize,
    /// Execution fuel (minijinja instructions) for one render. It also pays
    /// for data (64 bytes a unit), so it bounds the time spent copying.
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
            // Eight times the output limit: room for a 512 KiB output built
            // through `{% set %}` blocks or macros. A render's peak memory is
            // about twice this (a value being grown is copied once it
            // doubles): the worst templates known peak at 8.2 MB natively
            // (tests/memory.rs), a small share of the Worker's
            // isolate (128 MB, shared by the requests it serves).
            max_data_bytes: 4 * 1024 * 1024,
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
        env.set_data_limit(Some(limits.max_data_bytes as u64));
        env.set_recursion_limit(limits.recursion);
        // Debug info would copy the context into every error; lines and
        // columns come from spans, which are kept regardless.
        env.set_debug(false);
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|err| template_error(&err, source, &limits))?;
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
            .map_err(|err| template_error(&err, &self.source, &self.limits))?;
        // Every byte of output counts against the data limit before it is
        // written, so the output cannot outgrow it; the output limit is
        // checked on the result. That is faster than checking while writing,
        // which needs minijinja's io::Write path and an adapter for every write.
        let output = template
            .render(root)
            .map_err(|err| template_error(&err, &self.source, &self.limits))?;
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
    let nesting = crate::render::nesting::nesting(source);
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
    let at = Location::new(line, None);
    Err(Error::new(
        Kind::TemplateTooComplex,
        format!("{at}: {what}: at most {max} levels are allowed, split it up"),
    )
    .at(at))
}

/// Converts any serializable value (e.g. `serde_json::Value`) to a context.
pub fn context_from<T: serde::Serialize>(value: &T) -> Value {
    Value::from(Serde(value))
}

/// Turns a minijinja error into an API error naming line and column.
fn template_error(err: &minijinja::Error, source: &str, limits: &Limits) -> Error {
    let (code, what) = match err.kind() {
        ErrorKind::SyntaxError => (Kind::TemplateSyntaxError, "syntax error"),
        ErrorKind::OutOfFuel => (
            Kind::TemplateTooSlow,
            "the template ran out of fuel (an endless or very long loop?)",
        ),
        ErrorKind::DataLimitExceeded => (Kind::TemplateTooLarge, "the template builds too much"),
        _ => (Kind::TemplateError, "template error"),
    };
    let kind = err.kind().to_string();
    let detail = err.detail().unwrap_or(&kind);
    let message = match err.kind() {
        ErrorKind::OutOfFuel => what.to_owned(),
        ErrorKind::DataLimitExceeded => format!(
            "{what}: a render may build at most {} bytes (its output, set blocks, \
             macros, strings and lists together), build less (check loops and repetitions)",
            limits.max_data_bytes
        ),
        _ => format!("{what}: {detail}"),
    };
    let Some(line) = err.line() else {
        return Error::new(code, message);
    };
    // Some errors (running out of fuel) know their line but not where in it.
    let column = err.range().map(|range| {
        let start = range.start.min(source.len());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        source[line_start..start].chars().count() + 1
    });
    let at = Location::new(line, column);
    Error::new(code, format!("{at}: {message}")).at(at)
}
