//! The state of the JavaScript render in progress.
//!
//! The core's `Supply` must be `Send + Sync` and a `JsValue` is neither, so
//! the caller's vouchers live in a thread-local [`Frame`] for the length of
//! one render (wasm32 without threads has one thread). A render started
//! from the caller's code during a render (a voucher callback) would clobber
//! the frame: it is refused with an error instead.

use std::cell::RefCell;

use wasm_bindgen::JsValue;

/// Why a render did not complete.
pub(crate) enum Stop {
    /// A pool had no code for an assign call that ran: show nothing.
    Short(String),
    /// The caller's callback or getter threw: rethrow their exception as is.
    Thrown(JsValue),
    /// The vouchers were unusable; the stable error code to report.
    Invalid(&'static str),
}

/// What one render took from, and learnt about, the caller's values.
pub(crate) struct Frame {
    /// The caller's vouchers: an object of pools, a function, or undefined.
    pub(super) vouchers: JsValue,
    /// Every code handed to the template, in order, if `record`.
    pub(crate) taken: Vec<(String, String)>,
    /// Whether to record the codes (for `renderDetailed`).
    pub(super) record: bool,
    /// Set when the caller's values ended the render.
    pub(crate) stop: Option<Stop>,
}

thread_local! {
    static FRAME: RefCell<Option<Frame>> = const { RefCell::new(None) };
}

/// Proof that a frame was entered; [`Frame::leave`] takes it back.
pub(crate) struct Entered(());

impl Frame {
    /// Starts a render's frame, or says why one cannot start.
    pub(crate) fn enter(vouchers: JsValue, record: bool) -> Result<Entered, &'static str> {
        FRAME.with(|cell| match cell.try_borrow_mut() {
            Ok(mut slot) if slot.is_none() => {
                *slot = Some(Frame {
                    vouchers,
                    taken: Vec::new(),
                    record,
                    stop: None,
                });
                Ok(Entered(()))
            }
            _ => Err(
                "render() was called while a render was running (from a voucher \
                      callback): render one template at a time",
            ),
        })
    }

    /// Ends the render's frame and hands back what it recorded.
    pub(crate) fn leave(_entered: Entered) -> Frame {
        FRAME
            .with(|cell| cell.borrow_mut().take())
            .unwrap_or_else(|| Frame {
                vouchers: JsValue::UNDEFINED,
                taken: Vec::new(),
                record: false,
                stop: None,
            })
    }

    /// Runs `f` on the current frame, or gives `None` if there is none (or
    /// it is in use further up the stack). The borrow is held across calls
    /// into the caller's JavaScript, so a nested render finds it taken.
    pub(crate) fn with<T>(f: impl FnOnce(&mut Frame) -> T) -> Option<T> {
        FRAME.with(|cell| {
            let mut slot = cell.try_borrow_mut().ok()?;
            Some(f(slot.as_mut()?))
        })
    }

    /// Records why the render stops.
    pub(crate) fn stop(&mut self, stop: Stop) {
        self.stop = Some(stop);
    }
}
