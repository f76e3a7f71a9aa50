//! The one error type of the core: a typed [`ErrorKind`], a message, and
//! where it helps, a place in a template or the methods a path allows.
//!
//! Every error code of the HTTP API is one [`ErrorKind`]; the kind owns its
//! status and its public name, so no code is written as a string anywhere
//! else, and `tests/native/api.rs` keeps `openapi.json`'s list equal to
//! [`ErrorKind::ALL`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares [`ErrorKind`] with each kind's HTTP status and public code.
macro_rules! error_kinds {
    ($( $(#[doc = $doc:literal])* $kind:ident = $status:literal $code:literal, )*) => {
        /// What went wrong, as API callers match on it.
        ///
        /// New kinds may be added: match with a wildcard arm.
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $( $(#[doc = $doc])* $kind, )*
        }

        impl ErrorKind {
            /// Every kind, in the order declared.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind,)*];

            /// The stable snake_case code API answers carry, e.g. `unknown_pool`.
            pub const fn code(self) -> &'static str {
                match self { $(ErrorKind::$kind => $code,)* }
            }

            /// The HTTP status an API answer with this kind has.
            pub const fn status(self) -> u16 {
                match self { $(ErrorKind::$kind => $status,)* }
            }
        }
    };
}

error_kinds! {
    /// A request body is not valid JSON, or not the expected shape.
    InvalidJson = 400 "invalid_json",
    /// The project name in the path is not a valid name.
    InvalidProjectName = 400 "invalid_project_name",
    /// The pool name in the path is not a valid name (one in a template is a
    /// `template_error` naming it).
    InvalidPoolName = 400 "invalid_pool_name",
    /// The layer name in the path is not a valid name.
    InvalidLayerName = 400 "invalid_layer_name",
    /// The campaign name in the path is not a valid name.
    InvalidCampaignName = 400 "invalid_campaign_name",
    /// A query parameter this route does not know.
    UnknownParameter = 400 "unknown_parameter",
    /// A query parameter that is not valid UTF-8 once percent-decoded, or
    /// over its size limit, or too many parameters.
    InvalidParameter = 400 "invalid_parameter",
    /// A customer id that breaks the rule of `src/input/customer.rs`: empty, too
    /// long, not UTF-8, spaces at its ends, or an invisible, control or
    /// bidirectional character.
    InvalidCustomerId = 400 "invalid_customer_id",
    /// `state` is not a code state.
    InvalidState = 400 "invalid_state",
    /// `limit` is out of range.
    InvalidLimit = 400 "invalid_limit",
    /// `cursor` is not one this API handed out.
    InvalidCursor = 400 "invalid_cursor",
    /// `days` is out of range.
    InvalidDays = 400 "invalid_days",
    /// A generation's `count` is out of range (`import::generate::MAX_GENERATE`).
    InvalidCount = 400 "invalid_count",
    /// A project key's name is empty, too long or holds control characters.
    InvalidKey = 400 "invalid_key",
    /// A campaign's customer list is empty or too long.
    InvalidCustomers = 400 "invalid_customers",
    /// A tracked event is malformed.
    InvalidEvent = 400 "invalid_event",
    /// Project settings that make no sense.
    InvalidSettings = 400 "invalid_settings",
    /// A pool's settings that cannot hold: a time that is not RFC 3339, a
    /// window that closes before it opens, a duration that is not `7d`.
    InvalidPoolSettings = 400 "invalid_pool_settings",
    /// Layer settings that contradict each other (`require_expiry` without
    /// `signed_customer`).
    InvalidLayer = 400 "invalid_layer",
    /// Free JSON in a body (layer variables, a render's context, customer
    /// attributes, event properties) nests deeper than the limit.
    JsonTooDeep = 400 "json_too_deep",
    /// A body is required and none came.
    MissingBody = 400 "missing_body",
    /// A `per_customer` layer was displayed without `customer_id`.
    MissingCustomerId = 400 "missing_customer_id",
    /// The body ended before its declared length (client gone).
    BodyIncomplete = 400 "body_incomplete",
    /// An import file with no header row.
    CsvEmpty = 400 "csv_empty",
    /// An import file that is not text.
    CsvBinary = 400 "csv_binary",
    /// An import file that is not UTF-8.
    CsvNotUtf8 = 400 "csv_not_utf8",
    /// An import file whose first line is too long to be a header.
    CsvHeaderTooLong = 400 "csv_header_too_long",
    /// `?column=` names no column of the file.
    CsvNoSuchColumn = 400 "csv_no_such_column",
    /// Several columns and none named `code`.
    CsvNoCodeColumn = 400 "csv_no_code_column",
    /// More than one column has the code column's name.
    CsvDuplicateColumn = 400 "csv_duplicate_column",
    /// No token, or one that opens nothing here: wrong, revoked, or a key
    /// of another project.
    Unauthorized = 401 "unauthorized",
    /// A valid token whose scope does not reach this route (a `read` key on
    /// a write, the tracking token anywhere but `POST /events`, a project key
    /// creating a project).
    Forbidden = 403 "forbidden",
    /// The layer needs a signed customer id and `sig` is missing or wrong.
    InvalidCustomerSignature = 403 "invalid_customer_signature",
    /// The customer id's signature is genuine but its `exp` has passed.
    CustomerSignatureExpired = 403 "customer_signature_expired",
    /// No route has this path.
    NoSuchRoute = 404 "no_such_route",
    /// The project was never created (`PUT /v1/projects/{project}`).
    UnknownProject = 404 "unknown_project",
    /// The pool does not exist.
    UnknownPool = 404 "unknown_pool",
    /// The layer does not exist.
    UnknownLayer = 404 "unknown_layer",
    /// The import does not exist (a store call out of order).
    UnknownImport = 404 "unknown_import",
    /// The project has no key with this id (never created, or revoked).
    UnknownKey = 404 "unknown_key",
    /// The pool has no such code (void and rollback find a code by its key
    /// in the pool of the path).
    UnknownCode = 404 "unknown_code",
    /// The path exists with other methods (see [`Error::allowed`]).
    MethodNotAllowed = 405 "method_not_allowed",
    /// The layer is paused (the public route answers 204 instead).
    LayerPaused = 409 "layer_paused",
    /// The layer changed while it rendered.
    LayerChanged = 409 "layer_changed",
    /// The layer needs signed ids and the project has no signing key.
    NoSigningKey = 409 "no_signing_key",
    /// The project holds as many keys as it may: revoke one first.
    TooManyKeys = 409 "too_many_keys",
    /// A generation drew as many candidates as it may and most were codes
    /// of the project already: fewer codes than asked for were added.
    PatternExhausted = 409 "pattern_exhausted",
    /// A redeemed code cannot be voided: roll the redemption back first.
    CodeRedeemed = 409 "code_redeemed",
    /// Only a redeemed code can have its redemption rolled back.
    CodeNotRedeemed = 409 "code_not_redeemed",
    /// A pool that has handed out codes (assigned or redeemed) cannot be
    /// deleted: archive it instead.
    PoolInUse = 409 "pool_in_use",
    /// Dispensers hold the code, or codes of the pool, and did not give
    /// them back when recalled: try again shortly.
    HeldByDispenser = 409 "held_by_dispenser",
    /// The body is larger than the route accepts.
    BodyTooLarge = 413 "body_too_large",
    /// The body's content type is not accepted here.
    UnsupportedMediaType = 415 "unsupported_media_type",
    /// A template does not parse (see [`Error::location`]).
    TemplateSyntaxError = 422 "template_syntax_error",
    /// A template's source is over the size limit, or a render would build
    /// more data than a render may (see `render::Limits::max_data_bytes`).
    TemplateTooLarge = 422 "template_too_large",
    /// A template nests deeper than the limit.
    TemplateTooComplex = 422 "template_too_complex",
    /// A layer's variables are over the size limit.
    VariablesTooLarge = 422 "variables_too_large",
    /// A template failed while rendering.
    TemplateError = 422 "template_error",
    /// A render ran out of fuel.
    TemplateTooSlow = 422 "template_too_slow",
    /// A render's output is over the size limit.
    OutputTooLarge = 422 "output_too_large",
    /// A template's voucher use kept changing with the counts.
    TemplateUnsettled = 422 "template_unsettled",
    /// A campaign send whose messages would pass the size of an answer
    /// (`campaign::MAX_SEND_ANSWER_BYTES`): refused before any code is reserved.
    CampaignTooLarge = 422 "campaign_too_large",
    /// A generation's pattern has no `#`, is too long, or makes codes that
    /// are not valid (see `import::pattern::Pattern::new`).
    InvalidPattern = 422 "invalid_pattern",
    /// A generation's charset is not a named one nor a set of distinct code
    /// characters (see `import::pattern::Charset::parse`).
    InvalidCharset = 422 "invalid_charset",
    /// A generation's pattern holds fewer than 100 times the codes asked for.
    PatternTooSmall = 422 "pattern_too_small",
    /// A pool's `alerts` that cannot be read: a threshold that is neither a
    /// count nor a percentage, a near-expiry window that is not a duration.
    InvalidAlerts = 422 "invalid_alerts",
    /// Too many public requests from one client.
    RateLimited = 429 "rate_limited",
    /// A failure of storage or of the platform: not the caller's fault.
    Internal = 500 "internal",
}

impl ErrorKind {
    /// The kind with this code, if any.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// Whether the server, not the caller, is at fault (a 5xx status).
    pub const fn is_server_error(self) -> bool {
        self.status() >= 500
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    /// An unknown code (a newer store than this Worker) reads as `Internal`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let code = std::borrow::Cow::<str>::deserialize(d)?;
        Ok(ErrorKind::from_code(&code).unwrap_or(ErrorKind::Internal))
    }
}

/// A place in a template's source, 1-based, columns in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters, when the error knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Location {
    /// A place from the engine's (usize) line and column.
    pub fn new(line: usize, column: Option<usize>) -> Self {
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Location {
            line: narrow(line),
            column: column.map(narrow),
        }
    }
}

impl fmt::Display for Location {
    /// `line L, column C`, or `line L` when the column is not known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        match self.column {
            Some(column) => write!(f, ", column {column}"),
            None => Ok(()),
        }
    }
}

/// An error that an API caller can act on.
///
/// The Durable Object sends errors to the Worker in this same shape
/// (serde), so nothing is lost crossing that boundary.
///
/// Boxed, so that a `Result` carrying it is small: results are moved
/// through every call, and a wide error made each move a copy of it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Error(Box<Inner>);

/// What an [`Error`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Inner {
    #[serde(rename = "code")]
    kind: ErrorKind,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    allowed: Vec<String>,
}

/// Result with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a 5xx answer says instead of its detail, which goes to the log.
pub const INTERNAL_MESSAGE: &str =
    "something went wrong on our side; the log has the details under this error's id";

impl Error {
    /// An error of `kind`. For [`ErrorKind::Internal`] the message is the
    /// detail for the log, never shown to a client ([`Error::to_body`]).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            location: None,
            allowed: Vec::new(),
        }))
    }

    /// A failure of storage or of the platform; `detail` goes to the log.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, detail)
    }

    /// 405: `method` is not served at this path, `allowed` are.
    pub fn method_not_allowed(method: &str, allowed: Vec<String>) -> Self {
        let message = format!("{method} is not allowed here; use {}", allowed.join(", "));
        let mut error = Self::new(ErrorKind::MethodNotAllowed, message);
        error.0.allowed = allowed;
        error
    }

    /// The same error, placed in a template's source.
    pub fn at(mut self, location: Location) -> Self {
        self.0.location = Some(location);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The stable code, e.g. `unknown_pool`.
    pub fn code(&self) -> &'static str {
        self.0.kind.code()
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.0.kind.status()
    }

    /// What went wrong and what to do; for a 5xx, the detail for the log.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Where in a template's source, for template errors that can say.
    pub fn location(&self) -> Option<Location> {
        self.0.location
    }

    /// The methods the path allows, for [`ErrorKind::MethodNotAllowed`].
    pub fn allowed(&self) -> &[String] {
        &self.0.allowed
    }

    /// Adds to the message (e.g. how far an import got before it failed).
    pub fn append(mut self, more: &str) -> Self {
        self.0.message.push_str(more);
        self
    }

    /// The JSON body the HTTP API answers with:
    /// `{"error": {"code", "message", "line"?, "column"?, "id"?}}`.
    ///
    /// A 5xx answer carries [`INTERNAL_MESSAGE`] and `incident`, the id the
    /// caller logged the detail under, and nothing of the detail itself.
    pub fn to_body(&self, incident: &str) -> serde_json::Value {
        let mut error = serde_json::Map::new();
        error.insert("code".into(), self.code().into());
        if self.0.kind.is_server_error() {
            error.insert("message".into(), INTERNAL_MESSAGE.into());
            error.insert("id".into(), incident.into());
        } else {
            error.insert("message".into(), self.0.message.clone().into());
        }
        if let Some(at) = self.0.location {
            error.insert("line".into(), at.line.into());
            if let Some(column) = at.column {
                error.insert("column".into(), column.into());
            }
        }
        serde_json::json!({ "error": error })
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .field("location", &self.0.location)
            .field("allowed", &self.0.allowed)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0.message, self.0.kind)
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Error::new(
            ErrorKind::InvalidJson,
            format!("the JSON body is invalid: {err}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_snake_case() {
        let mut codes: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert!(codes.iter().all(|c| c
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(*kind));
            assert!((400..600).contains(&kind.status()), "{kind}");
        }
    }

    #[test]
    fn crosses_the_store_boundary_whole() {
        let err = Error::new(ErrorKind::TemplateSyntaxError, "line 2, column 3: x")
            .at(Location::new(2, Some(3)));
        let wire = serde_json::to_string(&err).unwrap();
        assert_eq!(serde_json::from_str::<Error>(&wire).unwrap(), err);
        let allowed = Error::method_not_allowed("DELETE", vec!["PUT".into(), "GET".into()]);
        let wire = serde_json::to_string(&allowed).unwrap();
        assert_eq!(serde_json::from_str::<Error>(&wire).unwrap(), allowed);
        let newer: Error =
            serde_json::from_str(r#"{"code": "from_the_future", "message": "m"}"#).unwrap();
        assert_eq!(newer.kind(), ErrorKind::Internal);
    }

    #[test]
    fn a_server_error_shows_only_its_id() {
        let body = Error::internal("SQLite: disk I/O error at /var/x").to_body("e-42");
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(body["error"]["id"], "e-42");
        assert!(!body.to_string().contains("SQLite"), "{body}");
        let body = Error::new(ErrorKind::UnknownPool, "no pool x").to_body("e-43");
        assert_eq!(body["error"]["message"], "no pool x");
        assert!(body["error"].get("id").is_none());
    }
}
