//! The query strings of the routes: one type each, read by [`parse`].
//!
//! serde reads the parameters; one a route does not take is refused (400
//! `unknown_parameter`, naming those it takes), except on the public render
//! route, where the others are the layer's `params`. Values arrive as text
//! and each type checks its own, so a bad value gets its parameter's error
//! kind (`invalid_limit`, `invalid_state`, …) rather than serde's.
//!
//! Every name and value must be UTF-8 once percent-decoded: serde_urlencoded
//! would decode `%FF` to U+FFFD, so `%FF` and `%EF%BF%BD` would be the same
//! customer. [`parse`] refuses such a query (400 `invalid_customer_id` for
//! `customer_id`, `invalid_parameter` for any other).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::event::EventFilter;
use crate::input::customer::check_customer_id;
use crate::layer::signature::parse_expiry;
use crate::pool::activity::{check_days, DEFAULT_ACTIVITY_DAYS};
use crate::pool::listing::{decode_cursor, CodeQuery};
use crate::pool::CodeState;

/// Items on a page when the caller does not say (code listing, event log).
pub const DEFAULT_PAGE: usize = 100;

/// Most items on one page of a JSON listing.
pub const MAX_PAGE: usize = 1000;

/// Most template parameters a display takes (besides `customer_id` and `sig`).
pub const MAX_DISPLAY_PARAMS: usize = 32;

/// Longest name of a display's template parameter, in characters.
pub const MAX_PARAM_NAME_CHARS: usize = 64;

/// Longest value of a display's template parameter, in characters (room for
/// a URL or a tracking id).
pub const MAX_PARAM_VALUE_CHARS: usize = 1024;

/// Longest `sig`: a signature is 64 hex digits.
pub const MAX_SIG_CHARS: usize = 128;

/// Reads a query string (without the `?`) into a route's query type.
///
/// # Errors
///
/// A name or value that is not UTF-8 once percent-decoded is refused
/// (`invalid_customer_id` or `invalid_parameter`) rather than decoded with
/// U+FFFD in place of its bytes; a parameter the type does not take is
/// `unknown_parameter`.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T> {
    check_utf8(query)?;
    serde_urlencoded::from_str(query).map_err(|err| {
        Error::new(
            ErrorKind::UnknownParameter,
            format!("the query string is not one this route takes: {err}"),
        )
    })
}

/// Refuses a query with a name or value that does not percent-decode to
/// UTF-8, naming the parameter.
fn check_utf8(query: &str) -> Result<()> {
    use percent_encoding::percent_decode_str;
    for pair in query.split('&') {
        if percent_decode_str(pair).decode_utf8().is_ok() {
            continue;
        }
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        let name = percent_decode_str(name).decode_utf8_lossy();
        let (kind, what) = if name == "customer_id" {
            (ErrorKind::InvalidCustomerId, "customer_id".to_owned())
        } else {
            (
                ErrorKind::InvalidParameter,
                format!("query parameter {:?}", short(&name)),
            )
        };
        return Err(Error::new(
            kind,
            format!(
                "{what} is not valid UTF-8 once percent-decoded: percent-encode the \
                 UTF-8 bytes of the text (e.g. %C3%A9 for é)"
            ),
        ));
    }
    Ok(())
}

/// At most the first 64 characters of `text`, for a message.
fn short(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The query of every route that takes no parameter: an empty one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `GET /pools/{pool}/codes?state=&limit=&cursor=`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodesParams {
    /// `available`, `assigned` or `redeemed`; empty or absent for all.
    pub state: Option<String>,
    /// Codes per page, 1 to [`MAX_PAGE`].
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

impl CodesParams {
    /// The checked listing query.
    pub fn check(self) -> Result<CodeQuery> {
        let state = match non_empty(self.state) {
            None => None,
            Some(name) => Some(CodeState::from_name(&name).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidState,
                    format!("state {name:?} is not known: use available, assigned or redeemed"),
                )
            })?),
        };
        let cursor = non_empty(self.cursor);
        if let Some(cursor) = &cursor {
            decode_cursor(cursor)?;
        }
        Ok(CodeQuery {
            state,
            cursor,
            limit: page_limit(self.limit.as_deref())?,
        })
    }
}

/// `GET /events?type=&status=&customer_id=&campaign=&limit=&cursor=`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    /// Only this event type.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only this campaign.
    pub campaign: Option<String>,
    /// Events per page, 1 to [`MAX_PAGE`].
    pub limit: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
}

impl EventsParams {
    /// The checked filter.
    pub fn check(self) -> Result<EventFilter> {
        if let Some(customer) = self.customer_id.as_deref().filter(|c| !c.is_empty()) {
            check_customer_id(customer)?;
        }
        let limit = match self.limit.as_deref() {
            None => None,
            Some(limit) => Some(page_limit(Some(limit))?),
        };
        Ok(EventFilter {
            event_type: self.event_type,
            status: self.status,
            customer_id: self.customer_id,
            campaign: self.campaign,
            limit: limit.map(|n| n as u32),
            cursor: self.cursor,
        })
    }
}

/// `GET /pools/{pool}/activity?days=`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityParams {
    /// Days back from today, today included.
    pub days: Option<String>,
}

impl ActivityParams {
    /// The checked number of days ([`DEFAULT_ACTIVITY_DAYS`] if absent).
    pub fn check(self) -> Result<u32> {
        let days = match self.days {
            None => DEFAULT_ACTIVITY_DAYS,
            // Not a number: 0, which check_days refuses with its message.
            Some(days) => days.parse().unwrap_or(0),
        };
        check_days(days)?;
        Ok(days)
    }
}

/// `POST /pools/{pool}/import?column=`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// The CSV column holding the codes.
    pub column: Option<String>,
}

/// `GET /layers/{layer}/render?customer_id=&sig=&exp=&…`: the only query
/// that takes any parameter, since the others are the layer's `params`.
#[derive(Debug, Default, Deserialize)]
pub struct DisplayParams {
    /// The visitor; empty is none.
    pub customer_id: Option<String>,
    /// The signature of `customer_id`, for layers that require one.
    pub sig: Option<String>,
    /// The Unix second `sig` is good until, when it was made with one.
    pub exp: Option<String>,
    /// Every other parameter, for the template as `params`.
    #[serde(flatten)]
    pub params: BTreeMap<String, String>,
}

impl DisplayParams {
    /// The visitor's id, if one was given.
    pub fn customer(&self) -> Option<&str> {
        self.customer_id.as_deref().filter(|c| !c.is_empty())
    }

    /// The signature's expiry, if one was given (empty is none); not Unix
    /// seconds is `invalid_customer_signature`.
    pub fn expiry(&self) -> Result<Option<i64>> {
        non_empty(self.exp.clone())
            .map(|exp| parse_expiry(&exp))
            .transpose()
    }

    /// Checks the display's query: the customer id by the rule of every
    /// route ([`check_customer_id`]), `sig` at most [`MAX_SIG_CHARS`], and
    /// at most [`MAX_DISPLAY_PARAMS`] template parameters, each name 1 to
    /// [`MAX_PARAM_NAME_CHARS`] and each value at most
    /// [`MAX_PARAM_VALUE_CHARS`] characters. A display's query is stored
    /// with its codes (the customer id) or held while it renders: these
    /// bounds keep a stranger's request small.
    pub fn check(&self) -> Result<()> {
        if let Some(customer) = self.customer() {
            check_customer_id(customer)?;
        }
        let invalid = |message: String| Err(Error::new(ErrorKind::InvalidParameter, message));
        if self
            .sig
            .as_deref()
            .is_some_and(|sig| sig.chars().count() > MAX_SIG_CHARS)
        {
            return invalid(format!(
                "sig is longer than {MAX_SIG_CHARS} characters: it is the 64 hex digits \
                 of HMAC-SHA256(key, customer_id)"
            ));
        }
        if self.params.len() > MAX_DISPLAY_PARAMS {
            return invalid(format!(
                "{} template parameters: a display takes at most {MAX_DISPLAY_PARAMS}",
                self.params.len()
            ));
        }
        for (name, value) in &self.params {
            if !(1..=MAX_PARAM_NAME_CHARS).contains(&name.chars().count()) {
                return invalid(format!(
                    "query parameter {:?}: a name is 1 to {MAX_PARAM_NAME_CHARS} characters",
                    short(name)
                ));
            }
            if value.chars().count() > MAX_PARAM_VALUE_CHARS {
                return invalid(format!(
                    "query parameter {name:?} is longer than {MAX_PARAM_VALUE_CHARS} characters"
                ));
            }
        }
        Ok(())
    }
}

/// A page size: absent is [`DEFAULT_PAGE`], else 1 to [`MAX_PAGE`].
fn page_limit(value: Option<&str>) -> Result<usize> {
    let Some(value) = value else {
        return Ok(DEFAULT_PAGE);
    };
    value
        .parse()
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidLimit,
                format!("limit {value:?} is not valid: use 1 to {MAX_PAGE}"),
            )
        })
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_listing_parameters() {
        let q = parse::<CodesParams>("state=assigned&limit=7&cursor=c42")
            .and_then(CodesParams::check)
            .unwrap();
        assert_eq!(
            (q.state, q.limit, q.cursor.as_deref()),
            (Some(CodeState::Assigned), 7, Some("c42"))
        );
        let q = parse::<CodesParams>("state=&cursor=")
            .and_then(CodesParams::check)
            .unwrap();
        assert_eq!((q.state, q.limit, q.cursor), (None, DEFAULT_PAGE, None));
        for (query, code) in [
            ("state=used", "invalid_state"),
            ("limit=0", "invalid_limit"),
            ("limit=1001", "invalid_limit"),
            ("limit=ten", "invalid_limit"),
            ("cursor=42", "invalid_cursor"),
            ("cursor=c-1", "invalid_cursor"),
            ("other=x", "unknown_parameter"),
            ("limit=1&limit=2", "unknown_parameter"),
        ] {
            let err = parse::<CodesParams>(query)
                .and_then(CodesParams::check)
                .unwrap_err();
            assert_eq!((err.status(), err.code()), (400, code), "{query}");
        }
    }

    #[test]
    fn an_unknown_parameter_is_named_with_those_the_route_takes() {
        let err = parse::<ActivityParams>("day=3").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownParameter);
        assert!(err.message().contains("`day`"), "{}", err.message());
        assert!(err.message().contains("`days`"), "{}", err.message());
    }

    #[test]
    fn events_days_and_display() {
        let filter = parse::<EventsParams>("type=purchase&limit=5")
            .and_then(EventsParams::check)
            .unwrap();
        assert_eq!(
            (filter.event_type.as_deref(), filter.limit),
            (Some("purchase"), Some(5))
        );
        let err = parse::<EventsParams>("limit=1001")
            .and_then(EventsParams::check)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidLimit);
        assert_eq!(parse::<ActivityParams>("").unwrap().check().unwrap(), 30);
        let err = parse::<ActivityParams>("days=x")
            .unwrap()
            .check()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidDays);
        let display = parse::<DisplayParams>("customer_id=&utm=mail&sig=ab").unwrap();
        assert_eq!(display.customer(), None);
        assert_eq!(display.sig.as_deref(), Some("ab"));
        assert_eq!(display.params["utm"], "mail");
        assert_eq!(display.expiry().unwrap(), None);
        let display = parse::<DisplayParams>("customer_id=ada&sig=ab&exp=1764100000").unwrap();
        assert_eq!(display.expiry().unwrap(), Some(1_764_100_000));
        assert!(
            !display.params.contains_key("exp"),
            "exp is no template parameter"
        );
        assert_eq!(
            parse::<DisplayParams>("exp=").unwrap().expiry().unwrap(),
            None
        );
        let err = parse::<DisplayParams>("exp=tomorrow")
            .unwrap()
            .expiry()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidCustomerSignature);
        assert_eq!(display.check(), Ok(()));
    }

    #[test]
    fn a_query_that_is_not_utf8_is_refused_not_replaced() {
        let code = |query: &str| {
            parse::<DisplayParams>(query)
                .and_then(|d| d.check())
                .map_err(|e| e.code())
        };
        assert_eq!(code("customer_id=%FF"), Err("invalid_customer_id"));
        assert_eq!(code("customer_id=ab%C3"), Err("invalid_customer_id"));
        assert_eq!(code("utm=%FF&customer_id=a"), Err("invalid_parameter"));
        assert_eq!(code("%FF=x"), Err("invalid_parameter"));
        // U+FFFD sent as such is valid UTF-8, and no customer id.
        assert_eq!(code("customer_id=%EF%BF%BD"), Err("invalid_customer_id"));
        assert_eq!(code("customer_id=%C3%A9&p=%E2%82%AC"), Ok(()));
        let display = parse::<DisplayParams>("customer_id=Zo%C3%AB+M&p=%E2%82%AC").unwrap();
        assert_eq!(display.customer(), Some("Zoë M"));
        assert_eq!(display.params["p"], "€");
        // Every route reads its query the same way.
        let err = parse::<CodesParams>("state=%FF").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter);
        assert!(err.message().contains("\"state\""), "{}", err.message());
    }

    #[test]
    fn a_display_query_is_bounded() {
        let code = |query: String| {
            parse::<DisplayParams>(&query)
                .and_then(|d| d.check())
                .map_err(|e| e.code())
        };
        let many = |n: usize| {
            (0..n)
                .map(|i| format!("p{i}=x"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert_eq!(code(many(MAX_DISPLAY_PARAMS)), Ok(()));
        assert_eq!(code(many(MAX_DISPLAY_PARAMS + 1)), Err("invalid_parameter"));
        let long = |n: usize| "v".repeat(n);
        assert_eq!(code(format!("p={}", long(MAX_PARAM_VALUE_CHARS))), Ok(()));
        assert_eq!(
            code(format!("p={}", long(MAX_PARAM_VALUE_CHARS + 1))),
            Err("invalid_parameter")
        );
        assert_eq!(
            code(format!("{}=1", long(MAX_PARAM_NAME_CHARS + 1))),
            Err("invalid_parameter")
        );
        assert_eq!(code("=1".into()), Err("invalid_parameter"));
        assert_eq!(code(format!("sig={}", long(129))), Err("invalid_parameter"));
        assert_eq!(
            code(format!("customer_id={}", long(257))),
            Err("invalid_customer_id")
        );
        assert_eq!(code("customer_id=a%0Ab".into()), Err("invalid_customer_id"));
        assert_eq!(
            code("customer_id=a%E2%80%AEb".into()),
            Err("invalid_customer_id")
        );
        assert_eq!(code("customer_id=a%00".into()), Err("invalid_customer_id"));
    }
}
