//! Identity schemas: the dump's `Schema` records, which pools and users name
//! by `payload_schema_id`, `metadata_schema_id` and
//! `business_metadata_schema_id`, and the JSON Schema subset they are written
//! in (`SupportedJSONSchema`).
//!
//! The platform keeps a schema as a Go struct of the keywords it supports, so
//! a dump carries those keywords and no other: [`SupportedJsonSchema`] has
//! exactly them, with the description's types (numbers are whole, `type` is
//! one name, `enum` and `const` are text), and refuses any other keyword, so
//! a schema the platform could not hold is refused at the rehearsal too.
//! `ferry serve` stores and exports schemas; it does not validate payloads
//! against them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An identity schema of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// The schema's id, such as `user_v0`: optional in the description,
    /// required by `ferry serve`, which matches records by id.
    pub id: String,
    /// The tenant the schema belongs to.
    pub tenant_id: String,
    /// Display name.
    pub name: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The schema itself.
    pub schema: SupportedJsonSchema,
    /// A system schema cannot be changed or deleted on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<bool>,
    /// When the schema was created.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
    /// When the schema last changed.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
}

/// A map from names to schemas (`properties`, `patternProperties`, ...).
pub type SchemaMap = BTreeMap<String, SupportedJsonSchema>;

/// The JSON Schema keywords the platform supports, each as the description
/// types it. Every field is optional; absent ones are not serialised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SupportedJsonSchema {
    /// Whether an object may have properties the schema does not name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_properties: Option<bool>,
    /// Schemas the value must all match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_of: Option<Vec<SupportedJsonSchema>>,
    /// Schemas the value must match one or more of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<SupportedJsonSchema>>,
    /// The one value allowed.
    #[serde(default, rename = "const", skip_serializing_if = "Option::is_none")]
    pub const_value: Option<String>,
    /// A schema an item of an array must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<Box<SupportedJsonSchema>>,
    /// Properties required when another is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependent_required: Option<BTreeMap<String, Vec<String>>>,
    /// Schemas applied when a property is present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependent_schemas: Option<SchemaMap>,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Applied when `if` does not match.
    #[serde(default, rename = "else", skip_serializing_if = "Option::is_none")]
    pub else_schema: Option<Box<SupportedJsonSchema>>,
    /// The values allowed.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<String>>,
    /// Exclusive upper bound of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_maximum: Option<i64>,
    /// Exclusive lower bound of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_minimum: Option<i64>,
    /// The platform's own keyword: hide the property in its forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// The condition of `then` and `else`.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub if_schema: Option<Box<SupportedJsonSchema>>,
    /// The schema of an array's items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<SupportedJsonSchema>>,
    /// Most items that may match `contains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_contains: Option<i64>,
    /// Most items of an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
    /// Longest string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
    /// Most properties of an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_properties: Option<i64>,
    /// Inclusive upper bound of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
    /// Fewest items that must match `contains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_contains: Option<i64>,
    /// Fewest items of an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<i64>,
    /// Shortest string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i64>,
    /// Fewest properties of an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_properties: Option<i64>,
    /// Inclusive lower bound of a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    /// A number must be a multiple of this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple_of: Option<i64>,
    /// A schema the value must not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<SupportedJsonSchema>>,
    /// Schemas the value must match exactly one of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<SupportedJsonSchema>>,
    /// A regular expression a string must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Schemas of the properties whose names match a pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_properties: Option<SchemaMap>,
    /// Schemas of named properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<SchemaMap>,
    /// A schema property names must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_names: Option<Box<SupportedJsonSchema>>,
    /// Properties an object must have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
    /// Applied when `if` matches.
    #[serde(default, rename = "then", skip_serializing_if = "Option::is_none")]
    pub then_schema: Option<Box<SupportedJsonSchema>>,
    /// A title for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The type of the value: one name (`object`, `string`, ...).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// Whether an array's items must differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_items: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keywords_keep_their_spelling_and_others_are_refused() {
        let text = json!({"type": "object", "additionalProperties": false,
            "properties": {"name": {"type": "string", "minLength": 1, "enum": ["a"], "const": "a"}},
            "if": {"required": ["name"]}, "then": {"title": "t"}, "else": {"hidden": true}});
        let schema: SupportedJsonSchema = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(schema.type_name.as_deref(), Some("object"));
        assert_eq!(serde_json::to_value(&schema).unwrap(), text);
        let unknown = serde_json::from_value::<SupportedJsonSchema>(json!({"format": "email"}));
        assert!(unknown.unwrap_err().to_string().contains("format"));
        let typed = serde_json::from_value::<SupportedJsonSchema>(json!({"minLength": "1"}));
        assert!(typed.is_err());
    }
}
