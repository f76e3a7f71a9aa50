//! The calls a Worker makes to a project's store, as data.
//!
//! The Worker sends a [`Command`] as JSON to the project's Durable Object,
//! which runs it with [`execute`] and answers with JSON. Keeping the protocol
//! here keeps the Durable Object a thin shell around the store.

use serde::{Deserialize, Serialize};

use crate::campaign::CampaignReservationRequest;
use crate::error::{Error, Result};
use crate::event::{EventFilter, TrackedEvent};
use crate::layer::LayerSettings;
use crate::pool::listing::CodeQuery;
use crate::pool::PoolSettings;
use crate::render::ReservationRequest;
use crate::render::{Limits, Template};
use crate::settings::{Settings, SettingsView};
use crate::store::sql::Database;
use crate::store::Store;

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
    /// Benchmarks only: update one row and answer, the least a call can do.
    #[cfg(feature = "bench")]
    Touch,
}

/// Runs a command on a store and answers its result as JSON text; `now` is
/// Unix milliseconds.
pub fn execute<D: Database>(store: &Store<'_, D>, command: &Command, now: i64) -> Result<String> {
    match command {
        Command::PutPool { pool, settings } => json(&store.put_pool(pool, settings, now)?),
        Command::GetPool { pool } => json(&store.pool(pool)?),
        Command::ListPools => json(&serde_json::json!({ "pools": store.pools()? })),
        Command::BeginImport { pool } => {
            json(&serde_json::json!({ "import_id": store.begin_import(pool, now)? }))
        }
        Command::ImportBatch {
            pool,
            import_id,
            codes,
        } => json(&store.import_batch(pool, *import_id, codes)?),
        Command::ListCodes { pool, query } => json(&store.codes(pool, query)?),
        Command::PutLayer { layer, settings } => {
            // A layer that cannot compile is refused before it is stored.
            Template::compile(&settings.template, Limits::default())?;
            json(&store.put_layer(layer, settings, now)?)
        }
        Command::GetLayer { layer } => json(&store.layer(layer)?),
        Command::ListLayers => json(&serde_json::json!({ "layers": store.layers()? })),
        Command::DeleteLayer { layer } => json(&store.delete_layer(layer)?),
        Command::Reserve(request) => json(&store.reserve(request, now)?),
        Command::Counts { pools } => json(&store.counts(pools)?),
        Command::ReserveCampaign(request) => json(&store.reserve_campaign(request, now)?),
        Command::GetSettings => json(&SettingsView::from(&store.settings()?)),
        Command::PutSettings(settings) => json(&SettingsView::from(&store.put_settings(settings)?)),
        Command::Track { events } => {
            json(&serde_json::json!({ "results": store.track(events, now)? }))
        }
        Command::ListEvents(filter) => json(&store.events(filter)?),
        Command::PoolActivity { pool, days } => json(&store.pool_activity(pool, *days, now)?),
        #[cfg(feature = "bench")]
        Command::Touch => json(&store.touch()?),
    }
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(e.to_string()))
}
