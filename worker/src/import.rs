//! `POST /pools/{pool}/import`: a CSV file streamed in bounded batches, or a
//! JSON list of codes.
//!
//! A CSV body is never held whole: chunks go through [`ImportParser`] as
//! they arrive, valid codes are gathered in sorted windows
//! ([`codepool::import_batches`]), and each window goes to the store in
//! batches, each its own transaction, while the next window is parsed.
//! Memory is two windows plus one chunk, whatever the file's size.
//!
//! A file the parser rejects (binary, not UTF-8, no header, no code column)
//! is refused before the first batch, so nothing of it is stored. An import cut off midway leaves whole batches stored and the
//! pool's counters exact; importing the same file again adds the rest and
//! reports the stored codes as `already_in_project`.

use codepool::api::query::ImportParams;
use codepool::api::{Command, Matched};
use codepool::import::json::JsonImport;
use codepool::import::{
    batch_parts, batches, sort_window, BatchCounts, ImportCode, ImportError, ImportOptions,
    ImportParser, ImportReport, ImportRow, WindowCode, IMPORT_WINDOW,
};
use codepool::{Error, ErrorKind};
use futures_util::future::join;
use futures_util::StreamExt;
use wasm_bindgen::JsCast;
use wasm_streams::readable::IntoStream;
use worker::{Request, Response};

use crate::http::{json, media_type, read_body, read_query};
use crate::project::Project;

/// Largest import body: 64 MiB, about 3 million codes of 20 characters.
pub const MAX_IMPORT_BODY: u64 = 64 * 1024 * 1024;

/// Largest JSON import body. It is read whole, so that a body that is not
/// valid JSON stores nothing, and so it stays smaller than a CSV file.
pub const MAX_JSON_IMPORT: usize = 16 * 1024 * 1024;

/// `POST /pools/{pool}/import`: `text/csv` or `application/json`.
pub async fn import(req: Request, project: &Project, m: &Matched) -> Result<Response, Error> {
    let target = Target {
        project,
        pool: m.param("pool"),
    };
    match media_type(&req).as_str() {
        // Browsers on Windows label .csv files as Excel's type.
        "text/csv" | "application/csv" | "application/vnd.ms-excel" => {
            import_csv(req, &target).await
        }
        "application/json" => import_json(req, &target).await,
        _ => Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            "send a CSV file as `content-type: text/csv` (a header row, one code per row), \
             or JSON `{\"codes\": [...]}` as `content-type: application/json`",
        )),
    }
}

/// The pool an import goes to (a generation's too: `generate.rs`).
pub(crate) struct Target<'a> {
    pub(crate) project: &'a Project,
    pub(crate) pool: &'a str,
}

impl Target<'_> {
    /// Starts the import in the store; fails for an unknown pool.
    pub(crate) async fn begin(&self) -> Result<i64, Error> {
        let started: serde_json::Value = self
            .project
            .call(&Command::BeginImport {
                pool: self.pool.to_owned(),
            })
            .await?;
        started["import_id"]
            .as_i64()
            .ok_or_else(|| Error::internal("the store answered no import_id"))
    }

    /// Stores a sorted window, batch after batch, each one transaction;
    /// adds each stored batch's counts to `stored` as it completes.
    pub(crate) async fn store<T: WindowCode>(
        &self,
        import_id: i64,
        window: Vec<T>,
        stored: &mut BatchCounts,
    ) -> Result<(), Error> {
        for batch in batches(&window) {
            let (codes, expires_at) = batch_parts(batch);
            let counts: BatchCounts = self
                .project
                .call(&Command::ImportBatch {
                    pool: self.pool.to_owned(),
                    import_id,
                    codes,
                    expires_at,
                })
                .await?;
            *stored += counts;
        }
        Ok(())
    }
}

async fn import_csv(req: Request, target: &Target<'_>) -> Result<Response, Error> {
    let ImportParams { column } = read_query(&req)?;
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_IMPORT_BODY) {
        return Err(too_large(0));
    }
    // The raw stream, not `req.stream()`: that one ends quietly when the
    // client aborts, and an abort must not pass for the end of the file.
    let stream = req
        .inner()
        .body()
        .ok_or_else(|| file_error(ImportError::Empty))?;
    let mut body = CsvBody {
        chunks: wasm_streams::ReadableStream::from_raw(stream).into_stream(),
        declared,
        received: 0,
        parser: ImportParser::new(ImportOptions { column }),
        rows: Vec::new(),
        codes: Vec::new(),
        report: ImportReport::default(),
        ended: false,
    };

    // The parser releases no row before it has checked the file start and
    // the header, so a file it rejects fails here, before the store is
    // asked for anything.
    let mut window = body.next_window().await?;
    let import_id = target.begin().await?;
    let mut stored = BatchCounts::default();
    while !window.is_empty() {
        // The store takes this window while the next one is read and parsed;
        // one store call at a time, so an import holds up the project's
        // renders for one batch at most.
        let (done, next) = join(
            target.store(import_id, window, &mut stored),
            body.next_window(),
        )
        .await;
        done.map_err(|err| with_progress(err, &stored))?;
        window = next.map_err(|err| with_progress(err, &stored))?;
    }
    let mut report = body.report;
    report.add_batch(stored);
    report.column = body.parser.column().map(str::to_owned);
    json(&report)
}

/// A CSV request body being parsed.
struct CsvBody {
    chunks: IntoStream<'static>,
    /// The declared `content-length`, if any.
    declared: Option<u64>,
    received: u64,
    parser: ImportParser,
    /// Rows the parser produced from the last chunk.
    rows: Vec<ImportRow>,
    /// Valid codes parsed and not yet handed out: fewer than a window plus
    /// the codes of one chunk.
    codes: Vec<ImportCode>,
    /// Invalid rows, counted and sampled.
    report: ImportReport,
    ended: bool,
}

impl CsvBody {
    /// The next window of valid codes, sorted; smaller only at the end.
    async fn next_window(&mut self) -> Result<Vec<ImportCode>, Error> {
        let n = IMPORT_WINDOW;
        while self.codes.len() < n && !self.ended {
            match self.chunks.next().await {
                Some(Ok(chunk)) => {
                    let chunk = chunk
                        .dyn_into::<js_sys::Uint8Array>()
                        .map_err(|_| Error::internal("the request body is not bytes"))?
                        .to_vec();
                    self.received += chunk.len() as u64;
                    if self.received > MAX_IMPORT_BODY {
                        return Err(too_large(0));
                    }
                    self.parser
                        .feed(&chunk, &mut self.rows)
                        .map_err(file_error)?;
                }
                Some(Err(err)) => return Err(cut_off(&format!("{err:?}"))),
                None => {
                    // A client that goes away may look like the end of the
                    // body: its last row could be cut, so it is not taken.
                    if let Some(declared) = self.declared.filter(|&n| self.received < n) {
                        let got = self.received;
                        return Err(cut_off(&format!("{got} of {declared} bytes arrived")));
                    }
                    self.parser.finish(&mut self.rows).map_err(file_error)?;
                    self.ended = true;
                }
            }
            for row in self.rows.drain(..) {
                match row {
                    ImportRow::Code {
                        code, expires_at, ..
                    } => self.codes.push(ImportCode { code, expires_at }),
                    ImportRow::Invalid { line, reason } => self.report.add_invalid(line, reason),
                }
            }
        }
        let rest = self.codes.split_off(n.min(self.codes.len()));
        let mut window = std::mem::replace(&mut self.codes, rest);
        sort_window(&mut window);
        Ok(window)
    }
}

/// A file the parser rejects whole.
fn file_error(err: ImportError) -> Error {
    Error::from(err)
}

fn too_large(imported: u64) -> Error {
    let mut message = format!(
        "the import is larger than {} MiB ({MAX_IMPORT_BODY} bytes, about 3 million codes): \
         split the file into parts under that size and import them one after another",
        MAX_IMPORT_BODY >> 20
    );
    if imported > 0 {
        message.push_str(&already_stored(imported));
    }
    Error::new(ErrorKind::BodyTooLarge, message)
}

fn cut_off(detail: &str) -> Error {
    Error::new(
        ErrorKind::BodyIncomplete,
        format!(
            "the file did not arrive completely ({detail}): import the same file again; \
             codes stored so far are reported as already in the project"
        ),
    )
}

/// Says in an error that ended an import midway what was stored before.
fn with_progress(err: Error, stored: &BatchCounts) -> Error {
    if err.kind() == ErrorKind::BodyTooLarge {
        return too_large(stored.imported);
    }
    if stored.imported > 0 {
        return err.append(&already_stored(stored.imported));
    }
    err
}

fn already_stored(imported: u64) -> String {
    format!(
        " ({imported} codes of the file were imported before this; \
         importing them again reports them as already in the project)"
    )
}

/// `{"codes": [...]}`: invalid entries are reported by 1-based position.
///
/// The body is parsed whole before anything is stored, each entry checked
/// as it is read: what stays is the valid codes, packed (`JsonImport`), and
/// one window of them at a time while it is stored.
async fn import_json(mut req: Request, target: &Target<'_>) -> Result<Response, Error> {
    let body = read_body(&mut req, MAX_JSON_IMPORT).await?;
    let import = JsonImport::parse(&body)?;
    drop(body);
    let (windows, mut report) = import.into_windows();
    let import_id = target.begin().await?;
    let mut stored = BatchCounts::default();
    for window in windows {
        target
            .store(import_id, window, &mut stored)
            .await
            .map_err(|err| with_progress(err, &stored))?;
    }
    report.add_batch(stored);
    json(&report)
}
