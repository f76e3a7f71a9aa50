//! Taking codes and pools out of circulation, and undoing a redemption:
//! what the store answers the Worker ([`VoidOutcome`]) and the errors an
//! admin meets (a redeemed code, a pool in use, a dispenser that keeps
//! what it holds).
//!
//! - **Void** (`POST /pools/{pool}/codes/{code}/void`): an available,
//!   expired or assigned code becomes `void`: never handed out, never
//!   redeemed. A leased one only once its dispenser has given it back or
//!   reported it handed out, since until then it may still hand it out.
//! - **Rollback** (`POST /pools/{pool}/codes/{code}/rollback`, or a tracked
//!   event of the project's `redemption.rollback_event_type`): a redeemed
//!   code is assigned to its holder again.
//! - **Delete** (`DELETE /pools/{pool}`): only a pool that never handed a
//!   code out that is still around; one that did is archived instead.

use serde::{Deserialize, Serialize};

use super::{CodeEntry, CodeState};
use crate::dispenser::Holder;
use crate::error::{Error, ErrorKind};

/// What voiding a code came to: the answer of `Command::VoidCode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum VoidOutcome {
    /// The code is void: voided now, or before (then nothing changed).
    Void {
        /// The code as the listing shows it.
        code: CodeEntry,
        /// Dispensers that may remember the code for the customer it was
        /// handed to (a `per_customer` layer's dispensers show a customer
        /// their code again): the Worker has them forget it, so that the
        /// customer gets a fresh code there too.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        forget_at: Vec<Holder>,
    },
    /// A dispenser holds the code under a lease and may still hand it
    /// out, so it is not void yet. The store keeps the request: the code
    /// becomes void when its lease comes back unused. The Worker recalls
    /// the pool's holders and asks again; by then the code is void, or
    /// was handed out (assigned) and is voided as such.
    Leased,
}

/// 404: the pool has no code with this key.
pub fn unknown_code(pool: &str, code: &str) -> Error {
    Error::new(
        ErrorKind::UnknownCode,
        format!("pool {pool:?} has no code {code:?}"),
    )
}

/// 409: a redeemed code is not voided.
pub fn code_redeemed(pool: &str, code: &str) -> Error {
    Error::new(
        ErrorKind::CodeRedeemed,
        format!(
            "code {code:?} was redeemed and cannot be voided: roll the redemption back first \
             (POST /pools/{pool}/codes/{{code}}/rollback), then void it"
        ),
    )
}

/// 409: only a redeemed code has a redemption to roll back.
pub fn code_not_redeemed(code: &str, state: CodeState) -> Error {
    Error::new(
        ErrorKind::CodeNotRedeemed,
        format!(
            "code {code:?} is {}, not redeemed: there is no redemption to roll back",
            state.name()
        ),
    )
}

/// 409: a pool that handed out codes is kept for their redemptions.
pub fn pool_in_use(pool: &str, assigned: i64, redeemed: i64) -> Error {
    Error::new(
        ErrorKind::PoolInUse,
        format!(
            "pool {pool:?} has handed out codes ({assigned} assigned, {redeemed} redeemed) and \
             cannot be deleted: archive it instead (PUT /pools/{pool} with \
             {{\"archived\": true}}), so it hands out nothing and its codes can still be redeemed"
        ),
    )
}

/// 409: a dispenser kept the code when recalled.
pub fn code_held(code: &str) -> Error {
    Error::new(
        ErrorKind::HeldByDispenser,
        format!(
            "a dispenser holds code {code:?} and did not give it back when recalled: the code \
             becomes void if it comes back unused; void it again in a minute to be sure"
        ),
    )
}

/// 409: dispensers kept codes of the pool when recalled.
pub fn pool_held(pool: &str) -> Error {
    Error::new(
        ErrorKind::HeldByDispenser,
        format!(
            "dispensers hold codes of pool {pool:?} and did not give them back when recalled: \
             try again in a minute"
        ),
    )
}
