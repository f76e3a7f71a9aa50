//! The core's native tests, on real SQLite: one binary, so that the core and
//! its dependencies are linked once rather than once per file.
//!
//! - `activity`: a pool's assignments and redemptions per day (the chart).
//! - `alerts`: low-stock, out-of-codes and near-expiry alerts: once per
//!   crossing, the log, the outbox, deliveries and their retries.
//! - `api`: `openapi.json` against the served routes and the error codes.
//! - `batch`: displays that share one store call, each on its own.
//! - `campaign`: campaign sends, served in order while codes last.
//! - `codes`: listing a pool's codes: pages, cursor, state filter, export.
//! - `dispenser_cost`: what the lease protocol costs (`#[ignore]`d
//!   measurements for BENCHMARKS.md, issue 15).
//! - `draining`: pools that cannot be drained, layers that can be deleted,
//!   free JSON bounded so nothing accepted breaks a later read.
//! - `events`: redemption from tracked events, and the event log.
//! - `expiry`: a pool's window, codes' own expiry and its margin, archiving,
//!   on every path that hands out or counts codes.
//! - `fallback`: fallback content when a pool is empty takes no code.
//! - `generate`: generated codes: patterns and charsets, file-driven
//!   (`tests/generate/`), and generations through the store, collisions
//!   drawn again.
//! - `identifiers`: customer ids and codes bounded and canonical, the CSV
//!   export safe in any locale, redemption by someone other than the holder.
//! - `import`: the CSV import parser, file-driven (`tests/import/`).
//! - `projects`: projects exist once created; project keys and their scopes.
//! - `dispenser`: the lease protocol in process, messages delivered at once.
//! - `render`: the rules of a render against the store.
//! - `simulation`: the lease protocol under a seeded random scheduler:
//!   delays, reorderings, lost messages, crashes and clock skew.
//! - `store`: pools, imports and reservations.
//! - `template_limits`: templates too deep for a render are refused.
//! - `templates`: template cases, file-driven (`tests/templates/`).
//! - `void`: voiding codes, deleting pools, rolling redemptions back.
//! - `common`: what they share (the clock, stores, requests, events, stack).

mod common;

mod activity;
mod alerts;
mod api;
mod batch;
mod campaign;
mod codes;
mod dispenser;
mod dispenser_cost;
mod draining;
mod events;
mod expiry;
mod fallback;
mod generate;
mod identifiers;
mod import;
mod projects;
mod render;
mod simulation;
mod store;
mod template_limits;
mod templates;
mod void;
