//! One render from plan to output: plan, reserve, render, without I/O.
//!
//! [`RenderJob`] is a small state machine. The caller (the Worker, or a test
//! with a native store) performs each [`Step::Reserve`] against the store and
//! feeds the answer back, so the same logic runs over a Durable Object call
//! and over native SQLite. In the usual case there is exactly one
//! reservation; a template whose assignments depend on counts may need a
//! second round, and never consumes a code it did not show. A caller that
//! renders the same template again can start from the last render's plan
//! ([`RenderJob::with_plan`]) and skip the dry run.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::render::{Asked, Template, Vouchers};
use crate::render::{Reservation, ReservationRequest, Source};

/// Reservation rounds before a render gives up (each round corrects a plan
/// that the real counts changed).
pub const MAX_ROUNDS: usize = 3;

/// How a render ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The output; every code in it is assigned.
    Rendered {
        /// The rendered text.
        output: String,
        /// The codes shown, by pool.
        codes: BTreeMap<String, Vec<String>>,
    },
    /// A pool the template assigns from has too few codes: show nothing.
    /// Nothing was consumed.
    Suppressed {
        /// The pools that ran short.
        pools: Vec<String>,
    },
}

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Run this reservation against the store and call [`RenderJob::resume`].
    Reserve(ReservationRequest),
    /// The render is over.
    Done(Outcome),
}

/// One render of a template for one customer.
pub struct RenderJob<'t> {
    template: &'t Template,
    context: Value,
    customer_id: Option<String>,
    source: Source,
    layer_version: Option<i64>,
    customer_signature: Option<String>,
    signature_expiry: Option<i64>,
    requested: BTreeMap<String, usize>,
    counted: BTreeSet<String>,
    /// Codes the last reservation took fresh, while the render is unfinished.
    held: Vec<String>,
    /// Codes the finished render took fresh and showed.
    shown: Vec<String>,
    rounds: usize,
    plan: Option<Asked>,
    speculative: bool,
    settled: Option<Asked>,
}

impl<'t> RenderJob<'t> {
    /// A render of `template` with `context` for a customer, on behalf of `source`.
    pub fn new(
        template: &'t Template,
        context: Value,
        customer_id: Option<String>,
        source: Source,
        layer_version: Option<i64>,
    ) -> Self {
        RenderJob {
            template,
            context,
            customer_id,
            source,
            layer_version,
            customer_signature: None,
            signature_expiry: None,
            requested: BTreeMap::new(),
            counted: BTreeSet::new(),
            held: Vec::new(),
            shown: Vec::new(),
            rounds: 0,
            plan: None,
            speculative: false,
            settled: None,
        }
    }

    /// Starts from a plan known from an earlier render of the same template
    /// (see [`RenderJob::plan`]) instead of a dry run: one render fewer. The
    /// real render still checks it asked for exactly what was reserved, and
    /// corrects the reservation if not, so a stale plan costs a round, never
    /// a wrong code or count.
    pub fn with_plan(mut self, plan: Option<Asked>) -> Self {
        self.plan = plan;
        self
    }

    /// What the finished render asked for, to start the next render of the
    /// same template with ([`RenderJob::with_plan`]). `None` if the render is
    /// not done, or if it started from a plan that turned out wrong (the
    /// template asks differently from render to render: plan each one).
    pub fn plan(&self) -> Option<&Asked> {
        self.settled.as_ref()
    }

    /// Whether this render started from an earlier render's plan.
    pub(crate) fn started_from_plan(&self) -> bool {
        self.speculative
    }

    /// Sends a signature of the customer id, and the `exp` it is good
    /// until if it has one, with every reservation (for layers that require
    /// signed customer ids).
    pub fn with_customer_signature(
        mut self,
        signature: Option<String>,
        expiry: Option<i64>,
    ) -> Self {
        self.customer_signature = signature;
        self.signature_expiry = expiry;
        self
    }

    /// Plans the render: a dry run that learns which pools it assigns from and
    /// counts. A template that uses no vouchers is done at once, unless it is
    /// a stored layer, which the store must still confirm is active and current.
    pub fn start(&mut self) -> Result<Step> {
        if let Some(plan) = self.plan.take() {
            self.speculative = true;
            return Ok(self.reserve(plan, Vec::new()));
        }
        let plan = Vouchers::new(BTreeMap::new(), BTreeMap::new());
        let output = self.template.render(&self.context, &plan)?;
        let asked = plan.asked();
        if asked.take.is_empty() && asked.count.is_empty() && self.layer_version.is_none() {
            return Ok(Step::Done(Outcome::Rendered {
                output,
                codes: BTreeMap::new(),
            }));
        }
        Ok(self.reserve(asked, Vec::new()))
    }

    /// Continues with the store's answer to the last [`Step::Reserve`].
    ///
    /// On `Err`, call [`RenderJob::release`] to give back what is held.
    pub fn resume(&mut self, reservation: Reservation) -> Result<Step> {
        self.held = reservation.fresh.clone();
        if !reservation.is_complete() {
            // With the real counts the template may assign less (e.g. a
            // "sold out" branch): plan again before giving up.
            let replan = Vouchers::new(BTreeMap::new(), reservation.counts);
            self.template.render(&self.context, &replan)?;
            let asked = replan.asked();
            if asked.take == self.requested && replan.counts_known(&asked) {
                self.settle(asked);
                return Ok(Step::Done(Outcome::Suppressed {
                    pools: reservation.short,
                }));
            }
            return self.again(asked);
        }
        let vouchers = Vouchers::new(reservation.codes, reservation.counts);
        let output = self.template.render(&self.context, &vouchers)?;
        let asked = vouchers.asked();
        // Shown only if it used exactly the codes reserved and read only
        // real counts; otherwise the counts changed the plan (or the plan
        // came from an earlier render and was wrong for this one).
        if asked.take == self.requested && vouchers.counts_known(&asked) {
            self.shown = std::mem::take(&mut self.held);
            self.settle(asked);
            return Ok(Step::Done(Outcome::Rendered {
                output,
                codes: vouchers.codes().clone(),
            }));
        }
        // The real counts changed what the template assigns: give back what
        // was taken (never shown) and take what it now asks for.
        self.again(asked)
    }

    /// Keeps what the render asked for as the next render's plan, unless
    /// this render started from a plan that was wrong.
    fn settle(&mut self, asked: Asked) {
        if !(self.speculative && self.rounds > 1) {
            self.settled = Some(asked);
        }
    }

    /// Another round that gives back what is held (never shown), unless the
    /// template has had its share of rounds: then the error, and the caller
    /// releases what is held.
    fn again(&mut self, asked: Asked) -> Result<Step> {
        // A plan from an earlier render may cost one round more.
        if self.rounds >= MAX_ROUNDS + usize::from(self.speculative) {
            return Err(Error::new(
                ErrorKind::TemplateUnsettled,
                "the template's voucher use keeps changing with the pool counts: \
                 make assign calls depend less on count_available_codes()",
            ));
        }
        let release = std::mem::take(&mut self.held);
        Ok(self.reserve(asked, release))
    }

    /// A reservation that gives back what a render took and its caller could
    /// not deliver: the codes held by an unfinished render, and those a
    /// finished one showed (not those the customer had before), if any.
    ///
    /// For a caller whose answer failed after the render (building the
    /// response): codes nobody saw must not stay assigned.
    pub fn release_undelivered(&mut self) -> Option<ReservationRequest> {
        self.held.append(&mut self.shown);
        self.release()
    }

    /// A reservation that gives back codes held by an unfinished render, if any.
    pub fn release(&mut self) -> Option<ReservationRequest> {
        if self.held.is_empty() {
            return None;
        }
        Some(ReservationRequest {
            customer_id: self.customer_id.clone(),
            source: self.source.clone(),
            layer_version: None,
            customer_signature: None,
            signature_expiry: None,
            take: BTreeMap::new(),
            count: Vec::new(),
            release: std::mem::take(&mut self.held),
        })
    }

    fn reserve(&mut self, asked: Asked, release: Vec<String>) -> Step {
        self.rounds += 1;
        self.requested = asked.take.clone();
        // Counts asked once stay asked, so rounds converge.
        self.counted.extend(asked.count);
        Step::Reserve(ReservationRequest {
            customer_id: self.customer_id.clone(),
            source: self.source.clone(),
            layer_version: self.layer_version,
            customer_signature: self.customer_signature.clone(),
            signature_expiry: self.signature_expiry,
            take: asked.take,
            count: self.counted.iter().cloned().collect(),
            release,
        })
    }
}

impl RenderJob<'_> {
    /// Runs the job to the end against a synchronous store (native SQLite,
    /// or codes the caller supplies). On error, held codes are released.
    /// The job stays readable after, e.g. for [`PlanMemory::learn`](crate::render::PlanMemory::learn).
    pub fn run(
        &mut self,
        mut reserve: impl FnMut(&ReservationRequest) -> Result<Reservation>,
    ) -> Result<Outcome> {
        let mut step = self.start()?;
        loop {
            match step {
                Step::Done(outcome) => return Ok(outcome),
                Step::Reserve(request) => {
                    let next = reserve(&request).and_then(|r| self.resume(r));
                    match next {
                        Ok(next) => step = next,
                        Err(err) => {
                            if let Some(release) = self.release() {
                                reserve(&release)?;
                            }
                            return Err(err);
                        }
                    }
                }
            }
        }
    }
}
