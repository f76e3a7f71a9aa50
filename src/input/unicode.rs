//! The Unicode facts that identifiers (codes, customer ids) are checked
//! with, from the Unicode Character Database as ICU4X bakes it in.
//!
//! One predicate says which characters nobody can see or type back
//! ([`is_invisible`]), so that codes and customer ids refuse the same ones.

use icu_properties::props::{Dash, DefaultIgnorableCodePoint, GeneralCategory, Script};
use icu_properties::{CodePointMapData, CodePointSetData, PropertyNamesLong};

/// Whether `c` cannot be seen, or not told from nothing or from a space:
///
/// - a control character (general category Cc), a format character (Cf:
///   zero-width spaces and joiners, bidirectional controls such as U+202E,
///   tag characters, interlinear annotation marks), a surrogate (Cs);
/// - a line or paragraph separator (Zl, Zp), or a space other than U+0020
///   (Zs: no-break, ideographic, en/em spaces…);
/// - a default-ignorable character, which renderers draw as nothing:
///   variation selectors (U+FE00–U+FE0F, U+E0100–), the combining grapheme
///   joiner U+034F, Mongolian variation selectors (U+180B–), the Hangul
///   fillers (U+115F, U+1160, U+3164, U+FFA0)…;
/// - U+2800 BRAILLE PATTERN BLANK, a symbol drawn as an empty cell;
/// - U+FFFD, the replacement character: it stands for text lost when bytes
///   were decoded with the wrong encoding.
pub fn is_invisible(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    matches!(
        category,
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::SpaceSeparator
    ) || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || matches!(c, '\u{2800}' | '\u{FFFD}')
}

/// Whether `c` is no character anyone can type: not assigned in Unicode
/// (Cn), or for private use (Co), drawn differently by every font.
pub fn is_unassigned_or_private(c: char) -> bool {
    !c.is_ascii()
        && matches!(
            CodePointMapData::<GeneralCategory>::new().get(c),
            GeneralCategory::Unassigned | GeneralCategory::PrivateUse
        )
}

/// Whether `c` is a dash: Unicode's property Dash (dash punctuation, the
/// minus sign U+2212 and their compatibility forms).
pub fn is_dash(c: char) -> bool {
    c == '-' || (!c.is_ascii() && CodePointSetData::new::<Dash>().contains(c))
}

/// Whether `c` is a combining mark (general category M: Mn, Mc, Me), such
/// as U+0301 COMBINING ACUTE ACCENT: it joins the character before it.
pub fn is_mark(c: char) -> bool {
    !c.is_ascii()
        && matches!(
            CodePointMapData::<GeneralCategory>::new().get(c),
            GeneralCategory::NonspacingMark
                | GeneralCategory::SpacingMark
                | GeneralCategory::EnclosingMark
        )
}

/// The script of a letter, for the mixed-script rule of codes; `None` for
/// characters every script uses (digits, punctuation, symbols, combining
/// marks: Unicode's Common and Inherited).
pub fn script_of(c: char) -> Option<Script> {
    if c.is_ascii() {
        return c.is_ascii_alphabetic().then_some(Script::Latin);
    }
    let script = CodePointMapData::<Script>::new().get(c);
    (!matches!(script, Script::Common | Script::Inherited | Script::Unknown)).then_some(script)
}

/// The English name of a script, e.g. `Cyrillic`.
pub fn script_name(script: Script) -> &'static str {
    PropertyNamesLong::<Script>::new()
        .get(script)
        .unwrap_or("another")
}

/// A character as messages name it: `U+202E`, and the character itself in
/// quotes when it can be seen, e.g. `U+041E 'О'`.
pub fn describe(c: char) -> String {
    if is_invisible(c) || is_unassigned_or_private(c) {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters() {
        for c in [
            '\0',
            '\t',
            '\n',
            '\u{7f}',
            '\u{85}',
            '\u{a0}',
            '\u{ad}',
            '\u{34f}',
            '\u{61c}',
            '\u{115f}',
            '\u{1160}',
            '\u{180b}',
            '\u{180e}',
            '\u{200b}',
            '\u{200d}',
            '\u{200e}',
            '\u{2028}',
            '\u{2029}',
            '\u{202a}',
            '\u{202e}',
            '\u{2060}',
            '\u{2066}',
            '\u{2800}',
            '\u{3000}',
            '\u{3164}',
            '\u{fe00}',
            '\u{fe0f}',
            '\u{feff}',
            '\u{ffa0}',
            '\u{fff9}',
            '\u{fffd}',
            '\u{e0001}',
            '\u{e0041}',
            '\u{e0100}',
            '\u{1d173}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", c as u32);
        }
        for c in [
            'a', ' ', '-', 'é', 'ß', 'О', '中', 'ー', '🎁', '\u{301}', '€',
        ] {
            assert!(!is_invisible(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn dashes_scripts_and_names() {
        for c in [
            '-', '\u{2010}', '\u{2011}', '\u{2013}', '\u{2014}', '\u{2212}', '\u{ff0d}',
        ] {
            assert!(is_dash(c), "U+{:04X}", c as u32);
        }
        assert!(!is_dash('_') && !is_dash('~') && !is_dash('ー'));
        assert_eq!(script_of('C'), Some(Script::Latin));
        assert_eq!(script_of('Ｃ'), Some(Script::Latin));
        assert_eq!(script_of('О'), Some(Script::Cyrillic));
        assert_eq!(script_of('1'), None);
        assert_eq!(script_of('\u{301}'), None);
        assert_eq!(script_name(Script::Cyrillic), "Cyrillic");
        assert!(is_mark('\u{301}') && is_mark('\u{903}') && is_mark('\u{20dd}'));
        assert!(!is_mark('a') && !is_mark('é') && !is_mark('^'));
        assert!(is_unassigned_or_private('\u{e000}') && is_unassigned_or_private('\u{378}'));
        assert_eq!(describe('О'), "U+041E 'О'");
        assert_eq!(describe('\u{202e}'), "U+202E");
    }
}
