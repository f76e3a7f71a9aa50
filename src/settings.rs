//! Project settings: which tracked event redeems a code.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The body of `PUT /settings` and the answer of `GET /settings`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Which tracked event marks a code redeemed; `None`: no event does.
    #[serde(default)]
    pub redemption: Option<RedemptionMapping>,
}

/// A tracked event type and the property that holds the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedemptionMapping {
    /// Event type, e.g. `purchase`.
    pub event_type: String,
    /// Property holding the code, e.g. `voucher_code`.
    pub property: String,
}

impl Settings {
    /// Checks the settings make sense before they are stored.
    pub fn check(&self) -> Result<()> {
        if let Some(mapping) = &self.redemption {
            for (what, value) in [
                ("event_type", &mapping.event_type),
                ("property", &mapping.property),
            ] {
                if value.trim().is_empty() || value.chars().count() > 128 {
                    return Err(Error::bad_request(
                        "invalid_settings",
                        format!("redemption.{what} must be 1-128 characters, e.g. \"purchase\" / \"voucher_code\""),
                    ));
                }
            }
        }
        Ok(())
    }
}
