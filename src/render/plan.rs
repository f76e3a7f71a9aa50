//! Plans kept between renders of one template, so the next can skip its
//! dry run.

use crate::render::job::RenderJob;
use crate::render::vouchers::Asked;

/// What renders of one template asked for, kept between them so that the
/// next render can skip its dry run ([`RenderJob::with_plan`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum PlanMemory {
    /// No render has settled yet.
    #[default]
    Unknown,
    /// What the last settled render asked for.
    Known(Asked),
    /// A render that started from the known plan needed another round: the
    /// template asks differently from render to render, so each one plans.
    Varies,
}

impl PlanMemory {
    /// The plan to start the next render from, if there is one to trust.
    pub fn next(&self) -> Option<Asked> {
        match self {
            PlanMemory::Known(asked) => Some(asked.clone()),
            PlanMemory::Unknown | PlanMemory::Varies => None,
        }
    }

    /// Learns from a render that is over (done or failed).
    pub fn learn(&mut self, job: &RenderJob<'_>) {
        match (job.plan(), &*self) {
            (_, PlanMemory::Varies) => {}
            (Some(asked), _) => *self = PlanMemory::Known(asked.clone()),
            (None, _) if job.started_from_plan() => *self = PlanMemory::Varies,
            (None, _) => {}
        }
    }
}
