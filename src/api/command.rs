//! The calls a Worker makes to a project's store, and to the registry of
//! projects, as data.
//!
//! The Worker sends a [`Call`] (a [`Command`], and the project key the
//! caller presented, if any) as JSON to the project's Durable Object, which
//! runs it with [`run`] and answers with JSON; the registry's Durable Object
//! runs a [`RegistryCommand`] with [`execute_registry`]. Keeping the
//! protocol here keeps the Durable Objects thin shells around the store.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::campaign::CampaignReservationRequest;
use crate::dispenser::Exchange;
use crate::error::{Error, Result};
use crate::event::{EventFilter, TrackedEvent};
use crate::layer::LayerSettings;
use crate::pool::listing::CodeQuery;
use crate::pool::PoolSettings;
use crate::project::key::{KeyRequest, Scope, StoredKey};
use crate::project::settings::{Settings, SettingsView};
use crate::render::ReservationRequest;
use crate::render::{Limits, Template};
use crate::store::sql::Database;
use crate::store::{Registry, Store};

/// One call into a project's store: a command, and the key to check first.
///
/// Borrowed when the Worker sends it (a batch of an import is not copied),
/// owned when the store reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call<'a> {
    /// The project key the caller presented, checked before the command
    /// runs, in the same store call. `None` when the Worker trusts the
    /// caller already (the deployment's tokens, the public route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Cow<'a, KeyCheck>>,
    /// What to do.
    pub command: Cow<'a, Command>,
}

/// A project key to check, and the scope the route needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCheck {
    /// The bearer token as presented (`cpk_…`).
    pub key: String,
    /// What the route needs of it.
    pub needs: Scope,
}

/// One call into a project's store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Create or update a pool.
    PutPool {
        /// Pool name.
        pool: String,
        /// Its settings.
        settings: PoolSettings,
    },
    /// One pool with counts.
    GetPool {
        /// Pool name.
        pool: String,
    },
    /// All pools with counts.
    ListPools,
    /// Delete a pool that has handed out no code; answers it as it was
    /// ([`crate::store::Store::delete_pool`]).
    DeletePool {
        /// Pool name.
        pool: String,
    },
    /// Void a code of a pool; answers a [`crate::pool::VoidOutcome`].
    VoidCode {
        /// Pool name.
        pool: String,
        /// The code as typed (found by its key).
        code: String,
    },
    /// Roll back a code's redemption; answers the code as listed.
    RollbackCode {
        /// Pool name.
        pool: String,
        /// The code as typed (found by its key).
        code: String,
    },
    /// Start an import; answers `{"import_id": n}`.
    BeginImport {
        /// Pool name.
        pool: String,
    },
    /// Store a batch of valid codes of an import; answers batch counts.
    ImportBatch {
        /// Pool name.
        pool: String,
        /// From [`Command::BeginImport`].
        import_id: i64,
        /// Trimmed, valid codes, as [`crate::import::batches()`] cuts them.
        codes: Vec<String>,
        /// Each code's own expiry (Unix ms), in the same order; empty when
        /// none has one ([`crate::import::batch_parts`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        expires_at: Vec<Option<i64>>,
    },
    /// One page of a pool's codes; answers a [`crate::pool::listing::CodePage`].
    ListCodes {
        /// Pool name.
        pool: String,
        /// State filter, cursor and page size.
        query: CodeQuery,
    },
    /// Create or replace a layer.
    PutLayer {
        /// Layer name.
        layer: String,
        /// Its settings and template.
        settings: LayerSettings,
    },
    /// One layer.
    GetLayer {
        /// Layer name.
        layer: String,
    },
    /// All layers.
    ListLayers,
    /// Delete a layer; answers it as it was.
    DeleteLayer {
        /// Layer name.
        layer: String,
    },
    /// Reserve codes and read counts.
    Reserve(ReservationRequest),
    /// Reserve for several renders that share one store call (displays
    /// arriving together): each in its own transaction, with its own
    /// answer, in order ([`crate::store::Store::reserve_each`]).
    ReserveEach {
        /// The renders' reservations, in order.
        requests: Vec<ReservationRequest>,
    },
    /// A dispenser's exchange: reports, leases given back, new leases
    /// ([`crate::store::Store::exchange`]).
    Exchange(Exchange),
    /// The dispensers that have served a layer, to recall when it changes.
    Dispensers {
        /// Layer name.
        layer: String,
    },
    /// The dispensers holding leases of some pools
    /// ([`crate::store::Store::holders_of`]).
    Holders {
        /// Pool names.
        pools: Vec<String>,
    },
    /// Counts of some pools, reserving nothing (previews, campaign snapshots).
    Counts {
        /// Pool names.
        pools: Vec<String>,
    },
    /// Reserve codes for a whole campaign send.
    ReserveCampaign(CampaignReservationRequest),
    /// The project's settings.
    GetSettings,
    /// Replace the project's settings.
    PutSettings(Settings),
    /// Record tracked events (redeeming mapped codes).
    Track {
        /// The events, in order.
        events: Vec<TrackedEvent>,
    },
    /// A page of the event log.
    ListEvents(EventFilter),
    /// A pool's codes assigned and redeemed per day.
    PoolActivity {
        /// Pool name.
        pool: String,
        /// Days back from today, today included.
        days: u32,
    },
    /// Create the project's schema (`PUT /v1/projects/{project}`); the only
    /// command a store that was never created runs ([`Store::open`]).
    CreateProject,
    /// Nothing but the check of the call's key: for routes that must know
    /// the key is good before they do anything else.
    Authorize,
    /// Store a new project key.
    CreateKey {
        /// Its id and hash ([`crate::project::key::NewKey`]).
        key: StoredKey,
        /// Its name and scope.
        request: KeyRequest,
    },
    /// The project's keys, without secrets.
    ListKeys,
    /// Revoke a key.
    RevokeKey {
        /// The key's id.
        key: String,
    },
    /// Benchmarks only: update one row and answer, the least a call can do.
    #[cfg(feature = "bench")]
    Touch,
    /// Benchmarks only: what the store's exchanges with dispensers came to
    /// so far ([`Store::bench_exchanges`]).
    #[cfg(feature = "bench")]
    BenchExchanges,
}

/// What a [`Call`] came to: its answer, and whether its key was accepted
/// (so the Worker knows the caller was checked, whatever the command
/// answered).
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    /// The command's JSON answer, or the error that stopped the call.
    pub answer: Result<String>,
    /// Whether the call carried a key and the store accepted it.
    pub key_accepted: bool,
}

impl Ran {
    /// A call stopped before its key was looked at, or by its key.
    pub fn stopped(err: Error) -> Self {
        Ran {
            answer: Err(err),
            key_accepted: false,
        }
    }
}

/// Runs a call on a project's store (opened with [`Store::open`]): checks
/// its key, if any, then runs its command.
pub fn run<D: Database>(store: &Store<'_, D>, call: &Call<'_>, now: i64) -> Ran {
    if let Some(check) = &call.key {
        if let Err(err) = store.authorize(&check.key, check.needs) {
            return Ran::stopped(err);
        }
    }
    Ran {
        answer: execute(store, &call.command, now),
        key_accepted: call.key.is_some(),
    }
}

/// Runs a command on a store and answers its result as JSON text; `now` is
/// Unix milliseconds.
pub fn execute<D: Database>(store: &Store<'_, D>, command: &Command, now: i64) -> Result<String> {
    match command {
        Command::PutPool { pool, settings } => json(&store.put_pool(pool, settings, now)?),
        Command::GetPool { pool } => json(&store.pool(pool, now)?),
        Command::ListPools => json(&serde_json::json!({ "pools": store.pools(now)? })),
        Command::DeletePool { pool } => json(&store.delete_pool(pool, now)?),
        Command::VoidCode { pool, code } => json(&store.void_code(pool, code, now)?),
        Command::RollbackCode { pool, code } => json(&store.rollback_code(pool, code, now)?),
        Command::BeginImport { pool } => {
            json(&serde_json::json!({ "import_id": store.begin_import(pool, now)? }))
        }
        Command::ImportBatch {
            pool,
            import_id,
            codes,
            expires_at,
        } => json(&store.import_expiring(pool, *import_id, codes, expires_at)?),
        Command::ListCodes { pool, query } => json(&store.codes(pool, query, now)?),
        Command::PutLayer { layer, settings } => {
            // A layer that cannot compile is refused before it is stored.
            Template::compile(&settings.template, Limits::default())?;
            json(&store.put_layer(layer, settings, now)?)
        }
        Command::GetLayer { layer } => json(&store.layer(layer)?),
        Command::ListLayers => json(&serde_json::json!({ "layers": store.layers()? })),
        Command::DeleteLayer { layer } => json(&store.delete_layer(layer)?),
        Command::Reserve(request) => json(&store.reserve(request, now)?),
        Command::ReserveEach { requests } => json(&store.reserve_each(requests, now)),
        Command::Exchange(exchange) => json(&store.exchange(exchange, now)?),
        Command::Dispensers { layer } => json(&store.dispensers_of(layer)?),
        Command::Holders { pools } => json(&store.holders_of(pools)?),
        Command::Counts { pools } => json(&store.counts(pools, now)?),
        Command::ReserveCampaign(request) => json(&store.reserve_campaign(request, now)?),
        Command::GetSettings => json(&SettingsView::from(&store.settings()?)),
        Command::PutSettings(settings) => json(&SettingsView::from(&store.put_settings(settings)?)),
        Command::Track { events } => {
            json(&serde_json::json!({ "results": store.track(events, now)? }))
        }
        Command::ListEvents(filter) => json(&store.events(filter)?),
        Command::PoolActivity { pool, days } => json(&store.pool_activity(pool, *days, now)?),
        // Opening the store created the schema; the key was checked by `run`.
        Command::CreateProject | Command::Authorize => json(&()),
        Command::CreateKey { key, request } => json(&store.create_key(key, request, now)?),
        Command::ListKeys => json(&serde_json::json!({ "keys": store.keys()? })),
        Command::RevokeKey { key } => json(&store.revoke_key(key)?),
        #[cfg(feature = "bench")]
        Command::Touch => json(&store.touch()?),
        #[cfg(feature = "bench")]
        Command::BenchExchanges => json(&store.bench_exchanges()?),
    }
}

/// One call into the registry of projects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RegistryCommand {
    /// The project, or `null` if it was never created.
    Lookup {
        /// Project name.
        project: String,
    },
    /// Record a project as created; answers a [`crate::project::Registered`].
    Create {
        /// Project name.
        project: String,
    },
}

/// Runs a command on the registry and answers its result as JSON text.
pub fn execute_registry<D: Database>(
    registry: &Registry<'_, D>,
    command: &RegistryCommand,
    now: i64,
) -> Result<String> {
    match command {
        RegistryCommand::Lookup { project } => json(&registry.lookup(project)?),
        RegistryCommand::Create { project } => json(&registry.create(project, now)?),
    }
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(e.to_string()))
}
