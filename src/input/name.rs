//! Names of projects, pools, layers and campaigns: they appear in URLs, so
//! one rule holds for all of them.

use crate::error::{Error, ErrorKind, Result};

/// What a name names, for its error kind and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameOf {
    /// A project (one store).
    Project,
    /// A pool of codes.
    Pool,
    /// A web layer.
    Layer,
    /// A campaign (one send).
    Campaign,
}

impl NameOf {
    /// What the path parameter `param` of a route names (`project`, `pool`,
    /// `layer`, `campaign`).
    pub fn of_param(param: &str) -> Option<NameOf> {
        match param {
            "project" => Some(NameOf::Project),
            "pool" => Some(NameOf::Pool),
            "layer" => Some(NameOf::Layer),
            "campaign" => Some(NameOf::Campaign),
            _ => None,
        }
    }

    /// The word in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            NameOf::Project => "project",
            NameOf::Pool => "pool",
            NameOf::Layer => "layer",
            NameOf::Campaign => "campaign",
        }
    }

    fn error_kind(self) -> ErrorKind {
        match self {
            NameOf::Project => ErrorKind::InvalidProjectName,
            NameOf::Pool => ErrorKind::InvalidPoolName,
            NameOf::Layer => ErrorKind::InvalidLayerName,
            NameOf::Campaign => ErrorKind::InvalidCampaignName,
        }
    }
}

/// Checks a name: 1–64 characters, letters, digits and `_ - . %`.
pub fn check_name(of: NameOf, name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '%'));
    if ok {
        Ok(())
    } else {
        let kind = of.as_str();
        Err(Error::new(
            of.error_kind(),
            format!(
                "{kind} name {name:?} is not valid: use 1-64 letters, digits, `_`, `-`, `.` or `%`"
            ),
        ))
    }
}
