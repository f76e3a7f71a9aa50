//! `GET /pools/{pool}/activity`: codes assigned and redeemed per day.

use codepool::api::command::Command;
use codepool::api::Matched;
use codepool::pool::activity::{check_days, PoolActivity, DEFAULT_ACTIVITY_DAYS};
use codepool::{Error, ErrorKind};
use worker::{Env, Request, Response};

use crate::http::{json, query};
use crate::project::call;

/// `GET /pools/{pool}/activity?days=30`
pub async fn get(req: &Request, env: &Env, m: &Matched) -> Result<Response, Error> {
    let mut days = DEFAULT_ACTIVITY_DAYS;
    for (key, value) in query(req) {
        match key.as_str() {
            "days" => {
                days = value.parse().unwrap_or(0);
                check_days(days)?;
            }
            other => {
                return Err(Error::new(
                    ErrorKind::UnknownParameter,
                    format!("unknown parameter {other:?}: the only one is days"),
                ))
            }
        }
    }
    let activity: PoolActivity = call(
        env,
        m.param("project"),
        &Command::PoolActivity {
            pool: m.param("pool").to_owned(),
            days,
        },
    )
    .await?;
    json(&activity)
}
