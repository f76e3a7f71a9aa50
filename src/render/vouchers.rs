//! The `vouchers` variable of a template: codes and counts a render draws
//! from, and the record of what it asked for.
//!
//! A render never talks to storage. The same template therefore serves as
//! the *plan* (a dry run with no codes, which learns how many codes each pool
//! must give) and as the real render (with the codes reserved for it); see
//! [`crate::render::RenderJob`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};

use minijinja::value::{Object, Value};
use minijinja::{ErrorKind, State};

use crate::input::name::{check_name, NameOf};
use crate::pool::PoolCounts;

/// The codes and counts one render draws from, and what it asked for.
///
/// For a plan it holds no codes; for a real render, the codes reserved for
/// it; for a caller that keeps codes elsewhere (the JavaScript package), a
/// [`Supply`] asked on demand. Either way it records every assign call by
/// pool, so the caller can compare what the template used with what was
/// reserved.
#[derive(Debug, Default)]
pub struct Vouchers {
    codes: BTreeMap<String, Vec<String>>,
    counts: BTreeMap<String, PoolCounts>,
    supply: Option<Box<dyn Supply>>,
    asked: Mutex<Asked>,
    /// `vouchers['name']` values made so far, by pool name.
    handles: Mutex<Vec<(String, Value)>>,
}

/// A voucher source asked lazily, one call per voucher function that runs.
///
/// For callers whose codes and counts live outside the core and are cheaper
/// to look up than to copy in whole: only the pools a render touches are
/// asked. Returning an `Err` ends the render with that error, which is how a
/// supply stops a render at its first missing code (all or nothing) or
/// refuses a count it was not given (rather than inventing a number).
pub trait Supply: Send + Sync + std::fmt::Debug {
    /// The code for the `index`-th assign call (from 0) on `pool` in this
    /// render; `Ok(None)` renders an empty string, as a plan does.
    fn code(&self, pool: &str, index: usize) -> Result<Option<String>, minijinja::Error>;

    /// One of the pool's counts.
    fn count(&self, pool: &str, count: Count) -> Result<i64, minijinja::Error>;
}

/// Which count a template function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// `count_available_codes()`: codes not yet handed out.
    Available,
    /// `count_total_codes()`: every code in the pool.
    Total,
}

impl Count {
    /// The template function that reads this count, for messages.
    pub fn function(self) -> &'static str {
        match self {
            Count::Available => "count_available_codes()",
            Count::Total => "count_total_codes()",
        }
    }

    fn pick(self, counts: &PoolCounts) -> i64 {
        match self {
            Count::Available => counts.unassigned(),
            Count::Total => counts.total,
        }
    }
}

/// What a render asked of its vouchers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Asked {
    /// Assign calls that ran, by pool.
    pub take: BTreeMap<String, usize>,
    /// Pools whose counts were read.
    pub count: BTreeSet<String>,
}

/// What a count function answers when the counts are not known yet (in the
/// first plan): "plenty", so that a branch guarded by a count plans to assign.
/// The reservation then returns the real counts and the plan is redone if
/// they change it.
pub const UNKNOWN_COUNT: i64 = i64::MAX / 2;

impl Vouchers {
    /// A voucher source with these codes and counts.
    pub fn new(
        codes: BTreeMap<String, Vec<String>>,
        counts: BTreeMap<String, PoolCounts>,
    ) -> Arc<Vouchers> {
        Arc::new(Vouchers {
            codes,
            counts,
            supply: None,
            asked: Mutex::default(),
            handles: Mutex::default(),
        })
    }

    /// A voucher source that asks `supply` for every code and count.
    pub fn with_supply(supply: impl Supply + 'static) -> Arc<Vouchers> {
        Arc::new(Vouchers {
            supply: Some(Box::new(supply)),
            ..Vouchers::default()
        })
    }

    /// The template's `vouchers` variable, for [`Template::render_root`](crate::render::Template::render_root).
    pub fn to_value(self: &Arc<Self>) -> Value {
        Value::from_dyn_object(self.clone())
    }

    /// What the render asked for.
    pub fn asked(&self) -> Asked {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The codes this source was given, by pool.
    pub fn codes(&self) -> &BTreeMap<String, Vec<String>> {
        &self.codes
    }

    /// Whether every count the render read was a real one (not
    /// [`UNKNOWN_COUNT`]): a render that read an unknown count must not be shown.
    pub fn counts_known(&self, asked: &Asked) -> bool {
        asked
            .count
            .iter()
            .all(|pool| self.counts.contains_key(pool))
    }

    fn assign(&self, pool: &str) -> Result<Value, minijinja::Error> {
        let index = {
            let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
            // Look up before inserting: renders run hot, and most calls
            // find their pool already there (no allocation for the key).
            match asked.take.get_mut(pool) {
                Some(n) => {
                    *n += 1;
                    *n - 1
                }
                None => {
                    asked.take.insert(pool.to_owned(), 1);
                    0
                }
            }
        };
        if let Some(supply) = &self.supply {
            return Ok(Value::from(supply.code(pool, index)?.unwrap_or_default()));
        }
        match self.codes.get(pool).and_then(|codes| codes.get(index)) {
            Some(code) => Ok(Value::from(code.as_str())),
            // No code (a plan, or a render that asks for more than was
            // reserved): the output is thrown away, the count is what matters.
            None => Ok(Value::from("")),
        }
    }

    fn count(&self, pool: &str, count: Count) -> Result<Value, minijinja::Error> {
        {
            let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
            if !asked.count.contains(pool) {
                asked.count.insert(pool.to_owned());
            }
        }
        if let Some(supply) = &self.supply {
            return Ok(Value::from(supply.count(pool, count)?));
        }
        Ok(Value::from(
            self.counts
                .get(pool)
                .map_or(UNKNOWN_COUNT, |counts| count.pick(counts)),
        ))
    }
}

impl Object for Vouchers {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let pool = key.as_str()?;
        // A template names the same pool again and again (the reference
        // layer three times): make its handle once per render.
        let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = handles.iter().find(|(name, _)| name == pool) {
            return Some(handle.1.clone());
        }
        let handle = Value::from_object(PoolHandle {
            // Weak: the handles live in the vouchers, and a strong pointer
            // back would keep both alive for ever.
            vouchers: Arc::downgrade(self),
            valid: check_name(NameOf::Pool, pool).map_err(|err| err.message().to_owned()),
            pool: pool.to_owned(),
        });
        handles.push((pool.to_owned(), handle.clone()));
        Some(handle)
    }
}

/// `vouchers['name']`: the pool's three functions.
#[derive(Debug)]
struct PoolHandle {
    vouchers: Weak<Vouchers>,
    pool: String,
    /// Whether `pool` is a valid pool name, checked once; else why not.
    valid: std::result::Result<(), String>,
}

impl Object for PoolHandle {
    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> std::result::Result<Value, minijinja::Error> {
        if !args.is_empty() {
            return Err(minijinja::Error::new(
                ErrorKind::TooManyArguments,
                format!("{method}() takes no arguments"),
            ));
        }
        if let Err(message) = &self.valid {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                message.clone(),
            ));
        }
        let Some(vouchers) = self.vouchers.upgrade() else {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "the vouchers of this render are gone: use a pool only while rendering",
            ));
        };
        match method {
            "assign_available_code" => vouchers.assign(&self.pool),
            "count_available_codes" => vouchers.count(&self.pool, Count::Available),
            "count_total_codes" => vouchers.count(&self.pool, Count::Total),
            _ => Err(minijinja::Error::new(
                ErrorKind::UnknownMethod,
                format!(
                    "a voucher pool has no method {method}(): use assign_available_code(), \
                     count_available_codes() or count_total_codes()"
                ),
            )),
        }
    }
}
