//! Project keys: created, listed, revoked, and checked before a command.

use super::Store;
use crate::error::{Error, ErrorKind, Result};
use crate::project::key::{
    unauthorized, KeyInfo, KeyRequest, PresentedKey, Scope, StoredKey, MAX_KEYS,
};
use crate::store::sql::{Database, Row, Value};
use crate::time::rfc3339;

impl<D: Database> Store<'_, D> {
    /// Stores a new key (its id and hash, from [`crate::project::key::NewKey`]).
    pub fn create_key(&self, key: &StoredKey, request: &KeyRequest, now: i64) -> Result<KeyInfo> {
        request.check()?;
        self.db.transaction(|| {
            let held = self.db.query("SELECT COUNT(*) FROM keys", &[])?;
            if held.first().map_or(0, |r| r[0].as_i64()) >= MAX_KEYS as i64 {
                return Err(Error::new(
                    ErrorKind::TooManyKeys,
                    format!("a project holds at most {MAX_KEYS} keys: revoke one first"),
                ));
            }
            self.db.execute(
                "INSERT INTO keys (id, name, scope, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[
                    key.id.as_str().into(),
                    request.name.as_str().into(),
                    request.scope.as_str().into(),
                    key.hash.as_str().into(),
                    now.into(),
                ],
            )
        })?;
        Ok(KeyInfo {
            id: key.id.clone(),
            name: request.name.clone(),
            scope: request.scope,
            created_at: rfc3339(now),
        })
    }

    /// The project's keys, oldest first, without their hashes.
    pub fn keys(&self) -> Result<Vec<KeyInfo>> {
        let rows = self.db.query(
            "SELECT id, name, scope, created_at FROM keys ORDER BY created_at, id",
            &[],
        )?;
        rows.into_iter().map(key_from_row).collect()
    }

    /// Revokes a key: it opens nothing from now on. Answers the key as it was.
    pub fn revoke_key(&self, id: &str) -> Result<KeyInfo> {
        let rows = self.db.query(
            "DELETE FROM keys WHERE id = ?1 RETURNING id, name, scope, created_at",
            &[id.into()],
        )?;
        match rows.into_iter().next() {
            Some(row) => key_from_row(row),
            None => Err(Error::new(
                ErrorKind::UnknownKey,
                format!("this project has no key {id:?} (never created, or revoked)"),
            )),
        }
    }

    /// Checks a bearer token as a key of this project for a route that
    /// needs `needed`: 401 `unauthorized` unless it is one of the project's
    /// keys, 403 `forbidden` when its scope does not reach the route.
    pub fn authorize(&self, token: &str, needed: Scope) -> Result<Scope> {
        let presented = PresentedKey::parse(token).ok_or_else(unauthorized)?;
        let rows = self.db.query(
            "SELECT scope, hash FROM keys WHERE id = ?1",
            &[presented.id().into()],
        )?;
        let row = rows.into_iter().next().ok_or_else(unauthorized)?;
        let (scope, hash) = (row[0].as_opt_str(), row[1].as_opt_str().unwrap_or(""));
        if !presented.matches(hash) {
            return Err(unauthorized());
        }
        let scope = scope
            .and_then(Scope::from_name)
            .ok_or_else(|| Error::internal(format!("key {} has no known scope", presented.id())))?;
        if scope.allows(needed) {
            Ok(scope)
        } else {
            Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "this is a {} key: this route needs a key with scope {}",
                    scope.as_str(),
                    if needed == Scope::Admin {
                        "admin".to_owned()
                    } else {
                        format!("{} or admin", needed.as_str())
                    }
                ),
            ))
        }
    }
}

fn key_from_row(row: Row) -> Result<KeyInfo> {
    let mut row = row.into_iter();
    let mut next = || row.next().unwrap_or(Value::Null);
    let id = next().into_string();
    let name = next().into_string();
    let scope = next();
    let scope = scope
        .as_opt_str()
        .and_then(Scope::from_name)
        .ok_or_else(|| Error::internal(format!("key {id} has no known scope")))?;
    Ok(KeyInfo {
        id,
        name,
        scope,
        created_at: rfc3339(next().as_i64()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::key::NewKey;
    use crate::store::NativeDatabase;

    #[test]
    fn a_key_opens_its_scope_until_it_is_revoked() {
        let db = NativeDatabase::in_memory().unwrap();
        let store = Store::new(&db);
        store.open(true).unwrap();
        let new = NewKey::from_random(&[7; crate::project::key::RANDOM_BYTES]);
        let request = KeyRequest {
            name: "dashboard".into(),
            scope: Scope::Read,
        };
        let info = store.create_key(&new.stored, &request, 1_000).unwrap();
        assert_eq!(info.scope, Scope::Read);
        assert_eq!(store.keys().unwrap(), std::slice::from_ref(&info));
        assert_eq!(store.authorize(&new.key, Scope::Read).unwrap(), Scope::Read);
        let kind = |r: Result<Scope>| r.unwrap_err().kind();
        assert_eq!(
            kind(store.authorize(&new.key, Scope::Admin)),
            ErrorKind::Forbidden
        );
        assert_eq!(
            kind(store.authorize(&new.key, Scope::Tracking)),
            ErrorKind::Forbidden
        );
        // Same id, another secret: the hash decides.
        let forged = format!("{}{}", &new.key[..new.key.len() - 1], "f");
        assert_eq!(
            kind(store.authorize(&forged, Scope::Read)),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            kind(store.authorize("not a key", Scope::Read)),
            ErrorKind::Unauthorized
        );

        assert_eq!(store.revoke_key(&info.id).unwrap(), info);
        assert_eq!(
            kind(store.authorize(&new.key, Scope::Read)),
            ErrorKind::Unauthorized
        );
        assert_eq!(
            store.revoke_key(&info.id).unwrap_err().kind(),
            ErrorKind::UnknownKey
        );
        assert!(store.keys().unwrap().is_empty());
    }

    #[test]
    fn a_project_holds_a_bounded_number_of_keys() {
        let db = NativeDatabase::in_memory().unwrap();
        let store = Store::new(&db);
        store.open(true).unwrap();
        let request = KeyRequest {
            name: "k".into(),
            scope: Scope::Tracking,
        };
        for i in 0..MAX_KEYS {
            let new = NewKey::from_random(&[i as u8; crate::project::key::RANDOM_BYTES]);
            store.create_key(&new.stored, &request, 1).unwrap();
        }
        let one_more = NewKey::from_random(&[255; crate::project::key::RANDOM_BYTES]);
        assert_eq!(
            store
                .create_key(&one_more.stored, &request, 1)
                .unwrap_err()
                .kind(),
            ErrorKind::TooManyKeys
        );
        assert_eq!(store.keys().unwrap().len(), MAX_KEYS);
    }
}
