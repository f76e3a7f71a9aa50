//! JSON bodies and the free JSON in them: how deep they may nest.
//!
//! Some bodies carry JSON the API does not shape: layer `variables`, the
//! `context` of `POST /render`, campaign customer `attributes`, tracked
//! event `properties`. serde_json stops at 128 levels; a value just under
//! that, wrapped in the command the Worker sends to the project's store,
//! would come out deeper than the store can read. So every such value is
//! bounded here, well below ([`MAX_DEPTH`]: real variables and properties
//! nest a few levels), before anything is stored or sent on; and a whole
//! body is measured before it is parsed ([`from_body`]), so that any body
//! too deep gets the same answer, `json_too_deep`, however deep it is.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};

/// Most levels of arrays and objects a free JSON value may nest, the value
/// itself included: `{"shop": "x"}` is 1, `{"products": [{"name": "x"}]}`
/// is 3.
pub const MAX_DEPTH: usize = 16;

/// Most levels a whole body may nest: the deepest free value
/// ([`MAX_DEPTH`]) inside the deepest body shape (a campaign's
/// `{"customers": [{"attributes": …}]}`) is 19.
pub const MAX_BODY_DEPTH: usize = 32;

/// Parses a JSON body: one nested deeper than [`MAX_BODY_DEPTH`] is
/// `json_too_deep`, measured before parsing; one that does not parse, or is
/// not the shape `T`, is `invalid_json`; one that holds more than
/// `max_values` values is `body_too_large` (see [`crate::api::body`]).
pub fn from_body<T: DeserializeOwned>(bytes: &[u8], max_values: usize) -> Result<T> {
    check_body(bytes, max_values)?;
    Ok(serde_json::from_slice(bytes)?)
}

/// The checks of [`from_body`] before parsing, in one copy for every `T`.
fn check_body(bytes: &[u8], max_values: usize) -> Result<()> {
    if text_depth(bytes, MAX_BODY_DEPTH) > MAX_BODY_DEPTH {
        return Err(Error::new(
            ErrorKind::JsonTooDeep,
            format!(
                "the body nests more than {MAX_BODY_DEPTH} levels of arrays and objects \
                 (a value in it may nest at most {MAX_DEPTH})"
            ),
        ));
    }
    // Depth first: the count parses too, and would stop at serde's own
    // recursion limit with a vaguer error.
    crate::api::body::check_values(bytes, max_values)
}

/// How many levels of arrays and objects JSON text opens, looking no
/// further than the first level past `limit`. Brackets inside strings do
/// not count; the text need not be valid (the parser judges that after).
fn text_depth(bytes: &[u8], limit: usize) -> usize {
    let (mut level, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                level += 1;
                deepest = deepest.max(level);
                if deepest > limit {
                    break;
                }
            }
            b']' | b'}' => level = level.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// How many levels of arrays and objects `value` nests (0 for a scalar).
///
/// Looks no deeper than one level past `limit`: the walk is bounded whatever
/// the value, and stops as soon as the answer is "deeper than `limit`".
fn depth(value: &Value, limit: usize) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, level)) = stack.pop() {
        let children: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            Value::Object(map) => map.values().collect(),
            _ => continue,
        };
        deepest = deepest.max(level);
        if deepest > limit {
            break;
        }
        stack.extend(children.into_iter().map(|child| (child, level + 1)));
    }
    deepest
}

/// Refuses a JSON object (held as a map) nested deeper than [`MAX_DEPTH`],
/// the object itself being the first level, with `json_too_deep`; `what`
/// names it in the message, e.g. "the layer's variables".
pub fn check_object_depth(map: &Map<String, Value>, what: &str) -> Result<()> {
    let below = map
        .values()
        .map(|value| depth(value, MAX_DEPTH))
        .max()
        .unwrap_or(0);
    check(below + 1, what)
}

fn check(found: usize, what: &str) -> Result<()> {
    if found <= MAX_DEPTH {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::JsonTooDeep,
        format!(
            "{what} nest more than {MAX_DEPTH} levels of arrays and objects \
             (at most {MAX_DEPTH} are accepted): flatten them"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A value of `n` arrays around a number.
    fn nested(n: usize) -> Value {
        (0..n).fold(json!(1), |inner, _| json!([inner]))
    }

    #[test]
    fn counts_levels_of_arrays_and_objects() {
        assert_eq!(depth(&json!(1), MAX_DEPTH), 0);
        assert_eq!(depth(&json!({}), MAX_DEPTH), 1);
        assert_eq!(depth(&json!({"shop": "x"}), MAX_DEPTH), 1);
        assert_eq!(depth(&json!({"products": [{"name": "x"}]}), MAX_DEPTH), 3);
        // The deepest branch counts, wherever it is.
        assert_eq!(depth(&json!([1, {"a": [[2]]}, []]), MAX_DEPTH), 4);
        assert_eq!(depth(&nested(16), MAX_DEPTH), 16);
    }

    #[test]
    fn measures_a_body_before_parsing_it() {
        let text = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(text_depth(b"1", 32), 0);
        assert_eq!(text_depth(br#"{"a": [1, {"b": []}], "c": {}}"#, 32), 4);
        // Brackets in strings, escaped quotes included, are text.
        assert_eq!(text_depth(br#"{"a": "[[[{\"[[", "b": "]]]"}"#, 32), 1);
        assert_eq!(text_depth(text(1_000_000).as_bytes(), 32), 33);
        for n in [0, 1, MAX_BODY_DEPTH] {
            assert!(
                from_body::<Value>(text(n).as_bytes(), usize::MAX).is_ok(),
                "{n}"
            );
        }
        // Deeper, and far deeper than serde_json reads: one answer.
        for n in [MAX_BODY_DEPTH + 1, 127, 128, 100_000] {
            let err = from_body::<Value>(text(n).as_bytes(), usize::MAX).unwrap_err();
            assert_eq!((err.status(), err.code()), (400, "json_too_deep"), "{n}");
        }
        let err = from_body::<Value>(b"[1,", usize::MAX).unwrap_err();
        assert_eq!(err.code(), "invalid_json");
    }

    #[test]
    fn stops_looking_past_the_limit() {
        assert_eq!(depth(&nested(125), 16), 17);
        assert_eq!(depth(&nested(125), 200), 125);
    }

    #[test]
    fn refuses_more_than_the_limit_with_its_own_code() {
        // The object is one level itself.
        let map = |inner: Value| json!({ "v": inner }).as_object().cloned().unwrap();
        let err = check_object_depth(&map(nested(MAX_DEPTH)), "the layer's variables").unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "json_too_deep"));
        assert!(err.message().starts_with("the layer's variables nest"));
        assert!(check_object_depth(&map(nested(MAX_DEPTH - 1)), "x").is_ok());
        assert!(check_object_depth(&Map::new(), "x").is_ok());
    }
}
