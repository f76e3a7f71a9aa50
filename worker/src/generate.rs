//! `POST /pools/{pool}/generate`: random codes of a pattern, stored as an
//! import ([`codepool::import::generate`] has the rounds and the counts).
//!
//! One window of candidates is held at a time, so memory does not grow
//! with the count. Each window goes to the store in the batches of an
//! import, one transaction each; a generation cut off midway leaves whole
//! batches stored and the pool's counters exact.

use codepool::api::Matched;
use codepool::import::{BatchCounts, GenerateRequest, Generation};
use codepool::{Error, ErrorKind};
use worker::{Request, Response};

use crate::http::{json, read_json};
use crate::import::Target;
use crate::project::Project;

/// `POST /pools/{pool}/generate` `{"count", "pattern", "charset"}`: answers
/// the report of an import.
pub async fn generate(mut req: Request, project: &Project, m: &Matched) -> Result<Response, Error> {
    let request: GenerateRequest = read_json(&mut req).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::MissingBody,
            "send what to generate as JSON: {\"count\": 1000, \"pattern\": \"SPRING-####-####\"}",
        )
    })?;
    let plan = request.check()?;
    let target = Target {
        project,
        pool: m.param("pool"),
    };
    let import_id = target.begin().await?;
    // Web Crypto's getRandomValues, through getrandom.
    let mut generation = Generation::new(plan, |buf: &mut [u8]| {
        getrandom::fill(buf).map_err(|e| Error::internal(format!("no random bytes: {e}")))
    });
    while let Some(window) = generation.next_window()? {
        let mut stored = BatchCounts::default();
        let done = target.store(import_id, window, &mut stored).await;
        generation.record(stored);
        done.map_err(|err| generation.interrupted(err))?;
    }
    json(&generation.finish()?)
}
