//! Campaign sends: one template, an ordered list of customers, one
//! reservation for the whole batch; customers are served in order while the
//! codes last and the rest get an `enqueue_failed` campaign event.
//!
//! A send's answer holds every message, so its size is capped
//! ([`MAX_SEND_ANSWER_BYTES`]): the plan measures it before anything is
//! reserved, and a send that would pass the cap is refused whole.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::input::customer::check_customer_id;
use crate::input::json::check_object_depth;
use crate::pool::code::MAX_CODE_CHARS;
use crate::pool::PoolCounts;
use crate::render::sample_codes;
use crate::render::{context_from, Template, Vouchers};

/// The most customers one send may carry.
pub const MAX_CUSTOMERS_PER_SEND: usize = 10_000;

/// The most JSON values (numbers, strings, keys, lists, maps) a send's body
/// may hold: 10,000 customers with about twenty attributes each. Parsed,
/// they take about 12 MB (see [`crate::api::body`]).
pub const MAX_SEND_VALUES: usize = 200_000;

/// The most bytes the messages and failures of one send may take in its
/// answer (as JSON). Each render is capped on its own (512 KiB); the answer
/// holds them all, in the Worker's memory twice over while it is written
/// (the report, then its JSON), so it is capped like a send's body (8 MiB).
pub const MAX_SEND_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// The body of `POST /campaigns/{campaign}/send`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSend {
    /// The message template (Jinja, autoescaped HTML).
    pub template: String,
    /// Customers in the order they are served.
    pub customers: Vec<Customer>,
    /// A test send renders with sample codes and consumes nothing.
    #[serde(default)]
    pub test: bool,
}

/// A recipient: an id and the attributes the template sees as `customer.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// The customer's id (see [`check_customer_id`]).
    pub id: String,
    /// Attributes, e.g. `first_name`.
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// What one customer needs from the store, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerNeeds {
    /// The customer's id.
    pub customer_id: String,
    /// Codes to take by pool.
    pub take: BTreeMap<String, usize>,
    /// Set when the plan failed for this customer: the store records the
    /// failure and reserves nothing.
    #[serde(default)]
    pub error: Option<String>,
}

/// A campaign reservation: every customer's needs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignReservationRequest {
    /// The campaign id (a repeated send with the same id reuses codes).
    pub campaign: String,
    /// Customers in order.
    pub customers: Vec<CustomerNeeds>,
}

/// What the store did for one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CustomerCodes {
    /// Served with these codes by pool.
    Served {
        /// Codes by pool.
        codes: BTreeMap<String, Vec<String>>,
    },
    /// Not served; an `enqueue_failed` event was recorded.
    Failed {
        /// Why, e.g. "pool spring10 has no codes left".
        reason: String,
    },
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The recipient.
    pub customer_id: String,
    /// The rendered message.
    pub output: String,
}

/// A customer not served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The customer.
    pub customer_id: String,
    /// Why.
    pub reason: String,
}

/// The answer to a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignReport {
    /// The campaign id.
    pub campaign: String,
    /// Whether this was a test send (sample codes, nothing consumed).
    pub test: bool,
    /// Messages rendered.
    pub sent: usize,
    /// Customers not served.
    pub failed: usize,
    /// The messages, in customer order.
    pub messages: Vec<Message>,
    /// The failures, in customer order.
    pub failures: Vec<Failure>,
}

/// One send: plan every customer, then render with what the store gave.
///
/// Counts are a snapshot taken before the send, the same for every customer,
/// so each customer's plan and render agree.
pub struct CampaignJob<'t> {
    template: &'t Template,
    campaign: String,
    send: CampaignSend,
    counts: BTreeMap<String, PoolCounts>,
    /// The first customer past [`MAX_SEND_ANSWER_BYTES`], when the dry run
    /// of [`CampaignJob::counted_pools`] already knows the plan would be.
    oversized_at: Option<usize>,
}

impl<'t> CampaignJob<'t> {
    /// Checks the send and prepares the job.
    pub fn new(template: &'t Template, campaign: &str, send: CampaignSend) -> Result<Self> {
        if send.customers.is_empty() || send.customers.len() > MAX_CUSTOMERS_PER_SEND {
            return Err(Error::new(ErrorKind::InvalidCustomers,
                format!("send 1 to {MAX_CUSTOMERS_PER_SEND} customers per call, in the order they are served"),
            ));
        }
        for (i, customer) in send.customers.iter().enumerate() {
            check_customer_id(&customer.id).map_err(|err| {
                Error::new(err.kind(), format!("customer {i}: {}", err.message()))
            })?;
        }
        for customer in &send.customers {
            check_object_depth(
                &customer.attributes,
                &format!("the attributes of customer {:?}", customer.id),
            )?;
        }
        Ok(CampaignJob {
            template,
            campaign: campaign.to_owned(),
            send,
            counts: BTreeMap::new(),
            oversized_at: None,
        })
    }

    /// Pools whose counts the template reads, for some customer (a dry run
    /// of every customer; plan errors are reported later per customer).
    ///
    /// While no customer has read a count, this dry run is the plan (counts
    /// change nothing), so it stops where the plan's answer would pass
    /// [`MAX_SEND_ANSWER_BYTES`]: [`CampaignJob::plan`] then refuses at once
    /// instead of rendering every customer twice first.
    pub fn counted_pools(&mut self) -> Vec<String> {
        let mut pools = std::collections::BTreeSet::new();
        let mut answer = 0usize;
        for (index, customer) in self.send.customers.iter().enumerate() {
            let (_, bytes, counted) = self.plan_customer(customer, BTreeMap::new());
            pools.extend(counted);
            answer = answer.saturating_add(bytes);
            if pools.is_empty() && answer > MAX_SEND_ANSWER_BYTES {
                self.oversized_at = Some(index);
                break;
            }
        }
        pools.into_iter().collect()
    }

    /// Sets the counts snapshot every customer's render sees.
    pub fn set_counts(&mut self, counts: BTreeMap<String, PoolCounts>) {
        self.counts = counts;
    }

    /// Whether this is a test send.
    pub fn is_test(&self) -> bool {
        self.send.test
    }

    /// Plans every customer: what each needs, in order.
    ///
    /// Refuses the send (`campaign_too_large`) as soon as its answer would
    /// pass [`MAX_SEND_ANSWER_BYTES`], counting each message as planned plus
    /// each code it takes at its longest ([`MAX_CODE_CHARS`]): a plan renders
    /// without codes.
    pub fn plan(&self) -> Result<CampaignReservationRequest> {
        if let Some(index) = self.oversized_at {
            return Err(too_large(index));
        }
        let mut answer = 0usize;
        let mut customers = Vec::with_capacity(self.send.customers.len());
        for (index, customer) in self.send.customers.iter().enumerate() {
            let (needs, bytes, _) = self.plan_customer(customer, self.counts.clone());
            answer = answer.saturating_add(bytes);
            if answer > MAX_SEND_ANSWER_BYTES {
                return Err(too_large(index));
            }
            customers.push(needs);
        }
        Ok(CampaignReservationRequest {
            campaign: self.campaign.clone(),
            customers,
        })
    }

    /// Plans one customer with these counts: what they need, the bytes
    /// their message or failure would take in the answer (each code at its
    /// longest), and the pools whose counts the template read.
    fn plan_customer(
        &self,
        customer: &Customer,
        counts: BTreeMap<String, PoolCounts>,
    ) -> (CustomerNeeds, usize, BTreeSet<String>) {
        let plan = Vouchers::new(BTreeMap::new(), counts);
        match self.template.render(&self.context(customer), &plan) {
            Ok(output) => {
                let asked = plan.asked();
                let codes: usize = asked.take.values().sum();
                let bytes = message_bytes(&customer.id, &output)
                    .saturating_add(codes.saturating_mul(MAX_CODE_CHARS));
                let needs = CustomerNeeds {
                    customer_id: customer.id.clone(),
                    take: asked.take,
                    error: None,
                };
                (needs, bytes, asked.count)
            }
            Err(err) => {
                let bytes = message_bytes(&customer.id, err.message());
                let needs = CustomerNeeds {
                    customer_id: customer.id.clone(),
                    take: BTreeMap::new(),
                    error: Some(err.message().to_owned()),
                };
                // What a failed render read is not known: as if nothing.
                (needs, bytes, BTreeSet::new())
            }
        }
    }

    /// A test send: every customer rendered with sample codes. Refused like
    /// a real send when its answer would be too large ([`CampaignJob::plan`]).
    pub fn render_test(&self) -> Result<CampaignReport> {
        Ok(self.render_samples(&self.plan()?))
    }

    /// Renders a test send's planned customers with sample codes.
    pub fn render_samples(&self, plan: &CampaignReservationRequest) -> CampaignReport {
        let results = plan
            .customers
            .iter()
            .map(|needs| match &needs.error {
                Some(reason) => CustomerCodes::Failed {
                    reason: reason.clone(),
                },
                None => CustomerCodes::Served {
                    codes: sample_codes(&needs.take),
                },
            })
            .collect();
        self.render(results)
    }

    /// Renders the served customers with the codes the store gave them.
    ///
    /// The plan kept the answer under [`MAX_SEND_ANSWER_BYTES`] with every
    /// code printed once; a template that prints its codes many times can
    /// still pass that. The answer never passes twice the cap: customers
    /// past it are listed as failures, unrendered (their codes stay theirs
    /// in this campaign, a send again gives them the same ones).
    pub fn render(&self, results: Vec<CustomerCodes>) -> CampaignReport {
        let mut report = CampaignReport {
            campaign: self.campaign.clone(),
            test: self.send.test,
            sent: 0,
            failed: 0,
            messages: Vec::new(),
            failures: Vec::new(),
        };
        let mut answer = 0usize;
        for (customer, result) in self.send.customers.iter().zip(results) {
            let rendered = match result {
                _ if answer > 2 * MAX_SEND_ANSWER_BYTES => Err(format!(
                    "not rendered: the messages of this send passed {} bytes, send this \
                     customer again in a smaller send (the codes stay reserved for them)",
                    2 * MAX_SEND_ANSWER_BYTES
                )),
                CustomerCodes::Served { codes } => {
                    let vouchers = Vouchers::new(codes, self.counts.clone());
                    self.template
                        .render(&self.context(customer), &vouchers)
                        .map_err(|e| e.message().to_owned())
                }
                CustomerCodes::Failed { reason } => Err(reason),
            };
            answer += match &rendered {
                Ok(output) => message_bytes(&customer.id, output),
                Err(reason) => message_bytes(&customer.id, reason),
            };
            match rendered {
                Ok(output) => report.messages.push(Message {
                    customer_id: customer.id.clone(),
                    output,
                }),
                Err(reason) => report.failures.push(Failure {
                    customer_id: customer.id.clone(),
                    reason,
                }),
            }
        }
        report.sent = report.messages.len();
        report.failed = report.failures.len();
        report
    }

    /// The variables one customer's render sees.
    fn context(&self, customer: &Customer) -> minijinja::Value {
        let mut attributes = customer.attributes.clone();
        attributes.insert("id".into(), customer.id.clone().into());
        context_from(&serde_json::json!({
            "customer": attributes,
            "campaign": { "id": self.campaign },
        }))
    }
}

/// The error for a send whose answer passes [`MAX_SEND_ANSWER_BYTES`] at
/// the customer at `index` (from 0).
fn too_large(index: usize) -> Error {
    Error::new(
        ErrorKind::CampaignTooLarge,
        format!(
            "the messages of this send would take more than {MAX_SEND_ANSWER_BYTES} bytes \
             (counted as JSON, each code at its longest) from customer {} on: send at most \
             {index} customers per call (the same campaign id keeps giving each customer the \
             same codes)",
            index + 1
        ),
    )
}

/// Bytes a message (or a failure) takes in the answer: its customer id and
/// text as JSON strings, and the keys around them.
fn message_bytes(customer_id: &str, text: &str) -> usize {
    /// Counts what is written, keeps nothing.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(r#"{"customer_id":,"output":},"#.len());
    for string in [customer_id, text] {
        // Writing a string to a counter cannot fail.
        let _ = serde_json::to_writer(&mut count, string);
    }
    count.0
}
