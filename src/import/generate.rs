//! Generated codes: `POST /pools/{pool}/generate` fills a pool with random
//! codes of a pattern ([`super::pattern`]), stored as an import is.
//!
//! A [`Generation`] draws candidates in sorted windows, which the caller
//! stores in the batches of an import ([`crate::store::Store::begin_import`],
//! [`crate::store::Store::import_batch`], cut by [`super::batches()`]) and
//! hands back the counts of. A candidate that is a code of the project
//! already, or repeats one drawn before, is not stored; the next round
//! draws as many new candidates as codes are missing, until `count` codes
//! were stored, or the candidates allowed ([`MAX_CANDIDATES_PER_CODE`])
//! ran out: a pattern whose codes are mostly taken ends with
//! `pattern_exhausted`, never loops.
//!
//! The answer is an [`ImportReport`], where for a generation
//! - `total_rows` is every candidate drawn;
//! - `imported` is the codes added to the pool: `count`;
//! - `duplicates_in_file`: candidates that repeated a candidate drawn
//!   earlier in the same generation (drawn again);
//! - `already_in_project`: candidates that were codes of the project before
//!   the generation began (drawn again);
//! - `invalid` is 0: every candidate is a valid code.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::import::batches::IMPORT_WINDOW;
use crate::import::pattern::{Charset, Pattern};
use crate::import::random::RandomBytes;
use crate::import::report::{BatchCounts, ImportReport};

/// Most codes one request generates: a generation takes seconds per
/// million codes, and holds the project's store one batch at a time.
/// Memory does not grow with the count: one window is held at a time.
pub const MAX_GENERATE: u64 = 1_000_000;

/// A pattern must hold at least this many times the codes asked for: then
/// fewer than 1% of the candidates of a new pattern collide, and codes
/// stay hard to guess from each other.
pub const CAPACITY_FACTOR: u64 = 100;

/// Candidates drawn per code asked for, at most (plus
/// [`EXTRA_CANDIDATES`]): a pattern whose space the project's codes fill
/// by three quarters still completes; a fuller one ends with
/// `pattern_exhausted` after this much work.
pub const MAX_CANDIDATES_PER_CODE: u64 = 4;

/// Candidates allowed besides [`MAX_CANDIDATES_PER_CODE`] per code, so a
/// small count gets many rounds (one code in a half-full space: 68 draws).
pub const EXTRA_CANDIDATES: u64 = 64;

/// Most bytes of candidates in one window: long codes come in smaller
/// windows, so a window's memory stays bounded (8 MiB, and as much for the
/// keys it is sorted by) whatever the pattern.
pub const MAX_WINDOW_BYTES: usize = 8 * 1024 * 1024;

/// The body of `POST /pools/{pool}/generate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// How many codes to add to the pool: 1 to [`MAX_GENERATE`].
    pub count: u64,
    /// Literal characters and `#` placeholders, e.g. `SPRING-####-####`.
    pub pattern: String,
    /// A named charset (`readable`, the default; `alphanumeric`, `letters`,
    /// `digits`) or the characters to draw from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
}

impl GenerateRequest {
    /// Checks the request and answers what to generate.
    ///
    /// # Errors
    ///
    /// `invalid_count` for a count out of range; `invalid_charset`,
    /// `invalid_pattern` (see [`Charset::parse`], [`Pattern::new`]);
    /// `pattern_too_small` when the pattern holds fewer than
    /// [`CAPACITY_FACTOR`] times `count` codes.
    pub fn check(&self) -> Result<Plan> {
        if !(1..=MAX_GENERATE).contains(&self.count) {
            return Err(Error::new(
                ErrorKind::InvalidCount,
                format!(
                    "count is {}: generate 1 to {MAX_GENERATE} codes per request",
                    self.count
                ),
            ));
        }
        let charset = match &self.charset {
            Some(spec) => Charset::parse(spec)?,
            None => Charset::default(),
        };
        let pattern = Pattern::new(&self.pattern, charset)?;
        let needed = self.count.saturating_mul(CAPACITY_FACTOR);
        if pattern.capacity() < needed {
            let more = pattern.placeholders_short_of(needed);
            return Err(Error::new(
                ErrorKind::PatternTooSmall,
                format!(
                    "pattern {:?} over {} characters holds {} codes; generating {} needs a \
                     pattern that holds at least {needed} ({CAPACITY_FACTOR}× the count): add \
                     {more} {} (or use a larger charset)",
                    pattern.text(),
                    pattern.charset().len(),
                    pattern.capacity(),
                    self.count,
                    if more == 1 {
                        "placeholder"
                    } else {
                        "placeholders"
                    },
                ),
            ));
        }
        Ok(Plan {
            pattern,
            count: self.count,
        })
    }
}

/// A checked request: the pattern, and how many codes to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The pattern with its charset.
    pub pattern: Pattern,
    /// Codes to add to the pool.
    pub count: u64,
}

/// A generation under way: candidates drawn window by window, in rounds,
/// and the counts the store answered for them.
///
/// The caller's loop: [`Generation::next_window`], store its batches,
/// [`Generation::record`] their counts; again until `next_window` answers
/// `None`; then [`Generation::finish`].
pub struct Generation<F> {
    plan: Plan,
    random: RandomBytes<F>,
    /// Counts recorded so far.
    report: ImportReport,
    /// Candidates drawn so far.
    drawn: u64,
    /// Candidates still to draw in this round.
    round_left: u64,
    /// Rounds begun.
    rounds: u32,
    /// Candidates a window holds.
    window: usize,
}

impl<F: FnMut(&mut [u8]) -> Result<()>> Generation<F> {
    /// Starts a generation whose random bytes come from `fill`, a
    /// cryptographic source (see [`RandomBytes`]).
    pub fn new(plan: Plan, fill: F) -> Self {
        let window = (MAX_WINDOW_BYTES / plan.pattern.max_bytes().max(1)).clamp(1, IMPORT_WINDOW);
        Generation {
            plan,
            random: RandomBytes::new(fill),
            report: ImportReport::default(),
            drawn: 0,
            round_left: 0,
            rounds: 0,
            window,
        }
    }

    /// Most candidates the generation may draw.
    pub fn max_candidates(&self) -> u64 {
        self.plan.count * MAX_CANDIDATES_PER_CODE + EXTRA_CANDIDATES
    }

    /// The next window of candidates, sorted for the store
    /// ([`crate::import::sort_window`]'s order); `None` when `count` codes were stored, or no more
    /// candidates may be drawn. A round begins when the last one's windows
    /// were all recorded, and draws as many candidates as codes are
    /// missing: so no more than `count` codes are ever stored.
    ///
    /// # Errors
    ///
    /// The random source's failure (saying what was stored before it);
    /// `internal` when called before the counts of the previous round's
    /// windows were all recorded.
    pub fn next_window(&mut self) -> Result<Option<Vec<String>>> {
        if self.round_left == 0 {
            if self.report.total_rows != self.drawn {
                return Err(Error::internal(format!(
                    "a generation's round ended with {} of its {} candidates counted",
                    self.report.total_rows, self.drawn
                )));
            }
            let missing = self.plan.count - self.report.imported;
            let allowed = self.max_candidates() - self.drawn;
            if missing == 0 || allowed == 0 {
                return Ok(None);
            }
            self.round_left = missing.min(allowed);
            self.rounds += 1;
        }
        let n = self.round_left.min(self.window as u64) as usize;
        let window = match self.plan.pattern.sorted_candidates(n, &mut self.random) {
            Ok(window) => window,
            Err(err) => return Err(self.interrupted(err)),
        };
        self.round_left -= n as u64;
        self.drawn += n as u64;
        Ok(Some(window))
    }

    /// Counts stored candidates (a batch, or a window's batches).
    pub fn record(&mut self, counts: BatchCounts) {
        self.report.add_batch(counts);
    }

    /// The counts recorded so far.
    pub fn report(&self) -> &ImportReport {
        &self.report
    }

    /// Rounds begun so far: 1 for a fresh pattern, unless a candidate
    /// collided.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// An error that stopped the generation midway, saying how many codes
    /// were stored before it (they stay in the pool).
    pub fn interrupted(&self, err: Error) -> Error {
        match self.report.imported {
            0 => err,
            n => err.append(&format!(
                " ({n} codes were generated and stored before this; they stay in the pool)"
            )),
        }
    }

    /// The report, once `next_window` answered `None`.
    ///
    /// # Errors
    ///
    /// `pattern_exhausted` when fewer than `count` codes were stored: the
    /// candidates allowed ran out, most of them codes of the project.
    pub fn finish(self) -> Result<ImportReport> {
        let r = &self.report;
        if r.imported < self.plan.count {
            return Err(Error::new(
                ErrorKind::PatternExhausted,
                format!(
                    "only {} of {} codes could be generated: of {} candidates drawn in {} \
                     rounds, {} were codes of the project already and {} repeated an earlier \
                     candidate. Pattern {:?} holds {} codes, and the project has most of them. \
                     The {} new codes stay in the pool; generate the rest with a pattern that \
                     holds more codes (more placeholders, or a larger charset)",
                    r.imported,
                    self.plan.count,
                    r.total_rows,
                    self.rounds,
                    r.already_in_project,
                    r.duplicates_in_file,
                    self.plan.pattern.text(),
                    self.plan.pattern.capacity(),
                    r.imported,
                ),
            ));
        }
        Ok(self.report)
    }
}
