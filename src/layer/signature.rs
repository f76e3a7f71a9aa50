//! Signed customer ids: so nobody can fetch another customer's code.
//!
//! A layer can require that the customer id it renders for comes with an
//! HMAC-SHA256 signature made by the site's back end with the project's
//! signing key. Without the key, a visitor cannot ask for someone else's
//! `per_customer` code.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Shortest signing key accepted, in characters.
pub const MIN_KEY_CHARS: usize = 32;

fn mac(key: &str, customer_id: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(customer_id.as_bytes());
    mac
}

/// The signature of a customer id: lowercase hex of HMAC-SHA256(key, id).
///
/// A site's back end computes the same, e.g. in Node:
/// `crypto.createHmac('sha256', key).update(id).digest('hex')`.
pub fn sign_customer(key: &str, customer_id: &str) -> String {
    hex::encode(mac(key, customer_id).finalize().into_bytes())
}

/// Whether `signature` (hex) signs `customer_id`; compared in constant time.
pub fn verify_customer(key: &str, customer_id: &str, signature: &str) -> bool {
    match hex::decode(signature.trim()) {
        Ok(bytes) => mac(key, customer_id).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let key = "k".repeat(32);
        let sig = sign_customer(&key, "ada");
        assert_eq!(sig.len(), 64);
        assert!(verify_customer(&key, "ada", &sig));
        assert!(verify_customer(&key, "ada", &sig.to_uppercase()));
        assert!(!verify_customer(&key, "bob", &sig));
        assert!(!verify_customer(&"x".repeat(32), "ada", &sig));
        assert!(!verify_customer(&key, "ada", "not hex"));
    }

    #[test]
    fn matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign_customer("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
