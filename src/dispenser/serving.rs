//! Serving one display at a dispenser, as steps: what the dispenser holds
//! first, then exchanges with the store, then recalls of other dispensers'
//! leases, until the display has its codes or the pool is truly empty.
//! I/O-free: the Durable Object (worker/src/dispenser.rs) and the
//! simulation (tests/native/dispenser.rs) carry out each step.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::render::{Reservation, ReservationRequest};
use crate::store::sql::Database;
use crate::store::unknown_pool;

use super::demand::Demand;
use super::held::{gone, Held, Need, Served};
use super::protocol::{Exchange, Exchanged};

/// How many exchanges one display may take before it is answered short.
/// Each after the first follows a recall or a grant that others used up
/// first; near a pool's end they race for single codes.
pub const MAX_ROUNDS: u32 = 32;

/// What to do next for a display.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this exchange to the store; give the answer to
    /// [`Serving::exchanged`].
    Exchange(Exchange),
    /// Recall the leases of these dispensers (each gives back what it has
    /// not handed out, with its own exchange), then call
    /// [`Serving::recalled`].
    Recall(Vec<String>),
    /// Answer the display.
    Done(Reservation),
}

/// One display at a dispenser, between its steps.
#[derive(Debug, Clone)]
pub struct Serving<'r> {
    dispenser: String,
    layer: String,
    request: &'r ReservationRequest,
    rounds: u32,
    need: Option<Need>,
    /// The codes missing, by pool, when the last exchange was sent.
    asked: BTreeMap<String, usize>,
}

impl<'r> Serving<'r> {
    /// Starts serving a display of `layer` at the dispenser named
    /// `dispenser`.
    pub fn new(dispenser: &str, layer: &str, request: &'r ReservationRequest) -> Self {
        Serving {
            dispenser: dispenser.to_owned(),
            layer: layer.to_owned(),
            request,
            rounds: 0,
            need: None,
            asked: BTreeMap::new(),
        }
    }

    /// The first step: served from held codes, or an exchange.
    pub fn start<D: Database>(
        &mut self,
        held: &Held<'_, D>,
        demand: &Demand,
        now: i64,
    ) -> Result<Step> {
        self.try_serve(held, demand, now)
    }

    /// Takes the store's answer to the step's exchange.
    pub fn exchanged<D: Database>(
        &mut self,
        held: &Held<'_, D>,
        sent: &Exchange,
        answer: &Exchanged,
        demand: &Demand,
        now: i64,
    ) -> Result<Step> {
        held.apply(sent, answer, now)?;
        if answer.terms.is_none() {
            return Err(gone(&self.layer));
        }
        // A pool deleted while the layer uses it: the display fails as it
        // would at the store, once the exchange's reports are taken in.
        let pools = self.request.take.keys().chain(&self.request.count);
        if let Some(pool) = pools.into_iter().find(|p| answer.unknown_pools.contains(p)) {
            return Err(unknown_pool(pool));
        }
        match held.reserve(&self.layer, self.request, now)? {
            Served::Reserved(reservation) => Ok(Step::Done(reservation)),
            Served::Needs(need) => {
                let others: Vec<String> = answer
                    .recall
                    .iter()
                    .filter(|d| **d != self.dispenser)
                    .cloned()
                    .collect();
                let recalled_self = others.len() < answer.recall.len();
                if self.rounds >= MAX_ROUNDS {
                    return Ok(Step::Done(held.short(self.request, now)?));
                }
                if !others.is_empty() {
                    self.need = Some(need);
                    return Ok(Step::Recall(others));
                }
                // Nothing granted and no one to recall: the store had no
                // code left to give. Unless it was not asked for what is
                // missing now: a customer to look up, or more codes than the
                // display lacked when it asked. Those come up after the
                // question: an exchange on stale terms asks for neither
                // (the customer may hold a code at the store), and codes
                // this dispenser held then may have gone back since (past
                // their deadline, or recalled) to the store. Then ask again.
                let asked = need.lookup.is_none()
                    && need.want.values().any(|&n| n > 0)
                    && need
                        .want
                        .iter()
                        .all(|(pool, &n)| n <= self.asked.get(pool).copied().unwrap_or(0));
                if answer.granted.is_empty() && !recalled_self && asked {
                    return Ok(Step::Done(held.short(self.request, now)?));
                }
                self.exchange(held, need, demand, now)
            }
        }
    }

    /// The recalled dispensers have given back what they held: ask again.
    pub fn recalled<D: Database>(
        &mut self,
        held: &Held<'_, D>,
        demand: &Demand,
        now: i64,
    ) -> Result<Step> {
        match self.need.take() {
            Some(need) => self.exchange(held, need, demand, now),
            None => self.try_serve(held, demand, now),
        }
    }

    fn try_serve<D: Database>(
        &mut self,
        held: &Held<'_, D>,
        demand: &Demand,
        now: i64,
    ) -> Result<Step> {
        match held.reserve(&self.layer, self.request, now)? {
            Served::Reserved(reservation) => Ok(Step::Done(reservation)),
            Served::Needs(need) => self.exchange(held, need, demand, now),
        }
    }

    fn exchange<D: Database>(
        &mut self,
        held: &Held<'_, D>,
        need: Need,
        demand: &Demand,
        now: i64,
    ) -> Result<Step> {
        self.rounds += 1;
        self.asked.clone_from(&need.want);
        let exchange =
            held.exchange(&self.dispenser, &self.layer, Some(&need), Some(demand), now)?;
        Ok(Step::Exchange(exchange))
    }
}
