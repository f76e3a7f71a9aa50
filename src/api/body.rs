//! JSON request bodies are counted before they are parsed into values.
//!
//! A value is two bytes of JSON text (`0,`) and 16 to 60 bytes once parsed
//! (`serde_json::Value`, then the template's copy of it), so a body's size
//! alone does not bound the memory its values take: 8 MiB of zeros as one
//! customer's attributes took 526 MB in the Worker. [`check_values`] walks a
//! body without keeping anything and refuses one that holds more values
//! than its route accepts.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, ErrorKind, Result};

/// Most values (every number, string, key, list and map counts one) in the
/// JSON body of an admin route (at most 1 MiB): room for a layer's product
/// lists, a few megabytes once parsed.
pub const MAX_JSON_VALUES: usize = 100_000;

/// Refuses a JSON body with more than `max` values (413 `body_too_large`),
/// and one that is not JSON (400 `invalid_json`), without building any value.
pub fn check_values(body: &[u8], max: usize) -> Result<()> {
    let left = Cell::new(max);
    let over = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let counted = Count {
        left: &left,
        over: &over,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match counted {
        Ok(()) => Ok(()),
        Err(_) if over.get() => Err(Error::new(
            ErrorKind::BodyTooLarge,
            format!(
                "the body holds more than {max} JSON values (numbers, strings, keys, lists \
                 and maps), more than this route accepts: send less per request"
            ),
        )),
        Err(err) => Err(Error::from(err)),
    }
}

/// Counts one value and everything in it against `left`.
#[derive(Clone, Copy)]
struct Count<'a> {
    left: &'a Cell<usize>,
    over: &'a Cell<bool>,
}

impl Count<'_> {
    fn one<E: de::Error>(self) -> std::result::Result<(), E> {
        match self.left.get().checked_sub(1) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => {
                self.over.set(true);
                Err(E::custom("too many values"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<(), E> {
        self.one()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<(), E> {
        self.one()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<(), E> {
        self.one()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<(), E> {
        self.one()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<(), E> {
        self.one()
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        self.one()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        self.one()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        self.one()?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_value_and_key() {
        // The map, two keys, the list, three numbers, a string.
        let body = br#"{"a": [1, 2, 3], "b": "x"}"#;
        assert!(check_values(body, 8).is_ok());
        let err = check_values(body, 7).unwrap_err();
        assert_eq!((err.status(), err.code()), (413, "body_too_large"));
    }

    #[test]
    fn a_body_that_is_not_json_is_invalid_json() {
        for body in [&b"{"[..], b"[1,]", b"{} {}", b""] {
            let err = check_values(body, 100).unwrap_err();
            assert_eq!(err.code(), "invalid_json", "{body:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_within_a_small_stack() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || check_values(deep.as_bytes(), usize::MAX))
            .unwrap()
            .join()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code(), "invalid_json");
    }
}
