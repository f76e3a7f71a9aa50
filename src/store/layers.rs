//! Layers: stored templates with their settings and version.
//!
//! The `signed_customer` column holds how a layer checks customer ids:
//! [`ANY_ID`], [`SIGNED`] (a signature with or without `exp`) or
//! [`SIGNED_WITH_EXPIRY`]. A deleted layer leaves its last version in
//! `retired_layers`, so a layer created again under its name goes on from
//! there: a Worker's compile of the old one never passes for the new one.

use super::Store;
use crate::error::{Error, ErrorKind, Result};
use crate::input::name::{check_name, NameOf};
use crate::layer::{Assignment, Layer, LayerSettings};
use crate::store::sql::{Database, Value};
use crate::time::rfc3339;

/// `signed_customer`: any customer id, or none.
pub(crate) const ANY_ID: i64 = 0;
/// `signed_customer`: a signed customer id, with or without `exp`.
pub(crate) const SIGNED: i64 = 1;
/// `signed_customer`: a signed customer id with `exp`.
pub(crate) const SIGNED_WITH_EXPIRY: i64 = 2;

impl<D: Database> Store<'_, D> {
    /// Creates or replaces a layer; its version grows by one (a layer
    /// created again after a delete goes on from its last version).
    pub fn put_layer(&self, name: &str, settings: &LayerSettings, now: i64) -> Result<Layer> {
        check_name(NameOf::Layer, name)?;
        settings.check()?;
        let signed = match (settings.signed_customer, settings.require_expiry) {
            (false, _) => ANY_ID,
            (true, false) => SIGNED,
            (true, true) => SIGNED_WITH_EXPIRY,
        };
        // A per_customer layer's dispensers look a customer they have not
        // met up in the store only if the store may know them: codes the
        // layer handed out already (before it had dispensers, or under
        // another number of them), or leases still out.
        let customers_at_store = settings.dispensers > 0
            && !self
                .db
                .query(
                    "SELECT 1 FROM codes WHERE source = ?1 AND customer_id IS NOT NULL
                     UNION ALL SELECT 1 FROM leases WHERE layer = ?2 LIMIT 1",
                    &[format!("layer:{name}").into(), name.into()],
                )?
                .is_empty();
        self.db.execute(
            "INSERT INTO layers (name, template, active, assignment, signed_customer, variables,
                version, updated_at, dispensers, customers_at_store)
             VALUES (?1, ?2, ?3, ?4, ?6, ?7,
                1 + IFNULL((SELECT version FROM retired_layers WHERE name = ?1), 0), ?5, ?8, ?9)
             ON CONFLICT (name) DO UPDATE SET template = excluded.template,
                active = excluded.active, assignment = excluded.assignment,
                signed_customer = excluded.signed_customer, variables = excluded.variables,
                version = layers.version + 1, updated_at = excluded.updated_at,
                dispensers = excluded.dispensers,
                customers_at_store = excluded.customers_at_store",
            &[
                name.into(),
                settings.template.as_str().into(),
                i64::from(settings.active).into(),
                settings.assignment.as_str().into(),
                now.into(),
                signed.into(),
                serde_json::Value::Object(settings.variables.clone())
                    .to_string()
                    .into(),
                i64::from(settings.dispensers).into(),
                i64::from(customers_at_store).into(),
            ],
        )?;
        self.layer(name)
    }

    /// One layer.
    pub fn layer(&self, name: &str) -> Result<Layer> {
        self.db
            .query(&format!("{LAYER_COLUMNS} WHERE name = ?1"), &[name.into()])?
            .into_iter()
            .next()
            .map(layer_from_row)
            .ok_or_else(|| unknown_layer(name))
    }

    /// Deletes a layer and answers it as it was. Codes it assigned stay
    /// assigned, with their source (`layer:{name}`).
    pub fn delete_layer(&self, name: &str) -> Result<Layer> {
        self.db.transaction(|| {
            let layer = self.layer(name)?;
            self.db
                .execute("DELETE FROM layers WHERE name = ?1", &[name.into()])?;
            self.db.execute(
                "INSERT INTO retired_layers (name, version) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                &[name.into(), layer.version.into()],
            )?;
            Ok(layer)
        })
    }

    /// All layers of the project, by name.
    pub fn layers(&self) -> Result<Vec<Layer>> {
        let rows = self
            .db
            .query(&format!("{LAYER_COLUMNS} ORDER BY name"), &[])?;
        Ok(rows.into_iter().map(layer_from_row).collect())
    }
}

const LAYER_COLUMNS: &str =
    "SELECT name, template, active, assignment, signed_customer, variables, version, updated_at,
        dispensers FROM layers";

/// The error for a layer that does not exist.
pub(crate) fn unknown_layer(name: &str) -> Error {
    Error::new(
        ErrorKind::UnknownLayer,
        format!("there is no layer {name:?} in this project: create it with PUT /layers/{name}"),
    )
}

fn layer_from_row(row: Vec<Value>) -> Layer {
    let mut row = row.into_iter();
    let mut next = || row.next().unwrap_or(Value::Null);
    let (name, template, active, assignment) = (next(), next(), next(), next());
    let signed = next().as_i64();
    Layer {
        name: name.into_string(),
        template: template.into_string(),
        active: active.as_i64() != 0,
        assignment: Assignment::from_stored(assignment.as_opt_str().unwrap_or_default()),
        signed_customer: signed != ANY_ID,
        require_expiry: signed == SIGNED_WITH_EXPIRY,
        variables: serde_json::from_slice(next().as_opt_str().unwrap_or("{}").as_bytes())
            .unwrap_or_default(),
        version: next().as_i64(),
        updated_at: rfc3339(next().as_i64()),
        dispensers: next().as_i64() as u32,
    }
}
