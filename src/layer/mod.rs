//! Web layers: stored templates that the public route renders, and the
//! signed customer ids a layer may require ([`signature`]).

use serde::{Deserialize, Serialize};

pub mod signature;

/// Whether each display of a layer takes a new code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Every display takes a new code (the platform's behaviour).
    #[default]
    PerDisplay,
    /// The same customer sees the same code from this layer every time.
    PerCustomer,
}

impl Assignment {
    /// The name stored in SQLite and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Assignment::PerDisplay => "per_display",
            Assignment::PerCustomer => "per_customer",
        }
    }

    /// Parses the stored name; anything unknown is the default.
    pub fn from_stored(s: &str) -> Self {
        match s {
            "per_customer" => Assignment::PerCustomer,
            _ => Assignment::PerDisplay,
        }
    }
}

/// The body of `PUT /layers/{layer}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSettings {
    /// The Jinja template (autoescaped HTML).
    pub template: String,
    /// A paused layer answers 204 on the public route.
    #[serde(default = "default_true")]
    pub active: bool,
    /// Code assignment mode.
    #[serde(default)]
    pub assignment: Assignment,
    /// Whether the public render needs `customer_id` signed with the
    /// project's `customer_signing_key` (`sig` parameter).
    #[serde(default)]
    pub signed_customer: bool,
    /// Variables every render of the layer sees (product lists, copy).
    /// `customer` here gives default customer attributes; the request's
    /// customer id is added to it.
    #[serde(default)]
    pub variables: serde_json::Map<String, serde_json::Value>,
}

fn default_true() -> bool {
    true
}

/// A stored layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// The layer's name, unique in the project.
    pub name: String,
    /// The Jinja template.
    pub template: String,
    /// Whether the public route shows it.
    pub active: bool,
    /// Code assignment mode.
    pub assignment: Assignment,
    /// Whether the public render needs a signed customer id.
    pub signed_customer: bool,
    /// Variables every render of the layer sees.
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Grows by one on every change; lets the Worker cache compiled templates.
    pub version: i64,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}
