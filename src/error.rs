//! The one error type of the core: an HTTP status, a stable code and a message.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An error that an API caller can act on.
///
/// `code` is stable and snake_case (clients match on it); `message` says what
/// went wrong and, where it can, what to do. `status` is the HTTP status the
/// Worker answers with. The Durable Object sends errors to the Worker in this
/// same shape, so nothing is lost crossing that boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// HTTP status code (4xx for the caller's mistakes, 5xx for ours).
    pub status: u16,
    /// Stable machine-readable code, e.g. `unknown_pool`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// Result with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with any status and code.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 400: the request is malformed or invalid.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// 404: the named thing does not exist.
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// 422: a template could not be compiled or rendered.
    pub fn template(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(422, code, message)
    }

    /// 500: a failure of storage or of the platform, not the caller's fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal", message)
    }

    /// The JSON body the HTTP API answers with: `{"error": {"code", "message"}}`.
    pub fn to_body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::bad_request("invalid_json", format!("the JSON body is invalid: {err}"))
    }
}
