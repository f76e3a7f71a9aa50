//! Voucher codes: what text is accepted as a code.
//!
//! Codes come from CSV files exported by shop systems and typed by people, so
//! surrounding whitespace is forgiven, but anything a shopper could not type
//! back (control characters, tabs, non-breaking or zero-width spaces) is
//! rejected: such a code would be stored but could never be redeemed.

use std::fmt;

/// The longest accepted code, in characters (not bytes).
///
/// Long enough for any generated code, short enough to catch a stray
/// paragraph pasted into the code column.
pub const MAX_CODE_CHARS: usize = 128;

/// Why a text is not a valid voucher code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidCode {
    /// Nothing is left after trimming the surrounding whitespace.
    Empty,
    /// Longer than [`MAX_CODE_CHARS`] characters after trimming.
    TooLong {
        /// Length of the trimmed code in characters.
        chars: usize,
    },
    /// Contains a character a shopper cannot type or see: a control
    /// character, whitespace other than a plain space, or an invisible
    /// formatting character such as a zero-width space.
    NotPrintable {
        /// 1-based character position in the trimmed code, as a person counts.
        position: usize,
    },
}

impl fmt::Display for InvalidCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidCode::Empty => f.write_str("code is empty"),
            InvalidCode::TooLong { chars } => write!(
                f,
                "code is {chars} characters, at most {MAX_CODE_CHARS} are allowed"
            ),
            InvalidCode::NotPrintable { position } => write!(
                f,
                "code contains a control character or unusual whitespace at position {position}"
            ),
        }
    }
}

impl std::error::Error for InvalidCode {}

/// Trims `raw` and checks that the rest is a valid code; returns the trimmed
/// code.
///
/// A valid code has 1 to [`MAX_CODE_CHARS`] characters, and none of them is
/// a control character, whitespace other than U+0020, or an invisible
/// formatting character (see [`InvalidCode::NotPrintable`]). Case is kept:
/// whether codes are case-sensitive is not decided here.
///
/// # Errors
///
/// [`InvalidCode`] says why the text is no valid code.
pub fn normalize_code(raw: &str) -> Result<&str, InvalidCode> {
    let code = raw.trim();
    if code.is_empty() {
        return Err(InvalidCode::Empty);
    }
    // Fast path: nearly all codes are ASCII, where bytes are characters and
    // the only unprintable bytes are the ASCII controls (tab, CR, LF... too).
    if code.is_ascii() {
        if code.len() > MAX_CODE_CHARS {
            return Err(InvalidCode::TooLong { chars: code.len() });
        }
        return match code.bytes().position(|b| b.is_ascii_control()) {
            Some(i) => Err(InvalidCode::NotPrintable { position: i + 1 }),
            None => Ok(code),
        };
    }
    let chars = code.chars().count();
    if chars > MAX_CODE_CHARS {
        return Err(InvalidCode::TooLong { chars });
    }
    match code.chars().position(is_unprintable) {
        Some(i) => Err(InvalidCode::NotPrintable { position: i + 1 }),
        None => Ok(code),
    }
}

/// Characters that make a code impossible to type back from what is seen.
fn is_unprintable(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        // Invisible format characters (Unicode category Cf) that copy-paste
        // from web pages and spreadsheets commonly smuggles in.
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// The integer stored in `codes.state`; the API shows its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(i64)]
pub enum CodeState {
    /// Not yet handed out.
    Available = 0,
    /// Handed to a customer.
    Assigned = 1,
    /// Used in a purchase.
    Redeemed = 2,
}

impl CodeState {
    /// Every state, in the order a code goes through them.
    pub const ALL: [CodeState; 3] = [
        CodeState::Available,
        CodeState::Assigned,
        CodeState::Redeemed,
    ];

    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            CodeState::Available => "available",
            CodeState::Assigned => "assigned",
            CodeState::Redeemed => "redeemed",
        }
    }

    /// The state with this API name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The state stored as this integer in `codes.state`.
    pub fn from_stored(value: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as i64 == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_trims() {
        assert_eq!(normalize_code("ABC-123"), Ok("ABC-123"));
        assert_eq!(normalize_code("  ABC 123\t\r\n"), Ok("ABC 123"));
        assert_eq!(normalize_code("\u{00A0}SOMMER\u{3000}"), Ok("SOMMER"));
        assert_eq!(normalize_code("Grüße-2024"), Ok("Grüße-2024"));
        assert_eq!(normalize_code("🎁-GIFT"), Ok("🎁-GIFT"));
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(normalize_code(""), Err(InvalidCode::Empty));
        assert_eq!(normalize_code(" \t \u{00A0} "), Err(InvalidCode::Empty));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let max = "x".repeat(MAX_CODE_CHARS);
        assert_eq!(normalize_code(&max), Ok(max.as_str()));
        let long = "x".repeat(MAX_CODE_CHARS + 2);
        assert_eq!(
            normalize_code(&long),
            Err(InvalidCode::TooLong {
                chars: MAX_CODE_CHARS + 2
            })
        );
        // 128 two-byte characters are 256 bytes but still allowed.
        let umlauts = "ä".repeat(MAX_CODE_CHARS);
        assert_eq!(normalize_code(&umlauts), Ok(umlauts.as_str()));
        let too_many = "ä".repeat(MAX_CODE_CHARS + 1);
        assert_eq!(
            normalize_code(&too_many),
            Err(InvalidCode::TooLong {
                chars: MAX_CODE_CHARS + 1
            })
        );
    }

    #[test]
    fn rejects_unprintable_with_position() {
        let at = |position| Err(InvalidCode::NotPrintable { position });
        assert_eq!(normalize_code("ABCD\u{1}X"), at(5));
        assert_eq!(normalize_code("AB\tCD"), at(3));
        assert_eq!(normalize_code("AB\nCD"), at(3));
        assert_eq!(normalize_code("AB\u{7f}"), at(3));
        // Positions count characters of the trimmed code.
        assert_eq!(normalize_code("  äb\u{0085}c"), at(3));
        assert_eq!(normalize_code("AB\u{00A0}CD"), at(3));
        assert_eq!(normalize_code("AB\u{200B}CD"), at(3));
        assert_eq!(normalize_code("\u{FEFF}ABC"), at(1));
    }

    #[test]
    fn messages() {
        assert_eq!(InvalidCode::Empty.to_string(), "code is empty");
        assert_eq!(
            InvalidCode::TooLong { chars: 130 }.to_string(),
            "code is 130 characters, at most 128 are allowed"
        );
        assert_eq!(
            InvalidCode::NotPrintable { position: 5 }.to_string(),
            "code contains a control character or unusual whitespace at position 5"
        );
    }
}
