//! Native-SQLite side of the import benchmark (`npm run bench:import`):
//! parses a CSV file with the project's parser and stores its codes with the
//! project's own statements ([`Store::import_batch`]) in sorted windows and
//! batches ([`codepool::import_batches`]), as the Worker does, into a new
//! SQLite file (WAL; SQLite's default page cache and `synchronous`). Then it
//! imports the same file again, which stores nothing: that pass is parsing,
//! JSON and the lookups of existing codes alone.
//!
//! Usage: `cargo run --release --example import_native -- CODES.csv DB.sqlite`.
//! Prints one JSON line: codes, seconds, codes_per_second, reimport_seconds,
//! batch, window.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use codepool::import::batches::{batches, sort_window, IMPORT_BATCH, IMPORT_WINDOW};
use codepool::import::report::BatchCounts;
use codepool::import::{ImportOptions, ImportParser, ImportRow};
use codepool::pool::PoolSettings;
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> AnyResult<()> {
    let mut args = std::env::args().skip(1);
    let (Some(csv), Some(db_path)) = (args.next(), args.next()) else {
        return Err("usage: import_native CODES.csv DB.sqlite".into());
    };
    let db = NativeDatabase::open(Path::new(&db_path))?;
    let store = Store::new(&db);
    store.migrate()?;
    store.put_pool("bench", &PoolSettings::default(), 0)?;

    let started = Instant::now();
    let first = import_file(&store, Path::new(&csv))?;
    let seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let again = import_file(&store, Path::new(&csv))?;
    let reimport_seconds = started.elapsed().as_secs_f64();
    if again.imported != 0 || again.already_in_project != first.imported {
        return Err(format!("the second import did not find every code: {again:?}").into());
    }
    println!(
        "{{\"codes\": {}, \"seconds\": {seconds:.3}, \"codes_per_second\": {:.0}, \
         \"reimport_seconds\": {reimport_seconds:.3}, \"batch\": {IMPORT_BATCH}, \
         \"window\": {IMPORT_WINDOW}}}",
        first.imported,
        first.imported as f64 / seconds
    );
    Ok(())
}

/// One import of a CSV file into pool `bench`, as the Worker runs it.
fn import_file(store: &Store<'_, NativeDatabase>, csv: &Path) -> AnyResult<BatchCounts> {
    let import_id = store.begin_import("bench", 0)?;
    let mut stored = BatchCounts::default();
    let mut store_window = |window: &mut Vec<String>| -> codepool::Result<()> {
        sort_window(window);
        for batch in batches(window) {
            stored += store.import_batch("bench", import_id, batch)?;
        }
        window.clear();
        Ok(())
    };
    let mut file = File::open(csv)?;
    let mut parser = ImportParser::new(ImportOptions::default());
    let mut chunk = vec![0; 64 * 1024];
    let (mut rows, mut window) = (Vec::new(), Vec::with_capacity(IMPORT_WINDOW));
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            parser.finish(&mut rows)?;
        } else {
            parser.feed(&chunk[..n], &mut rows)?;
        }
        for row in rows.drain(..) {
            if let ImportRow::Code { code, .. } = row {
                window.push(code);
                if window.len() == IMPORT_WINDOW {
                    store_window(&mut window)?;
                }
            }
        }
        if n == 0 {
            break;
        }
    }
    store_window(&mut window)?;
    Ok(stored)
}
