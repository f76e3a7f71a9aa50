//! Tracked events in, and the event log.

use codepool::api::query::EventsParams;
use codepool::api::Command;
use codepool::event::events_from_body;
use codepool::{Error, ErrorKind};
use worker::{Request, Response};

use crate::http::{read_json, read_query};
use crate::project::Project;

/// `POST /events`: one event, an array, or `{"events": [...]}`.
pub async fn track(mut req: Request, project: &Project) -> Result<Response, Error> {
    let body = read_json(&mut req)
        .await?
        .ok_or_else(|| Error::new(ErrorKind::MissingBody, "send a tracked event as JSON"))?;
    let events = events_from_body(body)?;
    project.forward(&Command::Track { events }).await
}

/// `GET /events?type=&status=&customer_id=&campaign=&limit=&cursor=`
pub async fn list(req: &Request, project: &Project) -> Result<Response, Error> {
    let filter = read_query::<EventsParams>(req)?.check()?;
    project.forward(&Command::ListEvents(filter)).await
}
