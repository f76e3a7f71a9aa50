//! codepool's core: voucher pools, imports, and Jinja templates that hand out codes.
//!
//! Nothing here knows about Cloudflare. The Worker (`worker/`) turns HTTP
//! into calls of this crate and runs the store's statements on Durable
//! Object SQLite; tests run the very same statements on native SQLite.
//!
//! # How a display flows
//!
//! ```text
//! GET /layers/{layer}/render   api::Router finds the route (api::ROUTES)
//!   → render::Template         the layer's source, compiled once
//!   → render::RenderJob        plan: a dry run learns which pools to take from
//!   → api::Command::Reserve    the plan as a render::ReservationRequest, sent
//!                              to the project's store (a Durable Object)
//!   → store::Store::reserve    one transaction: all codes or none
//!   → render::RenderJob        renders with the render::Reservation's codes
//!   → render::Outcome          the output (200) or Suppressed (204)
//! ```
//!
//! # Where things live
//!
//! - [`api`]: the HTTP contract: routes as data, the typed [`api::Command`]
//!   protocol to the store, and the query and body types of the routes.
//! - [`render`]: templates, the `vouchers` variable, the I/O-free
//!   [`render::RenderJob`], reservations, plans kept between displays,
//!   previews and a layer display's context.
//! - [`import`]: the streaming CSV parser, how valid codes are cut into
//!   store batches, and the import report; generated codes (a pattern, its
//!   charset, random choices, the rounds that retry collisions), stored as
//!   an import.
//! - [`pool`]: pools and their counts; codes (what text is a code, its
//!   states), listing, CSV export and activity.
//! - [`layer`]: stored web layers and signed customer ids.
//! - [`campaign`]: a send to many customers with one reservation.
//! - [`dispenser`]: a busy layer's displays served by dispensers that hold
//!   leased blocks of codes: the lease protocol, a dispenser's storage,
//!   and serving a display there step by step.
//! - [`event`]: tracked events, redemption and the event log.
//! - [`alert`]: a pool's low-stock, out-of-codes and near-expiry alerts:
//!   their settings, when they fire (once per crossing), the webhook body,
//!   its signature and the retry schedule. The store keeps their state
//!   and outbox; the project's Durable Object delivers from its alarm.
//! - [`project`]: a project exists once created (the registry of projects),
//!   its keys and their scopes, its settings.
//! - [`store`]: every SQL statement, on the [`store::Database`] trait: the
//!   schema, and [`store::NativeDatabase`] for tests and tools.
//! - [`input`]: what input is accepted: names in URLs, customer ids, the
//!   Unicode facts codes and ids are checked with, how deep free JSON nests.
//! - [`error`]: [`Error`] and its [`ErrorKind`]s, each with its HTTP status;
//!   [`time`]: timestamps.
#![warn(missing_docs)]

pub mod alert;
pub mod api;
pub mod campaign;
pub mod dispenser;
pub mod error;
pub mod event;
pub mod import;
pub mod input;
pub mod layer;
pub mod pool;
pub mod project;
pub mod render;
pub mod store;
pub mod time;

pub use error::{Error, ErrorKind, Result};
