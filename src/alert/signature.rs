//! The signature of a webhook delivery, so a receiver knows it came from
//! this project and was not replayed long after.
//!
//! Each POST carries `X-Codepool-Timestamp: <Unix seconds>` and
//! `X-Codepool-Signature: sha256=<hex>`, the hex HMAC-SHA256 under the
//! project's `webhook_secret` of the timestamp, a dot, and the raw body:
//! `"1764097200.{\"id\":…}"` (as Stripe signs its webhooks). A receiver
//! computes the same over the bytes it received, compares in constant
//! time, and refuses a timestamp far from its clock (five minutes, say).
//! The README has a verification snippet in JavaScript.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header with the signature.
pub const SIGNATURE_HEADER: &str = "x-codepool-signature";
/// The header with the Unix second the signature was made at.
pub const TIMESTAMP_HEADER: &str = "x-codepool-timestamp";

fn mac(secret: &str, unix_seconds: i64, body: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac
}

/// The value of [`SIGNATURE_HEADER`]: `sha256=` and the lowercase hex
/// HMAC-SHA256 of `"{unix_seconds}.{body}"` under `secret`.
pub fn sign(secret: &str, unix_seconds: i64, body: &str) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, unix_seconds, body).finalize().into_bytes())
    )
}

/// Whether `header` is the signature of `body` at `unix_seconds`, in
/// constant time (what a receiver written in Rust would do).
pub fn verify(secret: &str, unix_seconds: i64, body: &str, header: &str) -> bool {
    let Some(bytes) = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    mac(secret, unix_seconds, body).verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_timestamp_dot_body() {
        let sig = sign("secret", 1_764_097_200, "{}");
        // echo -n '1764097200.{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            sig,
            "sha256=61e395900a5e46c02e6f2f65e686f25e2f76e0528e9ba966f24fb48d4ee6f6e6"
        );
        assert!(verify("secret", 1_764_097_200, "{}", &sig));
        assert!(!verify("secret", 1_764_097_201, "{}", &sig));
        assert!(!verify("other", 1_764_097_200, "{}", &sig));
        assert!(!verify("secret", 1_764_097_200, "{} ", &sig));
        assert!(!verify("secret", 1_764_097_200, "{}", "d0b2"));
    }
}
