//! `POST /campaigns/{campaign}/send`: one template, many customers, one
//! reservation for the whole send.

use std::collections::{BTreeMap, BTreeSet};

use codepool::api::{Command, Matched};
use codepool::campaign::{CampaignJob, CampaignSend, CustomerCodes, MAX_SEND_VALUES};
use codepool::render::{Limits, Template};
use codepool::Error;
use worker::{Request, Response};

use crate::dispenser;
use crate::http::{json, read_json_body};
use crate::project::Project;
use crate::render::counts;

/// Largest campaign body (10,000 customers with a few attributes each).
pub const MAX_SEND_BODY: usize = 8 * 1024 * 1024;

/// `POST /campaigns/{campaign}/send`
pub async fn send(mut req: Request, project: &Project, m: &Matched) -> Result<Response, Error> {
    let campaign = m.param("campaign");
    let send: CampaignSend = read_json_body(&mut req, MAX_SEND_BODY, MAX_SEND_VALUES).await?;
    let template = Template::compile(&send.template, Limits::default())?;
    let mut job = CampaignJob::new(&template, campaign, send)?;
    let counted = job.counted_pools();
    if !counted.is_empty() {
        job.set_counts(counts(project, counted).await?);
    }
    // Refused here, before anything is reserved, if the answer would be too large.
    let plan = job.plan()?;
    if job.is_test() {
        // Nothing is reserved, but the pools must exist.
        let pools: BTreeSet<String> = plan
            .customers
            .iter()
            .flat_map(|c| c.take.keys().cloned())
            .collect();
        counts(project, pools.into_iter().collect()).await?;
        return json(&job.render_samples(&plan));
    }
    // Codes that dispensers hold go back first if the send needs them.
    let mut needed: BTreeMap<String, i64> = BTreeMap::new();
    for customer in &plan.customers {
        for (pool, &n) in &customer.take {
            *needed.entry(pool.clone()).or_default() += n as i64;
        }
    }
    let pools: Vec<String> = needed.keys().cloned().collect();
    if !pools.is_empty() {
        let counts = counts(project, pools).await?;
        let short: Vec<String> = counts
            .iter()
            .filter(|(pool, c)| c.leased > 0 && c.available < needed[*pool])
            .map(|(pool, _)| pool.clone())
            .collect();
        if !short.is_empty() {
            dispenser::recall_pools(project, short).await?;
        }
    }
    let results: Vec<CustomerCodes> = project.call(&Command::ReserveCampaign(plan)).await?;
    json(&job.render(results))
}
