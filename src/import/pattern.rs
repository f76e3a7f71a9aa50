//! The codes a generator makes: a pattern of literal characters and `#`
//! placeholders, each placeholder one random character of a charset.
//!
//! `SPRING-####-####` over the `readable` charset makes codes such as
//! `SPRING-7KQ3-M9XA`. A pattern and its charset are checked before
//! anything is generated, so that every code they can make is a valid code
//! ([`crate::pool::normalize_code`]) and the charset's characters are
//! different codes' characters ([`crate::pool::code_key`]: `a` and `A` are
//! one character of a code). Then [`Pattern::capacity`] is exactly how many
//! different codes the pattern can make, up to a few theoretical cases of
//! letters spelt together by a literal (each retried like any collision).

use std::fmt::Write as _;

use crate::error::{Error, ErrorKind, Result};
use crate::import::batches::sort_window;
use crate::import::random::{RandomBytes, MAX_CHOICES};
use crate::input::unicode::{describe, is_invisible, is_mark};
use crate::pool::code::{mixed_scripts, FORMULA_START, MAX_CODE_CHARS};
use crate::pool::{code_key, normalize_code, InvalidCode};

/// The character of a pattern that stands for one random character; a
/// generated code cannot hold a literal `#`.
pub const PLACEHOLDER: char = '#';

/// The default charset: uppercase letters and digits, without those a
/// shopper confuses (`0 O 1 I L`); 31 characters.
pub const READABLE: &str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// The charsets known by name. Uppercase only: codes are compared without
/// case, so `a` and `A` would be one character. An explicit charset of
/// lowercase letters alone is refused (as a misspelt name), so a name is
/// never read as its letters.
pub const NAMED_CHARSETS: [(&str, &str); 4] = [
    ("readable", READABLE),
    ("alphanumeric", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("letters", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("digits", "0123456789"),
];

/// Most characters of an explicit charset (one choice among them is a
/// draw of two random bytes).
pub const MAX_CHARSET: usize = 1024;

const _: () = assert!(MAX_CHARSET <= MAX_CHOICES);

/// The characters a placeholder is drawn from: at least 2, each a
/// different character of a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charset {
    chars: Vec<char>,
}

impl Charset {
    /// A named charset ([`NAMED_CHARSETS`]), or the characters of `spec`.
    ///
    /// # Errors
    ///
    /// `invalid_charset` when `spec` has fewer than 2 or more than
    /// [`MAX_CHARSET`] characters, is lowercase ASCII letters only (a
    /// misspelt name, as far as anyone can tell), holds a character twice, a space or
    /// another character a code may not hold, a combining mark, two
    /// characters that are one character of a code (`a` and `A`), one that
    /// is others spelt together (`ﬁ` beside `f` and `i`), or letters of two
    /// scripts that may not share a code.
    pub fn parse(spec: &str) -> Result<Charset> {
        if let Some((_, chars)) = NAMED_CHARSETS.iter().find(|(name, _)| *name == spec) {
            return Ok(Charset {
                chars: chars.chars().collect(),
            });
        }
        let invalid = |message: String| Err(Error::new(ErrorKind::InvalidCharset, message));
        let chars: Vec<char> = spec.chars().collect();
        let names = NAMED_CHARSETS
            .map(|(name, _)| format!("\"{name}\""))
            .join(", ");
        if chars.len() < 2 {
            return invalid(format!(
                "a charset is one of {names}, or at least 2 characters to draw from, not {spec:?}"
            ));
        }
        // A misspelt name (`numeric`, `hex`) would be a charset of its own
        // letters, and its codes nothing like the ones meant.
        if spec.bytes().all(|b| b.is_ascii_lowercase()) {
            return invalid(format!(
                "charset {spec:?} is no named charset ({names}); to draw from its letters, \
                 write them in uppercase ({:?}): codes are compared without case, so \
                 shoppers may type them either way",
                spec.to_ascii_uppercase()
            ));
        }
        if chars.len() > MAX_CHARSET {
            return invalid(format!(
                "the charset has {} characters, at most {MAX_CHARSET} are allowed",
                chars.len()
            ));
        }
        for (i, &c) in chars.iter().enumerate() {
            if c.is_whitespace() || is_invisible(c) {
                return invalid(format!(
                    "the charset holds {}, a space or a character nobody can see: \
                     list only the characters codes are made of",
                    describe(c)
                ));
            }
            if chars[..i].contains(&c) {
                return invalid(format!("the charset holds {} twice", describe(c)));
            }
            if is_mark(c) {
                return invalid(format!(
                    "the charset holds {}, a combining mark, which joins the character \
                     before it: list accented letters whole (é, not e and U+0301)",
                    describe(c)
                ));
            }
            // The charset's characters, each inside a code: what a code may not
            // hold at all (unprintable, a dash other than `-`) is found here.
            if let Err(err) = normalize_code(&format!("0{c}")) {
                return invalid(format!(
                    "the charset holds {}, which a code may not hold: {err}",
                    describe(c)
                ));
            }
        }
        let keys: Vec<String> = chars
            .iter()
            .map(|c| code_key(c.encode_utf8(&mut [0; 4])))
            .collect();
        for (i, key) in keys.iter().enumerate() {
            if let Some(j) = keys[..i].iter().position(|k| k == key) {
                return invalid(format!(
                    "the charset holds {} and {}, which are one character of a code: codes are \
                     compared without case and compatibility forms (fullwidth letters are \
                     their plain letter), so keep one of them",
                    describe(chars[j]),
                    describe(chars[i])
                ));
            }
            if let Some(parts) = spelt_by_others(&keys, i) {
                let parts: Vec<String> = parts.into_iter().map(|j| describe(chars[j])).collect();
                return invalid(format!(
                    "the charset holds {}, which in a code is the same as {} one after the \
                     other: leave it out, or them",
                    describe(chars[i]),
                    parts.join(" and ")
                ));
            }
        }
        let all: String = chars.iter().collect();
        if let Some(InvalidCode::MixedScripts { first, second, .. }) = mixed_scripts(&all) {
            return invalid(format!(
                "the charset mixes {first} and {second} letters, which no code may: \
                 such codes look like other codes"
            ));
        }
        Ok(Charset { chars })
    }

    /// How many characters a placeholder is drawn from.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Always false: a charset has at least 2 characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters, in the order given.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }
}

impl Default for Charset {
    /// The `readable` charset.
    fn default() -> Self {
        Charset {
            chars: READABLE.chars().collect(),
        }
    }
}

/// The characters (by index) whose keys, one after the other, spell the
/// key of character `i`, if any do: `ﬁ` is `f` then `i` in a code.
fn spelt_by_others(keys: &[String], i: usize) -> Option<Vec<usize>> {
    let key = keys[i].as_str();
    // A key of one character is no other keys one after the other.
    key.chars().nth(1)?;
    // reached[p]: the characters whose keys spell key[..p], if any do.
    let mut reached: Vec<Option<Vec<usize>>> = vec![None; key.len() + 1];
    reached[0] = Some(Vec::new());
    for p in 0..key.len() {
        let Some(before) = reached[p].clone() else {
            continue;
        };
        for (j, other) in keys.iter().enumerate() {
            if j != i && key[p..].starts_with(other.as_str()) {
                let end = p + other.len();
                if reached[end].is_none() {
                    let mut spelt = before.clone();
                    spelt.push(j);
                    reached[end] = Some(spelt);
                }
            }
        }
    }
    reached[key.len()].take()
}

/// An ASCII pattern's codes as numbers: each placeholder's choice in
/// `bits` bits, the first placeholder's highest, choices numbered in the
/// order of their keys. Since every code has its literals in the same
/// places and its choices one byte each, the numbers' order is the order of
/// the codes' keys (ASCII lowercase), and sorting numbers sorts the codes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Packed {
    /// A code's bytes, placeholders included.
    template: Vec<u8>,
    /// Where the placeholders are in `template`.
    slots: Vec<usize>,
    /// The charset's characters (bytes) in the order of their keys.
    by_key: Vec<u8>,
    bits: u32,
}

impl Packed {
    /// The packing of a pattern, if it is ASCII and its choices fit 128 bits.
    fn new(text: &str, charset: &Charset) -> Option<Packed> {
        let mut by_key: Vec<u8> = charset
            .chars()
            .iter()
            .map(|&c| u8::try_from(c).ok().filter(u8::is_ascii))
            .collect::<Option<_>>()?;
        if !text.is_ascii() {
            return None;
        }
        // Distinct keys (the charset's rule), so a total order.
        by_key.sort_by_key(u8::to_ascii_lowercase);
        let bits = usize::BITS - (by_key.len() - 1).leading_zeros();
        let slots: Vec<usize> = text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == PLACEHOLDER as u8)
            .map(|(i, _)| i)
            .collect();
        (slots.len() as u32 * bits <= u128::BITS).then(|| Packed {
            template: text.as_bytes().to_vec(),
            slots,
            by_key,
            bits,
        })
    }

    /// `n` codes drawn as numbers, sorted, then spelt.
    fn sorted<F>(&self, n: usize, random: &mut RandomBytes<F>) -> Result<Vec<String>>
    where
        F: FnMut(&mut [u8]) -> Result<()>,
    {
        let mut numbers: Vec<u128> = Vec::with_capacity(n);
        for _ in 0..n {
            let mut number = 0u128;
            for _ in &self.slots {
                number = number << self.bits | random.below(self.by_key.len())? as u128;
            }
            numbers.push(number);
        }
        numbers.sort_unstable();
        let mask = (1u128 << self.bits) - 1;
        let mut codes = Vec::with_capacity(n);
        for mut number in numbers {
            let mut code = self.template.clone();
            for &slot in self.slots.iter().rev() {
                code[slot] = self.by_key[(number & mask) as usize];
                number >>= self.bits;
            }
            codes.push(String::from_utf8(code).map_err(|e| Error::internal(e.to_string()))?);
        }
        Ok(codes)
    }
}

/// A checked pattern and its charset: every code it makes is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    charset: Charset,
    placeholders: u32,
    /// UTF-8 bytes of a code (the same for every code when the charset is
    /// ASCII; the most otherwise).
    max_bytes: usize,
    /// How an ASCII pattern draws sorted windows cheaply, if it can.
    packed: Option<Packed>,
}

impl Pattern {
    /// Checks `text` with `charset`.
    ///
    /// # Errors
    ///
    /// `invalid_pattern` when the pattern has no `#`, is longer than a code
    /// may be, begins or ends with a space, or makes a code that is not
    /// valid: one that begins with `= + - @`, holds a character no code
    /// may hold, or mixes letters of two scripts (among its literals, or
    /// with the charset's).
    pub fn new(text: &str, charset: Charset) -> Result<Pattern> {
        let invalid = |message: String| Err(Error::new(ErrorKind::InvalidPattern, message));
        let placeholders = text.chars().filter(|&c| c == PLACEHOLDER).count();
        if placeholders == 0 {
            return invalid(format!(
                "the pattern {text:?} has no placeholder: each {PLACEHOLDER} stands for one \
                 random character, e.g. \"SPRING-####-####\""
            ));
        }
        let chars = text.chars().count();
        if chars > MAX_CODE_CHARS {
            return invalid(format!(
                "the pattern is {chars} characters long, and a code at most {MAX_CODE_CHARS}"
            ));
        }
        if text.trim() != text {
            return invalid(format!(
                "the pattern {text:?} begins or ends with a space, which no code can \
                 (codes are trimmed)"
            ));
        }
        // What a code may hold is a property of each of its characters,
        // except its first (= + - @) and the mix of scripts; codes with each
        // charset character in every placeholder try every character in
        // every place, the first included, and every charset letter beside
        // the literal ones. The charset's own letters were checked together.
        for &c in charset.chars() {
            let sample = text.replace(PLACEHOLDER, c.encode_utf8(&mut [0; 4]));
            let Err(err) = normalize_code(&sample) else {
                continue;
            };
            if text.starts_with(PLACEHOLDER) && matches!(err, InvalidCode::FormulaStart { .. }) {
                let starts = FORMULA_START.map(String::from).join(" ");
                return invalid(format!(
                    "the pattern begins with {PLACEHOLDER}, so a code may begin with {} of the \
                     charset, and no code may begin with {starts} (spreadsheets run such a \
                     cell as a formula): begin the pattern with another character, or leave \
                     {} out of the charset",
                    describe(c),
                    describe(c)
                ));
            }
            return invalid(format!(
                "the pattern makes codes such as {sample:?}, which is not a valid code: {err}"
            ));
        }
        let widest = charset
            .chars()
            .iter()
            .map(|c| c.len_utf8())
            .max()
            .unwrap_or(1);
        let max_bytes = text.len() + placeholders * (widest - PLACEHOLDER.len_utf8());
        let packed = Packed::new(text, &charset);
        Ok(Pattern {
            text: text.to_owned(),
            charset,
            placeholders: placeholders as u32,
            max_bytes,
            packed,
        })
    }

    /// The pattern as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its charset.
    pub fn charset(&self) -> &Charset {
        &self.charset
    }

    /// How many `#` it has.
    pub fn placeholders(&self) -> u32 {
        self.placeholders
    }

    /// The most UTF-8 bytes a code of this pattern takes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// How many different codes the pattern makes: the charset's size to
    /// the power of the placeholders, [`u64::MAX`] when that is larger.
    pub fn capacity(&self) -> u64 {
        (self.charset.len() as u64).saturating_pow(self.placeholders)
    }

    /// How many placeholders more would make the pattern hold `codes`.
    pub fn placeholders_short_of(&self, codes: u64) -> u32 {
        let n = self.charset.len() as u64;
        let mut capacity = self.capacity();
        let mut more = 0;
        while capacity < codes {
            capacity = capacity.saturating_mul(n);
            more += 1;
        }
        more
    }

    /// One random code of the pattern, each placeholder drawn uniformly
    /// from the charset.
    pub fn candidate<F>(&self, random: &mut RandomBytes<F>) -> Result<String>
    where
        F: FnMut(&mut [u8]) -> Result<()>,
    {
        let chars = self.charset.chars();
        let mut code = String::with_capacity(self.max_bytes);
        for c in self.text.chars() {
            if c == PLACEHOLDER {
                code.push(chars[random.below(chars.len())?]);
            } else {
                code.push(c);
            }
        }
        Ok(code)
    }

    /// `n` random codes of the pattern, sorted as [`sort_window`] sorts a
    /// window for the store (by key).
    ///
    /// An ASCII pattern and charset whose choices fit 128 bits (31
    /// characters: 25 placeholders) draw each code as a number whose bits
    /// are its choices, sort the numbers and spell them, with no key per
    /// code and no string comparison: sorting codes by key took 7% of a
    /// generation's profile in the Worker (BENCHMARKS.md). Others draw
    /// codes and sort them by key.
    pub fn sorted_candidates<F>(&self, n: usize, random: &mut RandomBytes<F>) -> Result<Vec<String>>
    where
        F: FnMut(&mut [u8]) -> Result<()>,
    {
        if let Some(packed) = &self.packed {
            return packed.sorted(n, random);
        }
        let mut window = Vec::with_capacity(n);
        for _ in 0..n {
            window.push(self.candidate(random)?);
        }
        sort_window(&mut window);
        Ok(window)
    }

    /// A line that describes the pattern, for tests and logs: its text,
    /// charset, placeholders and capacity.
    pub fn describe(&self) -> String {
        let mut text = format!("pattern {:?}, charset ", self.text);
        let charset: String = self.charset.chars().iter().collect();
        let _ = write!(
            text,
            "{charset:?} ({} characters), {} placeholders, capacity {}, {} characters a code",
            self.charset.len(),
            self.placeholders,
            self.capacity(),
            self.text.chars().count()
        );
        text
    }
}
