//! Campaign reservations: a whole send in one transaction, customers in order.

use std::collections::BTreeMap;

use crate::campaign::{CampaignReservationRequest, CustomerCodes};
use crate::error::Result;
use crate::input::name::{check_name, NameOf};
use crate::pool::{PoolCounts, PoolStatus};
use crate::render::Source;
use crate::store::sql::Database;

use super::Store;

impl<D: Database> Store<'_, D> {
    /// Counts of some pools at `now`, as a render sees them (an unknown
    /// pool is an error).
    pub fn counts(&self, pools: &[String], now: i64) -> Result<BTreeMap<String, PoolCounts>> {
        self.db.transaction(|| {
            pools
                .iter()
                .map(|name| Ok((name.clone(), self.pool_row(name, now)?.counts)))
                .collect()
        })
    }

    /// Reserves codes for every customer of a send, in order, and records a
    /// `campaign` event for each: `enqueued` when served, `enqueue_failed`
    /// (with the reason) when a pool had run out or the plan failed.
    ///
    /// A customer who got codes from the same campaign before gets the same
    /// codes again: repeating a send does not take second codes.
    pub fn reserve_campaign(
        &self,
        request: &CampaignReservationRequest,
        now: i64,
    ) -> Result<Vec<CustomerCodes>> {
        check_name(NameOf::Campaign, &request.campaign)?;
        let source = Source::Campaign(request.campaign.clone()).stored();
        self.db.transaction(|| {
            let mut pools = BTreeMap::new();
            let mut rows = BTreeMap::new();
            for needs in &request.customers {
                for name in needs.take.keys() {
                    if !pools.contains_key(name) {
                        let row = self.pool_row(name, now)?;
                        let active = row.status == PoolStatus::Active;
                        pools.insert(name.clone(), (row.id, row.counts.available, active));
                        rows.insert(name.clone(), row);
                    }
                }
            }
            let mut results = Vec::with_capacity(request.customers.len());
            for needs in &request.customers {
                let customer = needs.customer_id.as_str();
                let mut again = BTreeMap::new();
                let mut short = None;
                if let Some(error) = &needs.error {
                    short = Some(format!("the template failed for this customer: {error}"));
                }
                for (name, &wanted) in &needs.take {
                    if short.is_some() {
                        break;
                    }
                    let (id, available, active) = pools[name];
                    let held = match active {
                        true => self.codes_of(id, customer, &source, wanted, now)?,
                        false => Vec::new(),
                    };
                    if available < (wanted - held.len()) as i64 {
                        short = Some(format!("pool {name} has no codes left"));
                    }
                    again.insert(name.clone(), held);
                }
                let result = match short {
                    Some(reason) => CustomerCodes::Failed { reason },
                    None => {
                        let mut codes = BTreeMap::new();
                        for (name, &wanted) in &needs.take {
                            let (id, available, _) =
                                pools.get_mut(name).expect("pool loaded above");
                            let mut taken = again.remove(name).unwrap_or_default();
                            let missing = wanted - taken.len();
                            if missing > 0 {
                                taken.extend(self.assign(
                                    *id,
                                    missing,
                                    Some(customer),
                                    &source,
                                    now,
                                )?);
                                *available -= missing as i64;
                            }
                            codes.insert(name.clone(), taken);
                        }
                        CustomerCodes::Served { codes }
                    }
                };
                self.log_campaign_event(&request.campaign, customer, &result, now)?;
                results.push(result);
            }
            // Alerts once per pool, on the counts the whole send left.
            for (name, row) in &rows {
                let taken = row.counts.available - pools[name].1;
                if taken > 0 && row.alerts.is_some() {
                    let mut after = row.counts;
                    after.available -= taken;
                    after.assigned += taken;
                    self.alerts_after(row, name, &after, now)?;
                }
            }
            Ok(results)
        })
    }

    fn log_campaign_event(
        &self,
        campaign: &str,
        customer: &str,
        result: &CustomerCodes,
        now: i64,
    ) -> Result<()> {
        let (status, code, properties) = match result {
            CustomerCodes::Served { codes } => (
                "enqueued",
                codes.values().flatten().next().cloned(),
                serde_json::json!({ "codes": codes }),
            ),
            CustomerCodes::Failed { reason } => (
                "enqueue_failed",
                None,
                serde_json::json!({ "reason": reason }),
            ),
        };
        self.db.execute(
            "INSERT INTO events (type, status, customer_id, campaign, code, timestamp, properties)
             VALUES ('campaign', ?1, ?2, ?3, ?4, ?5, ?6)",
            &[
                status.into(),
                customer.into(),
                campaign.into(),
                code.into(),
                now.into(),
                properties.to_string().into(),
            ],
        )
    }
}
