//! The query strings of the routes: one type each, read by [`parse`].
//!
//! serde reads the parameters; one a route does not take is refused (400
//! `unknown_parameter`, naming those it takes), except on the public render
//! route, where the others are the layer's `params`. Values arrive as text
//! and each type checks its own, so a bad value gets its parameter's error
//! kind (`invalid_limit`, `invalid_state`, …) rather than serde's.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::event::EventFilter;
use crate::layer::signature::parse_expiry;
use crate::pool::activity::{check_days, DEFAULT_ACTIVITY_DAYS};
use crate::pool::listing::{decode_cursor, CodeQuery};
use crate::pool::CodeState;

/// Items on a page when the caller does not say (code listing, event log).
pub const DEFAULT_PAGE: usize = 100;

/// Most items on one page of a JSON listing.
pub const MAX_PAGE: usize = 1000;

/// Reads a query string (without the `?`) into a route's query type.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T> {
    serde_urlencoded::from_str(query).map_err(|err| {
        Error::new(
            ErrorKind::UnknownParameter,
            format!("the query string is not one this route takes: {err}"),
        )
    })
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
    }
}
