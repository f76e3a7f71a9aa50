//! Settings, tracked events and the event log.

use codepool::api::command::Command;
use codepool::api::Matched;
use codepool::event::{EventFilter, EventPage, TrackedEvent, MAX_EVENTS_PER_CALL};
use codepool::settings::{Settings, SettingsView};
use codepool::{Error, ErrorKind};
use worker::{Env, Request, Response};

use crate::http::{json, query, read_json};
use crate::project::call;

/// `GET /settings`
pub async fn get_settings(env: &Env, m: &Matched) -> Result<Response, Error> {
    let settings: SettingsView = call(env, m.param("project"), &Command::GetSettings).await?;
    json(&settings)
}

/// `PUT /settings`
pub async fn put_settings(mut req: Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let settings: Settings = read_json(&mut req).await?.unwrap_or_default();
    let settings: SettingsView =
        call(env, m.param("project"), &Command::PutSettings(settings)).await?;
    json(&settings)
}

/// `POST /events`: one event, an array, or `{"events": [...]}`.
pub async fn track(mut req: Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let body: serde_json::Value = read_json(&mut req)
        .await?
        .ok_or_else(|| Error::new(ErrorKind::MissingBody, "send a tracked event as JSON"))?;
    let list = match body {
        serde_json::Value::Array(list) => list,
        serde_json::Value::Object(mut map) if map.contains_key("events") => {
            match map.remove("events") {
                Some(serde_json::Value::Array(list)) => list,
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidEvent,
                        "`events` must be an array",
                    ))
                }
            }
        }
        single => vec![single],
    };
    if list.is_empty() || list.len() > MAX_EVENTS_PER_CALL {
        return Err(Error::new(
            ErrorKind::InvalidEvent,
            format!("send 1 to {MAX_EVENTS_PER_CALL} events per call"),
        ));
    }
    let events = list
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value::<TrackedEvent>(v).map_err(|e| {
                Error::new(ErrorKind::InvalidEvent,
                    format!("event {i}: {e} (an event is {{\"customer_id\", \"type\", \"timestamp\", \"properties\"}})"),
                )
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let results: serde_json::Value =
        call(env, m.param("project"), &Command::Track { events }).await?;
    json(&results)
}

/// `GET /events?type=&status=&customer_id=&campaign=&limit=&cursor=`
pub async fn list(req: &Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let mut filter = EventFilter::default();
    for (key, value) in query(req) {
        let value = Some(value);
        match key.as_str() {
            "type" => filter.event_type = value,
            "status" => filter.status = value,
            "customer_id" => filter.customer_id = value,
            "campaign" => filter.campaign = value,
            "cursor" => filter.cursor = value,
            "limit" => {
                filter.limit = Some(
                    value
                        .and_then(|v| v.parse().ok())
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| {
                            Error::new(
                                ErrorKind::InvalidLimit,
                                "limit must be a number from 1 to 1000",
                            )
                        })?,
                )
            }
            other => {
                return Err(Error::new(
                    ErrorKind::UnknownParameter,
                    format!(
                        "unknown parameter {other:?}: filter with type, status, customer_id, \
                         campaign, limit and cursor"
                    ),
                ))
            }
        }
    }
    let page: EventPage = call(env, m.param("project"), &Command::ListEvents(filter)).await?;
    json(&page)
}
