//! What the native store tests share.

use codepool::pool::PoolSettings;
use codepool::store::sqlite::NativeDatabase;
use codepool::store::Store;

/// The clock of the tests: 2025-11-25T19:00:00Z in Unix milliseconds.
pub const NOW: i64 = 1_764_097_200_000;

/// A migrated store with these pools, each holding these codes (one import).
pub fn store_with<'a>(
    db: &'a NativeDatabase,
    pools: &[(&str, &[&str])],
) -> Store<'a, NativeDatabase> {
    let store = Store::new(db);
    store.migrate().unwrap();
    for (pool, codes) in pools {
        store.put_pool(pool, &PoolSettings::default(), NOW).unwrap();
        let import = store.begin_import(pool, NOW).unwrap();
        let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        store.import_batch(pool, import, &codes).unwrap();
    }
    store
}
