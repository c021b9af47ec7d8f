//! No silent drop at the target: every collection of the platform's
//! `TenantDump` is stored and exported, or refused with a 400 that names
//! it, and so is every field the description does not define.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::support::{detail, expect_error, json, TestServer, TENANT};
use crate::common::full_dump::{self, POOL, USER};

async fn put(server: &TestServer, token: &str, mode: Option<&str>, body: &Value) -> u16 {
    server
        .put(TENANT, token, mode, body)
        .await
        .status()
        .as_u16()
}

async fn export(server: &TestServer, token: &str) -> Value {
    let response = server.export_response(TENANT, token, "").await;
    assert_eq!(response.status(), StatusCode::OK);
    json(response).await
}

/// The records of `collection` in `dump` whose `key` is `value`.
fn records<'a>(dump: &'a Value, collection: &str, key: &str, value: &str) -> Vec<&'a Value> {
    dump[collection]
        .as_array()
        .map(|records| records.iter().filter(|r| r[key] == value).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_collection_round_trips_through_put_and_get_with_every_field() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let body = full_dump::dump(TENANT);
    assert_eq!(put(&server, &token, None, &body).await, 204);
    let exported = export(&server, &token).await;
    for collection in [
        "schemas",
        "groups",
        "group_members",
        "users",
        "user_credentials",
        "user_identifiers",
        "user_verifiable_addresses",
    ] {
        assert_eq!(exported[collection], body[collection], "{collection}");
    }
    assert_eq!(records(&exported, "pools", "id", POOL), [&body["pools"][0]]);
    // The pool's export carries its groups; a page of it, its users' memberships only.
    let pool = server
        .export(TENANT, &token, &format!("?pool_id={POOL}"))
        .await;
    assert_eq!(pool.groups.len(), 1);
    assert!(pool.schemas.is_empty(), "schemas belong to no pool");
    let page = server
        .export(TENANT, &token, &format!("?pool_id={POOL}&limit=10"))
        .await;
    assert!(page.groups.is_empty());
    assert_eq!(page.group_members.len(), 1);
    // Stored for good: a restart exports the same.
    let server = server.restart().await;
    let token = server.token(TENANT).await;
    assert_eq!(export(&server, &token).await, exported);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn schemas_groups_and_memberships_follow_the_mode_by_their_key() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let body = full_dump::dump(TENANT);
    assert_eq!(put(&server, &token, None, &body).await, 204);

    let mut changed = body.clone();
    changed["schemas"][0]["name"] = json!("Person");
    changed["groups"][0]["name"] = json!("Crew");
    let names = |dump: &Value| {
        (
            dump["schemas"][0]["name"].clone(),
            dump["groups"][0]["name"].clone(),
        )
    };

    // ignore: kept as stored.
    assert_eq!(put(&server, &token, Some("ignore"), &changed).await, 204);
    assert_eq!(
        names(&export(&server, &token).await),
        (json!("User"), json!("Staff"))
    );
    // fail: 409, naming the first record that exists.
    let only_schema = json!({"schemas": changed["schemas"]});
    let response = server.put(TENANT, &token, Some("fail"), &only_schema).await;
    let error = expect_error(response, 409, "record_exists").await;
    assert_eq!(detail(&error, "array"), "schemas");
    let only_group = json!({"groups": changed["groups"]});
    let response = server.put(TENANT, &token, Some("fail"), &only_group).await;
    let error = expect_error(response, 409, "record_exists").await;
    assert_eq!(detail(&error, "array"), "groups");
    let only_member = json!({"group_members": body["group_members"]});
    let response = server.put(TENANT, &token, Some("fail"), &only_member).await;
    let error = expect_error(response, 409, "record_exists").await;
    assert_eq!(detail(&error, "array"), "group_members");
    // update: overwritten, and a membership stays one.
    assert_eq!(put(&server, &token, Some("update"), &changed).await, 204);
    let after = export(&server, &token).await;
    assert_eq!(names(&after), (json!("Person"), json!("Crew")));
    assert_eq!(after["group_members"], body["group_members"]);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn codes_are_refused_by_name_and_nothing_of_the_body_is_stored() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let mut body = full_dump::dump(TENANT);
    body["codes"] = json!([{"tenant_id": TENANT, "user_pool_id": POOL, "user_id": USER,
        "type": "activation", "code": {"hashed_code": {"value": "x"}}}]);
    let response = server.put(TENANT, &token, None, &body).await;
    let error = expect_error(response, 400, "invalid_record").await;
    assert_eq!(detail(&error, "array"), "codes");
    assert!(error.error.contains("one-time codes"), "{error:?}");
    let exported = export(&server, &token).await;
    assert_eq!(exported["users"], json!([]));
    assert!(exported.get("codes").is_none(), "codes are never exported");
    // An empty `codes` carries nothing and is no reason to refuse a body.
    body["codes"] = json!([]);
    assert_eq!(put(&server, &token, None, &body).await, 204);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn a_field_the_description_does_not_define_is_a_400_that_names_it() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let base = full_dump::dump(TENANT);
    // (where, the unknown field, the array named, the field named)
    let cases: [(&[&str], &str, Option<&str>, &str); 8] = [
        (&[], "colour_scheme", None, "colour_scheme"),
        (&["groups", "0"], "colour", Some("groups"), "colour"),
        (
            &["group_members", "0"],
            "role",
            Some("group_members"),
            "role",
        ),
        (&["schemas", "0"], "version", Some("schemas"), "version"),
        (
            &["schemas", "0", "schema"],
            "format",
            Some("schemas"),
            "schema.format",
        ),
        (&["users", "0"], "nickname", Some("users"), "nickname"),
        (
            &["pools", "0", "password_policy"],
            "max_length",
            Some("pools"),
            "password_policy.max_length",
        ),
        (
            &["user_credentials", "0", "payload", "hashed_password"],
            "pepper",
            Some("user_credentials"),
            "payload.hashed_password.pepper",
        ),
    ];
    for (path, unknown, array, field) in cases {
        let mut body = base.clone();
        let mut target = &mut body;
        for step in path {
            target = match step.parse::<usize>() {
                Ok(i) => &mut target[i],
                Err(_) => &mut target[*step],
            };
        }
        target[unknown] = json!("x");
        let response = server.put(TENANT, &token, None, &body).await;
        let error = expect_error(response, 400, "invalid_record").await;
        assert_eq!(
            detail(&error, "field"),
            field,
            "{path:?} {unknown}: {error:?}"
        );
        let named = array.map(Value::from).unwrap_or(Value::Null);
        assert_eq!(detail(&error, "array"), &named, "{path:?}: {error:?}");
        assert!(error.error.contains(unknown), "{error:?}");
    }
    assert_eq!(export(&server, &token).await["users"], json!([]));
    server.handle.shutdown().await;
}

#[tokio::test]
async fn memberships_name_a_group_and_a_user_of_their_pool() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let base = full_dump::dump(TENANT);
    let cases = [
        ("group_id", json!("nobody"), "group_id"),
        (
            "user_id",
            json!("9f0c8a52-3b7e-4c1a-9d2e-7a1b2c3d4e5f"),
            "user_id",
        ),
        ("user_pool_id", json!("default"), "user_pool_id"),
    ];
    for (key, value, field) in cases {
        let mut body = base.clone();
        body["group_members"][0][key] = value;
        let response = server.put(TENANT, &token, None, &body).await;
        let error = expect_error(response, 400, "invalid_record").await;
        assert_eq!(detail(&error, "array"), "group_members", "{key}");
        assert_eq!(detail(&error, "field"), field, "{key}: {error:?}");
    }
    // A group without an id cannot be a membership's: ferry serve needs it.
    let mut body = base.clone();
    if let Some(group) = body["groups"][0].as_object_mut() {
        group.remove("id");
    }
    let error = expect_error(
        server.put(TENANT, &token, None, &body).await,
        400,
        "invalid_record",
    )
    .await;
    assert_eq!(detail(&error, "field"), "id");
    // A group of a pool that does not exist is a 404, like a user's.
    let mut body = json!({"groups": base["groups"]});
    body["groups"][0]["user_pool_id"] = json!("nowhere");
    let response = server.put(TENANT, &token, None, &body).await;
    expect_error(response, 404, "unknown_pool").await;
    server.handle.shutdown().await;
}
