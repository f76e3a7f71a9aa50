//! The registry of created projects: one small database for the whole
//! deployment (its own Durable Object in the Worker), read before any
//! project's store is reached.

use super::{has_table, schema};
use crate::error::Result;
use crate::input::name::{check_name, NameOf};
use crate::project::{ProjectInfo, Registered};
use crate::store::sql::{Database, Row};
use crate::time::rfc3339;

/// The deployment's list of created projects, on any [`Database`].
pub struct Registry<'a, D: Database> {
    db: &'a D,
}

impl<'a, D: Database> Registry<'a, D> {
    /// The registry in a database; its table is made by the first
    /// [`Registry::create`], so looking up writes nothing, ever.
    pub fn new(db: &'a D) -> Self {
        Registry { db }
    }

    /// The project of this name, if it was created.
    pub fn lookup(&self, name: &str) -> Result<Option<ProjectInfo>> {
        if !has_table(self.db, schema::REGISTRY_TABLE)? {
            return Ok(None);
        }
        let rows = self.db.query(
            "SELECT name, created_at FROM projects WHERE name = ?1",
            &[name.into()],
        )?;
        Ok(rows.into_iter().next().map(project_from_row))
    }

    /// Records a project as created; idempotent: a project created before
    /// keeps its creation time.
    pub fn create(&self, name: &str, now: i64) -> Result<Registered> {
        check_name(NameOf::Project, name)?;
        self.db.transaction(|| {
            for statement in schema::REGISTRY_MIGRATIONS {
                self.db.execute(statement, &[])?;
            }
            let inserted = self.db.query(
                "INSERT INTO projects (name, created_at) VALUES (?1, ?2)
                 ON CONFLICT (name) DO NOTHING RETURNING name, created_at",
                &[name.into(), now.into()],
            )?;
            if let Some(row) = inserted.into_iter().next() {
                return Ok(Registered {
                    project: project_from_row(row),
                    created: true,
                });
            }
            let rows = self.db.query(
                "SELECT name, created_at FROM projects WHERE name = ?1",
                &[name.into()],
            )?;
            let row = rows.into_iter().next().unwrap_or_default();
            Ok(Registered {
                project: project_from_row(row),
                created: false,
            })
        })
    }
}

fn project_from_row(row: Row) -> ProjectInfo {
    let mut row = row.into_iter();
    ProjectInfo {
        name: row.next().map(|v| v.into_string()).unwrap_or_default(),
        created_at: rfc3339(row.next().map_or(0, |v| v.as_i64())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NativeDatabase;

    #[test]
    fn a_lookup_writes_nothing_and_a_creation_is_idempotent() {
        let db = NativeDatabase::in_memory().unwrap();
        let registry = Registry::new(&db);
        assert_eq!(registry.lookup("shop").unwrap(), None);
        // Looking up made no table.
        assert!(!has_table(&db, schema::REGISTRY_TABLE).unwrap());

        let first = registry.create("shop", 1_000).unwrap();
        assert!(first.created);
        assert_eq!(first.project.name, "shop");
        let again = registry.create("shop", 2_000).unwrap();
        assert_eq!(
            again,
            Registered {
                created: false,
                ..first.clone()
            }
        );
        assert_eq!(registry.lookup("shop").unwrap(), Some(first.project));
        assert_eq!(registry.lookup("shpo").unwrap(), None);
        assert!(registry.create("no spaces", 1).is_err());
    }
}
