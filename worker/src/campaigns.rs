//! Campaign sends and ad-hoc renders (with preview).

use std::collections::BTreeSet;

use codepool::api::command::Command;
use codepool::api::Matched;
use codepool::campaign::{CampaignJob, CampaignSend, CustomerCodes};
use codepool::pool::PoolCounts;
use codepool::render::Source;
use codepool::render::{context_from, Limits, Template, Vouchers};
use codepool::render::{preview, Outcome};
use codepool::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use worker::{Env, Request, Response};

use crate::http::{json, read_body, require_type};
use crate::layers::drive;
use crate::project::call;

/// Largest campaign body (10,000 customers with a few attributes each).
pub const MAX_SEND_BODY: usize = 8 * 1024 * 1024;

/// `POST /campaigns/{campaign}/send`
pub async fn send(mut req: Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let (project, campaign) = (m.param("project"), m.param("campaign"));
    require_type(&req, &["application/json"])?;
    let send: CampaignSend = serde_json::from_slice(&read_body(&mut req, MAX_SEND_BODY).await?)?;
    let template = Template::compile(&send.template, Limits::default())?;
    let mut job = CampaignJob::new(&template, campaign, send)?;
    let counted = job.counted_pools();
    if !counted.is_empty() {
        job.set_counts(counts(env, project, counted).await?);
    }
    let plan = job.plan();
    if job.is_test() {
        // Nothing is reserved, but the pools must exist.
        let pools: BTreeSet<String> = plan
            .customers
            .iter()
            .flat_map(|c| c.take.keys().cloned())
            .collect();
        if !pools.is_empty() {
            counts(env, project, pools.into_iter().collect()).await?;
        }
        return json(&job.render_test());
    }
    let results: Vec<CustomerCodes> = call(env, project, &Command::ReserveCampaign(plan)).await?;
    json(&job.render(results))
}

async fn counts(
    env: &Env,
    project: &str,
    pools: Vec<String>,
) -> Result<BTreeMap<String, PoolCounts>, Error> {
    call(env, project, &Command::Counts { pools }).await
}

/// The body of `POST /render`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderRequest {
    /// The template to render.
    template: String,
    /// Variables; `customer.id` is set from `customer_id`.
    #[serde(default)]
    context: serde_json::Map<String, serde_json::Value>,
    /// Whom assigned codes are recorded for.
    #[serde(default)]
    customer_id: Option<String>,
    /// Render with sample codes, consuming nothing.
    #[serde(default)]
    preview: bool,
}

/// The answer of `POST /render`: one shape for every outcome.
#[derive(Serialize)]
struct RenderAnswer {
    /// The output; `null` when suppressed.
    output: Option<String>,
    /// Whether sample codes were used.
    preview: bool,
    /// Whether a pool ran short, so nothing was rendered or taken.
    suppressed: bool,
    /// Codes assigned by this render, by pool (empty for a preview).
    codes: BTreeMap<String, Vec<String>>,
    /// The pools that ran short.
    short: Vec<String>,
}

/// `POST /render`: renders any template; `"preview": true` uses sample codes
/// and consumes nothing, otherwise it assigns like a layer.
pub async fn render(mut req: Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let project = m.param("project");
    require_type(&req, &["application/json"])?;
    let body: RenderRequest =
        serde_json::from_slice(&read_body(&mut req, crate::http::MAX_JSON_BODY).await?)?;
    let template = Template::compile(&body.template, Limits::default())?;
    let mut context = body.context;
    if let Some(id) = &body.customer_id {
        let customer = context
            .entry("customer")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(customer) = customer.as_object_mut() {
            customer.insert("id".into(), id.clone().into());
        }
    }
    let context = context_from(&serde_json::Value::Object(context));
    if body.preview {
        let plan = Vouchers::new(BTreeMap::new(), BTreeMap::new());
        template.render(&context, &plan)?;
        let asked = plan.asked();
        let pools: BTreeSet<String> = asked.take.into_keys().chain(asked.count).collect();
        let counts = if pools.is_empty() {
            BTreeMap::new()
        } else {
            counts(env, project, pools.into_iter().collect()).await?
        };
        let output = preview(&template, &context, counts)?;
        return json(
            &serde_json::json!({ "output": output, "preview": true, "suppressed": false }),
        );
    }
    let mut job = codepool::render::RenderJob::new(
        &template,
        context,
        body.customer_id,
        Source::Render,
        None,
    );
    json(&match drive(&mut job, env, project).await? {
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
    })
}
