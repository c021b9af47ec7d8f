//! The schema preflight: every user checked against the destination pool's
//! identity schemas before it is sent (issue #15, item 7).
//!
//! A pool names up to three schemas (`payload_schema_id`,
//! `metadata_schema_id`, `business_metadata_schema_id`); [`Preflight::new`]
//! compiles one validator per named schema, once, from the pool and schemas
//! the caller already has (read from a target by `ferry import --preflight`,
//! held in memory by a copy), so it never touches the network and
//! [`Preflight::check`] costs one validation per part per user.
//! [`Preflight::check`] returns the [`Violation`]s of one user: the field
//! (`payload.loyalty_tier`) and why, never the value, which may be personal
//! data.
//!
//! The check is JSON Schema (the `jsonschema` crate, draft 2020-12, over the
//! schema serialised from [`SupportedJsonSchema`]) plus one rule JSON Schema
//! leaves out: a field the destination does not define is a violation, as
//! the platform's forms and exports show only the fields a schema names.
//!
//! Decisions, where the brief and the description are silent:
//! - **Undefined fields.** A field is defined when a `properties` names it
//!   or a `patternProperties` matches it, in the object's schema or in the
//!   schemas combined with it (`allOf`, `anyOf`, `oneOf`, `then`, `else`,
//!   `dependentSchemas`): the check adds `unevaluatedProperties: false`,
//!   whose meaning is exactly that, to the schema of the part itself (the
//!   whole `payload`, say) unless it says `additionalProperties: true`.
//! - **Nested objects** are checked the same way when their schema (a
//!   property's, or an array's `items`) describes their fields: it names
//!   `properties` or `patternProperties` (itself or through a combination)
//!   and does not say `additionalProperties: true`. A nested schema that
//!   describes no field (`{"type": "object"}`) leaves the object free-form.
//!   A field inside is named by its path: `payload.address.street`,
//!   `payload.phones[1].kind`.
//! - **Schema ids.** The pool's ids are checked, whatever `*_schema_id` a
//!   user carries: the pool is the destination. A pool without schema ids
//!   checks nothing; an id the pool names that the schemas lack is a
//!   [`PreflightError::MissingSchema`], not a pass.
//! - **An absent part** (a user without `payload`) is checked as an empty
//!   object, so a schema's `required` fields are reported missing.
//! - **Reasons** name the keyword and the schema, with the schema's own
//!   words where they are the schema's (the expected type, the missing
//!   field), and the value's JSON type; never the value itself.
//!
//! [`from_target`] reads the pool and its schemas from a target (what
//! `ferry import --preflight` does) and calls [`Preflight::new`].
//!
//! Cost (measured, see the test `a_check_is_cheap`): a few microseconds per
//! user for a schema of a dozen fields, a clone of each part included (the
//! validator takes a `serde_json::Value`, the user holds a map).

use std::collections::BTreeMap;
use std::fmt;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{Draft, Validator};
use serde_json::Value;

use crate::contract::records::{Object, Pool, Schema, User};

/// Schemas by id: where [`Preflight::new`] finds the schemas a pool names.
pub trait SchemaLookup {
    /// The schema `id`, if there is one.
    fn schema(&self, id: &str) -> Option<&Schema>;
}

impl SchemaLookup for [Schema] {
    fn schema(&self, id: &str) -> Option<&Schema> {
        self.iter().find(|s| s.id == id)
    }
}

impl SchemaLookup for Vec<Schema> {
    fn schema(&self, id: &str) -> Option<&Schema> {
        self.as_slice().schema(id)
    }
}

impl SchemaLookup for BTreeMap<String, Schema> {
    fn schema(&self, id: &str) -> Option<&Schema> {
        self.get(id)
    }
}

impl SchemaLookup for std::collections::HashMap<String, Schema> {
    fn schema(&self, id: &str) -> Option<&Schema> {
        self.get(id)
    }
}

/// The free-form parts of a user a pool gives a schema to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// `payload`, the profile (`payload_schema_id`).
    Payload,
    /// `metadata` (`metadata_schema_id`).
    Metadata,
    /// `business_metadata` (`business_metadata_schema_id`).
    BusinessMetadata,
}

impl Part {
    /// Every part, in the order violations are reported.
    pub const ALL: [Part; 3] = [Part::Payload, Part::Metadata, Part::BusinessMetadata];

    /// The field's name in a user record, which starts every violation's path.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Payload => "payload",
            Part::Metadata => "metadata",
            Part::BusinessMetadata => "business_metadata",
        }
    }

    /// The schema id `pool` names for the part, if any.
    fn schema_id(self, pool: &Pool) -> Option<&str> {
        match self {
            Part::Payload => pool.payload_schema_id.as_deref(),
            Part::Metadata => pool.metadata_schema_id.as_deref(),
            Part::BusinessMetadata => pool.business_metadata_schema_id.as_deref(),
        }
    }

    /// The part of `user`, if present.
    fn of(self, user: &User) -> Option<&Object> {
        match self {
            Part::Payload => user.payload.as_ref(),
            Part::Metadata => user.metadata.as_ref(),
            Part::BusinessMetadata => user.business_metadata.as_ref(),
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a preflight cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreflightError {
    /// The pool names a schema the target (or the schemas given) lacks.
    #[error("pool {pool} names schema {id} for its users' {part}, but the target has no schema {id}: create it, or correct the pool's {part}_schema_id")]
    MissingSchema {
        /// The pool.
        pool: String,
        /// Which part the schema is for.
        part: Part,
        /// The schema id the pool names.
        id: String,
    },
    /// The pool does not exist at the target.
    #[error("the target has no pool {pool}")]
    UnknownPool {
        /// The pool.
        pool: String,
    },
    /// The pool or a schema could not be read from the target.
    #[error("cannot read {what} from the target: {reason}")]
    Unreadable {
        /// What (`pool default`, `schema user_v1`).
        what: String,
        /// Why.
        reason: String,
    },
    /// A schema cannot be compiled (a `pattern` that is not a regular
    /// expression, say).
    #[error("schema {id} cannot be used to check users: {reason}")]
    InvalidSchema {
        /// The schema.
        id: String,
        /// Why, as the validator says it.
        reason: String,
    },
}

impl PreflightError {
    /// Whether the pool or its schemas are at fault (exit code 2), rather
    /// than the target failing to answer (exit code 1).
    pub fn is_usage(&self) -> bool {
        !matches!(self, PreflightError::Unreadable { .. })
    }
}

/// Why a field fails its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The schema does not define the field.
    Undefined,
    /// The value has another JSON type than the schema's.
    WrongType {
        /// The value's JSON type (`string`, `integer`, ...).
        found: &'static str,
        /// The schema's `type`.
        expected: String,
    },
    /// The schema requires the field and the user lacks it.
    Missing,
    /// The value is not one of the schema's `enum` (or its `const`).
    NotAllowed,
    /// Any other keyword the value fails (`minLength`, `pattern`, ...).
    Constraint {
        /// The keyword.
        keyword: String,
    },
}

/// One field of one user that its schema refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path from the user record: `payload.loyalty_tier`,
    /// `metadata.address.city`, `payload.phones[1]`.
    pub field: String,
    /// The id of the schema that refuses it.
    pub schema: String,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (field, schema) = (&self.field, &self.schema);
        match &self.reason {
            Reason::Undefined => write!(f, "{field}: not defined by schema {schema}"),
            Reason::WrongType { found, expected } => {
                write!(
                    f,
                    "{field}: is {} {found}, schema {schema} wants {expected}",
                    article(found)
                )
            }
            Reason::Missing => write!(f, "{field}: required by schema {schema}, missing"),
            Reason::NotAllowed => {
                write!(f, "{field}: not one of the values schema {schema} allows")
            }
            Reason::Constraint { keyword } => {
                write!(f, "{field}: fails {keyword} of schema {schema}")
            }
        }
    }
}

/// `a string`, `an integer`, `an object`, `an array`.
fn article(name: &str) -> &'static str {
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// One compiled check: a part of the user against one schema.
struct Check {
    /// The part checked.
    part: Part,
    /// The schema's id, for the violations.
    schema: String,
    /// The schema as the check uses it (with `unevaluatedProperties`), compiled.
    validator: Validator,
}

/// The checks of one destination pool, compiled once ([`Preflight::new`]).
pub struct Preflight {
    /// The pool checked against, for messages.
    pool: String,
    /// One per part the pool names a schema for, in [`Part::ALL`] order.
    checks: Vec<Check>,
    /// The schemas the checks were compiled from, by part: what two
    /// preflights are compared by (a validator cannot be).
    sources: Vec<(Part, Schema)>,
}

impl fmt::Debug for Preflight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schemas: Vec<(Part, &str)> = self
            .sources
            .iter()
            .map(|(p, s)| (*p, s.id.as_str()))
            .collect();
        f.debug_struct("Preflight")
            .field("pool", &self.pool)
            .field("schemas", &schemas)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Preflight {
    fn eq(&self, other: &Preflight) -> bool {
        self.pool == other.pool && self.sources == other.sources
    }
}

impl Preflight {
    /// The checks of `pool`: a validator for each schema it names, found in
    /// `schemas`. A pool without schema ids gives a preflight that passes
    /// every user ([`Preflight::is_empty`]).
    pub fn new<S: SchemaLookup + ?Sized>(
        pool: &Pool,
        schemas: &S,
    ) -> Result<Preflight, PreflightError> {
        let pool_id = pool.id.clone().unwrap_or_else(|| pool.name.clone());
        let mut checks = Vec::new();
        let mut sources = Vec::new();
        for part in Part::ALL {
            let Some(id) = part.schema_id(pool).filter(|id| !id.is_empty()) else {
                continue;
            };
            let schema = schemas
                .schema(id)
                .ok_or_else(|| PreflightError::MissingSchema {
                    pool: pool_id.clone(),
                    part,
                    id: id.to_owned(),
                })?;
            checks.push(Check {
                part,
                schema: schema.id.clone(),
                validator: compile(schema)?,
            });
            sources.push((part, schema.clone()));
        }
        Ok(Preflight {
            pool: pool_id,
            checks,
            sources,
        })
    }

    /// The pool checked against.
    pub fn pool(&self) -> &str {
        &self.pool
    }

    /// Whether the pool names no schema: every user passes.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// The parts checked, each with its schema's id.
    pub fn schemas(&self) -> impl Iterator<Item = (Part, &str)> {
        self.checks.iter().map(|c| (c.part, c.schema.as_str()))
    }

    /// Every field of `user` its pool's schemas refuse; empty when the user
    /// passes. In part order, then as the validator finds them.
    pub fn check(&self, user: &User) -> Vec<Violation> {
        let mut violations = Vec::new();
        for check in &self.checks {
            let value = Value::Object(check.part.of(user).cloned().unwrap_or_default());
            if check.validator.is_valid(&value) {
                continue;
            }
            for error in check.validator.iter_errors(&value) {
                let at = field_path(check.part, error.instance_path());
                for (field, reason) in reasons(at, error.kind(), error.instance()) {
                    let violation = Violation {
                        field,
                        schema: check.schema.clone(),
                        reason,
                    };
                    if !violations.contains(&violation) {
                        violations.push(violation);
                    }
                }
            }
        }
        violations
    }
}

/// The validator of `schema`: its JSON with the undefined-field rule added.
fn compile(schema: &Schema) -> Result<Validator, PreflightError> {
    let invalid = |reason: String| PreflightError::InvalidSchema {
        id: schema.id.clone(),
        reason,
    };
    let mut json = serde_json::to_value(&schema.schema).map_err(|e| invalid(e.to_string()))?;
    close_objects(&mut json, true);
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .build(&json)
        .map_err(|e| invalid(e.to_string()))
}

/// Keywords whose schemas apply to the same value as their parent's.
const IN_PLACE: [&str; 5] = ["allOf", "anyOf", "oneOf", "then", "else"];

/// Adds `unevaluatedProperties: false` to `node` when it is the schema of a
/// value (`root`, or a property's or an array item's) that describes its
/// fields and allows no others (see the module), and likewise below.
/// `not` and `if` are left alone: a rule added there would change what they
/// match.
fn close_objects(node: &mut Value, root: bool) {
    let Value::Object(map) = node else {
        return;
    };
    if (root || describes_fields(map))
        && map.get("additionalProperties") != Some(&Value::Bool(true))
    {
        map.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
    for keyword in ["properties", "patternProperties", "dependentSchemas"] {
        if let Some(Value::Object(children)) = map.get_mut(keyword) {
            let value_position = keyword != "dependentSchemas";
            for child in children.values_mut() {
                if value_position {
                    close_objects(child, false);
                } else {
                    close_in_place(child);
                }
            }
        }
    }
    for keyword in ["items", "contains"] {
        if let Some(child) = map.get_mut(keyword) {
            close_objects(child, false);
        }
    }
    for keyword in IN_PLACE {
        match map.get_mut(keyword) {
            Some(Value::Array(children)) => children.iter_mut().for_each(close_in_place),
            Some(child) => close_in_place(child),
            None => {}
        }
    }
}

/// A schema applied to the same value as its parent: the values below it
/// are closed, it is not (its parent's `unevaluatedProperties` sees what it
/// evaluates).
fn close_in_place(node: &mut Value) {
    let Value::Object(map) = node else {
        return;
    };
    for keyword in ["properties", "patternProperties"] {
        if let Some(Value::Object(children)) = map.get_mut(keyword) {
            children.values_mut().for_each(|c| close_objects(c, false));
        }
    }
    for keyword in ["items", "contains"] {
        if let Some(child) = map.get_mut(keyword) {
            close_objects(child, false);
        }
    }
    for keyword in IN_PLACE {
        match map.get_mut(keyword) {
            Some(Value::Array(children)) => children.iter_mut().for_each(close_in_place),
            Some(child) => close_in_place(child),
            None => {}
        }
    }
}

/// Whether a schema names fields (`properties`, `patternProperties`),
/// itself or in a schema combined with it.
fn describes_fields(map: &serde_json::Map<String, Value>) -> bool {
    if map.contains_key("properties") || map.contains_key("patternProperties") {
        return true;
    }
    IN_PLACE.iter().any(|keyword| match map.get(*keyword) {
        Some(Value::Array(children)) => children
            .iter()
            .any(|c| c.as_object().is_some_and(describes_fields)),
        Some(Value::Object(child)) => describes_fields(child),
        _ => false,
    })
}

/// `payload.address.street`, `payload.phones[1]` for an instance path.
fn field_path(part: Part, at: &jsonschema::paths::Location) -> String {
    let mut path = part.as_str().to_owned();
    for segment in at.iter() {
        match segment {
            LocationSegment::Property(name) => {
                path.push('.');
                path.push_str(&name);
            }
            LocationSegment::Index(i) => {
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
            }
        }
    }
    path
}

/// The violations one validation error stands for, at `at` (the value's
/// path), with the value's type where it matters.
fn reasons(at: String, kind: &ValidationErrorKind, value: &Value) -> Vec<(String, Reason)> {
    let below = |name: &str| format!("{at}.{name}");
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
            .iter()
            .map(|name| (below(name), Reason::Undefined))
            .collect(),
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            vec![(below(&name), Reason::Missing)]
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(_) => "another type".to_owned(),
            };
            vec![(
                at,
                Reason::WrongType {
                    found: type_of(value),
                    expected,
                },
            )]
        }
        ValidationErrorKind::Enum { .. } | ValidationErrorKind::Constant { .. } => {
            vec![(at, Reason::NotAllowed)]
        }
        other => vec![(
            at,
            Reason::Constraint {
                keyword: other.keyword().to_owned(),
            },
        )],
    }
}

/// The JSON type of `value`, as JSON Schema names it.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

mod target;
pub use self::target::from_target;

#[cfg(test)]
mod tests;
