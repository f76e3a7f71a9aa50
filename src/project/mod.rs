//! Projects: one store each, and a project exists only once the operator
//! created it (`PUT /v1/projects/{project}`).
//!
//! The deployment keeps a registry of created projects
//! ([`crate::store::Registry`]). A request for a project the registry does
//! not know is answered `unknown_project` before anything reaches a
//! project's store, so a stranger who makes up project names creates no
//! database, not even an empty one.
//!
//! A project has keys with scopes ([`key`]) and settings ([`settings`]).

use serde::{Deserialize, Serialize};

pub mod key;
pub mod settings;

/// A created project, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectInfo {
    /// The project's name, as in its URLs.
    pub name: String,
    /// When it was created (for a project older than the registry: when
    /// it was registered), RFC 3339.
    pub created_at: String,
}

/// The answer of the registry to a creation: the project, and whether
/// this call created it (`PUT` answers 201) or it was there (200).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// The project.
    pub project: ProjectInfo,
    /// Whether this call created it.
    pub created: bool,
}

/// The body of `PUT /v1/projects/{project}`: optional, and nothing to set
/// yet, but an unknown field is refused rather than ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProject {}
