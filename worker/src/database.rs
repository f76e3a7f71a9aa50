//! The core's [`Database`] trait on Durable Object SQLite storage.

use codepool::store::sql::{Database, Row, Value};
use codepool::{Error, Result};
use wasm_bindgen::closure::ScopedClosure;
use wasm_bindgen::{JsCast, JsValue};
use worker::{SqlStorage, SqlStorageValue, Storage};

/// A Durable Object's SQLite database.
pub struct DurableDatabase {
    sql: SqlStorage,
    storage: Storage,
    /// `storage.transactionSync`, looked up once (the `worker` crate has no
    /// binding for it).
    transaction_sync: Option<js_sys::Function>,
}

impl DurableDatabase {
    /// Wraps the storage of a Durable Object.
    pub fn new(storage: Storage) -> Self {
        let raw: &JsValue = storage.as_raw().as_ref();
        let transaction_sync = js_sys::Reflect::get(raw, &JsValue::from_str("transactionSync"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        DurableDatabase {
            sql: storage.sql(),
            storage,
            transaction_sync,
        }
    }
}

impl Database for DurableDatabase {
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let bindings: Vec<JsValue> = params.iter().map(to_js).collect();
        let cursor = self.sql.exec_raw(sql, bindings).map_err(storage_error)?;
        let mut rows = Vec::new();
        for row in cursor.raw() {
            let row = row.map_err(storage_error)?;
            rows.push(row.into_iter().map(from_sql).collect());
        }
        Ok(rows)
    }

    /// Runs `f` in `storage.transactionSync`: the statements commit together,
    /// and an `Err` (thrown to JavaScript) rolls them all back.
    fn transaction<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        let mut body = || -> std::result::Result<JsValue, JsValue> {
            let result = f.take().map(|f| f());
            let failed = matches!(result, Some(Err(_)));
            out = result;
            if failed {
                Err(JsValue::from_str("codepool: rolled back"))
            } else {
                Ok(JsValue::UNDEFINED)
            }
        };
        let raw: &JsValue = self.storage.as_raw().as_ref();
        let transaction_sync = self
            .transaction_sync
            .as_ref()
            .ok_or_else(|| Error::internal("storage.transactionSync is not available"))?;
        let thrown = {
            let closure =
                ScopedClosure::<dyn FnMut() -> std::result::Result<JsValue, JsValue>>::borrow_mut(
                    &mut body,
                );
            transaction_sync.call1(raw, closure.as_js_value()).err()
        };
        match out {
            Some(result) => result,
            None => Err(Error::internal(format!(
                "transaction failed before it ran: {thrown:?}"
            ))),
        }
        .and_then(|value| match thrown {
            // The body succeeded but the commit threw.
            Some(err) => Err(Error::internal(format!("commit failed: {err:?}"))),
            None => Ok(value),
        })
    }
}

fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Integer(i) => JsValue::from_f64(*i as f64),
        Value::Real(f) => JsValue::from_f64(*f),
        Value::Text(s) => JsValue::from_str(s),
    }
}

fn from_sql(value: SqlStorageValue) -> Value {
    match value {
        SqlStorageValue::Null | SqlStorageValue::Blob(_) => Value::Null,
        SqlStorageValue::Boolean(b) => Value::Integer(i64::from(b)),
        SqlStorageValue::Integer(i) => Value::Integer(i),
        SqlStorageValue::Float(f) => Value::Real(f),
        SqlStorageValue::String(s) => Value::Text(s),
    }
}

fn storage_error(err: worker::Error) -> Error {
    Error::internal(format!("Durable Object SQLite: {err}"))
}
