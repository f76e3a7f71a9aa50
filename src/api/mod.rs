//! The HTTP contract: routes as data ([`routes`]), the typed calls to a
//! project's store ([`command`]), the routes' query types ([`query`]), and
//! the count of values a JSON body may hold ([`body`]).

pub mod body;
pub mod command;
pub mod query;
pub mod routes;

pub use command::{execute, Command};
pub use routes::{Access, Matched, Route, RouteId, Router, ROUTES};
