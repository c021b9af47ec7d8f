//! The platform's published `TenantDump`, as a strict JSON Schema: what a
//! request body ferry builds, and a dump `ferry serve` exports, must be.
//!
//! The schema is made from the repository's copy of the 2025 description
//! (`spec/platform/identitysystem-2025-04.yaml`, Swagger 2.0): its
//! `definitions`, with `#/definitions/TenantDump` as the root, turned into
//! JSON Schema draft 7 by these rules:
//!
//! - **strict**: every object with `properties` gets
//!   `additionalProperties: false`, so a field the description lacks fails;
//! - `additionalProperties: {type: object}` is go-swagger's rendering of a
//!   Go `map[string]interface{}` (`payload`, `metadata`): any JSON value per
//!   key, as the description's README says, so it becomes `true`;
//! - `x-nullable: false` (every field) means no `null`: the draft 7 types
//!   already exclude it, and a field without a type (`user_type`) gets
//!   `not: {type: null}`;
//! - of the formats, only `date-time` is JSON Schema's own and is checked
//!   (RFC 3339); the integer formats become bounds (`uint64`, `uint32`,
//!   `uint8`, `int64`); go-swagger's names (`userID`, `duration`, a Go
//!   duration and not ISO 8601's) are dropped;
//! - `x-*` extensions and `example` are dropped.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

/// The repository's copy of the 2025 description.
pub fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spec/platform/identitysystem-2025-04.yaml")
}

/// The description, parsed (once per test process).
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(spec_path())
            .unwrap_or_else(|e| panic!("{}: {e}", spec_path().display()));
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("the description: {e}"))
    })
}

/// The description's definition `name` (`TenantDump`, `Pool`, ...).
pub fn definition(name: &str) -> &'static Value {
    &spec()["definitions"][name]
}

/// The strict JSON Schema of `TenantDump` (see the module).
pub fn tenant_dump_schema() -> Value {
    let definitions = spec()["definitions"]
        .as_object()
        .map(|defs| {
            defs.iter()
                .map(|(name, def)| (name.clone(), strict(def)))
                .collect::<Map<_, _>>()
        })
        .unwrap_or_default();
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": definitions,
        "allOf": [{"$ref": "#/definitions/TenantDump"}],
    })
}

/// One Swagger schema as strict draft 7 JSON Schema.
fn strict(schema: &Value) -> Value {
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        match key.as_str() {
            k if k.starts_with("x-") || k == "example" => {}
            "properties" => {
                let properties = value
                    .as_object()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), strict(v))).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Object(properties));
            }
            "additionalProperties" => {
                let any_value = value == &json!({"type": "object"});
                out.insert(
                    key.clone(),
                    if any_value {
                        json!(true)
                    } else {
                        strict(value)
                    },
                );
            }
            "items" => {
                out.insert(key.clone(), strict(value));
            }
            "format" => match value.as_str() {
                Some("date-time") => {
                    out.insert(key.clone(), value.clone());
                }
                Some("uint64") | Some("uint32") | Some("uint8") => {
                    out.insert("minimum".into(), json!(0));
                    let max = match value.as_str() {
                        Some("uint32") => json!(u32::MAX),
                        Some("uint8") => json!(u8::MAX),
                        _ => json!(u64::MAX),
                    };
                    out.insert("maximum".into(), max);
                }
                Some("int64") => {
                    out.insert("minimum".into(), json!(i64::MIN));
                    out.insert("maximum".into(), json!(i64::MAX));
                }
                _ => {}
            },
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), json!(false));
    }
    let typeless = !out.contains_key("type") && !out.contains_key("$ref");
    if typeless && object.get("x-nullable") == Some(&json!(false)) {
        out.insert("not".into(), json!({"type": "null"}));
    }
    Value::Object(out)
}

/// What is wrong with `body` as a strict `TenantDump`: one line per
/// violation, `instance path: message`; empty when it conforms.
pub fn tenant_dump_violations(body: &Value) -> Vec<String> {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            .build(&tenant_dump_schema())
            .unwrap_or_else(|e| panic!("the strict TenantDump schema does not build: {e}"))
    });
    validator
        .iter_errors(body)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

/// Panics with every violation unless `body` is a strict `TenantDump`.
pub fn assert_tenant_dump(body: &Value, what: &str) {
    let violations = tenant_dump_violations(body);
    assert!(
        violations.is_empty(),
        "{what} is not a strict TenantDump:\n{}",
        violations.join("\n")
    );
}

/// The fields of the description's object definitions that no object of
/// `body` (a dump) has, as `Definition.field`; `skip` names top-level
/// collections left out on purpose. Every definition reached from
/// `TenantDump` counts, and a field counts as covered when any object of
/// that definition has it.
pub fn uncovered_fields(body: &Value, skip: &[&str]) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    let mut reached = std::collections::BTreeSet::new();
    walk(
        &json!({"$ref": "#/definitions/TenantDump"}),
        body,
        skip,
        &mut seen,
        &mut reached,
    );
    let mut missing = Vec::new();
    for name in reached {
        let Some(properties) = definition(&name)["properties"].as_object() else {
            continue;
        };
        for field in properties.keys() {
            if name == "TenantDump" && skip.contains(&field.as_str()) {
                continue;
            }
            if !seen.get(&name).is_some_and(|s| s.contains(field)) {
                missing.push(format!("{name}.{field}"));
            }
        }
    }
    missing
}

fn walk(
    schema: &Value,
    value: &Value,
    skip: &[&str],
    seen: &mut std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    reached: &mut std::collections::BTreeSet<String>,
) {
    let (name, schema) = match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/definitions/").to_owned();
            let schema = definition(&name);
            (Some(name), schema)
        }
        None => (None, schema),
    };
    if let Some(name) = &name {
        reached.insert(name.clone());
    }
    match value {
        Value::Array(items) => {
            for item in items {
                walk(&schema["items"], item, skip, seen, reached);
            }
        }
        Value::Object(fields) => {
            let Some(properties) = schema["properties"].as_object() else {
                return;
            };
            for (field, inner) in fields {
                if name.as_deref() == Some("TenantDump") && skip.contains(&field.as_str()) {
                    continue;
                }
                if let Some(name) = &name {
                    seen.entry(name.clone()).or_default().insert(field.clone());
                }
                if let Some(property) = properties.get(field) {
                    walk(property, inner, skip, seen, reached);
                }
            }
        }
        _ => {}
    }
}
