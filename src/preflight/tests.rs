use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::contract::records::UserStatus;

fn schema(id: &str, schema: Value) -> Schema {
    Schema {
        id: id.to_owned(),
        tenant_id: "t".to_owned(),
        name: id.to_owned(),
        description: None,
        schema: serde_json::from_value(schema).unwrap(),
        system: None,
        created_at: None,
        updated_at: None,
    }
}

fn pool(payload: Option<&str>, metadata: Option<&str>, business: Option<&str>) -> Pool {
    serde_json::from_value(json!({
        "id": "p", "tenant_id": "t", "name": "p",
        "payload_schema_id": payload, "metadata_schema_id": metadata,
        "business_metadata_schema_id": business,
    }))
    .unwrap()
}

fn user(payload: Value, metadata: Option<Value>) -> User {
    let object = |v: Value| v.as_object().cloned();
    User {
        id: Uuid::nil(),
        tenant_id: "t".into(),
        user_pool_id: "p".into(),
        status: UserStatus::Active,
        payload: object(payload),
        payload_schema_id: None,
        metadata: metadata.and_then(object),
        metadata_schema_id: None,
        business_metadata: None,
        business_metadata_schema_id: None,
        user_type: None,
        created_at: None,
        updated_at: None,
        status_updated_at: None,
    }
}

fn profile() -> Schema {
    schema(
        "user_v1",
        json!({"type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "age": {"type": "integer", "minimum": 0},
                "tier": {"type": "string", "enum": ["gold", "silver"]},
                "address": {"type": "object", "properties": {"city": {"type": "string"}}},
                "phones": {"type": "array", "items": {"type": "object", "properties": {"kind": {"type": "string"}}}},
                "extra": {"type": "object"}
            },
            "patternProperties": {"^x_": {"type": "string"}},
            "required": ["name"]}),
    )
}

fn checked(payload: Value) -> Vec<String> {
    let preflight = Preflight::new(&pool(Some("user_v1"), None, None), &vec![profile()]).unwrap();
    preflight
        .check(&user(payload, None))
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_user_the_schema_describes_passes() {
    let payload = json!({"name": "Ada", "age": 36, "tier": "gold", "x_team": "a",
        "address": {"city": "Paris"}, "phones": [{"kind": "home"}], "extra": {"anything": 1}});
    assert_eq!(checked(payload), Vec::<String>::new());
}

#[test]
fn each_kind_of_violation_names_the_field_and_the_schema_never_the_value() {
    let cases = [
        (
            json!({"name": "Ada", "loyalty_tier": "secret-value"}),
            "payload.loyalty_tier: not defined by schema user_v1",
        ),
        (
            json!({"name": "Ada", "age": "secret-value"}),
            "payload.age: is a string, schema user_v1 wants integer",
        ),
        (
            json!({"age": 3}),
            "payload.name: required by schema user_v1, missing",
        ),
        (
            json!({"name": "Ada", "tier": "secret-value"}),
            "payload.tier: not one of the values schema user_v1 allows",
        ),
        (
            json!({"name": "Ada", "age": -1}),
            "payload.age: fails minimum of schema user_v1",
        ),
        (
            json!({"name": "Ada", "x_team": 7}),
            "payload.x_team: is an integer, schema user_v1 wants string",
        ),
    ];
    for (payload, expected) in cases {
        let found = checked(payload.clone());
        assert_eq!(found, [expected], "{payload}");
        assert!(!found[0].contains("secret-value"));
    }
}

#[test]
fn nested_objects_are_checked_where_their_schema_names_fields() {
    let found = checked(json!({"name": "Ada",
        "address": {"city": 5, "zip": "75001"},
        "phones": [{"kind": "home"}, {"kind": "work", "number": "1"}],
        "extra": {"free": "form"}}));
    assert_eq!(
        found,
        [
            "payload.address.city: is an integer, schema user_v1 wants string",
            "payload.address.zip: not defined by schema user_v1",
            "payload.phones[1].number: not defined by schema user_v1",
        ]
    );
}

#[test]
fn additional_properties_true_opens_an_object_and_combinations_define_fields() {
    let open = schema(
        "open",
        json!({"properties": {"a": {"type": "string"}}, "additionalProperties": true}),
    );
    let combined = schema(
        "combined",
        json!({"allOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"b": {"type": "string"}}}]}),
    );
    let closed = schema(
        "closed",
        json!({"properties": {"a": {}}, "additionalProperties": false}),
    );
    for (schema, clean) in [(open, true), (combined, false), (closed, false)] {
        let id = schema.id.clone();
        let preflight = Preflight::new(&pool(Some(&id), None, None), &vec![schema]).unwrap();
        let found = preflight.check(&user(json!({"a": "1", "b": "2", "c": "3"}), None));
        let expected: Vec<Violation> = if clean {
            vec![]
        } else {
            let mut v = vec![Violation {
                field: "payload.c".into(),
                schema: id.clone(),
                reason: Reason::Undefined,
            }];
            if id == "closed" {
                v.insert(
                    0,
                    Violation {
                        field: "payload.b".into(),
                        schema: id.clone(),
                        reason: Reason::Undefined,
                    },
                );
            }
            v
        };
        let mut found = found;
        found.sort_by(|a, b| a.field.cmp(&b.field));
        assert_eq!(found, expected, "{id}");
    }
}

#[test]
fn metadata_and_business_metadata_have_their_own_schemas() {
    let tiers = schema("meta", json!({"properties": {"tier": {"type": "integer"}}}));
    let business = schema("biz", json!({"properties": {}}));
    let pool = pool(Some("user_v1"), Some("meta"), Some("biz"));
    let preflight = Preflight::new(&pool, &vec![profile(), tiers, business]).unwrap();
    assert_eq!(
        preflight.schemas().collect::<Vec<_>>(),
        [
            (Part::Payload, "user_v1"),
            (Part::Metadata, "meta"),
            (Part::BusinessMetadata, "biz")
        ]
    );
    let mut user = user(json!({"name": "Ada"}), Some(json!({"tier": "gold"})));
    user.business_metadata = json!({"cost_centre": "x"}).as_object().cloned();
    let found: Vec<String> = preflight
        .check(&user)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "metadata.tier: is a string, schema meta wants integer",
            "business_metadata.cost_centre: not defined by schema biz",
        ]
    );
}

#[test]
fn a_pool_without_schemas_checks_nothing() {
    let preflight = Preflight::new(&pool(None, None, None), &Vec::<Schema>::new()).unwrap();
    assert!(preflight.is_empty());
    assert!(preflight
        .check(&user(json!({"anything": [1, 2]}), None))
        .is_empty());
}

#[test]
fn an_absent_part_is_an_empty_object() {
    let preflight = Preflight::new(&pool(Some("user_v1"), None, None), &vec![profile()]).unwrap();
    let mut user = user(json!({}), None);
    user.payload = None;
    let found: Vec<String> = preflight
        .check(&user)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(found, ["payload.name: required by schema user_v1, missing"]);
}

#[test]
fn a_schema_the_pool_names_but_the_target_lacks_is_an_error() {
    let err =
        Preflight::new(&pool(Some("user_v1"), Some("gone"), None), &vec![profile()]).unwrap_err();
    assert!(
        matches!(&err, PreflightError::MissingSchema { part: Part::Metadata, id, .. } if id == "gone")
    );
    assert!(err.to_string().contains("no schema gone"), "{err}");
}

#[test]
fn a_schema_that_cannot_compile_is_an_error() {
    let bad = schema(
        "bad",
        json!({"properties": {"a": {"pattern": "(unclosed"}}}),
    );
    let err = Preflight::new(&pool(Some("bad"), None, None), &vec![bad]).unwrap_err();
    assert!(matches!(err, PreflightError::InvalidSchema { .. }), "{err}");
}

#[test]
fn a_check_is_cheap() {
    let preflight = Preflight::new(&pool(Some("user_v1"), None, None), &vec![profile()]).unwrap();
    let good = user(
        json!({"name": "Ada", "age": 36, "tier": "gold", "address": {"city": "Paris"}}),
        None,
    );
    let bad = user(json!({"name": "Ada", "age": "x", "loyalty": 1}), None);
    let n = 20_000;
    let started = std::time::Instant::now();
    for i in 0..n {
        let v = preflight.check(if i % 10 == 0 { &bad } else { &good });
        assert_eq!(v.is_empty(), i % 10 != 0);
    }
    let per_user = started.elapsed() / n;
    eprintln!("preflight: {per_user:?} per user (one user in ten failing)");
    // Generous: a debug build on a loaded machine.
    assert!(
        per_user < std::time::Duration::from_millis(1),
        "{per_user:?}"
    );
}
