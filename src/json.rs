//! Free JSON in request bodies: how deep it may nest.
//!
//! Some bodies carry JSON the API does not shape: layer `variables`, the
//! `context` of `POST /render`, campaign customer `attributes`, tracked
//! event `properties`. The Worker reads a body with serde_json, which stops
//! at 128 levels; a value just under that, wrapped in the command the Worker
//! sends to the project's store, would come out deeper than the store can
//! read. So every such value is bounded here, well below, before anything is
//! stored or sent on: real variables and properties nest a few levels.

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};

/// Most levels of arrays and objects a free JSON value may nest, the value
/// itself included: `{"shop": "x"}` is 1, `{"products": [{"name": "x"}]}`
/// is 3.
pub const MAX_DEPTH: usize = 16;

/// How many levels of arrays and objects `value` nests (0 for a scalar).
///
/// Looks no deeper than one level past `limit`: the walk is bounded whatever
/// the value, and stops as soon as the answer is "deeper than `limit`".
pub fn depth(value: &Value, limit: usize) -> usize {
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

/// Refuses a value nested deeper than [`MAX_DEPTH`] with `json_too_deep`;
/// `what` names it in the message, e.g. "the layer's variables".
pub fn check_depth(value: &Value, what: &str) -> Result<()> {
    check(depth(value, MAX_DEPTH), what)
}

/// [`check_depth`] for a JSON object held as a map (the object is a level).
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
    fn stops_looking_past_the_limit() {
        assert_eq!(depth(&nested(125), 16), 17);
        assert_eq!(depth(&nested(125), 200), 125);
    }

    #[test]
    fn refuses_more_than_the_limit_with_its_own_code() {
        assert!(check_depth(&nested(MAX_DEPTH), "x").is_ok());
        let err = check_depth(&nested(MAX_DEPTH + 1), "the layer's variables").unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "json_too_deep"));
        assert!(err.message().starts_with("the layer's variables nest"));
        // An object held as a map is one level itself.
        let map = |inner: Value| json!({ "v": inner }).as_object().cloned().unwrap();
        assert!(check_object_depth(&map(nested(MAX_DEPTH - 1)), "x").is_ok());
        let err = check_object_depth(&map(nested(MAX_DEPTH)), "x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::JsonTooDeep);
        assert!(check_object_depth(&Map::new(), "x").is_ok());
    }
}
