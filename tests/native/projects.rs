//! Projects and their keys on a real store: a store that was never created
//! stays empty; a store made before keys existed opens and gains them; a
//! call's key is checked before its command runs, in the same call.

use crate::common::NOW;
use codepool::api::command::{execute_registry, run, Call, Command, KeyCheck, RegistryCommand};
use codepool::pool::PoolSettings;
use codepool::project::key::{KeyRequest, NewKey, Scope, RANDOM_BYTES};
use codepool::project::Registered;
use codepool::store::sqlite::NativeDatabase;
use codepool::store::{Database, Migration, Registry, Store, MIGRATIONS};
use codepool::ErrorKind;
use std::borrow::Cow;

fn tables(db: &NativeDatabase) -> Vec<String> {
    db.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        &[],
    )
    .unwrap()
    .into_iter()
    .map(|r| r[0].as_opt_str().unwrap_or_default().to_owned())
    .collect()
}

fn call(key: Option<(&str, Scope)>, command: Command) -> Call<'static> {
    Call {
        key: key.map(|(key, needs)| {
            Cow::Owned(KeyCheck {
                key: key.to_owned(),
                needs,
            })
        }),
        command: Cow::Owned(command),
    }
}

#[test]
fn a_store_never_created_answers_unknown_project_and_stays_empty() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = Store::new(&db);
    for _ in 0..3 {
        assert_eq!(
            store.open(false).unwrap_err().kind(),
            ErrorKind::UnknownProject
        );
    }
    assert!(tables(&db).is_empty(), "{:?}", tables(&db));
    store.open(true).unwrap();
    assert!(tables(&db).contains(&"keys".to_owned()));
    // Once created, it opens as any project.
    Store::new(&db).open(false).unwrap();
}

#[test]
fn a_store_made_before_keys_opens_keeps_its_data_and_gains_keys() {
    let db = NativeDatabase::in_memory().unwrap();
    // The schema as it was before project keys (and before dispensers
    // and expiries, whose indexes need columns added later).
    for migration in MIGRATIONS {
        if let Migration::Sql(statement) = migration {
            if !statement.contains("keys (")
                && !statement.contains("lease")
                && !statement.contains("expires_at")
            {
                db.execute(statement, &[]).unwrap();
            }
        }
    }
    // A pool as that version stored it.
    db.execute(
        "INSERT INTO pools (name, created_at) VALUES ('spring', ?1)",
        &[NOW.into()],
    )
    .unwrap();
    assert!(!tables(&db).contains(&"keys".to_owned()));

    let store = Store::new(&db);
    store.open(false).unwrap();
    assert_eq!(store.pool("spring").unwrap().name, "spring");
    let new = NewKey::from_random(&[1; RANDOM_BYTES]);
    let request = KeyRequest {
        name: "dashboard".into(),
        scope: Scope::Read,
    };
    store.create_key(&new.stored, &request, NOW).unwrap();
    assert_eq!(store.authorize(&new.key, Scope::Read).unwrap(), Scope::Read);
}

#[test]
fn a_calls_key_is_checked_before_its_command_runs() {
    let db = NativeDatabase::in_memory().unwrap();
    let store = crate::common::store_with::<&str>(&db, &[]);
    let key = |seed: u8, scope: Scope| {
        let new = NewKey::from_random(&[seed; RANDOM_BYTES]);
        let request = KeyRequest {
            name: format!("{scope:?}"),
            scope,
        };
        store.create_key(&new.stored, &request, NOW).unwrap();
        new.key
    };
    let read = key(1, Scope::Read);
    let admin = key(2, Scope::Admin);
    let stranger = NewKey::from_random(&[3; RANDOM_BYTES]).key;
    let put = || Command::PutPool {
        pool: "p".into(),
        settings: PoolSettings::default(),
    };

    let refused = [
        (Some((read.as_str(), Scope::Admin)), ErrorKind::Forbidden),
        (
            Some((stranger.as_str(), Scope::Admin)),
            ErrorKind::Unauthorized,
        ),
        (
            Some(("cpk_not_a_key", Scope::Admin)),
            ErrorKind::Unauthorized,
        ),
    ];
    for (key, kind) in refused {
        let ran = run(&store, &call(key, put()), NOW);
        assert_eq!(ran.answer.unwrap_err().kind(), kind, "{key:?}");
        assert!(!ran.key_accepted);
    }
    // None of them made the pool.
    assert_eq!(store.pools().unwrap(), []);

    let made = run(&store, &call(Some((&admin, Scope::Admin)), put()), NOW);
    assert!(made.answer.is_ok() && made.key_accepted);
    let trusted = run(&store, &call(None, Command::ListPools), NOW);
    assert!(trusted.answer.is_ok() && !trusted.key_accepted);
    let listed = run(
        &store,
        &call(Some((&read, Scope::Read)), Command::ListPools),
        NOW,
    );
    assert!(listed.key_accepted);
    assert!(listed.answer.unwrap().contains("\"p\""));
    // The command's own error still says the key was accepted: the Worker
    // need not check it again.
    let missing = run(
        &store,
        &call(
            Some((&read, Scope::Read)),
            Command::GetPool {
                pool: "nope".into(),
            },
        ),
        NOW,
    );
    assert_eq!(missing.answer.unwrap_err().kind(), ErrorKind::UnknownPool);
    assert!(missing.key_accepted);
    // A call crosses to the store as JSON and back whole.
    let wire = serde_json::to_string(&call(Some((&read, Scope::Read)), Command::ListKeys)).unwrap();
    let back: Call = serde_json::from_str(&wire).unwrap();
    assert_eq!(back, call(Some((&read, Scope::Read)), Command::ListKeys));
    let keyless = serde_json::to_string(&call(None, Command::Authorize)).unwrap();
    assert_eq!(keyless, r#"{"command":{"op":"authorize"}}"#);
}

#[test]
fn the_registry_answers_through_its_commands() {
    let db = NativeDatabase::in_memory().unwrap();
    let registry = Registry::new(&db);
    let lookup = RegistryCommand::Lookup {
        project: "shop".into(),
    };
    assert_eq!(execute_registry(&registry, &lookup, NOW).unwrap(), "null");
    assert!(tables(&db).is_empty());
    let create = RegistryCommand::Create {
        project: "shop".into(),
    };
    let first: Registered =
        serde_json::from_str(&execute_registry(&registry, &create, NOW).unwrap()).unwrap();
    assert!(first.created);
    assert_eq!(first.project.created_at, "2025-11-25T19:00:00.000Z");
    let again: Registered =
        serde_json::from_str(&execute_registry(&registry, &create, NOW + 1).unwrap()).unwrap();
    assert!(!again.created);
    assert_eq!(again.project, first.project);
    let found = execute_registry(&registry, &lookup, NOW).unwrap();
    assert_eq!(found, serde_json::to_string(&Some(first.project)).unwrap());
}
