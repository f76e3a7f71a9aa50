//! When an alert fires: once per crossing, re-armed when the pool is
//! refilled past it.
//!
//! The store keeps, per pool, the set of alert conditions that held at the
//! last evaluation (`pools.alert_held`, one bit per [`AlertKind`]). An
//! evaluation computes the set that holds now; a condition that now holds
//! and did not fires, one that no longer holds is re-armed, and one that
//! holds still does nothing, however many reservations come.
//!
//! - `low_stock`: codes not yet handed out ([`PoolCounts::unassigned`]) at
//!   or below the threshold.
//! - `out_of_codes`: none left.
//! - `near_expiry`: the earliest expiry among the codes left to hand out
//!   (the pool's own or a code's) within the window.
//!
//! A pool that holds no code at all is not "low": its count alerts hold
//! without firing, and fire only after an import took it above them. A
//! kind newly set starts armed, so setting a threshold on a pool already
//! below it fires at once.

use super::settings::PoolAlerts;
use super::AlertKind;
use crate::pool::PoolCounts;

/// What an evaluation knows of the pool's earliest expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Not looked up (a reservation: handing codes out never brings an
    /// expiry nearer), so `near_expiry` keeps its state.
    Unknown,
    /// The earliest expiry (Unix ms) among the codes left, if any expires.
    Earliest(Option<i64>),
}

/// What a pool's alerts conclude now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    /// The conditions that hold (bits of [`AlertKind::bit`]).
    pub held: u8,
    /// The kinds that fire now: held now and not before.
    pub fired: u8,
}

impl Evaluation {
    /// The kinds fired, in order.
    pub fn fired_kinds(&self) -> impl Iterator<Item = AlertKind> + '_ {
        AlertKind::ALL
            .into_iter()
            .filter(|k| self.fired & k.bit() != 0)
    }
}

/// Evaluates a pool's alerts against its counts and earliest expiry;
/// `previous` is the set that held at the last evaluation, `now` Unix ms.
pub fn evaluate(
    alerts: &PoolAlerts,
    previous: u8,
    counts: &PoolCounts,
    expiry: Expiry,
    now: i64,
) -> Evaluation {
    let mut held = 0;
    if alerts.low_stock.is_some_and(|t| t.reached(counts)) {
        held |= AlertKind::LowStock.bit();
    }
    if alerts.out_of_codes && counts.unassigned() <= 0 {
        held |= AlertKind::OutOfCodes.bit();
    }
    if let Some(window) = alerts.near_expiry {
        let near = match expiry {
            Expiry::Unknown => previous & AlertKind::NearExpiry.bit() != 0,
            Expiry::Earliest(earliest) => earliest.is_some_and(|t| t - now <= window),
        };
        if near {
            held |= AlertKind::NearExpiry.bit();
        }
    }
    let rising = held & !previous;
    let fired = if counts.total > 0 {
        rising
    } else {
        // An empty pool: count alerts hold silently (see the module's doc).
        rising & AlertKind::NearExpiry.bit()
    };
    Evaluation { held, fired }
}

/// When `near_expiry` must be evaluated again as time passes with no
/// command: when the earliest expiry comes within the window (armed), or
/// when those codes expire and the earliest moves on (fired). `None` when
/// no code left expires or the alert is not set.
pub fn next_check(alerts: &PoolAlerts, held: u8, earliest: Option<i64>) -> Option<i64> {
    let window = alerts.near_expiry?;
    let at = earliest?;
    Some(if held & AlertKind::NearExpiry.bit() != 0 {
        at
    } else {
        at - window
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Threshold;

    fn counts(total: i64, unassigned: i64) -> PoolCounts {
        PoolCounts {
            total,
            available: unassigned,
            assigned: total - unassigned,
            ..PoolCounts::default()
        }
    }

    const LOW: u8 = AlertKind::LowStock.bit();
    const OUT: u8 = AlertKind::OutOfCodes.bit();
    const NEAR: u8 = AlertKind::NearExpiry.bit();

    #[test]
    fn fires_once_per_crossing_and_rearms() {
        let alerts = PoolAlerts {
            low_stock: Some(Threshold::Count(10)),
            out_of_codes: true,
            ..PoolAlerts::default()
        };
        let e = evaluate(&alerts, 0, &counts(100, 10), Expiry::Unknown, 0);
        assert_eq!((e.held, e.fired), (LOW, LOW));
        let e = evaluate(&alerts, LOW, &counts(100, 3), Expiry::Unknown, 0);
        assert_eq!((e.held, e.fired), (LOW, 0));
        let e = evaluate(&alerts, LOW, &counts(100, 0), Expiry::Unknown, 0);
        assert_eq!((e.held, e.fired), (LOW | OUT, OUT));
        let e = evaluate(&alerts, LOW | OUT, &counts(200, 100), Expiry::Unknown, 0);
        assert_eq!((e.held, e.fired), (0, 0));
    }

    #[test]
    fn an_empty_pool_holds_silently() {
        let alerts = PoolAlerts {
            low_stock: Some(Threshold::Count(10)),
            out_of_codes: true,
            ..PoolAlerts::default()
        };
        let e = evaluate(&alerts, 0, &counts(0, 0), Expiry::Unknown, 0);
        assert_eq!((e.held, e.fired), (LOW | OUT, 0));
        // Filled to 5, still low: no crossing.
        let e = evaluate(&alerts, e.held, &counts(5, 5), Expiry::Unknown, 0);
        assert_eq!((e.held, e.fired), (LOW, 0));
    }

    #[test]
    fn near_expiry_by_window() {
        let day = 86_400_000;
        let alerts = PoolAlerts {
            near_expiry: Some(7 * day),
            ..PoolAlerts::default()
        };
        let far = Expiry::Earliest(Some(30 * day));
        assert_eq!(evaluate(&alerts, 0, &counts(5, 5), far, 0).held, 0);
        assert_eq!(next_check(&alerts, 0, Some(30 * day)), Some(23 * day));
        let e = evaluate(&alerts, 0, &counts(5, 5), far, 23 * day);
        assert_eq!((e.held, e.fired), (NEAR, NEAR));
        assert_eq!(next_check(&alerts, NEAR, Some(30 * day)), Some(30 * day));
        // Unknown keeps the state; none expiring re-arms.
        assert_eq!(
            evaluate(&alerts, NEAR, &counts(5, 5), Expiry::Unknown, 0).held,
            NEAR
        );
        assert_eq!(
            evaluate(&alerts, NEAR, &counts(5, 5), Expiry::Earliest(None), 0).held,
            0
        );
    }
}
