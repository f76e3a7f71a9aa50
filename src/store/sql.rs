//! The small trait through which every SQL statement of the store runs.
//!
//! The Worker implements it on Durable Object SQLite storage, the tests and
//! benchmarks on native SQLite (`crate::sqlite`), so both run the very same
//! statements from [`crate::store`].

use crate::error::Result;

/// A value bound to a `?` placeholder or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (Durable Object SQLite hands integers to JavaScript
    /// as numbers: keep them within ±2^53).
    Integer(i64),
    /// A float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
}

/// A row: the values of the selected columns, in order.
pub type Row = Vec<Value>;

/// A SQLite connection that runs the store's statements.
pub trait Database {
    /// Runs one statement with positional parameters and returns its rows.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;

    /// Runs `f` in one transaction: all its writes commit, or on `Err` none
    /// do. `f` must not nest transactions.
    fn transaction<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T>;

    /// Runs a statement whose rows are not needed.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<()> {
        self.query(sql, params).map(|_| ())
    }
}

impl Value {
    /// The integer, or 0 for anything else (counts and ids are never NULL).
    pub fn as_i64(&self) -> i64 {
        match self {
            Value::Integer(i) => *i,
            Value::Real(f) => *f as i64,
            _ => 0,
        }
    }

    /// The integer, or `None` for NULL.
    pub fn as_opt_i64(&self) -> Option<i64> {
        match self {
            Value::Null => None,
            v => Some(v.as_i64()),
        }
    }

    /// The text, or `None` for NULL or a number.
    pub fn as_opt_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The text, taken out of the value; empty for anything else.
    pub fn into_string(self) -> String {
        match self {
            Value::Text(s) => s,
            _ => String::new(),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
