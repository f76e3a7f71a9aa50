//! The HTTP contract: routes as data ([`routes`]), the typed calls to a
//! project's store ([`command`]), the routes' query types ([`query`]), and
//! how the public route's rate limit tells clients apart ([`client`]); and
//! the count of values a JSON body may hold ([`body`]).

pub mod body;
pub mod client;
pub mod command;
pub mod query;
pub mod routes;

pub use command::{execute, execute_registry, run, Call, Command, KeyCheck, Ran, RegistryCommand};
pub use routes::{Access, Matched, Route, RouteId, Router, ROUTES};
