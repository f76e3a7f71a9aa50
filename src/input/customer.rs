//! Customer ids: the one rule every route checks them with.
//!
//! A customer id comes from the site (the public display's `customer_id`,
//! `POST /render`, a campaign's customers, a tracked event) and is stored
//! with every code handed out, so it must be bounded, and two ids that look
//! the same must be the same id. Ids are compared exactly as sent (case and
//! Unicode form kept: they are made by the site's systems, and signatures
//! are over their bytes), so what the rule refuses is what would make two
//! ids look alike or make an id show differently from what it is.

use crate::error::{Error, ErrorKind, Result};
use crate::input::unicode::{describe, is_invisible};

/// The longest customer id, in characters (a UUID is 36, an e-mail address
/// at most 254).
pub const MAX_CUSTOMER_ID_CHARS: usize = 256;

/// Checks a customer id: 1 to [`MAX_CUSTOMER_ID_CHARS`] characters, no
/// whitespace at either end, and no character that cannot be seen (see
/// [`is_invisible`]: control characters such as NUL or a line break,
/// bidirectional controls such as U+202E, zero-width and other format
/// characters, spaces other than U+0020, and U+FFFD, which stands for bytes
/// that were not UTF-8).
///
/// # Errors
///
/// [`ErrorKind::InvalidCustomerId`], saying what is wrong without repeating
/// the id.
pub fn check_customer_id(id: &str) -> Result<()> {
    let invalid = |what: String| {
        Err(Error::new(
            ErrorKind::InvalidCustomerId,
            format!("customer_id {what}"),
        ))
    };
    // Bytes bound characters from above: only a long id is counted.
    if id.is_empty() {
        return invalid("is empty: leave it out for an anonymous visitor".into());
    }
    if id.len() > MAX_CUSTOMER_ID_CHARS {
        let chars = id.chars().count();
        if chars > MAX_CUSTOMER_ID_CHARS {
            return invalid(format!(
                "is {chars} characters, at most {MAX_CUSTOMER_ID_CHARS} are allowed"
            ));
        }
    }
    if let Some((i, c)) = id.chars().enumerate().find(|(_, c)| is_invisible(*c)) {
        return invalid(format!(
            "contains {} at position {}: control, format (e.g. bidirectional) and \
             invisible characters are not allowed",
            describe(c),
            i + 1
        ));
    }
    if id.starts_with(char::is_whitespace) || id.ends_with(char::is_whitespace) {
        return invalid("begins or ends with a space".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_sites_use() {
        for id in [
            "ada",
            "c-0042",
            "ada@example.com",
            "9f1c2e4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
            "Zoë Müller",
            "顧客-7",
            &"x".repeat(MAX_CUSTOMER_ID_CHARS),
            &"ä".repeat(MAX_CUSTOMER_ID_CHARS),
        ] {
            assert_eq!(check_customer_id(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn refuses_what_would_look_alike_or_grow_the_store() {
        for (id, says) in [
            ("", "is empty"),
            (&"x".repeat(MAX_CUSTOMER_ID_CHARS + 1), "is 257 characters"),
            (&"ä".repeat(MAX_CUSTOMER_ID_CHARS + 1), "is 257 characters"),
            ("a\0b", "U+0000 at position 2"),
            ("a\nb", "U+000A at position 2"),
            ("alice\u{202e}", "U+202E at position 6"),
            ("ali\u{200b}ce", "U+200B at position 4"),
            ("alice\u{fe0f}", "U+FE0F at position 6"),
            ("a\u{a0}b", "U+00A0 at position 2"),
            ("\u{fffd}", "U+FFFD at position 1"),
            (" alice", "begins or ends with a space"),
            ("alice ", "begins or ends with a space"),
        ] {
            let err = check_customer_id(id).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidCustomerId);
            assert!(err.message().contains(says), "{id:?}: {}", err.message());
            assert!(err.message().len() < 200, "the id is not repeated");
        }
    }
}
