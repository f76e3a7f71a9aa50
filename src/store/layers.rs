//! Layers: stored templates with their settings and version.

use super::Store;
use crate::error::{Error, ErrorKind, Result};
use crate::layer::{Assignment, Layer, LayerSettings};
use crate::name::{check_name, NameOf};
use crate::store::sql::{Database, Value};
use crate::time::rfc3339;

impl<D: Database> Store<'_, D> {
    /// Creates or replaces a layer; its version grows by one.
    pub fn put_layer(&self, name: &str, settings: &LayerSettings, now: i64) -> Result<Layer> {
        check_name(NameOf::Layer, name)?;
        self.db.execute(
            "INSERT INTO layers (name, template, active, assignment, signed_customer, variables,
                version, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?6, ?7, 1, ?5)
             ON CONFLICT (name) DO UPDATE SET template = excluded.template,
                active = excluded.active, assignment = excluded.assignment,
                signed_customer = excluded.signed_customer, variables = excluded.variables,
                version = layers.version + 1, updated_at = excluded.updated_at",
            &[
                name.into(),
                settings.template.as_str().into(),
                i64::from(settings.active).into(),
                settings.assignment.as_str().into(),
                now.into(),
                i64::from(settings.signed_customer).into(),
                serde_json::Value::Object(settings.variables.clone())
                    .to_string()
                    .into(),
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

    /// All layers of the project, by name.
    pub fn layers(&self) -> Result<Vec<Layer>> {
        let rows = self
            .db
            .query(&format!("{LAYER_COLUMNS} ORDER BY name"), &[])?;
        Ok(rows.into_iter().map(layer_from_row).collect())
    }
}

const LAYER_COLUMNS: &str =
    "SELECT name, template, active, assignment, signed_customer, variables, version, updated_at
     FROM layers";

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
    Layer {
        name: next().into_string(),
        template: next().into_string(),
        active: next().as_i64() != 0,
        assignment: Assignment::from_stored(next().as_opt_str().unwrap_or_default()),
        signed_customer: next().as_i64() != 0,
        variables: serde_json::from_str(next().as_opt_str().unwrap_or("{}")).unwrap_or_default(),
        version: next().as_i64(),
        updated_at: rfc3339(next().as_i64()),
    }
}
