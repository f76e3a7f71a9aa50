//! Web layers: stored templates that the public route renders, and the
//! signed customer ids a layer may require ([`signature`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::input::json::check_object_depth;

pub mod signature;

/// Largest a layer's variables may be, as JSON text: as large as its
/// template may be. Every isolate that shows the layer holds them, and
/// `GET /layers` lists them all in one answer.
pub const MAX_VARIABLES_BYTES: usize = 64 * 1024;

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

    /// Checks a display of a layer `name` in this mode names its customer:
    /// a `per_customer` layer keeps one code per customer id, and without
    /// one, every display would take a new code.
    pub fn check_customer(self, name: &str, customer_id: Option<&str>) -> Result<()> {
        if self == Assignment::PerCustomer && customer_id.is_none_or(str::is_empty) {
            return Err(Error::new(
                ErrorKind::MissingCustomerId,
                format!(
                    "layer {name:?} gives each customer one code: call it with customer_id \
                     (the loader's data-customer)"
                ),
            ));
        }
        Ok(())
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
    /// With `signed_customer`: refuse signatures without `exp` (those over
    /// the id alone never expire). Off by default, so that sites that sign
    /// the id alone keep working until they send `exp`.
    #[serde(default)]
    pub require_expiry: bool,
    /// How many dispensers serve the layer's displays
    /// ([`crate::dispenser`]), at most [`crate::dispenser::MAX_DISPENSERS`];
    /// 0 (the default): the project's store serves them.
    #[serde(default)]
    pub dispensers: u32,
    /// Variables every render of the layer sees (product lists, copy).
    /// `customer` here gives default customer attributes; the request's
    /// customer id is added to it.
    #[serde(default)]
    pub variables: serde_json::Map<String, serde_json::Value>,
}

impl LayerSettings {
    /// Checks what compiling the template does not: settings that agree,
    /// and variables within [`crate::input::json::MAX_DEPTH`] levels and
    /// [`MAX_VARIABLES_BYTES`], so that a stored layer can always be read,
    /// listed and sent between the Worker and the store.
    pub fn check(&self) -> Result<()> {
        if self.require_expiry && !self.signed_customer {
            return Err(Error::new(
                ErrorKind::InvalidLayer,
                "require_expiry applies to signed customer ids: set signed_customer too",
            ));
        }
        if self.dispensers > crate::dispenser::MAX_DISPENSERS {
            return Err(Error::new(
                ErrorKind::InvalidLayer,
                format!(
                    "dispensers is {}: a layer has at most {} (0 lets the project's store \
                     serve it)",
                    self.dispensers,
                    crate::dispenser::MAX_DISPENSERS
                ),
            ));
        }
        check_object_depth(&self.variables, "the layer's variables")?;
        let size = serde_json::to_string(&self.variables)
            .map_err(|e| Error::internal(e.to_string()))?
            .len();
        if size > MAX_VARIABLES_BYTES {
            return Err(Error::new(
                ErrorKind::VariablesTooLarge,
                format!(
                    "the layer's variables are {size} bytes of JSON; at most \
                     {MAX_VARIABLES_BYTES} are accepted"
                ),
            ));
        }
        Ok(())
    }
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
    /// Whether that signature must carry an expiry (`exp`).
    pub require_expiry: bool,
    /// How many dispensers serve its displays (0: the store does).
    #[serde(default)]
    pub dispensers: u32,
    /// Variables every render of the layer sees.
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Grows by one on every change; lets the Worker cache compiled templates.
    pub version: i64,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(body: serde_json::Value) -> LayerSettings {
        serde_json::from_value(body).unwrap()
    }

    fn nested(n: usize) -> serde_json::Value {
        (0..n).fold(json!(1), |inner, _| json!([inner]))
    }

    #[test]
    fn variables_are_bounded_in_depth_and_size() {
        let ok = settings(json!({"template": "x", "variables": {"products": [{"name": "x"}]}}));
        assert!(ok.check().is_ok());
        // The variables object is the first level.
        let deepest = settings(json!({"template": "x", "variables": {"v": nested(15)}}));
        assert!(deepest.check().is_ok());
        for n in [16, 124, 125] {
            let deep = settings(json!({"template": "x", "variables": {"v": nested(n)}}));
            let err = deep.check().unwrap_err();
            assert_eq!((err.status(), err.code()), (400, "json_too_deep"), "{n}");
        }
        let big = settings(
            json!({"template": "x", "variables": {"copy": "x".repeat(MAX_VARIABLES_BYTES)}}),
        );
        let err = big.check().unwrap_err();
        assert_eq!((err.status(), err.code()), (422, "variables_too_large"));
        assert!(err.message().contains("65547 bytes"), "{}", err.message());
    }

    #[test]
    fn an_expiry_needs_signed_ids() {
        let both =
            settings(json!({"template": "x", "signed_customer": true, "require_expiry": true}));
        assert!(both.check().is_ok());
        let alone = settings(json!({"template": "x", "require_expiry": true}));
        assert_eq!(alone.check().unwrap_err().code(), "invalid_layer");
        assert!(!settings(json!({"template": "x"})).require_expiry);
    }

    #[test]
    fn a_per_customer_layer_needs_a_customer() {
        let check = |mode: Assignment, id| mode.check_customer("l", id).map_err(|e| e.code());
        assert_eq!(
            check(Assignment::PerCustomer, None),
            Err("missing_customer_id")
        );
        assert_eq!(
            check(Assignment::PerCustomer, Some("")),
            Err("missing_customer_id")
        );
        assert_eq!(check(Assignment::PerCustomer, Some("ada")), Ok(()));
        assert_eq!(check(Assignment::PerDisplay, None), Ok(()));
    }
}
