//! The SQLite schema of one project's store, and of the deployment's
//! registry of projects.
//!
//! One Durable Object holds one project, so nothing here carries a project
//! id: per-project uniqueness of codes is a plain `UNIQUE`.

/// Statements that create the schema; each is idempotent, run in order.
pub const MIGRATIONS: &[&str] = &[
    // Counters are kept in the pool row, updated in the same transaction as
    // the codes, so a render reads counts without scanning codes.
    "CREATE TABLE IF NOT EXISTS pools (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        total INTEGER NOT NULL DEFAULT 0,
        available INTEGER NOT NULL DEFAULT 0,
        assigned INTEGER NOT NULL DEFAULT 0,
        redeemed INTEGER NOT NULL DEFAULT 0
    )",
    // state: 0 available, 1 assigned, 2 redeemed. `id` follows the order
    // codes were stored in, so codes go out first in, first out: import by
    // import, and within one in sorted windows (see import_batches).
    "CREATE TABLE IF NOT EXISTS codes (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        pool_id INTEGER NOT NULL REFERENCES pools(id),
        state INTEGER NOT NULL DEFAULT 0,
        import_id INTEGER NOT NULL,
        assigned_at INTEGER,
        customer_id TEXT,
        source TEXT,
        redeemed_at INTEGER,
        redeemed_by TEXT
    )",
    // (pool_id, state, id): the next available code of a pool is one seek.
    "CREATE INDEX IF NOT EXISTS codes_by_pool_state ON codes(pool_id, state)",
    // per_customer mode finds a customer's code again.
    "CREATE INDEX IF NOT EXISTS codes_by_customer ON codes(customer_id, source)
        WHERE customer_id IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS imports (
        id INTEGER PRIMARY KEY,
        pool_id INTEGER NOT NULL REFERENCES pools(id),
        started_at INTEGER NOT NULL
    )",
    // The event log: tracked events (with what redemption made of them) and
    // campaign events (`enqueued`, `enqueue_failed`). Newest first by id.
    "CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        status TEXT,
        customer_id TEXT,
        campaign TEXT,
        code TEXT,
        timestamp INTEGER NOT NULL,
        properties TEXT NOT NULL DEFAULT '{}'
    )",
    "CREATE INDEX IF NOT EXISTS events_by_type ON events(type, status)",
    "CREATE INDEX IF NOT EXISTS events_by_customer ON events(customer_id)",
    "CREATE INDEX IF NOT EXISTS events_by_campaign ON events(campaign)
        WHERE campaign IS NOT NULL",
    // Project settings as JSON values by key.
    "CREATE TABLE IF NOT EXISTS settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )",
    // signed_customer: 0 any customer id, 1 signed (with or without exp),
    // 2 signed with exp (store/layers.rs).
    "CREATE TABLE IF NOT EXISTS layers (
        name TEXT PRIMARY KEY,
        template TEXT NOT NULL,
        active INTEGER NOT NULL,
        assignment TEXT NOT NULL,
        signed_customer INTEGER NOT NULL DEFAULT 0,
        variables TEXT NOT NULL DEFAULT '{}',
        version INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )",
    // The last version of each deleted layer: one created again under its
    // name goes on from there, so no cached compile of the old one passes
    // the store's version check.
    "CREATE TABLE IF NOT EXISTS retired_layers (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    )",
    // Project keys (src/key.rs): only the SHA-256 of each key is kept.
    "CREATE TABLE IF NOT EXISTS keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scope TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
    )",
];

/// The table whose presence says a project's schema was made: a database
/// without it was never created as a project (see [`super::Store::open`]).
pub const PROJECT_TABLE: &str = "pools";

/// Statements that create the deployment's registry of projects
/// ([`super::Registry`]); idempotent, run in order.
pub const REGISTRY_MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS projects (
        name TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    )"];

/// The registry's table of created projects.
pub const REGISTRY_TABLE: &str = "projects";
