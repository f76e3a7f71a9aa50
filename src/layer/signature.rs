//! Signed customer ids: so nobody can fetch another customer's code, nor
//! take codes for made-up customers.
//!
//! A layer can require that the customer id it renders for comes with an
//! HMAC-SHA256 signature made by the site's back end with the project's
//! signing key. Without the key, a visitor cannot ask for someone else's
//! `per_customer` code, nor invent ids to take one code after another.
//!
//! A signature can carry an expiry, so that a pair copied out of a page
//! stops working: `sig` = hex HMAC-SHA256 of `"{id}.{exp}"` with `exp` the
//! last Unix second it is good for, at most [`MAX_LIFETIME_SECS`] ahead.
//! Signatures over the id alone (made before expiries existed) never
//! expire; a layer with `require_expiry` refuses them.
//!
//! The message of an expiring signature, `"ada.1764100000"`, is also a
//! customer id one could sign alone. So that a leaked expiring pair cannot
//! be replayed as a never-expiring one for the id `ada.1764100000`, a
//! signature without `exp` is refused for an id ending in a dot and ten or
//! more digits (every `exp` since 2001 has ten).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, ErrorKind, Result};

/// Shortest signing key accepted, in characters.
pub const MIN_KEY_CHARS: usize = 32;

/// Furthest ahead an `exp` may be: a week, so a pair that leaks works a
/// week at most, while a page a visitor keeps open for days still shows its
/// layer. Sites should sign for much less (see README).
pub const MAX_LIFETIME_SECS: i64 = 7 * 24 * 60 * 60;

fn mac(key: &str, message: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(message.as_bytes());
    mac
}

fn hex_mac(key: &str, message: &str) -> String {
    hex::encode(mac(key, message).finalize().into_bytes())
}

/// Whether `signature` (hex) is the MAC of `message`; in constant time.
fn verify(key: &str, message: &str, signature: &str) -> bool {
    match hex::decode(signature.trim()) {
        Ok(bytes) => mac(key, message).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

/// The signature of a customer id that never expires: lowercase hex of
/// HMAC-SHA256(key, id). Prefer [`sign_customer_until`].
///
/// A site's back end computes the same, e.g. in Node:
/// `crypto.createHmac('sha256', key).update(id).digest('hex')`.
pub fn sign_customer(key: &str, customer_id: &str) -> String {
    hex_mac(key, customer_id)
}

/// The signature of a customer id good until `exp` (Unix seconds):
/// lowercase hex of HMAC-SHA256(key, `"{id}.{exp}"`).
///
/// In Node: ``crypto.createHmac('sha256', key).update(`${id}.${exp}`).digest('hex')``.
pub fn sign_customer_until(key: &str, customer_id: &str, exp: i64) -> String {
    hex_mac(key, &expiring_message(customer_id, exp))
}

fn expiring_message(customer_id: &str, exp: i64) -> String {
    format!("{customer_id}.{exp}")
}

/// Reads the `exp` query parameter: Unix seconds, written as plain digits
/// without a leading zero, since the signature is over that exact text.
pub fn parse_expiry(text: &str) -> Result<i64> {
    let canonical =
        text.len() <= 12 && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    canonical
        .then(|| text.parse().ok())
        .flatten()
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidCustomerSignature,
                format!("exp {text:?} is not Unix seconds: send digits, e.g. exp=1764100000"),
            )
        })
}

/// What a display brings to prove who it is for.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerProof<'a> {
    /// The customer id.
    pub customer_id: Option<&'a str>,
    /// `sig`: the hex signature.
    pub signature: Option<&'a str>,
    /// `exp`: the Unix second the signature is good until, if it has one.
    pub expiry: Option<i64>,
}

/// Checks a display's customer id is signed with `key`, at `now` (Unix
/// seconds); with `require_expiry`, only a signature with `exp` will do.
///
/// A forged or missing signature is `invalid_customer_signature`; only a
/// genuine one past its `exp` is `customer_signature_expired`, so the answer
/// tells a stranger nothing about a pair it made up.
pub fn check_customer(
    key: &str,
    proof: CustomerProof<'_>,
    now: i64,
    require_expiry: bool,
) -> Result<()> {
    let (Some(customer), Some(signature)) = (proof.customer_id, proof.signature) else {
        return Err(invalid(require_expiry));
    };
    let Some(exp) = proof.expiry else {
        if looks_expiring(customer) && !require_expiry {
            return Err(Error::new(
                ErrorKind::InvalidCustomerSignature,
                "a customer id that ends in a dot and ten or more digits reads as one \
                 with an expiry: sign it with exp (sig = hex HMAC-SHA256 of \"{customer_id}.{exp}\")",
            ));
        }
        if require_expiry || !verify(key, customer, signature) {
            return Err(invalid(require_expiry));
        }
        return Ok(());
    };
    if !verify(key, &expiring_message(customer, exp), signature) {
        return Err(invalid(require_expiry));
    }
    if now > exp {
        return Err(Error::new(
            ErrorKind::CustomerSignatureExpired,
            format!(
                "this customer id's signature expired {} s ago: the site must sign it again",
                now - exp
            ),
        ));
    }
    if exp - now > MAX_LIFETIME_SECS {
        return Err(Error::new(
            ErrorKind::InvalidCustomerSignature,
            format!(
                "exp is {} s ahead: a signature may be good for at most {MAX_LIFETIME_SECS} s (7 days)",
                exp - now
            ),
        ));
    }
    Ok(())
}

/// Whether an id has the shape of an expiring signature's message
/// (`"{id}.{exp}"`, with `exp` ten digits or more).
fn looks_expiring(customer_id: &str) -> bool {
    customer_id
        .rsplit_once('.')
        .is_some_and(|(_, digits)| digits.len() >= 10 && digits.bytes().all(|b| b.is_ascii_digit()))
}

fn invalid(require_expiry: bool) -> Error {
    let message = if require_expiry {
        "this layer needs customer_id with exp (Unix seconds) and sig = hex \
         HMAC-SHA256 of \"{customer_id}.{exp}\" under the project's customer_signing_key"
    } else {
        "this layer needs customer_id with sig = hex HMAC-SHA256 of \"{customer_id}.{exp}\" \
         (with exp, Unix seconds) or of the id alone, under the project's customer_signing_key"
    };
    Error::new(ErrorKind::InvalidCustomerSignature, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_097_200;

    fn proof<'a>(id: &'a str, sig: &'a str, exp: Option<i64>) -> CustomerProof<'a> {
        CustomerProof {
            customer_id: Some(id),
            signature: Some(sig),
            expiry: exp,
        }
    }

    fn code(result: Result<()>) -> &'static str {
        result.map_or_else(|e| e.code(), |()| "ok")
    }

    #[test]
    fn signs_and_verifies_ids_without_expiry() {
        let key = "k".repeat(32);
        let sig = sign_customer(&key, "ada");
        assert_eq!(sig.len(), 64);
        let check =
            |id, sig: &str, key: &str| code(check_customer(key, proof(id, sig, None), NOW, false));
        assert_eq!(check("ada", &sig, &key), "ok");
        assert_eq!(check("ada", &sig.to_uppercase(), &key), "ok");
        assert_eq!(check("bob", &sig, &key), "invalid_customer_signature");
        assert_eq!(
            check("ada", &sig, &"x".repeat(32)),
            "invalid_customer_signature"
        );
        assert_eq!(check("ada", "not hex", &key), "invalid_customer_signature");
        // A layer that requires an expiry refuses even a genuine one.
        assert_eq!(
            code(check_customer(&key, proof("ada", &sig, None), NOW, true)),
            "invalid_customer_signature"
        );
        let nothing = CustomerProof::default();
        assert_eq!(
            code(check_customer(&key, nothing, NOW, false)),
            "invalid_customer_signature"
        );
    }

    #[test]
    fn a_signature_with_expiry_works_until_then() {
        let key = "k".repeat(32);
        let exp = NOW + 600;
        let sig = sign_customer_until(&key, "ada", exp);
        for require in [false, true] {
            let at = |now| {
                code(check_customer(
                    &key,
                    proof("ada", &sig, Some(exp)),
                    now,
                    require,
                ))
            };
            assert_eq!(at(NOW), "ok");
            assert_eq!(at(exp), "ok", "good through its last second");
            assert_eq!(at(exp + 1), "customer_signature_expired");
        }
        // Another exp, another id, or the sig passed as one without expiry.
        let check = |id, exp| code(check_customer(&key, proof(id, &sig, exp), NOW, false));
        assert_eq!(check("ada", Some(exp + 3600)), "invalid_customer_signature");
        assert_eq!(check("bob", Some(exp)), "invalid_customer_signature");
        assert_eq!(check("ada", None), "invalid_customer_signature");
        // A forged pair is invalid, never "expired", even with an old exp.
        let old = sign_customer_until(&"x".repeat(32), "ada", NOW - 10);
        assert_eq!(
            code(check_customer(
                &key,
                proof("ada", &old, Some(NOW - 10)),
                NOW,
                false
            )),
            "invalid_customer_signature"
        );
    }

    #[test]
    fn an_expiry_more_than_a_week_ahead_is_refused() {
        let key = "k".repeat(32);
        let ok = NOW + MAX_LIFETIME_SECS;
        let far = ok + 1;
        let check = |exp| {
            let sig = sign_customer_until(&key, "ada", exp);
            code(check_customer(
                &key,
                proof("ada", &sig, Some(exp)),
                NOW,
                true,
            ))
        };
        assert_eq!(check(ok), "ok");
        assert_eq!(check(far), "invalid_customer_signature");
    }

    #[test]
    fn expiries_are_plain_digits() {
        assert_eq!(parse_expiry("1764100000").unwrap(), 1_764_100_000);
        for bad in [
            "",
            "0",
            "01764100000",
            "+1764100000",
            "-5",
            "1.5",
            "1e9",
            "9999999999999",
            " 1",
        ] {
            assert_eq!(
                parse_expiry(bad).unwrap_err().code(),
                "invalid_customer_signature",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn matches_known_vectors() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign_customer("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // The message of an expiring signature is the id, a dot, the digits.
        assert_eq!(
            sign_customer_until("Jefe", "what do ya want for nothing?", 1_764_100_000),
            sign_customer("Jefe", "what do ya want for nothing?.1764100000")
        );
    }

    #[test]
    fn a_leaked_expiring_pair_is_no_never_expiring_one() {
        let key = "k".repeat(32);
        let exp = NOW + 600;
        let sig = sign_customer_until(&key, "ada", exp);
        // The same MAC, sent as the signature of the id "ada.{exp}" alone.
        let replay = format!("ada.{exp}");
        assert_eq!(sign_customer(&key, &replay), sig);
        let check = |id: &str| {
            code(check_customer(
                &key,
                proof(id, &sign_customer(&key, id), None),
                NOW + 10_000,
                false,
            ))
        };
        assert_eq!(check(&replay), "invalid_customer_signature");
        assert_eq!(check("ada.1764097200"), "invalid_customer_signature");
        // Ids with dots and shorter numbers keep their signatures.
        for id in ["ada.lovelace", "user.42", "order.123456789", "1764097200"] {
            assert_eq!(check(id), "ok", "{id}");
        }
    }
}
