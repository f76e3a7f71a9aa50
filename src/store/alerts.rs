//! Alerts in the store ([`crate::alert`]): each pool's alert conditions
//! evaluated in the same transaction as the counts that changed them, a
//! fired alert written to the event log and, when the project has a
//! webhook, to the outbox; the outbox's deliveries claimed and recorded
//! for the project's alarm.
//!
//! Where counts change, the caller evaluates: reservations and campaigns
//! (`reserve.rs`, `campaign.rs`), a dispenser's reports (`lease.rs`), a
//! redemption of a leased code (`events.rs`), imports (`import.rs`: they
//! only re-arm), a pool's settings (`pools.rs`), and the project's alarm
//! for what time alone changes (near expiry). Other changes of counts or
//! expiries call [`Store::check_alerts`]; deleting a pool calls
//! [`Store::forget_alerts`].

use std::collections::BTreeMap;

use crate::alert::firing::{self, Evaluation, Expiry};
use crate::alert::{
    delivery, AlertBody, AlertKind, AlertSettings, AlertState, Arming, Delivery, DeliveryPolicy,
    DeliveryState, DeliveryStatus, Outcome, PoolAlerts,
};
use crate::error::{Error, Result};
use crate::pool::{CodeState, PoolCounts};
use crate::store::sql::{Database, Row, Value};
use crate::time::rfc3339;

use super::{PoolRow, Store};

/// The columns a pool's alerts are evaluated from, in this order (see
/// [`AlertRow::read`]); also what the statements that change a pool's
/// counters return.
pub(crate) const ALERT_COLUMNS: &str =
    "id, name, alerts, alert_held, total, available, leased, assigned, redeemed, expired, void";

/// A pool's row as [`ALERT_COLUMNS`] reads it.
pub(crate) struct AlertRow {
    id: i64,
    name: String,
    alerts: Option<String>,
    held: i64,
    counts: PoolCounts,
}

impl AlertRow {
    /// Reads a row of [`ALERT_COLUMNS`].
    pub(crate) fn read(row: Row) -> AlertRow {
        let mut row = row.into_iter();
        let mut next = || row.next().unwrap_or(Value::Null);
        let id = next().as_i64();
        let name = next().into_string();
        let alerts = match next() {
            Value::Text(json) => Some(json),
            _ => None,
        };
        let held = next().as_i64();
        AlertRow {
            id,
            name,
            alerts,
            held,
            counts: PoolCounts {
                total: next().as_i64(),
                available: next().as_i64(),
                leased: next().as_i64(),
                assigned: next().as_i64(),
                redeemed: next().as_i64(),
                expired: next().as_i64(),
                void: next().as_i64(),
            },
        }
    }
}

impl<D: Database> Store<'_, D> {
    /// Whether a call on this store gave the project's alarm something to
    /// do: a delivery enqueued, a near-expiry check due. The Durable Object
    /// then sets its alarm for [`Store::next_wake`]; a call that wants
    /// nothing costs it nothing.
    pub fn wants_alarm(&self) -> bool {
        self.wake.get()
    }

    /// After a change of a pool's counts that its row was read for (the
    /// hot path of reservations): `counts` are the pool's counts now.
    /// Evaluates the count alerts only (handing codes out never brings an
    /// expiry nearer), and writes only when a condition changed; a pool
    /// without alerts costs nothing.
    pub(crate) fn alerts_after(
        &self,
        pool: &PoolRow,
        name: &str,
        counts: &PoolCounts,
        now: i64,
    ) -> Result<()> {
        let Some(json) = &pool.alerts else {
            return Ok(());
        };
        self.evaluate_counts(pool.id, name, json, pool.alert_held, counts, now)
    }

    /// [`Store::alerts_after`] for a row of [`ALERT_COLUMNS`], as the
    /// statements that change counters return it.
    pub(crate) fn alerts_after_row(&self, row: Row, now: i64) -> Result<()> {
        let row = AlertRow::read(row);
        match &row.alerts {
            Some(json) => self.evaluate_counts(row.id, &row.name, json, row.held, &row.counts, now),
            None => Ok(()),
        }
    }

    fn evaluate_counts(
        &self,
        pool_id: i64,
        name: &str,
        json: &str,
        held: i64,
        counts: &PoolCounts,
        now: i64,
    ) -> Result<()> {
        let alerts = PoolAlerts::from_stored(json)?;
        let previous = held as u8;
        let evaluation = firing::evaluate(&alerts, previous, counts, Expiry::Unknown, now);
        if evaluation.held != previous {
            self.apply(
                pool_id, name, &alerts, previous, evaluation, counts, None, now,
            )?;
        }
        Ok(())
    }

    /// Evaluates every alert of a pool against its counts and expiries as
    /// they are now, and schedules its next near-expiry check. Call it in
    /// the transaction of any change of a pool's counts or expiries that
    /// the statements of this file do not follow already (an expiry
    /// sweep, a void, a rollback); `now` is Unix ms.
    pub(crate) fn check_alerts(&self, pool_id: i64, now: i64) -> Result<()> {
        let Some(row) = self
            .db
            .query(
                &format!("SELECT {ALERT_COLUMNS} FROM pools WHERE id = ?1"),
                &[pool_id.into()],
            )?
            .into_iter()
            .next()
        else {
            // The pool is gone: nothing of its alerts is due any more.
            return self.forget_alerts(pool_id);
        };
        let row = AlertRow::read(row);
        let Some(json) = &row.alerts else {
            self.set_check(row.id, None)?;
            return Ok(());
        };
        let alerts = PoolAlerts::from_stored(json)?;
        let (expiry, earliest) = match alerts.near_expiry {
            Some(_) => {
                let earliest = self.earliest_expiry(row.id, &row.counts, now)?;
                (Expiry::Earliest(earliest), earliest)
            }
            None => (Expiry::Unknown, None),
        };
        let previous = row.held as u8;
        let evaluation = firing::evaluate(&alerts, previous, &row.counts, expiry, now);
        if evaluation.held != previous {
            self.apply(
                row.id,
                &row.name,
                &alerts,
                previous,
                evaluation,
                &row.counts,
                earliest,
                now,
            )?;
        }
        self.set_check(
            row.id,
            firing::next_check(&alerts, evaluation.held, earliest),
        )
    }

    /// Forgets a pool's alerts: their state and the deliveries not made
    /// yet. For a pool that is deleted, in the same transaction, so that
    /// the project's alarm has nothing of it left to do.
    pub(crate) fn forget_alerts(&self, pool_id: i64) -> Result<()> {
        self.db.execute(
            "DELETE FROM alert_states WHERE pool_id = ?1",
            &[pool_id.into()],
        )?;
        self.db.execute(
            "DELETE FROM alert_outbox WHERE pool_id = ?1",
            &[pool_id.into()],
        )
    }

    /// Has the next alarm evaluate a pool's near-expiry alert (after an
    /// import, whose codes may expire sooner than those before): `at` is
    /// when to, or now.
    pub(crate) fn check_soon(&self, pool_id: i64, at: i64) -> Result<()> {
        self.db.execute(
            "INSERT INTO alert_states (pool_id, kind, check_at) VALUES (?1, 'near_expiry', ?2)
             ON CONFLICT (pool_id, kind) DO UPDATE
             SET check_at = MIN(IFNULL(check_at, excluded.check_at), excluded.check_at)",
            &[pool_id.into(), at.into()],
        )?;
        self.wake.set(true);
        Ok(())
    }

    /// Keeps when a pool's near-expiry alert must be evaluated again.
    fn set_check(&self, pool_id: i64, at: Option<i64>) -> Result<()> {
        match at {
            Some(at) => {
                self.db.execute(
                    "INSERT INTO alert_states (pool_id, kind, check_at) VALUES (?1, 'near_expiry', ?2)
                     ON CONFLICT (pool_id, kind) DO UPDATE SET check_at = excluded.check_at",
                    &[pool_id.into(), at.into()],
                )?;
                self.wake.set(true);
            }
            None => self.db.execute(
                "UPDATE alert_states SET check_at = NULL WHERE pool_id = ?1 AND check_at IS NOT NULL",
                &[pool_id.into()],
            )?,
        }
        Ok(())
    }

    /// The earliest expiry among a pool's codes left to hand out: its own
    /// `expires_at` while it has codes left, or the first of its
    /// available or leased codes to expire; `None` if none expires (or
    /// the pool has expired: nothing is left to hand out).
    fn earliest_expiry(&self, pool_id: i64, counts: &PoolCounts, now: i64) -> Result<Option<i64>> {
        // One seek per state in codes_by_expiry.
        let rows = self.db.query(
            "SELECT (SELECT expires_at FROM pools WHERE id = ?1),
                (SELECT MIN(expires_at) FROM codes WHERE pool_id = ?1 AND state = ?3
                    AND expires_at > ?2),
                (SELECT MIN(expires_at) FROM codes WHERE pool_id = ?1 AND state = ?4
                    AND expires_at > ?2)",
            &[
                pool_id.into(),
                now.into(),
                (CodeState::Available as i64).into(),
                (CodeState::Leased as i64).into(),
            ],
        )?;
        let row = rows.into_iter().next().unwrap_or_default();
        let at = |i: usize| row.get(i).and_then(Value::as_opt_i64);
        let pool = at(0);
        if pool.is_some_and(|t| t <= now) || counts.unassigned() <= 0 {
            return Ok(None);
        }
        Ok([pool, at(1), at(2)].into_iter().flatten().min())
    }

    /// Writes an evaluation whose conditions changed: the pool's bits, a
    /// re-arm time for each kind that stopped holding, and each alert fired.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        pool_id: i64,
        name: &str,
        alerts: &PoolAlerts,
        previous: u8,
        evaluation: Evaluation,
        counts: &PoolCounts,
        earliest: Option<i64>,
        now: i64,
    ) -> Result<()> {
        self.db.execute(
            "UPDATE pools SET alert_held = ?1 WHERE id = ?2",
            &[i64::from(evaluation.held).into(), pool_id.into()],
        )?;
        for kind in AlertKind::ALL {
            if previous & !evaluation.held & kind.bit() != 0 {
                self.db.execute(
                    "UPDATE alert_states SET rearmed_at = ?1 WHERE pool_id = ?2 AND kind = ?3",
                    &[now.into(), pool_id.into(), kind.as_str().into()],
                )?;
            }
        }
        let mut webhook = None;
        for kind in evaluation.fired_kinds() {
            let webhook = match &webhook {
                Some(w) => w,
                None => webhook.insert(self.settings()?.webhook_url.is_some()),
            };
            self.fire(pool_id, name, kind, alerts, counts, earliest, now, *webhook)?;
        }
        Ok(())
    }

    /// Fires one alert: its entry in the event log (whose id is the
    /// alert's), its state, and its delivery: in the outbox, or skipped
    /// (and logged so) when the project has no webhook.
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &self,
        pool_id: i64,
        name: &str,
        kind: AlertKind,
        alerts: &PoolAlerts,
        counts: &PoolCounts,
        earliest: Option<i64>,
        now: i64,
        webhook: bool,
    ) -> Result<()> {
        let log_id = self.db.query(
            "INSERT INTO events (type, status, timestamp) VALUES ('alert', ?1, ?2) RETURNING id",
            &[kind.as_str().into(), now.into()],
        )?[0][0]
            .as_i64();
        let settings = alerts.settings();
        let (threshold, setting) = match kind {
            AlertKind::LowStock => (
                alerts.low_stock.map(|t| t.codes(counts.total)),
                json_value(&settings.low_stock)?,
            ),
            AlertKind::OutOfCodes => (Some(0), serde_json::Value::Bool(true)),
            AlertKind::NearExpiry => (None, json_value(&settings.near_expiry)?),
        };
        let body = AlertBody {
            id: alert_id(log_id),
            alert: kind,
            project: None,
            pool: name.to_owned(),
            fired_at: rfc3339(now),
            counts: (*counts).into(),
            threshold,
            setting,
            earliest_expiry: earliest
                .filter(|_| kind == AlertKind::NearExpiry)
                .map(rfc3339),
        };
        let body = serde_json::to_string(&body).map_err(|e| Error::internal(e.to_string()))?;
        self.db.execute(
            "UPDATE events SET properties = ?1 WHERE id = ?2",
            &[body.as_str().into(), log_id.into()],
        )?;
        let status = if webhook {
            self.db.execute(
                "INSERT INTO alert_outbox (alert_id, pool_id, kind, body, next_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                &[
                    log_id.into(),
                    pool_id.into(),
                    kind.as_str().into(),
                    body.into(),
                    now.into(),
                ],
            )?;
            self.wake.set(true);
            DeliveryStatus::Pending
        } else {
            let reason = "the project has no webhook_url: delivery skipped";
            self.log_delivery(
                log_id,
                kind,
                name,
                DeliveryStatus::Skipped,
                0,
                None,
                Some(reason),
                now,
            )?;
            DeliveryStatus::Skipped
        };
        self.db.execute(
            "INSERT INTO alert_states (pool_id, kind, fired, fired_at, alert_id, delivery,
                delivery_at, attempts, last_error)
             VALUES (?1, ?2, 1, ?3, ?4, ?5, ?3, 0, NULL)
             ON CONFLICT (pool_id, kind) DO UPDATE SET fired = fired + 1,
                fired_at = excluded.fired_at, alert_id = excluded.alert_id,
                delivery = excluded.delivery, delivery_at = excluded.delivery_at,
                attempts = 0, last_error = NULL",
            &[
                pool_id.into(),
                kind.as_str().into(),
                now.into(),
                log_id.into(),
                status.as_str().into(),
            ],
        )
    }

    /// Logs what became of a delivery: `type` `alert`, `status`
    /// `delivered`, `retrying`, `failed` or `skipped`.
    #[allow(clippy::too_many_arguments)]
    fn log_delivery(
        &self,
        log_id: i64,
        kind: AlertKind,
        pool: &str,
        status: DeliveryStatus,
        attempts: i64,
        http_status: Option<u16>,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let logged = match status {
            DeliveryStatus::Pending => "retrying",
            other => other.as_str(),
        };
        let properties = serde_json::json!({
            "alert_id": alert_id(log_id),
            "alert": kind,
            "pool": pool,
            "attempts": attempts,
            "http_status": http_status,
            "error": error,
        });
        self.db.execute(
            "INSERT INTO events (type, status, timestamp, properties) VALUES ('alert', ?1, ?2, ?3)",
            &[logged.into(), now.into(), properties.to_string().into()],
        )
    }

    /// The project's alarm, first: evaluates the pools whose near-expiry
    /// check is due, each in its own transaction.
    pub fn alert_tick(&self, now: i64) -> Result<()> {
        let due = self.db.query(
            "SELECT pool_id FROM alert_states WHERE check_at <= ?1",
            &[now.into()],
        )?;
        for row in due {
            let pool_id = row[0].as_i64();
            self.db.transaction(|| self.check_alerts(pool_id, now))?;
        }
        Ok(())
    }

    /// The deliveries due at `now`, claimed for one attempt each: the
    /// project's alarm POSTs them to the webhook and records each outcome
    /// with [`Store::record_delivery`]. A claim lapses after
    /// [`DeliveryPolicy::claim_ms`], so a delivery whose POST a restart
    /// cut off is made again. `project` is the project's name, for the
    /// bodies. Without a webhook (removed since the alerts fired), the due
    /// deliveries are skipped and logged so.
    pub fn claim_deliveries(
        &self,
        project: &str,
        now: i64,
        policy: &DeliveryPolicy,
    ) -> Result<Vec<Delivery>> {
        self.db.transaction(|| {
            let rows = self.db.query(
                &format!(
                    "SELECT id, alert_id, body, attempts FROM alert_outbox
                     WHERE next_at <= ?1 ORDER BY next_at, id LIMIT {}",
                    delivery::BATCH
                ),
                &[now.into()],
            )?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let settings = self.settings()?;
            let mut claimed = Vec::with_capacity(rows.len());
            for row in rows {
                let mut row = row.into_iter();
                let mut next = || row.next().unwrap_or(Value::Null);
                let (outbox_id, log_id) = (next().as_i64(), next().as_i64());
                let body = next().into_string();
                let attempts = next().as_i64();
                let mut body: AlertBody = serde_json::from_str(&body)
                    .map_err(|e| Error::internal(format!("alert outbox body: {e}")))?;
                let (Some(url), Some(secret)) = (&settings.webhook_url, &settings.webhook_secret)
                else {
                    let reason = "the project has no webhook_url any more: delivery skipped";
                    self.finish(outbox_id, DeliveryStatus::Skipped, None, Some(reason), now)?;
                    continue;
                };
                self.db.execute(
                    "UPDATE alert_outbox SET attempts = attempts + 1, next_at = ?1 WHERE id = ?2",
                    &[(now + policy.claim_ms()).into(), outbox_id.into()],
                )?;
                body.project = Some(project.to_owned());
                claimed.push(Delivery {
                    outbox_id,
                    alert_id: alert_id(log_id),
                    url: url.clone(),
                    secret: secret.clone(),
                    body: serde_json::to_string(&body)
                        .map_err(|e| Error::internal(e.to_string()))?,
                    attempt: u32::try_from(attempts + 1).unwrap_or(u32::MAX),
                });
            }
            Ok(claimed)
        })
    }

    /// Records an attempt's outcome: delivered (the outbox row goes, the
    /// log says `delivered`), failed with attempts left (the next is
    /// scheduled by [`delivery::retry_delay`], the log says `retrying`), or
    /// failed for the last time (the row goes, the log says `failed`).
    pub fn record_delivery(
        &self,
        outbox_id: i64,
        outcome: &Outcome,
        now: i64,
        policy: &DeliveryPolicy,
    ) -> Result<()> {
        self.db.transaction(|| match outcome {
            Outcome::Delivered { status } => self.finish(
                outbox_id,
                DeliveryStatus::Delivered,
                Some(*status),
                None,
                now,
            ),
            Outcome::Failed { status, error } => {
                let Some((attempts, log_id, pool_id, kind, pool)) = self.outbox_row(outbox_id)?
                else {
                    return Ok(()); // recorded before
                };
                let attempts_made = u32::try_from(attempts).unwrap_or(u32::MAX);
                let Some(wait) = delivery::retry_delay(attempts_made, policy.retry_base_ms) else {
                    return self.finish(
                        outbox_id,
                        DeliveryStatus::Failed,
                        *status,
                        Some(error),
                        now,
                    );
                };
                self.db.execute(
                    "UPDATE alert_outbox SET next_at = ?1 WHERE id = ?2",
                    &[(now + wait).into(), outbox_id.into()],
                )?;
                let error = Some(error.as_str());
                let pending = DeliveryStatus::Pending;
                self.log_delivery(log_id, kind, &pool, pending, attempts, *status, error, now)?;
                self.delivery_state(pool_id, kind, log_id, pending, attempts, now + wait, error)
            }
        })
    }

    /// Ends a delivery: its outbox row goes, the log and the alert's state
    /// say how it ended.
    fn finish(
        &self,
        outbox_id: i64,
        status: DeliveryStatus,
        http_status: Option<u16>,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let Some((attempts, log_id, pool_id, kind, pool)) = self.outbox_row(outbox_id)? else {
            return Ok(()); // recorded before
        };
        self.db.execute(
            "DELETE FROM alert_outbox WHERE id = ?1",
            &[outbox_id.into()],
        )?;
        self.log_delivery(
            log_id,
            kind,
            &pool,
            status,
            attempts,
            http_status,
            error,
            now,
        )?;
        self.delivery_state(pool_id, kind, log_id, status, attempts, now, error)
    }

    /// An outbox row: attempts, alert (log) id, pool id, kind, pool name.
    #[allow(clippy::type_complexity)]
    fn outbox_row(&self, outbox_id: i64) -> Result<Option<(i64, i64, i64, AlertKind, String)>> {
        let rows = self.db.query(
            "SELECT o.attempts, o.alert_id, o.pool_id, o.kind, IFNULL(p.name, o.body ->> 'pool')
             FROM alert_outbox AS o LEFT JOIN pools AS p ON p.id = o.pool_id WHERE o.id = ?1",
            &[outbox_id.into()],
        )?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let mut row = row.into_iter();
        let mut next = || row.next().unwrap_or(Value::Null);
        let (attempts, log_id, pool_id) = (next().as_i64(), next().as_i64(), next().as_i64());
        let kind = AlertKind::from_name(next().as_opt_str().unwrap_or_default())
            .ok_or_else(|| Error::internal("alert outbox: unknown kind"))?;
        Ok(Some((
            attempts,
            log_id,
            pool_id,
            kind,
            next().into_string(),
        )))
    }

    /// The delivery of a pool's alert as its state shows it, if that alert
    /// is still the last its kind fired.
    #[allow(clippy::too_many_arguments)]
    fn delivery_state(
        &self,
        pool_id: i64,
        kind: AlertKind,
        log_id: i64,
        status: DeliveryStatus,
        attempts: i64,
        at: i64,
        error: Option<&str>,
    ) -> Result<()> {
        self.db.execute(
            "UPDATE alert_states SET delivery = ?1, attempts = ?2, delivery_at = ?3,
                last_error = IFNULL(?4, last_error)
             WHERE pool_id = ?5 AND kind = ?6 AND alert_id = ?7",
            &[
                status.as_str().into(),
                attempts.into(),
                at.into(),
                error.into(),
                pool_id.into(),
                kind.as_str().into(),
                log_id.into(),
            ],
        )
    }

    /// Keeps the project's name, which webhook bodies carry: the store's
    /// Durable Object learns it from the calls addressed to it by name,
    /// while an alarm after a restart may come without it. Writes only
    /// when it changed (once per database).
    pub fn keep_project_name(&self, name: &str) -> Result<()> {
        if self.project_name()?.as_deref() != Some(name) {
            self.db.execute(
                "INSERT INTO settings (key, value) VALUES ('project_name', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[name.into()],
            )?;
        }
        Ok(())
    }

    /// The project's name as [`Store::keep_project_name`] kept it.
    pub fn project_name(&self) -> Result<Option<String>> {
        let rows = self
            .db
            .query("SELECT value FROM settings WHERE key = 'project_name'", &[])?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .map(Value::into_string))
    }

    /// When the project's alarm should come next: the next delivery due
    /// (or claim lapsing) or near-expiry check; `None` when nothing waits.
    pub fn next_wake(&self) -> Result<Option<i64>> {
        let rows = self.db.query(
            "SELECT MIN(t) FROM (SELECT MIN(next_at) AS t FROM alert_outbox
                UNION ALL SELECT MIN(check_at) FROM alert_states)",
            &[],
        )?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_opt_i64))
    }

    /// A pool's alert settings and the state of each kind set, for its
    /// JSON; `alerts` and `held` as its row has them.
    pub(crate) fn alert_view(
        &self,
        pool_id: i64,
        alerts: Option<&str>,
        held: i64,
    ) -> Result<(Option<AlertSettings>, BTreeMap<AlertKind, AlertState>)> {
        let Some(json) = alerts else {
            return Ok((None, BTreeMap::new()));
        };
        let alerts = PoolAlerts::from_stored(json)?;
        let rows = self.db.query(
            "SELECT kind, fired, fired_at, rearmed_at, alert_id, delivery, attempts, delivery_at,
                last_error
             FROM alert_states WHERE pool_id = ?1",
            &[pool_id.into()],
        )?;
        let mut stored: BTreeMap<AlertKind, Row> = BTreeMap::new();
        for row in rows {
            if let Some(kind) = AlertKind::from_name(row[0].as_opt_str().unwrap_or_default()) {
                stored.insert(kind, row);
            }
        }
        let kinds = alerts.kinds();
        let states = AlertKind::ALL
            .into_iter()
            .filter(|k| kinds & k.bit() != 0)
            .map(|kind| {
                let row = stored.remove(&kind).unwrap_or_default();
                let at = |i: usize| row.get(i).and_then(Value::as_opt_i64);
                let text = |i: usize| row.get(i).and_then(Value::as_opt_str).map(str::to_owned);
                let (fired_at, rearmed_at) = (at(2), at(3));
                let state = if held & i64::from(kind.bit()) == 0 {
                    Arming::Armed
                } else if fired_at.is_some_and(|f| rearmed_at.is_none_or(|r| f >= r)) {
                    Arming::Fired
                } else {
                    Arming::Unarmed
                };
                let delivery =
                    text(5)
                        .and_then(|s| DeliveryStatus::from_stored(&s))
                        .map(|status| DeliveryState {
                            status,
                            attempts: at(6).unwrap_or(0),
                            at: at(7).map(rfc3339),
                            last_error: text(8),
                        });
                let state = AlertState {
                    state,
                    fired: at(1).unwrap_or(0),
                    fired_at: fired_at.map(rfc3339),
                    rearmed_at: rearmed_at.map(rfc3339),
                    alert_id: at(4).map(alert_id),
                    delivery,
                };
                (kind, state)
            })
            .collect();
        Ok((Some(alerts.settings()), states))
    }
}

/// The public id of the alert logged under `log_id`.
fn alert_id(log_id: i64) -> String {
    format!("alert_{log_id}")
}

fn json_value<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::internal(e.to_string()))
}
