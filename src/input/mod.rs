//! What input is accepted, wherever it comes in: names in URLs ([`name`]),
//! customer ids ([`customer`]), the Unicode facts identifiers and codes are
//! checked with ([`unicode`]), and how deep the free JSON of a body may nest
//! ([`json`]).

pub mod customer;
pub mod json;
pub mod name;
pub mod unicode;
