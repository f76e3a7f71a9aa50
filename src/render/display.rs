//! The context of a layer's display: the layer's variables, the visitor,
//! the query.

use minijinja::value::{merge_maps, Value};

use crate::layer::Layer;
use crate::render::template::context_from;

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
    use crate::layer::Assignment;

    #[test]
    fn a_display_sees_variables_defaults_and_the_customer() {
        let layer = Layer {
            name: "l".into(),
            template: String::new(),
            active: true,
            assignment: Assignment::PerDisplay,
            signed_customer: false,
            require_expiry: false,
            variables:
                serde_json::json!({"customer": {"first_name": "there", "id": "x"}, "shop": "Demo"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            version: 1,
            updated_at: String::new(),
            dispensers: 0,
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
