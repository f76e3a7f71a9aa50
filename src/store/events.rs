//! Settings, tracked events with redemption, and the event log.

use crate::error::{Error, ErrorKind, Result};
use crate::event::{EventFilter, EventPage, LoggedEvent, Redemption, TrackResult, TrackedEvent};
use crate::pool::{code_key, CodeState};
use crate::project::settings::{merge_secret, Settings};
use crate::store::sql::{Database, Value};
use crate::time::rfc3339;

use super::Store;
use crate::api::query::{DEFAULT_PAGE, MAX_PAGE};

impl<D: Database> Store<'_, D> {
    /// The project's settings (defaults if never set).
    pub fn settings(&self) -> Result<Settings> {
        let rows = self
            .db
            .query("SELECT value FROM settings WHERE key = 'settings'", &[])?;
        match rows.into_iter().next() {
            Some(row) => serde_json::from_slice(row[0].as_opt_str().unwrap_or("{}").as_bytes())
                .map_err(|e| Error::internal(format!("stored settings: {e}"))),
            None => Ok(Settings::default()),
        }
    }

    /// Replaces the project's settings; the signing key and the webhook
    /// secret are kept unless the new settings name one (`""` removes it).
    /// A webhook URL needs a webhook secret, sent or stored: every
    /// delivery is signed.
    pub fn put_settings(&self, settings: &Settings) -> Result<Settings> {
        settings.check()?;
        let mut settings = settings.clone();
        let stored = self.settings()?;
        settings.customer_signing_key =
            merge_secret(settings.customer_signing_key, stored.customer_signing_key);
        settings.webhook_secret = merge_secret(settings.webhook_secret, stored.webhook_secret);
        if settings.webhook_url.is_some() && settings.webhook_secret.is_none() {
            return Err(Error::new(
                ErrorKind::InvalidSettings,
                "webhook_url needs a webhook_secret to sign deliveries with: send one \
                 (at least 32 characters, e.g. from `openssl rand -hex 32`)",
            ));
        }
        let json = serde_json::to_string(&settings).map_err(|e| Error::internal(e.to_string()))?;
        self.db.execute(
            "INSERT INTO settings (key, value) VALUES ('settings', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[json.into()],
        )?;
        self.settings()
    }

    /// Records tracked events, in one transaction; a mapped event redeems
    /// its code, a rollback event (`rollback_event_type`) rolls its code's
    /// redemption back. Every event is logged with what redemption made of
    /// it.
    pub fn track(&self, events: &[TrackedEvent], now: i64) -> Result<Vec<TrackResult>> {
        let times = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.check(now)
                    .map_err(|err| Error::new(err.kind(), format!("event {i}: {}", err.message())))
            })
            .collect::<Result<Vec<i64>>>()?;
        let mapping = self.settings()?.redemption;
        self.db.transaction(|| {
            let mut results = Vec::with_capacity(events.len());
            for (index, (event, &at)) in events.iter().zip(&times).enumerate() {
                let (redemption, code, redeemed) = match &mapping {
                    Some(m) if m.event_type == event.event_type => {
                        match event.properties.get(&m.property).and_then(|v| v.as_str()) {
                            Some(code) => {
                                let code = code.trim().to_owned();
                                let (redemption, redeemed) =
                                    self.redeem(&code, &event.customer_id, at, m.require_holder)?;
                                (redemption, Some(code), redeemed)
                            }
                            None => (Redemption::NoCode, None, false),
                        }
                    }
                    // A refund: the code it names is redeemed no more.
                    Some(m) if m.rollback_event_type.as_ref() == Some(&event.event_type) => {
                        match event.properties.get(&m.property).and_then(|v| v.as_str()) {
                            Some(code) => {
                                let code = code.trim().to_owned();
                                (self.roll_back_event(&code)?, Some(code), false)
                            }
                            None => (Redemption::NoCode, None, false),
                        }
                    }
                    _ => (Redemption::NotMapped, None, false),
                };
                self.db.execute(
                    "INSERT INTO events (type, status, customer_id, code, timestamp, properties)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    &[
                        event.event_type.as_str().into(),
                        redemption.status().into(),
                        event.customer_id.as_str().into(),
                        code.clone().into(),
                        at.into(),
                        serde_json::Value::Object(event.properties.clone())
                            .to_string()
                            .into(),
                    ],
                )?;
                results.push(TrackResult {
                    index,
                    redemption,
                    code,
                    redeemed: (redemption == Redemption::HolderMismatch).then_some(redeemed),
                });
            }
            Ok(results)
        })
    }

    /// Marks an assigned code redeemed; answers what became of the event and
    /// whether it redeemed the code.
    ///
    /// The code is found by its key (a shopper may type `code-1` for
    /// `CODE-1`). A customer other than the one the code
    /// was handed to is a [`Redemption::HolderMismatch`], which redeems
    /// unless `require_holder`.
    fn redeem(
        &self,
        code: &str,
        customer: &str,
        at: i64,
        require_holder: bool,
    ) -> Result<(Redemption, bool)> {
        const FIND: &str = "SELECT id, pool_id, state, customer_id, expires_at,
            (SELECT expires_at FROM pools WHERE pools.id = codes.pool_id) FROM codes WHERE";
        // A code left without key by the migration (its key is its older
        // twin's) is found by its exact text; there is none in a database
        // created with keys, and the index on keys finds that at once.
        let mut rows = self.db.query(
            &format!("{FIND} code_key IS NULL AND code = ?1"),
            &[code.into()],
        )?;
        if rows.is_empty() {
            rows = self
                .db
                .query(&format!("{FIND} code_key = ?1"), &[code_key(code).into()])?;
        }
        let Some(row) = rows.into_iter().next() else {
            return Ok((Redemption::UnknownCode, false));
        };
        let (id, pool_id, state) = (row[0].as_i64(), row[1].as_i64(), row[2].as_i64());
        match CodeState::from_stored(state) {
            Some(CodeState::Redeemed) => return Ok((Redemption::AlreadyRedeemed, false)),
            Some(CodeState::Void) => return Ok((Redemption::Void, false)),
            Some(CodeState::Expired) => return Ok((Redemption::Expired, false)),
            _ => {}
        }
        // Past its own or its pool's expiry when the purchase happened: the
        // shop should not have taken it.
        let expiry = [row[4].as_opt_i64(), row[5].as_opt_i64()];
        if expiry.into_iter().flatten().any(|expires| expires <= at) {
            return Ok((Redemption::Expired, false));
        }
        if state == CodeState::Available as i64 {
            return Ok((Redemption::NotAssigned, false));
        }
        let mismatch = row[3].as_opt_str().is_some_and(|holder| holder != customer);
        if mismatch && require_holder {
            return Ok((Redemption::HolderMismatch, false));
        }
        self.db.execute(
            "UPDATE codes SET state = ?1, redeemed_at = ?2, redeemed_by = ?3 WHERE id = ?4",
            &[
                (CodeState::Redeemed as i64).into(),
                at.into(),
                customer.into(),
                id.into(),
            ],
        )?;
        // A leased code was handed out by a dispenser that has not reported
        // it yet (the purchase came first): redeemed all the same, and the
        // dispenser learns it is no longer its to hand out.
        let from = if state == CodeState::Leased as i64 {
            "leased"
        } else {
            "assigned"
        };
        self.db.execute(
            &format!("UPDATE pools SET {from} = {from} - 1, redeemed = redeemed + 1 WHERE id = ?1"),
            &[pool_id.into()],
        )?;
        if from == "leased" {
            // One code fewer left to hand out.
            self.check_alerts(pool_id, at)?;
        }
        let redemption = if mismatch {
            Redemption::HolderMismatch
        } else {
            Redemption::Redeemed
        };
        Ok((redemption, true))
    }

    /// A page of the event log, newest first.
    pub fn events(&self, filter: &EventFilter) -> Result<EventPage> {
        let limit = filter
            .limit
            .map_or(DEFAULT_PAGE, |n| n as usize)
            .clamp(1, MAX_PAGE) as i64;
        let before = match &filter.cursor {
            None => i64::MAX,
            Some(c) => c.parse::<i64>().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidCursor,
                    "cursor must come from a previous page's next_cursor",
                )
            })?,
        };
        let rows = self.db.query(
            "SELECT id, type, status, customer_id, campaign, code, timestamp, properties
             FROM events
             WHERE id < ?1 AND (?2 IS NULL OR type = ?2) AND (?3 IS NULL OR status = ?3)
               AND (?4 IS NULL OR customer_id = ?4) AND (?5 IS NULL OR campaign = ?5)
             ORDER BY id DESC LIMIT ?6",
            &[
                before.into(),
                filter.event_type.clone().into(),
                filter.status.clone().into(),
                filter.customer_id.clone().into(),
                filter.campaign.clone().into(),
                (limit + 1).into(),
            ],
        )?;
        let mut events: Vec<LoggedEvent> = rows.into_iter().map(logged_event).collect();
        let next_cursor = if events.len() as i64 > limit {
            events.truncate(limit as usize);
            events.last().map(|e| e.id.to_string())
        } else {
            None
        };
        Ok(EventPage {
            events,
            next_cursor,
        })
    }
}

fn logged_event(row: Vec<Value>) -> LoggedEvent {
    let mut row = row.into_iter();
    let mut next = || row.next().unwrap_or(Value::Null);
    let text = |v: Value| v.as_opt_str().map(str::to_owned);
    LoggedEvent {
        id: next().as_i64(),
        event_type: next().into_string(),
        status: text(next()),
        customer_id: text(next()),
        campaign: text(next()),
        code: text(next()),
        timestamp: rfc3339(next().as_i64()),
        properties: serde_json::from_slice(next().as_opt_str().unwrap_or("{}").as_bytes())
            .unwrap_or_default(),
    }
}
