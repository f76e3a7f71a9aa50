//! The SQLite schema of one project's store, and of the deployment's
//! registry of projects.
//!
//! One Durable Object holds one project, so nothing here carries a project
//! id: per-project uniqueness of codes is a plain unique index on their key.

/// One step of the schema; every step is idempotent, so the whole list runs
/// each time a store opens, on a new database or on one of any older
/// version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    /// A statement idempotent by itself (`CREATE … IF NOT EXISTS`).
    Sql(&'static str),
    /// A column that a database created before it lacks. SQLite has no
    /// `ADD COLUMN IF NOT EXISTS`: the store adds it if the table has no
    /// column of that name.
    AddColumn {
        /// The table.
        table: &'static str,
        /// The column's name.
        column: &'static str,
        /// Its type and constraints, as in `ALTER TABLE … ADD COLUMN`.
        definition: &'static str,
    },
}

/// The schema, step by step, in order. After them the store fills what an
/// added column needs from older rows (`Store::migrate`: the code keys).
pub const MIGRATIONS: &[Migration] = &[
    // Counters are kept in the pool row, updated in the same transaction as
    // the codes, so a render reads counts without scanning codes.
    Migration::Sql(
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
    ),
    // state: 0 available, 1 assigned, 2 redeemed, 3 leased (held by a
    // dispenser: `lease_id` says under which lease), 4 expired, 5 void
    // (see the pool lifecycle below). `id` follows the order
    // codes were stored in, so codes go out first in, first out: import by
    // import, and within one in sorted windows (see import_batches). `code`
    // is the code as imported and handed out; `code_key` its canonical key
    // (pool::code_key), which makes `code-1` and `CODE-1` one code. Codes
    // are found by their key (one index to fill per code imported); a
    // database from before keys also has `code TEXT NOT NULL UNIQUE`.
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS codes (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        code_key TEXT,
        pool_id INTEGER NOT NULL REFERENCES pools(id),
        state INTEGER NOT NULL DEFAULT 0,
        import_id INTEGER NOT NULL,
        assigned_at INTEGER,
        customer_id TEXT,
        source TEXT,
        redeemed_at INTEGER,
        redeemed_by TEXT
    )",
    ),
    // Databases from before code keys: the column, then the index. Older
    // rows get their keys from Store::migrate; a row whose key an older row
    // holds keeps NULL (the index allows any number of NULLs) and is found
    // by `code_key IS NULL AND code = ?` (its database has an index on code).
    Migration::AddColumn {
        table: "codes",
        column: "code_key",
        definition: "TEXT",
    },
    // A code is unique in its project by its key.
    Migration::Sql("CREATE UNIQUE INDEX IF NOT EXISTS codes_by_key ON codes(code_key)"),
    // (pool_id, state, id): the next available code of a pool is one seek.
    Migration::Sql("CREATE INDEX IF NOT EXISTS codes_by_pool_state ON codes(pool_id, state)"),
    // per_customer mode finds a customer's code again.
    Migration::Sql(
        "CREATE INDEX IF NOT EXISTS codes_by_customer ON codes(customer_id, source)
        WHERE customer_id IS NOT NULL",
    ),
    // Dispensers (src/dispenser): codes held under a lease, counted apart.
    Migration::AddColumn {
        table: "pools",
        column: "leased",
        definition: "INTEGER NOT NULL DEFAULT 0",
    },
    Migration::AddColumn {
        table: "codes",
        column: "lease_id",
        definition: "INTEGER",
    },
    Migration::Sql(
        "CREATE INDEX IF NOT EXISTS codes_by_lease ON codes(lease_id) WHERE lease_id IS NOT NULL",
    ),
    // Open leases: a block of a pool's codes held by one dispenser until
    // it reports them handed out or gives them back. `version` is the
    // layer's version the lease was granted for. AUTOINCREMENT: an id is
    // never given again, even after its lease (the newest) is closed, as a
    // plain INTEGER PRIMARY KEY would. Exchanges are idempotent by lease
    // id, so an older exchange still on its way that gives back lease 7
    // must not close a new lease 7 (its codes, handed out and not yet
    // reported, would go out a second time).
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS leases (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dispenser TEXT NOT NULL,
        layer TEXT NOT NULL,
        version INTEGER NOT NULL,
        pool_id INTEGER NOT NULL REFERENCES pools(id),
        granted INTEGER NOT NULL,
        deadline INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    )",
    ),
    // The granting exchange's number (`Exchange::seq`): what an `alone`
    // exchange may take back.
    Migration::AddColumn {
        table: "leases",
        column: "seq",
        definition: "INTEGER NOT NULL DEFAULT 0",
    },
    Migration::Sql("CREATE INDEX IF NOT EXISTS leases_by_dispenser ON leases(dispenser)"),
    Migration::Sql("CREATE INDEX IF NOT EXISTS leases_by_pool ON leases(pool_id)"),
    // Every dispenser that has exchanged with the store, by layer: who to
    // tell when the layer changes.
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS dispensers (
        name TEXT PRIMARY KEY,
        layer TEXT NOT NULL,
        last_seen INTEGER NOT NULL
    )",
    ),
    Migration::Sql("CREATE INDEX IF NOT EXISTS dispensers_by_layer ON dispensers(layer)"),
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS imports (
        id INTEGER PRIMARY KEY,
        pool_id INTEGER NOT NULL REFERENCES pools(id),
        started_at INTEGER NOT NULL
    )",
    ),
    // The event log: tracked events (with what redemption made of them) and
    // campaign events (`enqueued`, `enqueue_failed`). Newest first by id.
    Migration::Sql(
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
    ),
    Migration::Sql("CREATE INDEX IF NOT EXISTS events_by_type ON events(type, status)"),
    Migration::Sql("CREATE INDEX IF NOT EXISTS events_by_customer ON events(customer_id)"),
    Migration::Sql(
        "CREATE INDEX IF NOT EXISTS events_by_campaign ON events(campaign)
        WHERE campaign IS NOT NULL",
    ),
    // Project settings as JSON values by key.
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )",
    ),
    // signed_customer: 0 any customer id, 1 signed (with or without exp),
    // 2 signed with exp (store/layers.rs).
    Migration::Sql(
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
    ),
    // dispensers: how many dispensers serve the layer (0: the store does).
    // customers_at_store: a per_customer layer whose customers may hold
    // codes the store knows and its dispensers do not (assigned before the
    // layer had its dispensers, or under another number of them).
    Migration::AddColumn {
        table: "layers",
        column: "dispensers",
        definition: "INTEGER NOT NULL DEFAULT 0",
    },
    Migration::AddColumn {
        table: "layers",
        column: "customers_at_store",
        definition: "INTEGER NOT NULL DEFAULT 0",
    },
    // The last version of each deleted layer: one created again under its
    // name goes on from there, so no cached compile of the old one passes
    // the store's version check.
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS retired_layers (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    )",
    ),
    // Pool lifecycle (src/pool/validity.rs). Two more counted states:
    // `expired` (4: a code past its expiry, or too close to it to hand out,
    // under the pool's stop_assigning_before_expiry) and `void` (5: an
    // admin took it out of circulation). `valid_from`, `expires_at` (Unix
    // ms) and `stop_before` (ms) are the pool's own window: a gate, not a
    // state, so moving them moves nothing. `next_expiry` is a lower bound
    // of the expiry of the pool's available and leased codes (NULL: none
    // has one): while it is beyond `now + stop_before`, no code needs to
    // expire and a reservation pays nothing for expiry. `archived`: the
    // pool hands out nothing and stays for its redemptions.
    Migration::AddColumn {
        table: "pools",
        column: "expired",
        definition: "INTEGER NOT NULL DEFAULT 0",
    },
    Migration::AddColumn {
        table: "pools",
        column: "void",
        definition: "INTEGER NOT NULL DEFAULT 0",
    },
    Migration::AddColumn {
        table: "pools",
        column: "valid_from",
        definition: "INTEGER",
    },
    Migration::AddColumn {
        table: "pools",
        column: "expires_at",
        definition: "INTEGER",
    },
    Migration::AddColumn {
        table: "pools",
        column: "stop_before",
        definition: "INTEGER NOT NULL DEFAULT 0",
    },
    Migration::AddColumn {
        table: "pools",
        column: "next_expiry",
        definition: "INTEGER",
    },
    Migration::AddColumn {
        table: "pools",
        column: "archived",
        definition: "INTEGER NOT NULL DEFAULT 0",
    },
    // A code's own expiry (Unix ms), from the import file's `expires_at`.
    Migration::AddColumn {
        table: "codes",
        column: "expires_at",
        definition: "INTEGER",
    },
    // Codes that expire, by pool, state and expiry: the sweep of what
    // expired is one range, and the pool's next expiry one seek. Partial:
    // an import without expiry fills nothing more.
    Migration::Sql(
        "CREATE INDEX IF NOT EXISTS codes_by_expiry ON codes(pool_id, state, expires_at)
        WHERE expires_at IS NOT NULL",
    ),
    // Voids asked for while a dispenser held the code (store/void.rs): the
    // code becomes void, not available, when its lease comes back unused,
    // so it cannot be leased again between the dispensers' recall and the
    // void. A row whose code was handed out instead stays until a void
    // of it, or its pool's deletion, removes it: it changes nothing, since
    // a code handed out is never leased again.
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS void_requests (
        code_id INTEGER PRIMARY KEY,
        requested_at INTEGER NOT NULL
    )",
    ),
    // Project keys (src/project/key.rs): only the SHA-256 of each key is kept.
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scope TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
    )",
    ),
    // Alerts (src/alert): a pool's alert settings (the canonical JSON of
    // alert::AlertSettings, NULL: none), and the alert conditions that held
    // at its last evaluation (bits of AlertKind::bit). Both in the pool row,
    // which every reservation reads: a pool without alerts costs nothing
    // more, and one with alerts writes only when a condition changes.
    Migration::AddColumn {
        table: "pools",
        column: "alerts",
        definition: "TEXT",
    },
    Migration::AddColumn {
        table: "pools",
        column: "alert_held",
        definition: "INTEGER NOT NULL DEFAULT 0",
    },
    // Per pool and alert kind: when it last fired (alert_id: its entry in
    // the event log), when it was last re-armed, how its last delivery
    // went, and for near_expiry when time alone may change it (check_at:
    // the project's alarm evaluates it then).
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS alert_states (
        pool_id INTEGER NOT NULL REFERENCES pools(id),
        kind TEXT NOT NULL,
        fired INTEGER NOT NULL DEFAULT 0,
        fired_at INTEGER,
        rearmed_at INTEGER,
        alert_id INTEGER,
        delivery TEXT,
        delivery_at INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        check_at INTEGER,
        PRIMARY KEY (pool_id, kind)
    )",
    ),
    Migration::Sql(
        "CREATE INDEX IF NOT EXISTS alert_states_by_check ON alert_states(check_at)
        WHERE check_at IS NOT NULL",
    ),
    // Webhook deliveries still to make: written in the transaction that
    // fired the alert, deleted once delivered or given up. next_at: when
    // the next attempt is due (a claimed one: when its claim lapses).
    Migration::Sql(
        "CREATE TABLE IF NOT EXISTS alert_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL,
        pool_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    )",
    ),
    Migration::Sql("CREATE INDEX IF NOT EXISTS alert_outbox_by_next ON alert_outbox(next_at)"),
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
