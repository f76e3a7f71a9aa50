//! Project settings: which tracked event redeems a code, the key customer
//! ids are signed with, and the webhook that alerts go to.

use serde::{Deserialize, Serialize};

use crate::alert::settings::{check_webhook_secret, check_webhook_url};
use crate::error::{Error, ErrorKind, Result};
use crate::layer::signature::MIN_KEY_CHARS;

/// The body of `PUT /settings`, and the settings as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Which tracked event marks a code redeemed; `None`: no event does.
    #[serde(default)]
    pub redemption: Option<RedemptionMapping>,
    /// The key the site's back end signs customer ids with (see
    /// [`crate::layer::signature`]). In `PUT /settings`: absent keeps the stored
    /// key, `""` removes it. Never shown again once stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_signing_key: Option<String>,
    /// Where pools' alerts are POSTed ([`crate::alert`]): an http or https
    /// URL; `None`: alerts are only logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// The secret webhook deliveries are signed with
    /// ([`crate::alert::signature`]). As `customer_signing_key`: absent in
    /// `PUT /settings` keeps the stored one, `""` removes it, never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// The answer of `GET` and `PUT /settings`: the settings without the
/// secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsView {
    /// Which tracked event marks a code redeemed.
    pub redemption: Option<RedemptionMapping>,
    /// Whether a customer signing key is stored.
    pub customer_signing_key_set: bool,
    /// Where alerts are POSTed, if anywhere.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Whether a webhook secret is stored.
    #[serde(default)]
    pub webhook_secret_set: bool,
}

impl From<&Settings> for SettingsView {
    fn from(settings: &Settings) -> Self {
        SettingsView {
            redemption: settings.redemption.clone(),
            customer_signing_key_set: settings.customer_signing_key.is_some(),
            webhook_url: settings.webhook_url.clone(),
            webhook_secret_set: settings.webhook_secret.is_some(),
        }
    }
}

/// A tracked event type and the property that holds the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedemptionMapping {
    /// Event type, e.g. `purchase`.
    pub event_type: String,
    /// Property holding the code, e.g. `voucher_code`.
    pub property: String,
    /// Whether only the customer a code was handed to can redeem it.
    ///
    /// An event from another customer is logged as `holder_mismatch` either
    /// way. Off (the default), it redeems the code all the same: a shop that
    /// tracks purchases under another id than the one its layers show codes
    /// to (an e-mail-based id against a web visitor id) keeps redeeming,
    /// and the log shows every such event. On, the code stays assigned to
    /// its holder: for shops whose events carry the same ids as their
    /// layers, so a shared or leaked code does not count as its holder's
    /// redemption. A code handed out without a customer id has no holder.
    #[serde(default)]
    pub require_holder: bool,
    /// A tracked event type that rolls a redemption back, e.g. `refund`:
    /// its code, in the same `property`, goes from redeemed back to
    /// assigned to its holder. `None`: only the API rolls back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_event_type: Option<String>,
}

impl Settings {
    /// Checks the settings make sense before they are stored.
    pub fn check(&self) -> Result<()> {
        if let Some(key) = &self.customer_signing_key {
            if !key.is_empty() && key.chars().count() < MIN_KEY_CHARS {
                return Err(Error::new(ErrorKind::InvalidSettings,
                    format!("customer_signing_key must be at least {MIN_KEY_CHARS} characters (or \"\" to remove it)"),
                ));
            }
        }
        if let Some(url) = &self.webhook_url {
            check_webhook_url(url)?;
        }
        if let Some(secret) = &self.webhook_secret {
            check_webhook_secret(secret)?;
        }
        if let Some(mapping) = &self.redemption {
            for (what, value) in [
                ("event_type", &mapping.event_type),
                ("property", &mapping.property),
            ] {
                if value.trim().is_empty() || value.chars().count() > 128 {
                    return Err(Error::new(ErrorKind::InvalidSettings,
                        format!("redemption.{what} must be 1-128 characters, e.g. \"purchase\" / \"voucher_code\""),
                    ));
                }
            }
            if let Some(rollback) = &mapping.rollback_event_type {
                if rollback.trim().is_empty() || rollback.chars().count() > 128 {
                    return Err(Error::new(
                        ErrorKind::InvalidSettings,
                        "redemption.rollback_event_type must be 1-128 characters, e.g. \"refund\" \
                         (or leave it out)",
                    ));
                }
                // One event cannot both redeem and roll back its code.
                if *rollback == mapping.event_type {
                    return Err(Error::new(
                        ErrorKind::InvalidSettings,
                        "redemption.rollback_event_type must differ from redemption.event_type",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A write-only secret as `PUT /settings` sets it: absent keeps `stored`,
/// `""` removes it, anything else replaces it.
pub fn merge_secret(sent: Option<String>, stored: Option<String>) -> Option<String> {
    match sent {
        None => stored,
        Some(secret) if secret.is_empty() => None,
        Some(secret) => Some(secret),
    }
}
