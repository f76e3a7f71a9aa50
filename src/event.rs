//! Events: tracked events in (a purchase with a code), campaign events out,
//! and the log that holds both.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::input::customer::check_customer_id;
use crate::input::json::check_object_depth;
use crate::time::parse_rfc3339;

/// The most events one `POST /events` may carry.
pub const MAX_EVENTS_PER_CALL: usize = 1_000;

/// A tracked event as a shop back end posts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackedEvent {
    /// The customer the event is about.
    pub customer_id: String,
    /// Event type, e.g. `purchase`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened: Unix seconds (a number) or RFC 3339; now if absent.
    #[serde(default)]
    pub timestamp: Option<serde_json::Value>,
    /// Free properties; the mapped one holds the code.
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl TrackedEvent {
    /// Checks the event and returns its time in Unix milliseconds.
    pub fn check(&self, now: i64) -> Result<i64> {
        check_customer_id(&self.customer_id)?;
        if !(1..=128).contains(&self.event_type.chars().count()) {
            return Err(invalid_event(
                "type must be 1-128 characters, e.g. \"purchase\"",
            ));
        }
        match &self.timestamp {
            None | Some(serde_json::Value::Null) => Ok(now),
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e11)
                .map(|s| (s * 1000.0) as i64)
                .ok_or_else(|| invalid_event("timestamp must be Unix seconds, e.g. 1764097200")),
            Some(serde_json::Value::String(s)) => parse_rfc3339(s).ok_or_else(|| {
                invalid_event("timestamp must be RFC 3339, e.g. \"2026-11-25T19:00:00Z\"")
            }),
            Some(_) => Err(invalid_event(
                "timestamp must be Unix seconds or an RFC 3339 string",
            )),
        }
    }
}

/// The events of a `POST /events` body: one event, an array of them, or
/// `{"events": [...]}`; each is read on its own, so an error names it.
pub fn events_from_body(body: serde_json::Value) -> Result<Vec<TrackedEvent>> {
    let list = match body {
        serde_json::Value::Array(list) => list,
        serde_json::Value::Object(mut map) if map.contains_key("events") => {
            match map.remove("events") {
                Some(serde_json::Value::Array(list)) => list,
                _ => return Err(invalid_event("`events` must be an array")),
            }
        }
        single => vec![single],
    };
    if list.is_empty() || list.len() > MAX_EVENTS_PER_CALL {
        return Err(invalid_event(&format!(
            "send 1 to {MAX_EVENTS_PER_CALL} events per call"
        )));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, v)| {
            let event = serde_json::from_value::<TrackedEvent>(v).map_err(|e| {
                invalid_event(&format!(
                    "event {i}: {e} (an event is {{\"customer_id\", \"type\", \"timestamp\", \"properties\"}})"
                ))
            })?;
            // Bounded here, before the events go to the store: see crate::input::json.
            check_object_depth(&event.properties, &format!("the properties of event {i}"))?;
            if matches!(
                event.timestamp,
                Some(serde_json::Value::Array(_) | serde_json::Value::Object(_))
            ) {
                return Err(invalid_event(&format!(
                    "event {i}: timestamp must be Unix seconds or an RFC 3339 string"
                )));
            }
            Ok(event)
        })
        .collect()
}

fn invalid_event(message: &str) -> Error {
    Error::new(ErrorKind::InvalidEvent, message)
}

/// What recording a tracked event did to a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Redemption {
    /// The event is not the redemption event: only logged.
    NotMapped,
    /// The mapped property is missing or not a string.
    NoCode,
    /// The code was assigned and is now redeemed.
    Redeemed,
    /// The code was redeemed before: nothing changed.
    AlreadyRedeemed,
    /// No pool of the project has this code.
    UnknownCode,
    /// The code exists but was never handed to anyone: not applied.
    NotAssigned,
    /// The code was handed to another customer than the event's. With the
    /// project's `redemption.require_holder` it stays assigned to its holder;
    /// without (the default) it is redeemed all the same
    /// ([`TrackResult::redeemed`] says which).
    HolderMismatch,
    /// The code, or its pool, is past its expiry: nothing changed.
    Expired,
    /// The code was voided by an admin: nothing changed.
    Void,
    /// A rollback event (the project's `redemption.rollback_event_type`,
    /// e.g. a refund): the redeemed code is assigned to its holder again.
    RolledBack,
    /// A rollback event whose code is not redeemed: nothing changed.
    NotRedeemed,
}

impl Redemption {
    /// The status stored in the log (`None` for events redemption ignores).
    pub fn status(self) -> Option<&'static str> {
        match self {
            Redemption::NotMapped => None,
            Redemption::NoCode => Some("no_code"),
            Redemption::Redeemed => Some("redeemed"),
            Redemption::AlreadyRedeemed => Some("already_redeemed"),
            Redemption::UnknownCode => Some("unknown_code"),
            Redemption::NotAssigned => Some("not_assigned"),
            Redemption::HolderMismatch => Some("holder_mismatch"),
            Redemption::Expired => Some("expired"),
            Redemption::Void => Some("void"),
            Redemption::RolledBack => Some("rolled_back"),
            Redemption::NotRedeemed => Some("not_redeemed"),
        }
    }
}

/// The answer for one tracked event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackResult {
    /// Position in the posted batch, from 0.
    pub index: usize,
    /// What happened to its code.
    pub redemption: Redemption,
    /// The code it carried, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// For [`Redemption::HolderMismatch`]: whether the code was redeemed all
    /// the same (the project does not require the holder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeemed: Option<bool>,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// Log id (grows with time).
    pub id: i64,
    /// `purchase`, `campaign`, …
    #[serde(rename = "type")]
    pub event_type: String,
    /// `enqueued` / `enqueue_failed` for campaign events, the redemption
    /// status for tracked events.
    pub status: Option<String>,
    /// The customer.
    pub customer_id: Option<String>,
    /// The campaign, for campaign events.
    pub campaign: Option<String>,
    /// The code concerned, if any.
    pub code: Option<String>,
    /// When it happened (RFC 3339).
    pub timestamp: String,
    /// Its properties (a campaign failure's `reason` is here).
    pub properties: serde_json::Value,
}

/// Filters of `GET /events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Only this type.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// Only this status.
    #[serde(default)]
    pub status: Option<String>,
    /// Only this customer.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Only this campaign.
    #[serde(default)]
    pub campaign: Option<String>,
    /// Page size (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A page of the event log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    /// The events.
    pub events: Vec<LoggedEvent>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
