//! Voucher codes: what text is accepted as a code, and when two codes are
//! the same code.
//!
//! Codes come from CSV files exported by shop systems and are typed back by
//! shoppers, so:
//!
//! - Surrounding whitespace is forgiven (trimmed).
//! - A character nobody can see or type is refused ([`InvalidCode::NotPrintable`]):
//!   controls, format characters (zero-width, bidirectional, tags),
//!   variation selectors, fillers, spaces other than U+0020 (see
//!   [`crate::input::unicode::is_invisible`]), and unassigned or private-use code
//!   points. Such a code would be stored, but its lookalike without the
//!   character would be a second code.
//! - Lookalikes that Unicode normalization does not join are refused:
//!   letters of two scripts in one code ([`InvalidCode::MixedScripts`],
//!   e.g. a Cyrillic `О` among Latin letters), and dashes other than the
//!   hyphen-minus `-` ([`InvalidCode::Dash`]: word processors and
//!   spreadsheets put `‐ – —` or `−` in place of `-`, and shoppers type `-`).
//! - A code may not begin like a spreadsheet formula, `= + - @`
//!   ([`InvalidCode::FormulaStart`]): spreadsheets would run it, and the
//!   CSV export keeps such cells from running by a leading `'` that would
//!   make the code another one when the export is imported again.
//!
//! Two codes are the same code when their [`code_key`]s are equal: the key
//! is the code's compatibility caseless form (compatibility decomposition,
//! NFKD, and lowercase), so `code-1`, `CODE-1` and `ＣＯＤＥ-1` (fullwidth)
//! are one code, and so are the composed (NFC) and decomposed (NFD)
//! spellings of `CAFÉ-1`. Shops compare the codes shoppers type without
//! case (Shopify, WooCommerce, Magento), so a pool that held both `CODE-1`
//! and `code-1` would hand out what the shop takes for one code twice. A
//! code is stored and handed out as imported; its key is what the project
//! keeps unique and what redemption looks up.

use std::fmt;

use icu_normalizer::DecomposingNormalizerBorrowed;

use crate::input::unicode::{
    describe, is_dash, is_invisible, is_unassigned_or_private, script_name, script_of,
};

/// The longest accepted code, in characters (not bytes).
///
/// Long enough for any generated code, short enough to catch a stray
/// paragraph pasted into the code column.
pub const MAX_CODE_CHARS: usize = 128;

/// The characters a code may not begin with: a spreadsheet runs a cell
/// that starts with one of them as a formula.
pub const FORMULA_START: [char; 4] = ['=', '+', '-', '@'];

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
    /// Contains a character a shopper cannot see or type: a control or
    /// format character, whitespace other than a plain space, an invisible
    /// character (see [`crate::input::unicode::is_invisible`]), or an unassigned
    /// or private-use code point.
    NotPrintable {
        /// 1-based character position in the trimmed code, as a person counts.
        position: usize,
        /// The character.
        character: char,
    },
    /// Letters of two scripts, e.g. a Cyrillic `О` among Latin letters: the
    /// code looks like another one. Latin may mix with Chinese, Japanese and
    /// Korean letters (Han, Hiragana, Katakana, Hangul, Bopomofo), which
    /// also mix with each other.
    MixedScripts {
        /// 1-based position of the first letter of the second script.
        position: usize,
        /// That letter.
        character: char,
        /// The script of the letters before it, e.g. `Latin`.
        first: &'static str,
        /// Its script, e.g. `Cyrillic`.
        second: &'static str,
    },
    /// A dash other than the hyphen-minus `-` (`‐ ‑ – — −` …).
    Dash {
        /// 1-based character position.
        position: usize,
        /// The dash.
        character: char,
    },
    /// Begins with `= + - @` (or a compatibility form of one, such as the
    /// fullwidth `＝`): a spreadsheet would run it as a formula.
    FormulaStart {
        /// The first character.
        character: char,
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
            InvalidCode::NotPrintable {
                position,
                character,
            } => write!(
                f,
                "code contains {} at position {position}: a control or invisible character \
                 that shoppers cannot see or type",
                describe(*character)
            ),
            InvalidCode::MixedScripts {
                position,
                character,
                first,
                second,
            } => write!(
                f,
                "code mixes {first} and {second} letters ({} at position {position} is \
                 {second}): it would look like another code",
                describe(*character)
            ),
            InvalidCode::Dash {
                position,
                character,
            } => write!(
                f,
                "code contains the dash {} at position {position}: use the hyphen-minus '-'",
                describe(*character)
            ),
            InvalidCode::FormulaStart { character } => write!(
                f,
                "code begins with {}: spreadsheets run such a cell as a formula, so a code \
                 may not begin with = + - or @",
                describe(*character)
            ),
        }
    }
}

impl std::error::Error for InvalidCode {}

/// Trims `raw` and checks that the rest is a valid code; returns the trimmed
/// code, as it will be stored and handed out.
///
/// A valid code has 1 to [`MAX_CODE_CHARS`] characters, none of them
/// unprintable, no dash but `-`, letters of one script (or Latin with CJK),
/// and does not begin with `= + - @`; see the module's documentation.
/// Whether two valid codes are the same code is [`code_key`]'s answer.
///
/// # Errors
///
/// [`InvalidCode`] says why the text is no valid code.
pub fn normalize_code(raw: &str) -> Result<&str, InvalidCode> {
    let code = raw.trim();
    let Some(first) = code.chars().next() else {
        return Err(InvalidCode::Empty);
    };
    if FORMULA_START.contains(&first) {
        return Err(InvalidCode::FormulaStart { character: first });
    }
    // Fast path: nearly all codes are ASCII, where bytes are characters, the
    // only unprintable bytes are the ASCII controls (tab, CR, LF... too),
    // the only dash is `-` and the only letters are Latin.
    if code.is_ascii() {
        if code.len() > MAX_CODE_CHARS {
            return Err(InvalidCode::TooLong { chars: code.len() });
        }
        return match code.bytes().position(|b| b.is_ascii_control()) {
            Some(i) => Err(InvalidCode::NotPrintable {
                position: i + 1,
                character: char::from(code.as_bytes()[i]),
            }),
            None => Ok(code),
        };
    }
    let chars = code.chars().count();
    if chars > MAX_CODE_CHARS {
        return Err(InvalidCode::TooLong { chars });
    }
    if let Some((i, character)) = code
        .chars()
        .enumerate()
        .find(|(_, c)| is_invisible(*c) || is_unassigned_or_private(*c))
    {
        return Err(InvalidCode::NotPrintable {
            position: i + 1,
            character,
        });
    }
    // A compatibility form of `-` (fullwidth, small) is `-` by the key.
    if let Some((i, character)) = code
        .chars()
        .enumerate()
        .find(|(_, c)| *c != '-' && is_dash(*c) && compatibility_form(*c) != "-")
    {
        return Err(InvalidCode::Dash {
            position: i + 1,
            character,
        });
    }
    if compatibility_form(first).starts_with(FORMULA_START) {
        return Err(InvalidCode::FormulaStart { character: first });
    }
    mixed_scripts(code).map(Err).unwrap_or(Ok(code))
}

/// The key under which a code is unique in its project and looked up when
/// it is redeemed: the code's compatibility caseless form after Unicode's
/// definition D147 (compatibility caseless match), with each character's
/// lowercase mapping in place of case folding: NFKD of the lowercase of the
/// NFKD of the lowercase of the NFKD of the code. For an ASCII code, its
/// lowercase.
///
/// So case, composed or decomposed accents and compatibility characters
/// (fullwidth letters, ligatures, superscripts…) do not make another code.
/// The key is decomposed, since it is compared and never shown: no
/// composition tables are needed. Lowercase uses the tables the template
/// filter `lower` already brings; it differs from full case folding in a few
/// letters only (`ß` stays `ß`, not `ss`).
pub fn code_key(code: &str) -> String {
    if code.is_ascii() {
        return code.to_ascii_lowercase();
    }
    let nfkd = DecomposingNormalizerBorrowed::new_nfkd();
    let lower = |text: &str| -> String { text.chars().flat_map(char::to_lowercase).collect() };
    let once = lower(&nfkd.normalize(code));
    nfkd.normalize(&lower(&nfkd.normalize(&once))).into_owned()
}

/// The compatibility decomposition (NFKD) of one character, e.g. `A` for
/// `Ａ`, `-` for the fullwidth `－`.
fn compatibility_form(c: char) -> String {
    let mut buf = [0; 4];
    DecomposingNormalizerBorrowed::new_nfkd()
        .normalize(c.encode_utf8(&mut buf))
        .into_owned()
}

/// The first letter whose script cannot share a code with the letters
/// before it (see [`InvalidCode::MixedScripts`]). Whether a text's
/// letters may share a code does not depend on their order, so this also
/// checks a set of characters (a generator's charset, `import::pattern`).
pub(crate) fn mixed_scripts(code: &str) -> Option<InvalidCode> {
    use icu_properties::props::Script;
    let cjk = |s: Script| {
        matches!(
            s,
            Script::Han | Script::Hiragana | Script::Katakana | Script::Hangul | Script::Bopomofo
        )
    };
    // Chinese, Japanese and Korean letters count as one script.
    let group = |s: Script| if cjk(s) { Script::Han } else { s };
    let mut seen: Option<Script> = None;
    let mut latin_or_cjk = true;
    for (i, c) in code.chars().enumerate() {
        let Some(script) = script_of(c) else {
            continue;
        };
        let fits = match seen {
            None => true,
            Some(first) => {
                group(first) == group(script)
                    || (latin_or_cjk && (script == Script::Latin || cjk(script)))
            }
        };
        if !fits {
            return seen.map(|first| InvalidCode::MixedScripts {
                position: i + 1,
                character: c,
                first: script_name(first),
                second: script_name(script),
            });
        }
        latin_or_cjk &= script == Script::Latin || cjk(script);
        seen.get_or_insert(script);
    }
    None
}

/// The integer stored in `codes.state`; the API shows its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(i64)]
pub enum CodeState {
    /// Not yet handed out.
    Available = 0,
    /// Held by a dispenser under a lease, not yet handed out
    /// ([`crate::dispenser`]).
    Leased = 3,
    /// Handed to a customer.
    Assigned = 1,
    /// Used in a purchase.
    Redeemed = 2,
    /// Past its expiry, or too close to it to hand out (the pool's
    /// `stop_assigning_before_expiry`); never handed out again unless the
    /// pool's setting changes so that it is not.
    Expired = 4,
    /// Taken out of circulation by an admin (a leaked code): never handed
    /// out, never redeemed.
    Void = 5,
}

impl CodeState {
    /// Every state, in the order a code goes through them.
    pub const ALL: [CodeState; 6] = [
        CodeState::Available,
        CodeState::Leased,
        CodeState::Assigned,
        CodeState::Redeemed,
        CodeState::Expired,
        CodeState::Void,
    ];

    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            CodeState::Available => "available",
            CodeState::Leased => "leased",
            CodeState::Assigned => "assigned",
            CodeState::Redeemed => "redeemed",
            CodeState::Expired => "expired",
            CodeState::Void => "void",
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
        // One script, or Latin with Chinese, Japanese or Korean letters.
        assert_eq!(normalize_code("ПОДАРОК-10"), Ok("ПОДАРОК-10"));
        assert_eq!(normalize_code("セール-SALE10"), Ok("セール-SALE10"));
        assert_eq!(
            normalize_code("福袋-ふくぶくろ-2025"),
            Ok("福袋-ふくぶくろ-2025")
        );
        // Compatibility forms are accepted: the key makes them the plain code.
        assert_eq!(normalize_code("ＣＯＤＥ－１"), Ok("ＣＯＤＥ－１"));
        assert_eq!(normalize_code("CAFE\u{301}-1"), Ok("CAFE\u{301}-1"));
        // Inside a code, these are no formula.
        assert_eq!(normalize_code("A=1+2@x"), Ok("A=1+2@x"));
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
        let at = |position, character| {
            Err(InvalidCode::NotPrintable {
                position,
                character,
            })
        };
        assert_eq!(normalize_code("ABCD\u{1}X"), at(5, '\u{1}'));
        assert_eq!(normalize_code("AB\tCD"), at(3, '\t'));
        assert_eq!(normalize_code("AB\nCD"), at(3, '\n'));
        assert_eq!(normalize_code("AB\u{7f}"), at(3, '\u{7f}'));
        // Positions count characters of the trimmed code.
        assert_eq!(normalize_code("  äb\u{0085}c"), at(3, '\u{85}'));
        assert_eq!(normalize_code("AB\u{00A0}CD"), at(3, '\u{a0}'));
        assert_eq!(normalize_code("AB\u{200B}CD"), at(3, '\u{200b}'));
        assert_eq!(normalize_code("\u{FEFF}ABC"), at(1, '\u{feff}'));
        // Finding 9's invisible lookalikes of CODE-1.
        for (code, position, character) in [
            ("CODE-1\u{FE0F}", 7, '\u{FE0F}'),
            ("CODE-1\u{E0041}", 7, '\u{E0041}'),
            ("CODE-\u{FFF9}1", 6, '\u{FFF9}'),
            ("CODE\u{034F}-1", 5, '\u{034F}'),
            ("CODE-1\u{3164}", 7, '\u{3164}'),
            ("CODE-1\u{2800}", 7, '\u{2800}'),
            ("CODE-1\u{180B}", 7, '\u{180B}'),
            ("C\u{115F}ODE-1", 2, '\u{115F}'),
            ("CODE-1\u{FFA0}", 7, '\u{FFA0}'),
            ("CODE-1\u{E000}", 7, '\u{E000}'),
        ] {
            assert_eq!(normalize_code(code), at(position, character), "{code:?}");
        }
    }

    #[test]
    fn rejects_lookalikes_that_normalization_keeps() {
        assert_eq!(
            normalize_code("C\u{41E}DE-1"),
            Err(InvalidCode::MixedScripts {
                position: 2,
                character: 'О',
                first: "Latin",
                second: "Cyrillic"
            })
        );
        assert!(matches!(
            normalize_code("ΑBC"),
            Err(InvalidCode::MixedScripts {
                second: "Latin",
                ..
            })
        ));
        for dash in [
            '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2212}',
        ] {
            let code = format!("CODE{dash}1");
            assert_eq!(
                normalize_code(&code),
                Err(InvalidCode::Dash {
                    position: 5,
                    character: dash
                }),
                "{code}"
            );
        }
    }

    #[test]
    fn rejects_what_a_spreadsheet_would_run() {
        for code in [
            "=1+1",
            "+49",
            "-5OFF",
            "@SUM(A1)",
            "  =HYPERLINK(\"x\")",
            "＝1",
            "－5",
        ] {
            assert!(
                matches!(normalize_code(code), Err(InvalidCode::FormulaStart { .. })),
                "{code}"
            );
        }
    }

    #[test]
    fn the_key_joins_case_accents_and_compatibility_forms() {
        for same in [
            "CODE-1",
            "code-1",
            "Code-1",
            "ＣＯＤＥ-1",
            "ＣＯＤＥ－１",
            "ｃｏｄｅ-1",
        ] {
            assert_eq!(code_key(same), "code-1", "{same}");
        }
        assert_eq!(code_key("CAF\u{C9}-1"), code_key("CAFE\u{301}-1"));
        assert_eq!(code_key("CAF\u{C9}-1"), "cafe\u{301}-1");
        assert_eq!(code_key("GRÜSSE-2024"), code_key("grüsse-2024"));
        assert_eq!(code_key("ΣΑΛΕ-1"), code_key("σαλε-1"));
        assert_eq!(code_key("ﬁx-²"), "fix-2");
        // Lookalikes the key does not join are refused by normalize_code.
        assert_ne!(code_key("C\u{41E}DE-1"), "code-1");
        // The ASCII fast path agrees with the full computation.
        assert_eq!(code_key("AbC-09_!"), "abc-09_!");
        assert_eq!(code_key(&code_key("ＣＯＤＥ－１")), "code-1");
    }

    #[test]
    fn messages() {
        assert_eq!(InvalidCode::Empty.to_string(), "code is empty");
        assert_eq!(
            InvalidCode::TooLong { chars: 130 }.to_string(),
            "code is 130 characters, at most 128 are allowed"
        );
        assert_eq!(
            normalize_code("CODE\u{200B}1").unwrap_err().to_string(),
            "code contains U+200B at position 5: a control or invisible character that \
             shoppers cannot see or type"
        );
        assert_eq!(
            normalize_code("C\u{41E}DE-1").unwrap_err().to_string(),
            "code mixes Latin and Cyrillic letters (U+041E 'О' at position 2 is Cyrillic): \
             it would look like another code"
        );
        assert_eq!(
            normalize_code("CODE\u{2013}1").unwrap_err().to_string(),
            "code contains the dash U+2013 '–' at position 5: use the hyphen-minus '-'"
        );
        assert_eq!(
            normalize_code("=1").unwrap_err().to_string(),
            "code begins with U+003D '=': spreadsheets run such a cell as a formula, so a \
             code may not begin with = + - or @"
        );
    }
}
