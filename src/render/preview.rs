//! Renders that consume nothing: sample codes for previews and test sends.

use std::collections::BTreeMap;

use minijinja::Value;

use crate::error::Result;
use crate::pool::PoolCounts;
use crate::render::template::Template;
use crate::render::vouchers::Vouchers;

/// Sample codes for a preview or a test send: `SAMPLE-<POOL>-<n>`, as many
/// as asked for; nothing is reserved.
pub fn sample_codes(take: &BTreeMap<String, usize>) -> BTreeMap<String, Vec<String>> {
    // Inserted one by one: `take` is sorted already, and collecting into a
    // map would bring a sort of its own into the Worker's wasm.
    let mut samples = BTreeMap::new();
    for (pool, &n) in take {
        let codes = (1..=n)
            .map(|i| format!("SAMPLE-{}-{i}", pool.to_uppercase()))
            .collect();
        samples.insert(pool.clone(), codes);
    }
    samples
}

/// Renders a template with sample codes and the given counts, consuming
/// nothing: the admin preview.
pub fn preview(
    template: &Template,
    context: &Value,
    counts: BTreeMap<String, PoolCounts>,
) -> Result<String> {
    let plan = Vouchers::new(BTreeMap::new(), counts.clone());
    template.render(context, &plan)?;
    let vouchers = Vouchers::new(sample_codes(&plan.asked().take), counts);
    template.render(context, &vouchers)
}
