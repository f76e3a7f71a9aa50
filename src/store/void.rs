//! Voiding codes: taken out of circulation, counted apart, logged.
//!
//! And how a code of a pool is found by what an admin types
//! ([`Store::find_code`]), which rolling back (`rollback.rs`) shares.

use crate::dispenser::Holder;
use crate::error::Result;
use crate::pool::void::{code_redeemed, unknown_code, VoidOutcome};
use crate::pool::{code_key, normalize_code, CodeEntry, CodeState, PoolStatus};
use crate::store::sql::Database;

use super::codes::entry_from_row;
use super::Store;

const VOID: i64 = CodeState::Void as i64;

/// A code found by its key, as stored.
pub(super) struct FoundCode {
    pub(super) id: i64,
    pub(super) pool_id: i64,
    /// Its state as stored (a pool past its expiry shows `available` codes
    /// as expired; this says `available`).
    pub(super) state: CodeState,
    /// As the listing shows it.
    pub(super) entry: CodeEntry,
}

impl<D: Database> Store<'_, D> {
    /// Voids a code of a pool, found by its key as redemption finds codes
    /// (`code-1` finds `CODE-1`): it is never handed out or redeemed again,
    /// and counted as `void`. `now` is Unix milliseconds.
    ///
    /// An available, expired or assigned code is voided at once (an
    /// assigned one's holder then has their redemption refused, and a
    /// `per_customer` layer gives them a fresh code). A void one changes
    /// nothing. A leased one is not voided while its dispenser may still
    /// hand it out: the answer is [`VoidOutcome::Leased`], and the code
    /// becomes void when its lease comes back unused (`close_lease`).
    ///
    /// # Errors
    ///
    /// `unknown_pool`, `unknown_code`, and `code_redeemed`: a redeemed code
    /// is rolled back first.
    pub fn void_code(&self, pool: &str, code: &str, now: i64) -> Result<VoidOutcome> {
        self.db.transaction(|| {
            // Read as a render would: a code whose expiry passed is
            // expired first, and voided as such.
            let row = self.pool_row(pool, now)?;
            let found = self.code_in(pool, row.id, code)?;
            let was = match found.state {
                CodeState::Void => {
                    return Ok(VoidOutcome::Void {
                        code: found.entry,
                        forget_at: Vec::new(),
                    })
                }
                CodeState::Redeemed => return Err(code_redeemed(pool, &found.entry.code)),
                CodeState::Leased => {
                    self.db.execute(
                        "INSERT OR IGNORE INTO void_requests (code_id, requested_at)
                         VALUES (?1, ?2)",
                        &[found.id.into(), now.into()],
                    )?;
                    return Ok(VoidOutcome::Leased);
                }
                CodeState::Available if row.status == PoolStatus::Expired => "expired",
                state => state.name(),
            };
            // The pool's counter columns are named as the states.
            let column = found.state.name();
            self.db.execute(
                "UPDATE codes SET state = ?1 WHERE id = ?2",
                &[VOID.into(), found.id.into()],
            )?;
            self.db.execute(
                &format!("UPDATE pools SET {column} = {column} - 1, void = void + 1 WHERE id = ?1"),
                &[found.pool_id.into()],
            )?;
            self.db.execute(
                "DELETE FROM void_requests WHERE code_id = ?1",
                &[found.id.into()],
            )?;
            // One fewer code left to hand out: a low-stock or out-of-codes
            // alert may fire.
            if found.state == CodeState::Available {
                self.check_alerts(found.pool_id, now)?;
            }
            let mut entry = found.entry;
            self.log_void(pool, &entry.code, entry.customer_id.as_deref(), was, now)?;
            let forget_at = match (found.state, entry.source.as_deref()) {
                (CodeState::Assigned, Some(source)) => self.dispensers_remembering(source)?,
                _ => Vec::new(),
            };
            entry.state = CodeState::Void;
            Ok(VoidOutcome::Void {
                code: entry,
                forget_at,
            })
        })
    }

    /// Writes a void to the event log: type `void`, the code, its holder
    /// if it had one, and `{"pool", "was"}` (the state it left).
    pub(super) fn log_void(
        &self,
        pool: &str,
        code: &str,
        customer: Option<&str>,
        was: &str,
        now: i64,
    ) -> Result<()> {
        let properties = serde_json::json!({ "pool": pool, "was": was }).to_string();
        self.db.execute(
            "INSERT INTO events (type, status, customer_id, code, timestamp, properties)
             VALUES ('void', NULL, ?1, ?2, ?3, ?4)",
            &[customer.into(), code.into(), now.into(), properties.into()],
        )
    }

    /// The dispensers of the layer that handed a code out (`source` is
    /// `layer:NAME`): a `per_customer` layer's dispensers keep the codes
    /// they handed out, to show each customer theirs again.
    fn dispensers_remembering(&self, source: &str) -> Result<Vec<Holder>> {
        let Some(layer) = source.strip_prefix("layer:") else {
            return Ok(Vec::new());
        };
        let rows = self.db.query(
            "SELECT name FROM dispensers WHERE layer = ?1 ORDER BY name",
            &[layer.into()],
        )?;
        Ok(super::first_column(rows)
            .into_iter()
            .map(|dispenser| Holder {
                dispenser,
                layer: layer.to_owned(),
            })
            .collect())
    }

    /// A code of a pool, as an admin typed it in a path; `unknown_code`
    /// if the pool has none with its key (or it is no code at all).
    pub(super) fn code_in(&self, pool: &str, pool_id: i64, code: &str) -> Result<FoundCode> {
        let trimmed = normalize_code(code).map_err(|_| unknown_code(pool, code))?;
        self.find_code(trimmed, Some(pool_id))?
            .ok_or_else(|| unknown_code(pool, trimmed))
    }

    /// Finds a code by its key, in one pool or (`None`) in the whole
    /// project. A code the migration left without key (its key is an
    /// older twin's) is found by its exact text first, as `redeem` does.
    pub(super) fn find_code(&self, code: &str, pool_id: Option<i64>) -> Result<Option<FoundCode>> {
        const FIND: &str = "SELECT id, code, state, assigned_at, customer_id, source,
            redeemed_at, expires_at, pool_id FROM codes WHERE";
        let mut rows = self.db.query(
            &format!("{FIND} code_key IS NULL AND code = ?1 AND (?2 IS NULL OR pool_id = ?2)"),
            &[code.into(), pool_id.into()],
        )?;
        if rows.is_empty() {
            rows = self.db.query(
                &format!("{FIND} code_key = ?1 AND (?2 IS NULL OR pool_id = ?2)"),
                &[code_key(code).into(), pool_id.into()],
            )?;
        }
        Ok(rows.into_iter().next().map(|row| {
            let id = row[0].as_i64();
            let pool_id = row[8].as_i64();
            let state = CodeState::from_stored(row[2].as_i64()).unwrap_or(CodeState::Available);
            FoundCode {
                id,
                pool_id,
                state,
                entry: entry_from_row(row),
            }
        }))
    }
}
