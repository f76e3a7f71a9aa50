#![cfg_attr(not(feature = "builtins"), allow(dead_code))]
//! Fuel tracking.
//!
//! Fuel is a single budget for all the work a template can make the engine
//! do.  Every instruction costs one fuel, and on top of that the engine
//! charges for the data it produces and the items it visits:
//!
//! * every byte written to the output (including captured output such as
//!   `{% set %}` blocks and macro bodies),
//! * every byte of strings and every slot of lists and maps created by
//!   operators (`~`, `+`, `*`, slicing), literals and the results of filters,
//!   tests, functions and methods,
//! * every byte of string input to a filter,
//! * every item that a built-in filter or operator visits, plus the cost of
//!   comparisons for sorting.
//!
//! Internally fuel is tracked in units of [`UNITS_PER_FUEL`] so that cheap
//! operations such as individual bytes can be charged without rounding.
//!
//! Allocations whose size is known ahead of time are checked before they are
//! performed so that a single huge allocation cannot slip through.
//!
//! Once the fuel runs out, the tracker stays exhausted: every later charge
//! fails.  That way code that cannot propagate an error directly (such as an
//! iterator) can stop early and the engine fails at the next check.
//!
//! codepool patch: besides the fuel, the tracker keeps an optional data limit
//! ([`Environment::set_data_limit`](crate::Environment::set_data_limit)): the
//! bytes and list slots a render builds, which fail with
//! [`DataLimitExceeded`](crate::ErrorKind::DataLimitExceeded) when used up.
//! While a template runs, its levels are also reachable from code that has
//! no state at hand ([`activate`]): turning objects into text
//! ([`render_object`]) and writing output ([`output_fits`]) are checked
//! against them before they grow, since their size is not known ahead of
//! time.
use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::compiler::instructions::Instruction;
use crate::error::{Error, ErrorKind};
use crate::value::{DynObject, Value, ValueMap, ValueRepr};

/// The internal resolution of fuel.
///
/// One fuel is worth this many units, and one byte costs one unit.  This
/// means that one fuel pays for this many bytes of data.
pub(crate) const UNITS_PER_FUEL: u64 = 64;

/// Cost of one instruction.
pub(crate) const INSTRUCTION_COST: u64 = UNITS_PER_FUEL;

/// Cost of one byte of data produced or processed.
pub(crate) const BYTE_COST: u64 = 1;

/// Cost of visiting one item in a built-in filter or operator.
pub(crate) const ITEM_COST: u64 = 32;

/// Cost of comparing two values while sorting or deduplicating.
pub(crate) const COMPARE_COST: u64 = 64;

/// Cost of one slot in a list (half that of a map entry).  A value is 24
/// bytes, the rest accounts for the growth of the list.
pub(crate) const SLOT_COST: u64 = crate::value::ops::SLOT_COST;

/// Cost of one byte of serialized output (`tojson`, `pprint` and converting
/// containers to strings).  Serializing walks the whole value which is a lot
/// slower than copying bytes.
pub(crate) const SERIALIZED_BYTE_COST: u64 = 16;

/// Cost of one format specifier in the `format` filter.
pub(crate) const FORMAT_SPEC_COST: u64 = 4 * UNITS_PER_FUEL;

/// The levels of one render, in units: its fuel and its data budget.
///
/// Shared between the tracker and [`activate`], so that code without access
/// to the state can check them.
pub(crate) struct Levels {
    // The remaining fuel in units.
    remaining: Cell<i64>,
    // The remaining data budget in units (bytes and list slots built).
    data: Cell<i64>,
}

impl Levels {
    /// Whether `units` more could be built: both levels can pay for them.
    #[inline]
    fn fits(&self, units: u64) -> bool {
        let units = i64::try_from(units).unwrap_or(i64::MAX);
        units < self.remaining.get() && units < self.data.get()
    }

    /// Exhausts the level that cannot pay for `units`, so that the render
    /// fails with the matching error at its next charge.
    fn refuse(&self, units: u64) {
        let units = i64::try_from(units).unwrap_or(i64::MAX);
        if units >= self.data.get() {
            self.data.set(0);
        } else {
            self.remaining.set(0);
        }
    }

    /// Whether either level is used up.
    #[inline]
    fn exhausted(&self) -> bool {
        self.remaining.get() <= 0 || self.data.get() <= 0
    }

    /// The error for an exhausted level: the data limit wins, since the
    /// render then stopped because of what it built.
    fn error(&self) -> Error {
        if self.data.get() <= 0 {
            Error::from(ErrorKind::DataLimitExceeded)
        } else {
            Error::from(ErrorKind::OutOfFuel)
        }
    }
}

/// Helper for tracking fuel consumption.
pub(crate) struct FuelTracker {
    // The initial fuel level.
    initial: u64,
    levels: Rc<Levels>,
}

/// Converts a budget (`None`: no limit) to units.
fn budget_units(budget: Option<u64>, units_per: u64) -> i64 {
    budget.map_or(i64::MAX, |budget| {
        i64::try_from(budget.saturating_mul(units_per)).unwrap_or(i64::MAX)
    })
}

impl FuelTracker {
    /// Creates a new fuel tracker with an optional fuel and an optional data
    /// limit in bytes; `None` does not limit.
    pub fn new(fuel: Option<u64>, data_limit: Option<u64>) -> FuelTracker {
        FuelTracker {
            initial: fuel.unwrap_or(u64::MAX / UNITS_PER_FUEL),
            levels: Rc::new(Levels {
                remaining: Cell::new(budget_units(fuel, UNITS_PER_FUEL)),
                data: Cell::new(budget_units(data_limit, BYTE_COST)),
            }),
        }
    }

    /// Consumes the given number of units.
    ///
    /// Fails if this exhausts the fuel or if the fuel was already exhausted.
    #[inline]
    pub fn consume(&self, units: u64) -> Result<(), Error> {
        let levels = &*self.levels;
        let remaining = levels
            .remaining
            .get()
            .saturating_sub(i64::try_from(units).unwrap_or(i64::MAX));
        levels.remaining.set(remaining);
        if levels.exhausted() {
            Err(levels.error())
        } else {
            Ok(())
        }
    }

    /// Consumes the given number of units for data that was built: from the
    /// fuel and from the data limit.
    #[inline]
    pub fn consume_data(&self, units: u64) -> Result<(), Error> {
        let data = &self.levels.data;
        data.set(
            data.get()
                .saturating_sub(i64::try_from(units).unwrap_or(i64::MAX)),
        );
        self.consume(units)
    }

    /// Checks that the given number of units could still be consumed.
    ///
    /// This is used before allocating something of a known size.  It does not
    /// consume the fuel as the result is charged once it exists, but if the
    /// fuel would run out, the tracker is exhausted immediately.
    #[inline]
    pub fn ensure(&self, units: u64) -> Result<(), Error> {
        let levels = &*self.levels;
        if levels.exhausted() || !levels.fits(units) {
            levels.refuse(units);
            Err(levels.error())
        } else {
            Ok(())
        }
    }

    /// Checks like [`ensure`](Self::ensure), but leaves the tracker as it is
    /// if the check fails.
    #[inline]
    pub fn fits(&self, units: u64) -> bool {
        self.levels.fits(units)
    }

    /// Tracks an instruction.  If it runs out of fuel an error is returned.
    #[inline]
    pub fn track(&self, instr: &Instruction) -> Result<(), Error> {
        if consumes_fuel(instr) {
            self.consume(INSTRUCTION_COST)
        } else {
            Ok(())
        }
    }

    /// Returns the remaining fuel in units.
    #[inline]
    pub fn remaining_units(&self) -> u64 {
        self.levels.remaining.get().max(0) as u64
    }

    /// Returns the remaining fuel.
    pub fn remaining(&self) -> u64 {
        self.remaining_units() / UNITS_PER_FUEL
    }

    /// Returns the consumed fuel.
    pub fn consumed(&self) -> u64 {
        self.initial.saturating_sub(self.remaining())
    }
}

thread_local! {
    // The levels of the render running on this thread, if it tracks fuel.
    static ACTIVE: RefCell<Option<Rc<Levels>>> = const { RefCell::new(None) };
}

/// Restores the previously active levels on drop.
pub(crate) struct ActiveGuard(Option<Option<Rc<Levels>>>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            ACTIVE.with(|active| *active.borrow_mut() = previous);
        }
    }
}

/// Makes the levels of `tracker` the ones that [`render_object`] and
/// [`output_fits`] check, until the guard is dropped.
pub(crate) fn activate(tracker: Option<&FuelTracker>) -> ActiveGuard {
    ActiveGuard(
        tracker.map(|tracker| ACTIVE.with(|active| active.replace(Some(tracker.levels.clone())))),
    )
}

/// Output an instruction may write before its writes are checked: the
/// checks cost a thread local each, and what an instruction writes is
/// charged right after it anyway.
pub(crate) const UNCHECKED_OUTPUT_BYTES: usize = 64 * 1024;

/// Whether `bytes` of output, written since the output was last charged,
/// can be paid for.  If not, the active levels are exhausted and the write
/// is to be dropped: the render fails at its next charge.
#[inline]
pub(crate) fn output_fits(bytes: usize) -> bool {
    ACTIVE.with(|active| match *active.borrow() {
        None => true,
        Some(ref levels) => {
            let units = cost_of(bytes, BYTE_COST);
            levels.fits(units) || {
                levels.refuse(units);
                false
            }
        }
    })
}

/// Renders an object (`Display` and `Debug` of a value), stopping once the
/// text it writes could no longer be paid for.
///
/// The text of a container is not bounded by what its items cost (a list of
/// a thousand references to one long string writes the string a thousand
/// times), so it is checked while it is written.  When it would not fit, the
/// levels are exhausted and the text is cut short: the render fails at its
/// next charge.  Objects inside the object write through the same check.
pub(crate) fn render_object(obj: &DynObject, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    struct Restore(Option<Rc<Levels>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTIVE.with(|active| *active.borrow_mut() = self.0.take());
        }
    }

    struct Checked<'a, 'f> {
        f: &'a mut fmt::Formatter<'f>,
        levels: &'a Levels,
        written: usize,
        refused: bool,
    }

    impl fmt::Write for Checked<'_, '_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let written = self.written.saturating_add(s.len());
            let units = cost_of(written, BYTE_COST);
            if self.refused || !self.levels.fits(units) {
                if !self.refused {
                    self.levels.refuse(units);
                    self.refused = true;
                }
                // stops the walk, the error does not leave `render_object`
                return Err(fmt::Error);
            }
            self.written = written;
            self.f.write_str(s)
        }
    }

    struct Render<'a>(&'a DynObject);

    impl fmt::Display for Render<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.render(f)
        }
    }

    // Objects inside this one find no active levels: they write through
    // the check below.
    let Some(levels) = ACTIVE.with(|active| active.borrow_mut().take()) else {
        return obj.render(f);
    };
    let restore = Restore(Some(levels));
    let alternate = f.alternate();
    let mut checked = Checked {
        f,
        levels: restore.0.as_deref().expect("the levels were just taken"),
        written: 0,
        refused: false,
    };
    let rv = if alternate {
        fmt::write(&mut checked, format_args!("{:#}", Render(obj)))
    } else {
        fmt::write(&mut checked, format_args!("{}", Render(obj)))
    };
    if checked.refused {
        Ok(())
    } else {
        rv
    }
}

/// Does an instruction consume fuel?
fn consumes_fuel(instruction: &Instruction) -> bool {
    !matches!(
        instruction,
        Instruction::BeginCapture(_)
            | Instruction::PushLoop(_)
            | Instruction::PushDidNotIterate
            | Instruction::PushWith
            | Instruction::PopFrame
            | Instruction::PopLoopFrame
            | Instruction::DupTop
            | Instruction::DiscardTop
            | Instruction::PushAutoEscape
            | Instruction::PopAutoEscape
    ) && !is_free_feature_instruction(instruction)
}

#[allow(unused_variables)]
fn is_free_feature_instruction(instruction: &Instruction) -> bool {
    #[cfg(feature = "multi_template")]
    if matches!(instruction, Instruction::ExportLocals) {
        return true;
    }
    #[cfg(feature = "multi_template")]
    if matches!(instruction, Instruction::LoadBlocks) {
        return true;
    }
    #[cfg(feature = "macros")]
    if matches!(
        instruction,
        Instruction::BuildMacro(..) | Instruction::Return
    ) {
        return true;
    }
    false
}

/// Returns the cost of `n` items of the given unit cost.
#[inline]
pub(crate) fn cost_of(n: usize, unit: u64) -> u64 {
    (n as u64).saturating_mul(unit)
}

/// Returns the cost of sorting `n` items.
pub(crate) fn sort_cost(n: usize) -> u64 {
    cost_of(n, lookup_cost(n))
}

/// Returns the cost of looking up an item among `n` sorted items.
pub(crate) fn lookup_cost(n: usize) -> u64 {
    let log = usize::BITS - n.leading_zeros();
    COMPARE_COST.saturating_mul(log as u64)
}

/// Returns the size cost of a value.
///
/// This is the cost of the value itself, not of the values it contains: a
/// string costs its length and a list costs a slot per item.  Items were
/// already charged when they were created.  Objects other than the built-in
/// lists and maps are free as the engine cannot know how large they are.
pub(crate) fn value_cost(value: &Value) -> u64 {
    match value.0 {
        ValueRepr::String(ref s, _) => cost_of(s.len(), BYTE_COST),
        ValueRepr::SmallStr(ref s) => cost_of(s.as_str().len(), BYTE_COST),
        ValueRepr::Bytes(ref b) => cost_of(b.len(), BYTE_COST),
        ValueRepr::Object(ref obj) => {
            if let Some(seq) = obj.downcast_ref::<Vec<Value>>() {
                cost_of(seq.len(), SLOT_COST)
            } else if let Some(map) = obj.downcast_ref::<ValueMap>() {
                cost_of(map.len(), 2 * SLOT_COST)
            } else if let Some(tuple) = obj.downcast_ref::<crate::value::Tuple>() {
                cost_of(tuple.len(), SLOT_COST)
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// An iterator adapter that charges fuel for every item.
///
/// When the fuel runs out, it yields a single invalid value that carries the
/// out of fuel error and then ends.
pub(crate) struct FuelIter<'a, I> {
    tracker: Option<&'a FuelTracker>,
    iter: I,
    done: bool,
}

impl<'a, I> FuelIter<'a, I> {
    pub fn new(tracker: Option<&'a FuelTracker>, iter: I) -> Self {
        FuelIter {
            tracker,
            iter,
            done: false,
        }
    }
}

impl<I: Iterator<Item = Value>> Iterator for FuelIter<'_, I> {
    type Item = Value;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(tracker) = self.tracker {
            if let Err(err) = tracker.consume(ITEM_COST) {
                self.done = true;
                return Some(Value::from(err));
            }
        }
        self.iter.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            let (lower, upper) = self.iter.size_hint();
            (lower, upper.map(|x| x.saturating_add(1)))
        }
    }
}
