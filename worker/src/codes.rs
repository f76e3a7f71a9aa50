//! `GET /pools/{pool}/codes`: a page of codes as JSON, or with
//! `Accept: text/csv` every code as a CSV export streamed page by page;
//! voiding a code and rolling back its redemption.

use codepool::api::query::CodesParams;
use codepool::api::{Command, Matched};
use codepool::pool::export::{write_csv_header, write_csv_rows};
use codepool::pool::void::code_held;
use codepool::pool::{CodePage, CodeQuery, VoidOutcome};
use codepool::Error;
use futures_util::{stream, StreamExt};
use worker::{Request, Response};

use crate::dispenser;
use crate::http::{json, platform, read_query};
use crate::project::Project;

/// Codes per store call while exporting: the export holds one page, and
/// each call holds up the project's renders only for a few milliseconds.
pub const EXPORT_PAGE: usize = 5_000;

/// `GET /pools/{pool}/codes?state=&limit=&cursor=`
pub async fn list(req: &Request, project: &Project, m: &Matched) -> Result<Response, Error> {
    let query = read_query::<CodesParams>(req)?.check()?;
    let pool = m.param("pool").to_owned();
    if wants_csv(req) {
        return export(project.clone(), pool, query).await;
    }
    project.forward(&Command::ListCodes { pool, query }).await
}

/// `POST /pools/{pool}/codes/{code}/void`: answers the code, void.
///
/// A code a dispenser holds is not voided while it may still be handed
/// out: the pool's holders are recalled first (they give back or report
/// what they hold, as for a campaign that needs their codes), then the
/// store is asked again. Dispensers that may show the code again to the
/// customer it was handed to forget it before the answer goes out.
pub async fn void(project: &Project, m: &Matched) -> Result<Response, Error> {
    let pool = m.param("pool").to_owned();
    let command = Command::VoidCode {
        pool: pool.clone(),
        code: m.param("code").to_owned(),
    };
    let mut outcome: VoidOutcome = project.call(&command).await?;
    if outcome == VoidOutcome::Leased {
        dispenser::recall_pools(project, vec![pool]).await?;
        outcome = project.call(&command).await?;
    }
    match outcome {
        VoidOutcome::Void { code, forget_at } => {
            dispenser::forget(project, forget_at, &code.code).await;
            json(&code)
        }
        VoidOutcome::Leased => Err(code_held(m.param("code"))),
    }
}

/// `POST /pools/{pool}/codes/{code}/rollback`: answers the code, assigned
/// again to its holder.
pub async fn rollback(project: &Project, m: &Matched) -> Result<Response, Error> {
    let pool = m.param("pool").to_owned();
    let code = m.param("code").to_owned();
    project.forward(&Command::RollbackCode { pool, code }).await
}

/// Whether the client asked for CSV (`Accept: text/csv`).
fn wants_csv(req: &Request) -> bool {
    req.headers()
        .get("accept")
        .ok()
        .flatten()
        .is_some_and(|accept| {
            accept.split(',').any(|t| {
                t.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("text/csv")
            })
        })
}

/// Every code of the pool (state filter applies; cursor and limit do not).
async fn export(project: Project, pool: String, query: CodeQuery) -> Result<Response, Error> {
    let query = CodeQuery {
        cursor: None,
        limit: EXPORT_PAGE,
        ..query
    };
    // The first page before the answer, so an unknown pool is a JSON 404.
    let first: CodePage = project
        .call(&Command::ListCodes {
            pool: pool.clone(),
            query: query.clone(),
        })
        .await?;
    // Pool names are letters, digits and `_ - . %`: safe in a quoted name.
    let disposition = format!("attachment; filename=\"{pool}-codes.csv\"");
    let mut head = Vec::new();
    write_csv_header(&mut head)?;
    write_csv_rows(&first.codes, &mut head)?;
    let rest = stream::try_unfold(first.next_cursor, move |cursor| {
        let project = project.clone();
        let query = CodeQuery {
            cursor,
            ..query.clone()
        };
        let pool = pool.clone();
        async move {
            if query.cursor.is_none() {
                return Ok(None);
            }
            let page: CodePage = project
                .call(&Command::ListCodes { pool, query })
                .await
                .map_err(export_error)?;
            let mut out = Vec::new();
            write_csv_rows(&page.codes, &mut out).map_err(export_error)?;
            Ok(Some((out, page.next_cursor)))
        }
    });
    let body = stream::once(async { Ok::<_, worker::Error>(head) }).chain(rest);
    let response = Response::from_stream(body).map_err(platform)?;
    let headers = response.headers();
    headers
        .set("content-type", "text/csv; charset=utf-8")
        .and_then(|()| headers.set("content-disposition", &disposition))
        .map_err(platform)?;
    Ok(response)
}

/// A failure after the answer began: the body is aborted, so the client
/// sees a failed download rather than a file that silently lacks codes.
fn export_error(err: Error) -> worker::Error {
    worker::console_error!("codepool: CSV export: {err}");
    worker::Error::RustError(err.to_string())
}
