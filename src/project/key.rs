//! Project keys: API keys that open one project, each with a [`Scope`].
//!
//! A key reads `cpk_<id>_<secret>`: `id` is 16 hex digits that name the key
//! in lists and in `DELETE /keys/{key}`; `secret` is 32 random bytes as 64
//! hex digits. The project's store keeps only the SHA-256 of the whole key
//! (the secret is random, so a plain hash is enough: there is nothing to
//! guess), and shows the key once, when it is created. A key is looked up by
//! its id and its hash compared in constant time.
//!
//! The deployment's own tokens are not project keys: `ADMIN_TOKEN` is the
//! operator's (every route, creating projects), `TRACKING_TOKEN` may only
//! post events, to any project.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, ErrorKind, Result};

/// What a project key may do, which is also what a route needs
/// ([`crate::api::Access::Project`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every route of its project, keys included (creating projects is the
    /// operator's alone).
    Admin,
    /// The project's reading routes: pools, codes and their export,
    /// activity, layers, settings, the event log, the project itself.
    Read,
    /// `POST /events` only: for shop back ends that post tracked events.
    Tracking,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Admin, Scope::Read, Scope::Tracking];

    /// Whether a key of this scope may use a route that needs `needed`:
    /// an admin key may do everything its project allows, the others only
    /// what they are named for.
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || self == needed
    }

    /// The scope's name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Read => "read",
            Scope::Tracking => "tracking",
        }
    }

    /// The scope of a name, as [`Scope::as_str`] writes it.
    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// How every project key begins; a bearer token without it is never
/// looked up in a store.
pub const KEY_PREFIX: &str = "cpk_";

/// Random bytes of a key's id.
const ID_BYTES: usize = 8;

/// Random bytes of a key's secret.
const SECRET_BYTES: usize = 32;

/// Random bytes [`NewKey::from_random`] takes: the id's, then the secret's.
pub const RANDOM_BYTES: usize = ID_BYTES + SECRET_BYTES;

/// Most keys a project may hold, so that listing them stays small.
pub const MAX_KEYS: usize = 100;

/// Longest key name, in characters.
pub const MAX_KEY_NAME: usize = 100;

/// A bearer token that has the form of a project key; whether it opens
/// anything only its project's store can say ([`PresentedKey::matches`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    id: &'a str,
    token: &'a str,
}

impl<'a> PresentedKey<'a> {
    /// Reads a bearer token as a project key: `None` unless it has the form
    /// `cpk_<16 hex digits>_<64 hex digits>` (lower case).
    pub fn parse(token: &'a str) -> Option<Self> {
        let rest = token.strip_prefix(KEY_PREFIX)?;
        let (id, secret) = rest.split_once('_')?;
        let hex = |s: &str, bytes: usize| {
            s.len() == 2 * bytes && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        (hex(id, ID_BYTES) && hex(secret, SECRET_BYTES)).then_some(PresentedKey { id, token })
    }

    /// The key's id, under which its project stores it.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// Whether this is the key whose hash the store keeps (hex of SHA-256),
    /// compared in constant time.
    pub fn matches(&self, stored_hash: &str) -> bool {
        match hex::decode(stored_hash) {
            Ok(stored) => bool::from(digest(self.token).as_slice().ct_eq(stored.as_slice())),
            Err(_) => false,
        }
    }
}

/// SHA-256 of a whole key.
fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A key just made: the key itself, to show once, and what its project's
/// store keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The whole key, `cpk_<id>_<secret>`: shown once, never stored.
    pub key: String,
    /// What the store keeps.
    pub stored: StoredKey,
}

/// What a project's store keeps of a key: its id and the hash of the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    /// 16 hex digits, part of the key.
    pub id: String,
    /// Hex of the SHA-256 of the whole key.
    pub hash: String,
}

impl NewKey {
    /// A key from [`RANDOM_BYTES`] bytes of a cryptographic random source.
    pub fn from_random(random: &[u8; RANDOM_BYTES]) -> Self {
        let (id, secret) = random.split_at(ID_BYTES);
        let id = hex::encode(id);
        let key = format!("{KEY_PREFIX}{id}_{}", hex::encode(secret));
        let hash = hex::encode(digest(&key));
        NewKey {
            key,
            stored: StoredKey { id, hash },
        }
    }
}

/// The body of `POST /keys`: what the key is for, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// A name to tell keys apart, e.g. `shop back end`: 1–100 characters,
    /// no control characters.
    pub name: String,
    /// What the key may do.
    pub scope: Scope,
}

impl KeyRequest {
    /// Checks the name: `invalid_key` when it is empty, too long or holds
    /// control characters.
    pub fn check(&self) -> Result<()> {
        let chars = self.name.chars().count();
        if self.name.trim().is_empty() || chars > MAX_KEY_NAME {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!("a key's name has 1-{MAX_KEY_NAME} characters, not only spaces"),
            ));
        }
        if self.name.chars().any(char::is_control) {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                "a key's name may not hold control characters (line breaks, tabs, ...)",
            ));
        }
        Ok(())
    }
}

/// A key as the API lists it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The key's id (the 16 hex digits after `cpk_`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// When it was created, RFC 3339.
    pub created_at: String,
}

/// The answer to `POST /keys`: the key's description and the key itself,
/// which is never shown again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    /// The key as lists show it.
    #[serde(flatten)]
    pub info: KeyInfo,
    /// The whole key, for `Authorization: Bearer`.
    pub key: String,
}

/// The error for a token that opens nothing here.
pub(crate) fn unauthorized() -> Error {
    Error::new(
        ErrorKind::Unauthorized,
        "the token is wrong for this route: not a key of this project, or revoked",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(seed: u8) -> [u8; RANDOM_BYTES] {
        std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
    }

    #[test]
    fn a_new_key_parses_and_matches_only_its_own_hash() {
        let new = NewKey::from_random(&random(1));
        assert!(new.key.starts_with("cpk_"));
        assert_eq!(new.key.len(), 4 + 16 + 1 + 64);
        let presented = PresentedKey::parse(&new.key).unwrap();
        assert_eq!(presented.id(), new.stored.id);
        assert!(presented.matches(&new.stored.hash));
        // The store keeps no part of the secret.
        assert!(!new.key.contains(&new.stored.hash));
        let other = NewKey::from_random(&random(2));
        assert!(!presented.matches(&other.stored.hash));
        assert!(!presented.matches("not hex"));
        assert!(!presented.matches(""));
    }

    #[test]
    fn only_the_form_of_a_key_parses() {
        let key = NewKey::from_random(&random(3)).key;
        assert!(PresentedKey::parse(&key).is_some());
        for bad in [
            String::new(),
            "cpk_".to_owned(),
            key.to_uppercase(),
            key.replacen("cpk_", "cpx_", 1),
            format!("{key}0"),
            key[..key.len() - 1].to_owned(),
            key.replacen('_', "-", 2),
            format!(" {key}"),
        ] {
            assert!(PresentedKey::parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_hash_is_sha256_of_the_whole_key() {
        let new = NewKey::from_random(&[0; RANDOM_BYTES]);
        assert_eq!(
            new.key,
            format!("cpk_{}_{}", "0".repeat(16), "0".repeat(64))
        );
        // printf 'cpk_…' | sha256sum
        assert_eq!(
            new.stored.hash,
            hex::encode(Sha256::digest(new.key.as_bytes()))
        );
    }

    #[test]
    fn scopes_allow_what_they_are_named_for() {
        use Scope::*;
        let allowed: Vec<(Scope, Scope)> = Scope::ALL
            .into_iter()
            .flat_map(|k| Scope::ALL.into_iter().map(move |n| (k, n)))
            .filter(|(key, needed)| key.allows(*needed))
            .collect();
        assert_eq!(
            allowed,
            [
                (Admin, Admin),
                (Admin, Read),
                (Admin, Tracking),
                (Read, Read),
                (Tracking, Tracking)
            ]
        );
        for scope in Scope::ALL {
            assert_eq!(Scope::from_name(scope.as_str()), Some(scope));
            assert_eq!(
                serde_json::to_value(scope).unwrap(),
                serde_json::Value::from(scope.as_str())
            );
        }
    }

    #[test]
    fn key_names_are_checked() {
        let request = |name: &str| KeyRequest {
            name: name.to_owned(),
            scope: Scope::Read,
        };
        assert!(request("shop back end (production)").check().is_ok());
        assert!(request(&"é".repeat(MAX_KEY_NAME)).check().is_ok());
        for bad in ["", "   ", "line\nbreak", &"x".repeat(MAX_KEY_NAME + 1)] {
            assert_eq!(
                request(bad).check().unwrap_err().kind(),
                ErrorKind::InvalidKey,
                "{bad:?}"
            );
        }
        let unknown = serde_json::from_str::<KeyRequest>(r#"{"name": "x", "scope": "root"}"#);
        assert!(unknown.is_err());
    }
}
