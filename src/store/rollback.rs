//! Rolling a redemption back: a redeemed code is assigned to its holder
//! again, by an admin (`POST /pools/{pool}/codes/{code}/rollback`) or by a
//! tracked event of the project's `redemption.rollback_event_type` (a
//! refund).

use crate::error::Result;
use crate::event::Redemption;
use crate::pool::void::code_not_redeemed;
use crate::pool::{CodeEntry, CodeState};
use crate::store::sql::Database;

use super::void::FoundCode;
use super::Store;

impl<D: Database> Store<'_, D> {
    /// Rolls back the redemption of a pool's code, found by its key: it is
    /// assigned again, to the customer it was handed to, as if the purchase
    /// had not happened (`redeemed_at` cleared); the pool counts one code
    /// fewer redeemed and one more assigned. Logged as type `rollback`,
    /// status `rolled_back`. Answers the code as the listing shows it.
    ///
    /// # Errors
    ///
    /// `unknown_pool`, `unknown_code`, and `code_not_redeemed`.
    pub fn rollback_code(&self, pool: &str, code: &str, now: i64) -> Result<CodeEntry> {
        self.db.transaction(|| {
            let pool_id = self.pool_id(pool)?;
            let found = self.code_in(pool, pool_id, code)?;
            if found.state != CodeState::Redeemed {
                return Err(code_not_redeemed(&found.entry.code, found.state));
            }
            let properties = serde_json::json!({
                "pool": pool,
                "redeemed_at": found.entry.redeemed_at,
            })
            .to_string();
            let entry = self.unredeem(found)?;
            self.db.execute(
                "INSERT INTO events (type, status, customer_id, code, timestamp, properties)
                 VALUES ('rollback', ?1, ?2, ?3, ?4, ?5)",
                &[
                    Redemption::RolledBack.status().into(),
                    entry.customer_id.as_deref().into(),
                    entry.code.as_str().into(),
                    now.into(),
                    properties.into(),
                ],
            )?;
            Ok(entry)
        })
    }

    /// A rollback event's code, anywhere in the project: rolled back if it
    /// was redeemed. The caller logs the event with the answer's status.
    pub(super) fn roll_back_event(&self, code: &str) -> Result<Redemption> {
        match self.find_code(code, None)? {
            None => Ok(Redemption::UnknownCode),
            Some(found) if found.state != CodeState::Redeemed => Ok(Redemption::NotRedeemed),
            Some(found) => self.unredeem(found).map(|_| Redemption::RolledBack),
        }
    }

    /// Makes a redeemed code assigned again; answers it as listed.
    fn unredeem(&self, found: FoundCode) -> Result<CodeEntry> {
        self.db.execute(
            "UPDATE codes SET state = ?1, redeemed_at = NULL, redeemed_by = NULL WHERE id = ?2",
            &[(CodeState::Assigned as i64).into(), found.id.into()],
        )?;
        self.db.execute(
            "UPDATE pools SET redeemed = redeemed - 1, assigned = assigned + 1 WHERE id = ?1",
            &[found.pool_id.into()],
        )?;
        Ok(CodeEntry {
            state: CodeState::Assigned,
            redeemed_at: None,
            ..found.entry
        })
    }
}
