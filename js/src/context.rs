//! The context of a JavaScript render, as the package's wrapper encodes it.
//!
//! The context crosses the boundary as one byte string, written by
//! `encodeContext` in `npm/index.js`, and stays that byte string: objects are
//! read in place when the template looks a name up, and only the values it
//! reads become minijinja values. That measured fastest: a walk with
//! serde-wasm-bindgen or a lazy view of the JavaScript object make a
//! boundary call per property, `JSON.stringify` plus a JSON parse spend
//! their time printing and parsing numbers and escapes, and turning the
//! whole context into minijinja values up front costs an allocation per
//! object and string, used or not, and as much again to free them.
//!
//! The format (little-endian) is one value:
//!
//! | tag | value | followed by |
//! |-----|-------|-------------|
//! | 0 | `null` | |
//! | 1 | `false` | |
//! | 2 | `true` | |
//! | 3 | number | 8 bytes, an `f64` |
//! | 4 | string | `u32` length, UTF-8 bytes |
//! | 5 | array | `u32` count, `u32` length in bytes, the items |
//! | 6 | object | `u32` count, `u32` length in bytes, the fields: `u32` length, UTF-8 name, value |
//!
//! The lengths let a lookup step over a field's value without reading it.
//! The encoder has already made the values what `JSON.stringify` shows
//! (`toJSON`, no `undefined` or functions, non-finite numbers as `null`).
//! Every read is bounds-checked: bytes that do not follow the format (only
//! a caller bypassing `index.js` could send them) read as undefined.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, Value};

use crate::Failure;

/// The name under which the template sees the vouchers.
const VOUCHERS: &str = "vouchers";

/// Makes the root of a render from an encoded context (an object, whose
/// keys become variables, or `null`), with `vouchers` beside its keys.
///
/// A context key `vouchers` cannot hide the voucher functions, as in the
/// core's `Template::render` on the edge.
pub(crate) fn decode_root(bytes: Vec<u8>, vouchers: Value) -> Result<Value, Failure> {
    let bytes = Arc::new(bytes);
    let fields = match bytes.first() {
        Some(6) if value_len(&bytes, 0) == Some(bytes.len()) => Fields::at(&bytes, 0),
        Some(0) if bytes.len() == 1 => None,
        Some(tag @ 1..=5) => {
            let kind = match tag {
                1 | 2 => "boolean",
                3 => "number",
                4 => "string",
                _ => "array",
            };
            return Err(Failure::new(
                "invalid_context",
                format!("the context is a {kind}, not an object: pass {{ name: value, … }}"),
            ));
        }
        _ => {
            return Err(Failure::new(
                "internal",
                "the encoded context is malformed: use the package's index.js",
            ))
        }
    };
    let fields = fields.unwrap_or(Fields {
        bytes,
        start: 0,
        end: 0,
        count: 0,
        vouchers: None,
    });
    Ok(Value::from_object(Fields {
        vouchers: Some(vouchers),
        ..fields
    }))
}

/// An object of the context, read in place.
#[derive(Debug)]
struct Fields {
    bytes: Arc<Vec<u8>>,
    /// Where the first field starts, and where the last ends.
    start: usize,
    end: usize,
    count: usize,
    /// At the root only: the voucher functions, under [`VOUCHERS`].
    vouchers: Option<Value>,
}

impl Fields {
    /// The object whose tag is at `at`.
    fn at(bytes: &Arc<Vec<u8>>, at: usize) -> Option<Fields> {
        let start = at.checked_add(9)?;
        Some(Fields {
            bytes: bytes.clone(),
            start,
            end: start.checked_add(u32_at(bytes, at + 5)?)?,
            count: u32_at(bytes, at + 1)?,
            vouchers: None,
        })
    }

    /// Each field's name and where its value starts; stops at malformed bytes.
    fn iter(&self) -> impl Iterator<Item = (&[u8], usize)> + '_ {
        let bytes = &self.bytes[..self.end.min(self.bytes.len())];
        let mut at = self.start;
        (0..self.count).map_while(move |_| {
            let name_at = at.checked_add(4)?;
            let value = name_at.checked_add(u32_at(bytes, at)?)?;
            let name = bytes.get(name_at..value)?;
            at = value.checked_add(value_len(bytes, value)?)?;
            Some((name, value))
        })
    }
}

impl Object for Fields {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    // Variables and attribute lookups (`customer.name`) come here with a
    // `&str`; the provided method would make a Value of it every time.
    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        // The root's `vouchers` wins over a context key of that name, as on
        // the edge (where the vouchers are merged in last).
        if key == VOUCHERS && self.vouchers.is_some() {
            return self.vouchers.clone();
        }
        let (_, at) = self.iter().find(|(name, _)| *name == key.as_bytes())?;
        value_at(&self.bytes, at)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut names: Vec<Value> = self
            .iter()
            .filter_map(|(name, _)| std::str::from_utf8(name).ok().map(Value::from))
            .collect();
        if self.vouchers.is_some() && !names.iter().any(|name| name.as_str() == Some(VOUCHERS)) {
            names.push(Value::from(VOUCHERS));
        }
        // Sorted, as the edge's JSON objects are: loops over an object's
        // items run in the same order everywhere.
        names.sort();
        Enumerator::Values(names)
    }
}

/// The `u32` at `at`, as a length or count.
fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(word.try_into().ok()?) as usize)
}

/// How many bytes the value at `at` takes, tag included.
fn value_len(bytes: &[u8], at: usize) -> Option<usize> {
    let len = match bytes.get(at)? {
        0..=2 => 1,
        3 => 9,
        4 => u32_at(bytes, at + 1)?.checked_add(5)?,
        5 | 6 => u32_at(bytes, at + 5)?.checked_add(9)?,
        _ => return None,
    };
    (at.checked_add(len)? <= bytes.len()).then_some(len)
}

/// Deepest nesting of arrays read at once (objects are read when used).
const MAX_DEPTH: usize = 128;

/// The value at `at` as a minijinja value; objects stay in place.
fn value_at(bytes: &Arc<Vec<u8>>, at: usize) -> Option<Value> {
    value_at_depth(bytes, at, 0)
}

fn value_at_depth(bytes: &Arc<Vec<u8>>, at: usize, depth: usize) -> Option<Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match bytes.get(at)? {
        0 => Value::from(()),
        1 => Value::from(false),
        2 => Value::from(true),
        3 => number(f64::from_le_bytes(
            bytes.get(at + 1..at + 9)?.try_into().ok()?,
        )),
        4 => {
            let end = (at + 5).checked_add(u32_at(bytes, at + 1)?)?;
            Value::from(std::str::from_utf8(bytes.get(at + 5..end)?).ok()?)
        }
        5 => {
            let count = u32_at(bytes, at + 1)?;
            let mut items = Vec::with_capacity(count.min(bytes.len()));
            let mut item = at + 9;
            for _ in 0..count {
                items.push(value_at_depth(bytes, item, depth + 1).unwrap_or(Value::UNDEFINED));
                item = item.checked_add(value_len(bytes, item)?)?;
            }
            Value::from(items)
        }
        6 => Value::from_object(Fields::at(bytes, at)?),
        _ => return None,
    })
}

/// A number as a JSON parse would make it: whole numbers as integers (so
/// that `4211` prints as `4211`, not `4211.0`), others as floats.
fn number(n: f64) -> Value {
    const SAFE: f64 = 9_007_199_254_740_991.0; // 2^53 - 1
    if n.fract() == 0.0 && n.abs() <= SAFE {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

#[cfg(test)]
mod tests {
    use minijinja::Value;

    use super::decode_root;
    use crate::Failure;

    fn decode(bytes: &[u8]) -> Result<Value, Failure> {
        decode_root(bytes.to_vec(), Value::from("the vouchers"))
    }

    fn string(s: &str) -> Vec<u8> {
        let mut out = vec![4];
        out.extend((s.len() as u32).to_le_bytes());
        out.extend(s.as_bytes());
        out
    }

    fn number(n: f64) -> Vec<u8> {
        let mut out = vec![3];
        out.extend(n.to_le_bytes());
        out
    }

    /// An array (tag 5) or object (tag 6) of `count` encoded entries.
    fn nested(tag: u8, count: u32, entries: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = entries.concat();
        let mut out = vec![tag];
        out.extend(count.to_le_bytes());
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(body);
        out
    }

    fn field(name: &str, value: Vec<u8>) -> Vec<u8> {
        [string(name)[1..].to_vec(), value].concat()
    }

    #[test]
    fn reads_objects_arrays_and_scalars() {
        let prices = nested(5, 3, &[number(4211.0), number(39.9), vec![0]]);
        let customer = nested(6, 1, &[field("tier", string("gold"))]);
        let bytes = nested(
            6,
            4,
            &[
                field("name", string("Ada <3")),
                field("prices", prices),
                field("customer", customer),
                field("gold", vec![2]),
            ],
        );
        let value = decode(&bytes).unwrap();
        assert_eq!(value.get_attr("name").unwrap().as_str(), Some("Ada <3"));
        assert_eq!(
            value.get_attr("prices").unwrap().to_string(),
            "[4211, 39.9, None]"
        );
        let tier = value
            .get_attr("customer")
            .unwrap()
            .get_attr("tier")
            .unwrap();
        assert_eq!(tier.as_str(), Some("gold"));
        assert!(value.get_attr("gold").unwrap().is_true());
        assert!(value.get_attr("missing").unwrap().is_undefined());
        assert_eq!(
            value.get_attr("vouchers").unwrap().as_str(),
            Some("the vouchers")
        );
        // Names are listed sorted, as a JSON object's on the edge.
        let keys: Vec<String> = value.try_iter().unwrap().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["customer", "gold", "name", "prices", "vouchers"]);
        assert_eq!(value.len(), Some(5));
    }

    #[test]
    fn null_is_an_empty_context_and_other_roots_are_refused() {
        let empty = decode(&[0]).unwrap();
        assert_eq!(empty.len(), Some(1));
        assert_eq!(
            empty.get_attr("vouchers").unwrap().as_str(),
            Some("the vouchers")
        );
        assert_eq!(decode(&number(1.0)).unwrap_err().code, "invalid_context");
        assert_eq!(decode(&string("x")).unwrap_err().code, "invalid_context");
    }

    #[test]
    fn a_context_key_vouchers_cannot_shadow_the_vouchers_as_on_the_edge() {
        let bytes = nested(6, 1, &[field("vouchers", string("mine"))]);
        let value = decode(&bytes).unwrap();
        assert_eq!(
            value.get_attr("vouchers").unwrap().as_str(),
            Some("the vouchers")
        );
        assert_eq!(value.len(), Some(1));
    }

    #[test]
    fn malformed_bytes_are_refused_or_read_as_undefined_never_a_panic() {
        for bytes in [&[][..], &[9], &[0, 0], &[6, 1, 0, 0, 0, 200, 0, 0, 0]] {
            assert_eq!(decode(bytes).unwrap_err().code, "internal");
        }
        // A field whose name runs past the object's end.
        let mut bytes = nested(6, 2, &[field("a", vec![2])]);
        bytes[5] += 8;
        bytes.extend([50, 0, 0, 0, b'x', 0, 0, 0]);
        let value = decode(&bytes).unwrap();
        assert!(value.get_attr("a").unwrap().is_true());
        assert!(value.get_attr("x").unwrap().is_undefined());
        // A string with invalid UTF-8 reads as undefined.
        let bad = nested(6, 1, &[field("s", vec![4, 1, 0, 0, 0, 0xff])]);
        assert!(decode(&bad).unwrap().get_attr("s").unwrap().is_undefined());
        // Arrays nested past the limit end in undefined, not a stack overflow.
        let mut deep = vec![0];
        for _ in 0..1000 {
            deep = nested(5, 1, &[deep]);
        }
        let deep = decode(&nested(6, 1, &[field("d", deep)])).unwrap();
        assert_eq!(deep.get_attr("d").unwrap().len(), Some(1));
    }
}
