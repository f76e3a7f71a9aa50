//! The context of a JavaScript render, as the package's wrapper encodes it.
//!
//! The context crosses the boundary as one byte string, written by
//! `encodeContext` in `js/index.js` and read here straight into minijinja
//! values. That measured faster than the alternatives: a walk with
//! serde-wasm-bindgen or a lazy object make a boundary call per property,
//! and `JSON.stringify` plus a JSON parse spend their time printing and
//! parsing numbers and escapes that this format does not have.
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
//! | 5 | array | `u32` count, that many values |
//! | 6 | object | `u32` count, that many (`u32` length, UTF-8 key, value) |
//!
//! The encoder has already made the values what `JSON.stringify` shows
//! (`toJSON`, no `undefined` or functions, non-finite numbers as `null`).

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectExt, Value};

use crate::error::Error;

/// Deepest nesting read; the encoder refuses deeper contexts first.
const MAX_DEPTH: usize = 128;

/// Reads an encoded context (an object, whose keys become variables, or
/// `null`) into the root of a render, with `vouchers` beside its keys.
///
/// A context key `vouchers` hides the voucher functions, as it does in
/// [`Template::render`](crate::template::Template::render) on the edge.
pub(crate) fn decode_root(bytes: &[u8], vouchers: Value) -> Result<Value, Error> {
    let mut reader = Reader { bytes, at: 0 };
    let malformed =
        || Error::internal("the encoded context is malformed: use the package's index.js");
    let mut fields = match bytes.first() {
        Some(6) => reader.fields(0).ok_or_else(malformed)?,
        Some(0) => {
            reader.at = 1;
            Vec::new()
        }
        _ => {
            let kind = reader.value(0).ok_or_else(malformed)?.kind();
            return Err(Error::bad_request(
                "invalid_context",
                format!("the context is a {kind}, not an object: pass {{ name: value, … }}"),
            ));
        }
    };
    if reader.at != bytes.len() {
        return Err(malformed());
    }
    let name = Value::from(VOUCHERS);
    if let Err(at) = fields.binary_search_by(|(key, _)| key.cmp(&name)) {
        fields.insert(at, (name, vouchers));
    }
    Ok(Value::from_object(Fields(fields)))
}

/// The name under which the template sees the vouchers.
const VOUCHERS: &str = "vouchers";

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let taken = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(taken)
    }

    fn u32(&mut self) -> Option<usize> {
        let bytes = self.take(4)?.try_into().ok()?;
        Some(u32::from_le_bytes(bytes) as usize)
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()?;
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let tag = *self.take(1)?.first()?;
        Some(match tag {
            0 => Value::from(()),
            1 => Value::from(false),
            2 => Value::from(true),
            3 => number(f64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            4 => Value::from(self.str()?),
            5 => {
                let count = self.u32()?;
                // Each item takes at least a byte: a count past the end is malformed.
                let mut items = Vec::with_capacity(count.min(self.bytes.len() - self.at));
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Value::from(items)
            }
            6 => {
                self.at -= 1;
                Value::from_object(Fields(self.fields(depth)?))
            }
            _ => return None,
        })
    }

    /// An object's fields, sorted by name as the edge's JSON objects are,
    /// so that loops over an object's items run in the same order everywhere.
    fn fields(&mut self, depth: usize) -> Option<Vec<(Value, Value)>> {
        if self.take(1)? != [6] {
            return None;
        }
        let count = self.u32()?;
        let mut fields = Vec::with_capacity(count.min(self.bytes.len() - self.at));
        for _ in 0..count {
            let key = self.str()?;
            fields.push((Value::from(key), self.value(depth + 1)?));
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Some(fields)
    }
}

/// An object of the context: its fields sorted by name.
///
/// Cheaper than minijinja's own map for the few fields a JavaScript object
/// usually has: one allocation to build, a short scan to look up.
#[derive(Debug)]
struct Fields(Vec<(Value, Value)>);

impl Object for Fields {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    // Attribute lookups (`customer.name`) and variables come here with a
    // `&str`; the provided method would make a Value of it every time.
    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.0
            .iter()
            .find(|(name, _)| name.as_str() == Some(key))
            .map(|(_, value)| value.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.mapped_enumerator(|this| Box::new(this.0.iter().map(|(name, _)| name.clone())))
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
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

    fn decode(bytes: &[u8]) -> crate::Result<Value> {
        decode_root(bytes, Value::from("the vouchers"))
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

    #[test]
    fn decodes_objects_arrays_and_scalars() {
        let mut bytes = vec![6];
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(&string("name")[1..]);
        bytes.extend(string("Ada <3"));
        bytes.extend(&string("prices")[1..]);
        bytes.push(5);
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(number(4211.0));
        bytes.extend(number(39.9));
        bytes.push(0);
        bytes.extend(&string("gold")[1..]);
        bytes.push(2);
        let value = decode(&bytes).unwrap();
        assert_eq!(value.get_attr("name").unwrap().as_str(), Some("Ada <3"));
        assert_eq!(
            value.get_attr("prices").unwrap().to_string(),
            "[4211, 39.9, None]"
        );
        assert!(value.get_attr("gold").unwrap().is_true());
        // Fields are listed sorted by name, as a JSON object on the edge.
        let keys: Vec<String> = value.try_iter().unwrap().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["gold", "name", "prices", "vouchers"]);
        assert_eq!(value.len(), Some(4));
        assert_eq!(
            value.get_attr("vouchers").unwrap().as_str(),
            Some("the vouchers")
        );
        assert!(value.get_attr("missing").unwrap().is_undefined());
    }

    #[test]
    fn null_is_an_empty_context_and_other_roots_are_refused() {
        assert_eq!(decode(&[0]).unwrap().len(), Some(1));
        let err = decode(&number(1.0)).unwrap_err();
        assert_eq!(err.code, "invalid_context");
    }

    #[test]
    fn a_context_key_vouchers_hides_the_vouchers_as_on_the_edge() {
        let mut bytes = vec![6];
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(&string("vouchers")[1..]);
        bytes.extend(string("mine"));
        let value = decode(&bytes).unwrap();
        assert_eq!(value.get_attr("vouchers").unwrap().as_str(), Some("mine"));
        assert_eq!(value.len(), Some(1));
    }

    #[test]
    fn malformed_bytes_are_an_error_not_a_panic() {
        for bytes in [
            &[][..],
            &[9],
            &[4, 10, 0, 0, 0, b'a'],
            &[5, 255, 255, 255, 255],
            &[0, 0],
        ] {
            assert_eq!(decode(bytes).unwrap_err().code, "internal");
        }
        let deep: Vec<u8> = std::iter::repeat_n([5u8, 1, 0, 0, 0], 200)
            .flatten()
            .collect();
        assert_eq!(decode(&deep).unwrap_err().code, "internal");
    }
}
