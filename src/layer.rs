//! Web layers: stored templates that the public route renders.

use minijinja::value::{merge_maps, Value};
use serde::{Deserialize, Serialize};

use crate::template::context_from;

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

/// What a layer's displays see, prepared once per layer version: the
/// layer's variables, with `customer` holding the visitor's id over the
/// layer's default customer attributes, and the query as `params`.
#[derive(Debug, Clone)]
pub struct DisplayContext {
    variables: Value,
    customer_defaults: Value,
}

impl DisplayContext {
    /// Converts the layer's variables once.
    pub fn new(layer: &Layer) -> Self {
        DisplayContext {
            variables: context_from(&layer.variables),
            customer_defaults: layer
                .variables
                .get("customer")
                .map(context_from)
                .unwrap_or_default(),
        }
    }

    /// The context of one display (merged lazily: nothing is copied).
    pub fn display(&self, customer_id: Option<&str>, params: &Value) -> Value {
        // The last map wins a key.
        let customer = merge_maps([
            self.customer_defaults.clone(),
            minijinja::context! { id => customer_id },
        ]);
        merge_maps([
            self.variables.clone(),
            minijinja::context! { customer, params => params.clone() },
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_display_sees_variables_defaults_and_the_customer() {
        let layer = Layer {
            name: "l".into(),
            template: String::new(),
            active: true,
            assignment: Assignment::PerDisplay,
            signed_customer: false,
            variables:
                serde_json::json!({"customer": {"first_name": "there", "id": "x"}, "shop": "Demo"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            version: 1,
            updated_at: String::new(),
        };
        let env = minijinja::Environment::new();
        let ctx = DisplayContext::new(&layer).display(
            Some("ada"),
            &context_from(&serde_json::json!({"utm": "mail"})),
        );
        let out = env
            .render_str(
                "{{ customer.id }} {{ customer.first_name }} {{ shop }} {{ params.utm }}",
                ctx,
            )
            .unwrap();
        assert_eq!(out, "ada there Demo mail");
    }
}
