//! `POST /render`: any template with a context, as a preview or for real.

use std::collections::BTreeMap;

use minijinja::Value;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::input::customer::check_customer_id;
use crate::input::json::check_object_depth;
use crate::render::job::Outcome;
use crate::render::template::context_from;

/// The body of `POST /render`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    /// The template to render.
    pub template: String,
    /// Variables; `customer.id` is set from `customer_id`.
    #[serde(default)]
    pub context: serde_json::Map<String, serde_json::Value>,
    /// Whom assigned codes are recorded for (see [`check_customer_id`]).
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Render with sample codes, consuming nothing.
    #[serde(default)]
    pub preview: bool,
}

impl RenderRequest {
    /// Checks the body: a context within [`crate::input::json::MAX_DEPTH`] levels,
    /// and the customer id by the rule of every route.
    pub fn check(&self) -> Result<()> {
        check_object_depth(&self.context, "the context's values")?;
        match &self.customer_id {
            Some(id) => check_customer_id(id),
            None => Ok(()),
        }
    }

    /// The render's context: the body's, with `customer.id` from `customer_id`.
    pub fn context(&self) -> Value {
        let mut context = self.context.clone();
        if let Some(id) = &self.customer_id {
            let customer = context
                .entry("customer")
                .or_insert_with(|| serde_json::json!({}));
            if let Some(customer) = customer.as_object_mut() {
                customer.insert("id".into(), id.clone().into());
            }
        }
        context_from(&serde_json::Value::Object(context))
    }
}

/// The answer of `POST /render`: one shape for every outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderAnswer {
    /// The output; `null` when suppressed.
    pub output: Option<String>,
    /// Whether sample codes were used.
    pub preview: bool,
    /// Whether a pool ran short, so nothing was rendered or taken.
    pub suppressed: bool,
    /// Codes assigned by this render, by pool (empty for a preview).
    pub codes: BTreeMap<String, Vec<String>>,
    /// The pools that ran short.
    pub short: Vec<String>,
}

impl RenderAnswer {
    /// The answer of a preview.
    pub fn preview(output: String) -> Self {
        RenderAnswer {
            output: Some(output),
            preview: true,
            suppressed: false,
            codes: BTreeMap::new(),
            short: Vec::new(),
        }
    }
}

impl From<Outcome> for RenderAnswer {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Rendered { output, codes } => RenderAnswer {
                output: Some(output),
                preview: false,
                suppressed: false,
                codes,
                short: Vec::new(),
            },
            Outcome::Suppressed { pools } => RenderAnswer {
                output: None,
                preview: false,
                suppressed: true,
                codes: BTreeMap::new(),
                short: pools,
            },
        }
    }
}
