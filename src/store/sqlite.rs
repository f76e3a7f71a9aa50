//! [`Database`] on native SQLite (rusqlite, bundled): for tests and benchmarks.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, ToSql};

use crate::error::{Error, Result};
use crate::store::sql::{Database, Row, Value};

/// Prepared statements a connection keeps.
const STATEMENT_CACHE: usize = 256;

/// A native SQLite database.
pub struct NativeDatabase {
    conn: Connection,
}

/// The most terms of a compound SELECT that Durable Object SQLite is known
/// to take.
const COMPOUND_SELECT_TERMS: i32 = 4;

impl NativeDatabase {
    /// An in-memory database.
    pub fn in_memory() -> Result<Self> {
        Connection::open_in_memory()
            .map_err(storage_error)
            .and_then(NativeDatabase::new)
    }

    /// A database in a file (created if missing).
    pub fn open(path: &std::path::Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(storage_error)?;
        // The Durable Object's SQLite journals with WAL too.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(storage_error)?;
        NativeDatabase::new(conn)
    }

    fn new(conn: Connection) -> Result<Self> {
        // rusqlite keeps 16 prepared statements by default; a store runs
        // more distinct ones than that (an exchange alone about 20), so
        // each would be parsed again every time.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Durable Object SQLite refuses a compound SELECT of six terms (four
        // pass): the native tests hold statements to the same bound.
        conn.set_limit(
            rusqlite::limits::Limit::SQLITE_LIMIT_COMPOUND_SELECT,
            COMPOUND_SELECT_TERMS,
        )
        .map_err(storage_error)?;
        Ok(NativeDatabase { conn })
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Integer(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl Database for NativeDatabase {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(storage_error)?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(params_from_iter(params))
            .map_err(storage_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(storage_error)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(storage_error)? {
                    ValueRef::Null | ValueRef::Blob(_) => Value::Null,
                    ValueRef::Integer(i) => Value::Integer(i),
                    ValueRef::Real(f) => Value::Real(f),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn transaction<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(storage_error)?;
        match f() {
            Ok(value) => {
                self.conn.execute_batch("COMMIT").map_err(storage_error)?;
                Ok(value)
            }
            Err(err) => {
                self.conn.execute_batch("ROLLBACK").map_err(storage_error)?;
                Err(err)
            }
        }
    }
}

fn storage_error(err: rusqlite::Error) -> Error {
    Error::internal(format!("SQLite: {err}"))
}
