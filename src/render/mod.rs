//! Rendering templates that hand out codes, without I/O.
//!
//! A [`Template`] is compiled once ([`template`], with its source checked for
//! nesting first: `nesting.rs`). A [`RenderJob`] ([`job`]) drives one render:
//! a dry run against empty [`Vouchers`] ([`vouchers`]) learns what the
//! template asks for; the caller sends that as a [`ReservationRequest`]
//! ([`reservation`]) to the store and feeds back the [`Reservation`]; the
//! real render uses exactly the codes reserved. [`PlanMemory`] ([`plan`])
//! lets the next display of the same layer skip the dry run; [`mod@preview`]
//! renders with sample codes; [`display`] builds a layer display's context;
//! [`request`] is `POST /render`'s body and answer.

pub mod display;
pub mod job;
mod nesting;
pub mod plan;
pub mod preview;
pub mod request;
pub mod reservation;
pub mod template;
pub mod vouchers;

pub use display::DisplayContext;
pub use job::{Outcome, RenderJob, Step, MAX_ROUNDS};
pub use plan::PlanMemory;
pub use preview::{preview, sample_codes};
pub use reservation::{Reservation, ReservationRequest, Source};
pub use template::{context_from, Limits, Template};
pub use vouchers::{Asked, Count, Supply, Vouchers, UNKNOWN_COUNT};
