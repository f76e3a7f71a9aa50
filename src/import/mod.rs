//! Importing codes: a CSV file parsed as it streams in ([`parser`]), valid
//! codes cut into sorted store batches ([`mod@batches`]), and the report that
//! counts every row ([`report`]); a JSON list of codes ([`json`]). The store's side is `store/import.rs`.
//!
//! Generated codes are stored as an import: a pattern and its charset
//! ([`pattern`]), uniform choices from cryptographic random bytes
//! ([`random`]), and the rounds that draw candidates until the count is
//! stored ([`generate`]).

pub mod batches;
pub mod generate;
pub mod json;
pub mod parser;
pub mod pattern;
pub mod random;
pub mod report;

pub use batches::{batch_parts, batches, sort_window, ImportCode, WindowCode, IMPORT_WINDOW};
pub use generate::{GenerateRequest, Generation, Plan};
pub use parser::{ImportError, ImportOptions, ImportParser, ImportRow};
pub use report::{BatchCounts, ImportReport, InvalidSample};
