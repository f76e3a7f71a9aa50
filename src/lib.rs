//! codepool's core: voucher pools, imports, and Jinja templates that hand out codes.
//!
//! Nothing here knows about Cloudflare. The Worker (`worker/`) translates HTTP
//! into calls of this crate and runs the store's statements on Durable Object
//! SQLite; tests run the same statements on native SQLite ([`sqlite`]).
#![warn(missing_docs)]

pub mod api;
pub mod campaign;
pub mod code;
pub mod code_list;
pub mod command;
pub mod error;
pub mod event;
pub mod import;
pub mod import_batches;
pub mod import_report;
pub mod layer;
mod nesting;
pub mod pool;
pub mod render;
pub mod reservation;
pub mod schema;
pub mod settings;
pub mod signature;
pub mod sql;
#[cfg(not(target_arch = "wasm32"))]
pub mod sqlite;
pub mod store;
pub mod template;
pub mod time;

pub use error::{Error, ErrorKind, Result};
