//! The HTTP contract: routes as data ([`routes`]), the typed calls to a
//! project's store ([`command`]), and the routes' query types ([`query`]).

pub mod command;
pub mod query;
pub mod routes;

pub use command::{execute, execute_registry, run, Call, Command, KeyCheck, Ran, RegistryCommand};
pub use routes::{Access, Matched, Route, RouteId, Router, ROUTES};
