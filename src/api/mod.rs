//! The HTTP contract: routes as data ([`routes`]), the typed calls to a
//! project's store ([`command`]), and the routes' query and body types.

pub mod command;
pub mod routes;

pub use command::{execute, Command};
pub use routes::{Access, Matched, Route, RouteId, Router, ROUTES};
