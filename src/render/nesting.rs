//! How deeply a template's source nests, measured before minijinja parses it.
//!
//! minijinja's parser bounds brackets and nested blocks, but not chains:
//! `{{ ----…1 }}`, `{{ 1+1+…+1 }}`, `{{ x.a.a.… }}`, `{{ x|abs|abs… }}`,
//! `not not …` and `{% elif %}` after `{% elif %}` each build one level of
//! syntax tree per token, and parsing, compiling and dropping that tree
//! recurse once per level. Some thousands of levels fit in 64 KiB of source
//! and overflow the stack: in the Worker that traps the whole WebAssembly
//! instance (a 500 without a JSON body, or a request that never answers).
//! So the source is scanned first, without recursion, and a template that
//! could nest deeper than a limit is refused as a template error.
//!
//! The scan follows minijinja's lexer where it matters (tags end at `}}` or
//! `%}` only outside brackets; strings and comments are skipped) and
//! overestimates elsewhere: within one list item or argument every operator
//! counts as a level, as if all of them nested.

/// The deepest nesting found, with the 1-based line of the tag where it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Nesting {
    /// Upper bound on the syntax tree depth of the deepest tag's expression.
    pub expression: usize,
    /// Line of the tag with the deepest expression.
    pub expression_line: usize,
    /// Most `{% elif %}` branches open at once (each nests the rest).
    pub elif: usize,
    /// Line of the `{% elif %}` where that was reached.
    pub elif_line: usize,
}

/// Operators that are words.
const KEYWORDS: &[&str] = &["and", "or", "not", "if", "else", "is", "in"];

/// One bracket level of a tag while it is scanned.
#[derive(Debug, Clone, Copy, Default)]
struct Level {
    /// Operators in the current item (items are separated by `,` and `:`).
    ops: usize,
    /// Deepest bracket group inside the current item.
    child: usize,
    /// Deepest item of this level so far.
    deepest: usize,
}

impl Level {
    /// Closes the current item; the next one starts from nothing.
    fn end_item(&mut self) {
        self.deepest = self.deepest.max(self.ops + self.child);
        self.ops = 0;
        self.child = 0;
    }
}

/// Scans a template's source; see the [module docs](self).
pub(crate) fn nesting(source: &str) -> Nesting {
    let b = source.as_bytes();
    let mut out = Nesting::default();
    // Elif branches seen in each `{% if %}` still open.
    let mut ifs: Vec<usize> = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1)) {
            (b'{', Some(b'#')) => {
                let end = find(b, i + 2, b"#}").map_or(b.len(), |e| e + 2);
                line += count_lines(&b[i..end]);
                i = end;
            }
            (b'{', Some(&open @ (b'{' | b'%'))) => {
                let tag_line = line;
                let tag = scan_tag(b, i + 2, open == b'%');
                line += count_lines(&b[i..tag.end]);
                i = tag.end;
                if tag.depth > out.expression {
                    out.expression = tag.depth;
                    out.expression_line = tag_line;
                }
                match tag.first_word {
                    Some("if") => ifs.push(0),
                    Some("elif") => {
                        if let Some(open) = ifs.last_mut() {
                            *open += 1;
                        }
                        let elif = ifs.iter().sum();
                        if elif > out.elif {
                            out.elif = elif;
                            out.elif_line = tag_line;
                        }
                    }
                    Some("endif") => {
                        ifs.pop();
                    }
                    Some("raw") => {
                        // The raw block's content is text, up to `{% endraw %}`.
                        let end = end_of_raw(b, i);
                        line += count_lines(&b[i..end]);
                        i = end;
                    }
                    _ => {}
                }
            }
            (c, _) => {
                line += usize::from(c == b'\n');
                i += 1;
            }
        }
    }
    out
}

/// What one tag holds.
struct Tag<'s> {
    /// Index just after the tag's end marker (or the end of the source).
    end: usize,
    /// Upper bound on its expression's depth.
    depth: usize,
    /// The first word of a `{% %}` tag: `if`, `elif`, `raw`…
    first_word: Option<&'s str>,
}

/// Scans one tag from just after `{{` or `{%`.
fn scan_tag(b: &[u8], start: usize, statement: bool) -> Tag<'_> {
    let closer: &[u8] = if statement { b"%}" } else { b"}}" };
    let mut levels = vec![Level::default()];
    // minijinja's paren balance: unmatched closers make it negative.
    let mut balance: isize = 0;
    let mut first_word = None;
    let mut first_token = true;
    let mut i = start;
    // Whitespace control right after the opener (`{%-`, `{{+`) is no operator.
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let end = loop {
        let Some(&c) = b.get(i) else {
            break b.len();
        };
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if balance == 0 {
            if b[i..].starts_with(closer) {
                break i + 2;
            }
            if matches!(c, b'-' | b'+') && b[i + 1..].starts_with(closer) {
                break i + 3;
            }
        }
        let word_start = i;
        let mut op = false;
        match c {
            b'"' | b'\'' => i = end_of_string(b, i),
            b'0'..=b'9' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
            }
            c if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric() || b[i] >= 0x80)
                {
                    i += 1;
                }
                // Bytes from 0x80 on are whole UTF-8 characters here.
                let word = std::str::from_utf8(&b[word_start..i]).unwrap_or("");
                op = KEYWORDS.contains(&word);
                if statement && first_token {
                    first_word = Some(word);
                }
            }
            b'(' | b'[' | b'{' => {
                balance += 1;
                // The group is an operand (and a call or subscript is a node).
                if let Some(level) = levels.last_mut() {
                    level.ops += 1;
                }
                levels.push(Level::default());
                i += 1;
            }
            b')' | b']' | b'}' => {
                balance -= 1;
                close_level(&mut levels);
                i += 1;
            }
            b',' | b':' => {
                if let Some(level) = levels.last_mut() {
                    level.end_item();
                }
                i += 1;
            }
            b'=' if b.get(i + 1) != Some(&b'=') => i += 1,
            _ => {
                // Operators, one or two bytes (`**`, `//`, `==`…): one level.
                op = true;
                i += if matches!(
                    &b[i..(i + 2).min(b.len())],
                    b"//" | b"**" | b"==" | b"!=" | b">=" | b"<="
                ) {
                    2
                } else {
                    1
                };
            }
        }
        first_token = false;
        if op {
            if let Some(level) = levels.last_mut() {
                level.ops += 1;
            }
        }
    };
    while levels.len() > 1 {
        close_level(&mut levels);
    }
    let mut top = levels.pop().unwrap_or_default();
    top.end_item();
    Tag {
        end,
        depth: top.deepest,
        first_word,
    }
}

/// Closes the innermost bracket level into its parent's current item.
fn close_level(levels: &mut Vec<Level>) {
    if levels.len() < 2 {
        return;
    }
    if let Some(mut level) = levels.pop() {
        level.end_item();
        if let Some(parent) = levels.last_mut() {
            parent.child = parent.child.max(level.deepest + 1);
        }
    }
}

/// Index after the string literal starting at `start` (minijinja's escapes:
/// a backslash takes the next byte); the end of the source if unterminated.
fn end_of_string(b: &[u8], start: usize) -> usize {
    let quote = b[start];
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Index of the `{%` of the `{% endraw %}` closing a raw block whose content
/// starts at `from` (the end of the source if there is none).
fn end_of_raw(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(open) = find(b, i, b"{%") {
        let mut j = open + 2;
        if matches!(b.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        while b.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        if b[j..].starts_with(b"endraw") {
            return open;
        }
        i = open + 2;
    }
    b.len()
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn count_lines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(source: &str) -> usize {
        nesting(source).expression
    }

    #[test]
    fn chains_count_one_level_per_operator() {
        assert_eq!(expr("{{ x }}"), 0);
        assert_eq!(expr("{{ -1 }}"), 1);
        assert_eq!(expr(&format!("{{{{ {}1 }}}}", "-".repeat(500))), 500);
        assert_eq!(expr(&format!("{{{{ 1{} }}}}", "+1".repeat(300))), 300);
        assert_eq!(expr(&format!("{{{{ x{} }}}}", ".a".repeat(300))), 300);
        assert_eq!(expr(&format!("{{{{ x{} }}}}", "|e".repeat(300))), 300);
        assert_eq!(expr(&format!("{{{{ {}x }}}}", "not ".repeat(300))), 300);
        assert_eq!(expr("{{ a ** b // c == d }}"), 3);
        // Whitespace control is no operator.
        assert_eq!(expr("{{- x -}}{%- if y -%}{%+ endif +%}"), 1);
    }

    #[test]
    fn list_items_and_arguments_do_not_add_up() {
        let items: Vec<String> = (0..500).map(|i| format!("{{\"n\": -{i}}}")).collect();
        // Each bracket counts twice (operand and level), `-` once: the
        // items are siblings, so 500 of them are as deep as one.
        assert_eq!(expr(&format!("{{% set xs = [{}] %}}", items.join(", "))), 5);
        assert_eq!(expr("{{ f(a + b, c + d) ~ x }}"), 4);
        assert_eq!(expr("{{ ((((1)))) }}"), 8);
        assert_eq!(expr("{{ x[1:2] }}"), 2);
    }

    #[test]
    fn strings_comments_and_text_do_not_count() {
        assert_eq!(expr("a - b - c {{ x }} - - -"), 0);
        assert_eq!(
            expr("{# {{ -------1 }} #}{{ '}} - - -' ~ \"\\\" - -\" }}"),
            1
        );
        // A `}}` inside brackets does not end the tag, as in minijinja.
        assert_eq!(expr("{{ {'a': {'b': 1}} ~ x.y.z }}"), 7);
        assert_eq!(
            expr("{% raw %}{{ ---------x }}{% endraw %}{{ -x }}"),
            1,
            "raw content is text"
        );
    }

    #[test]
    fn elif_chains_and_lines() {
        let chain = format!(
            "{{% if a %}}\n{}{{% endif %}}{{% if b %}}{{% elif c %}}{{% endif %}}",
            "{% elif a %}\n".repeat(40)
        );
        let n = nesting(&chain);
        assert_eq!((n.elif, n.elif_line), (40, 41));
        let n = nesting(
            "{% if a %}{% elif b %}{% if c %}{% elif d %}{% elif e %}{% endif %}{% endif %}",
        );
        assert_eq!(n.elif, 3);
        let n = nesting("x\n\n{{ 1 }}\n{{ -1 }}\n{{ --1 }}{{ -1 }}");
        assert_eq!((n.expression, n.expression_line), (2, 5));
    }

    #[test]
    fn unterminated_input_ends_the_scan() {
        for source in [
            "{{ 'abc",
            "{{ (((",
            "{# x",
            "{% raw %}{{",
            "{{ x\\",
            "{",
            "{{ ]]]] }}",
        ] {
            nesting(source);
        }
    }
}
