//! The platform's delete endpoints: each record deleted with what belongs
//! to it and nothing else, its ids and identifiers free again, a second
//! delete a 404, the token checked like the other system endpoints, at
//! every layout, and `Sender::delete` against `ferry serve`.

use std::sync::Arc;
use std::time::Duration;

use ferry::contract::api::{Endpoint, Layout, Params, SCOPE_IDENTITY};
use ferry::send::backoff::{seeded_rng, Backoff};
use ferry::send::client::{ClientConfig, TargetClient};
use ferry::send::deliver::{Deleted, Effort, Sender};
use ferry::send::gate::ThrottleGate;
use ferry::send::token::ClientSecret;
use ferry::tools::synthetic;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use super::support::{
    expect_error, json, TestServer, CLIENT_ID, OTHER_TENANT, POOL, SECRET, TENANT,
};
use crate::common::full_dump::{self, POOL as FULL, USER};

const GROUP: &str = "staff";
const SCHEMA: &str = "user_v0";

/// The path of each delete at `layout`, in a rollback's order: membership,
/// user, group, pool, schema.
fn paths(layout: Layout, tenant: &str) -> [String; 5] {
    [
        layout.path(
            Endpoint::GroupMember,
            Params::member(tenant, FULL, GROUP, USER),
        ),
        layout.path(Endpoint::User, Params::user(tenant, FULL, USER)),
        layout.path(Endpoint::Group, Params::group(tenant, FULL, GROUP)),
        layout.path(Endpoint::Pool, Params::pool(tenant, FULL)),
        layout.path(Endpoint::Schema, Params::schema(tenant, "spare")),
    ]
}

fn client_path(endpoint: Endpoint, params: Params<'_>) -> String {
    Layout::Client.path(endpoint, params)
}

async fn delete(server: &TestServer, path: &str, token: &str) -> Response {
    server
        .client
        .delete(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("delete")
}

/// A 204 without a body: the description's answer to every delete.
async fn expect_deleted(response: Response) {
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let body = response.bytes().await.expect("body");
    assert!(body.is_empty(), "{}", String::from_utf8_lossy(&body));
}

async fn put_ok(server: &TestServer, token: &str, mode: Option<&str>, body: &Value) {
    let response = server.put(TENANT, token, mode, body).await;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
}

/// The whole dump of the tenant.
async fn export(server: &TestServer, token: &str) -> Value {
    let response = server.export_response(TENANT, token, "").await;
    assert_eq!(response.status(), StatusCode::OK);
    json(response).await
}

/// The full dump (pool `full`, its schema, group, membership and user) and a
/// spare schema no pool names, with three more users in the default pool.
async fn seeded() -> (TestServer, String) {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    put_ok(&server, &token, None, &full_dump::dump(TENANT)).await;
    let mut spare = full_dump::schema(TENANT);
    spare["id"] = json!("spare");
    put_ok(&server, &token, None, &json!({"schemas": [spare]})).await;
    let others = serde_json::to_value(synthetic::users(TENANT, POOL, 0..3)).unwrap_or_default();
    put_ok(&server, &token, None, &others).await;
    (server, token)
}

/// How many records of `collection` in `dump` have `key` equal to `value`.
fn count(dump: &Value, collection: &str, key: &str, value: &str) -> usize {
    dump[collection]
        .as_array()
        .map(|records| records.iter().filter(|r| r[key] == value).count())
        .unwrap_or(0)
}

fn len(dump: &Value, collection: &str) -> usize {
    dump[collection].as_array().map(Vec::len).unwrap_or(0)
}

#[tokio::test]
async fn a_deleted_user_goes_with_its_records_and_its_ids_and_identifier_are_free_again() {
    let (server, token) = seeded().await;
    let user = client_path(Endpoint::User, Params::user(TENANT, FULL, USER));
    expect_deleted(delete(&server, &user, &token).await).await;

    let after = export(&server, &token).await;
    for collection in [
        "users",
        "user_credentials",
        "user_identifiers",
        "user_verifiable_addresses",
        "group_members",
    ] {
        let key = if collection == "users" {
            "id"
        } else {
            "user_id"
        };
        assert_eq!(count(&after, collection, key, USER), 0, "{collection}");
    }
    assert_eq!(len(&after, "users"), 3, "the other users stay");
    assert_eq!(len(&after, "groups"), 1, "its group stays");
    assert_eq!(count(&after, "pools", "id", FULL), 1, "its pool stays");
    expect_error(server.get(&user, &token).await, 404, "unknown_user").await;
    expect_error(delete(&server, &user, &token).await, 404, "unknown_user").await;

    // Another user takes the deleted user's identifier (and new ids).
    let mut taker = full_dump::dump(TENANT);
    let other = "9e0c8a52-3b7e-4c1a-9d2e-7a1b2c3d4e5f";
    taker["users"][0]["id"] = json!(other);
    for (collection, id) in [
        ("user_credentials", "9e0c8a52-0000-4c1a-9d2e-7a1b2c3d4e51"),
        ("user_identifiers", "9e0c8a52-0000-4c1a-9d2e-7a1b2c3d4e52"),
        (
            "user_verifiable_addresses",
            "9e0c8a52-0000-4c1a-9d2e-7a1b2c3d4e53",
        ),
    ] {
        taker[collection][0]["user_id"] = json!(other);
        taker[collection][0]["id"] = json!(id);
    }
    taker["group_members"][0]["user_id"] = json!(other);
    let response = server
        .put(
            TENANT,
            &token,
            Some("fail"),
            &json!({
        "users": taker["users"], "user_identifiers": taker["user_identifiers"]}),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "the identifier is free"
    );
    let by_key = client_path(Endpoint::UserByKey, Params::pool(TENANT, FULL));
    let found: Value = json(
        server
            .post_json(&by_key, &token, &json!({"identifier": "ann@example.com"}))
            .await,
    )
    .await;
    assert_eq!(found["id"], other);

    // The deleted user's own records come back under their ids, once the
    // identifier is free again.
    let taken = client_path(Endpoint::User, Params::user(TENANT, FULL, other));
    expect_deleted(delete(&server, &taken, &token).await).await;
    let dump = full_dump::dump(TENANT);
    let user_records: serde_json::Map<String, Value> = [
        "users",
        "user_credentials",
        "user_identifiers",
        "user_verifiable_addresses",
        "group_members",
    ]
    .into_iter()
    .map(|collection| (collection.to_owned(), dump[collection].clone()))
    .collect();
    put_ok(&server, &token, Some("fail"), &Value::Object(user_records)).await;
    let back = export(&server, &token).await;
    assert_eq!(count(&back, "user_credentials", "user_id", USER), 1);
    assert_eq!(count(&back, "group_members", "user_id", USER), 1);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn a_membership_and_then_its_group_are_deleted_and_the_user_stays() {
    let (server, token) = seeded().await;
    let member = client_path(
        Endpoint::GroupMember,
        Params::member(TENANT, FULL, GROUP, USER),
    );
    expect_deleted(delete(&server, &member, &token).await).await;
    let after = export(&server, &token).await;
    assert_eq!(len(&after, "group_members"), 0);
    assert_eq!(count(&after, "users", "id", USER), 1);
    assert_eq!(len(&after, "groups"), 1);
    expect_error(delete(&server, &member, &token).await, 404, "not_a_member").await;
    let nobody = uuid::Uuid::from_u128(5).to_string();
    for (path, code) in [
        (Params::member(TENANT, FULL, "nope", USER), "unknown_group"),
        (Params::member(TENANT, FULL, GROUP, &nobody), "unknown_user"),
        (
            Params::member(TENANT, FULL, GROUP, "not-a-uuid"),
            "unknown_user",
        ),
        (Params::member(TENANT, "nope", GROUP, USER), "unknown_pool"),
    ] {
        let response = delete(&server, &client_path(Endpoint::GroupMember, path), &token).await;
        expect_error(response, 404, code).await;
    }

    // The membership again, then the group with it.
    let membership = full_dump::dump(TENANT)["group_members"].clone();
    put_ok(&server, &token, None, &json!({"group_members": membership})).await;
    let group = client_path(Endpoint::Group, Params::group(TENANT, FULL, GROUP));
    expect_deleted(delete(&server, &group, &token).await).await;
    let after = export(&server, &token).await;
    assert_eq!(len(&after, "groups"), 0);
    assert_eq!(
        len(&after, "group_members"),
        0,
        "its memberships go with it"
    );
    assert_eq!(count(&after, "users", "id", USER), 1, "its members stay");
    expect_error(delete(&server, &group, &token).await, 404, "unknown_group").await;
    let elsewhere = client_path(Endpoint::Group, Params::group(TENANT, "nope", GROUP));
    expect_error(
        delete(&server, &elsewhere, &token).await,
        404,
        "unknown_pool",
    )
    .await;
    server.handle.shutdown().await;
}

#[tokio::test]
async fn a_pool_is_deleted_with_its_users_and_groups_and_nothing_of_other_pools() {
    let (server, token) = seeded().await;
    let pool = client_path(Endpoint::Pool, Params::pool(TENANT, FULL));
    let bad = delete(&server, &format!("{pool}?with_idp=maybe"), &token).await;
    expect_error(bad, 400, "invalid_query").await;
    expect_deleted(delete(&server, &format!("{pool}?with_idp=false"), &token).await).await;

    let after = export(&server, &token).await;
    assert_eq!(count(&after, "pools", "id", FULL), 0);
    for collection in [
        "users",
        "user_credentials",
        "user_identifiers",
        "user_verifiable_addresses",
        "groups",
        "group_members",
    ] {
        assert_eq!(
            count(&after, collection, "user_pool_id", FULL),
            0,
            "{collection}"
        );
    }
    assert_eq!(len(&after, "users"), 3, "the default pool's users stay");
    assert_eq!(len(&after, "user_credentials"), 3);
    assert_eq!(len(&after, "schemas"), 2, "schemas belong to no pool");
    expect_error(server.get(&pool, &token).await, 404, "unknown_pool").await;
    expect_error(delete(&server, &pool, &token).await, 404, "unknown_pool").await;
    let user = client_path(Endpoint::User, Params::user(TENANT, FULL, USER));
    expect_error(delete(&server, &user, &token).await, 404, "unknown_pool").await;

    // Everything of it can be imported again, under the same ids (its
    // schema was kept).
    let mut dump = full_dump::dump(TENANT);
    if let Some(dump) = dump.as_object_mut() {
        dump.remove("schemas");
    }
    put_ok(&server, &token, Some("fail"), &dump).await;
    let again = export(&server, &token).await;
    assert_eq!(count(&again, "users", "user_pool_id", FULL), 1);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn a_schema_is_deleted_unless_it_is_a_system_one_or_a_pool_names_it() {
    let (server, token) = seeded().await;
    let schema = |id: &'static str| client_path(Endpoint::Schema, Params::schema(TENANT, id));
    let response = delete(&server, &schema(SCHEMA), &token).await;
    let error = expect_error(response, 409, "schema_in_use").await;
    assert!(error.error.contains(FULL), "{error:?}");
    let mut system = full_dump::schema(TENANT);
    system["id"] = json!("core");
    system["system"] = json!(true);
    put_ok(&server, &token, None, &json!({"schemas": [system]})).await;
    expect_error(
        delete(&server, &schema("core"), &token).await,
        400,
        "system_schema",
    )
    .await;

    expect_deleted(delete(&server, &schema("spare"), &token).await).await;
    expect_error(
        delete(&server, &schema("spare"), &token).await,
        404,
        "unknown_schema",
    )
    .await;
    let ids: Vec<Value> = export(&server, &token).await["schemas"]
        .as_array()
        .map(|s| s.iter().map(|s| s["id"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(ids, [json!("core"), json!(SCHEMA)], "in id order");
    // Once its pool is gone, nothing names it.
    let pool = client_path(Endpoint::Pool, Params::pool(TENANT, FULL));
    expect_deleted(delete(&server, &pool, &token).await).await;
    expect_deleted(delete(&server, &schema(SCHEMA), &token).await).await;
    server.handle.shutdown().await;
}

#[tokio::test]
async fn the_deletes_need_a_token_of_the_tenant_with_scope_identity() {
    let (server, token) = seeded().await;
    let configuration_only = server.token(TENANT).await;
    let other = server.identity_token(OTHER_TENANT).await;
    for path in paths(Layout::Client, TENANT) {
        let response = delete(&server, &path, &configuration_only).await;
        expect_error(response, 403, "insufficient_scope").await;
        expect_error(delete(&server, &path, &other).await, 403, "wrong_tenant").await;
        let response = server.client.delete(server.url(&path)).send().await;
        expect_error(response.expect("delete"), 401, "invalid_token").await;
        let response = delete(&server, &path, "not-a-token").await;
        expect_error(response, 401, "invalid_token").await;
    }
    // Another tenant's own paths do not reach this tenant's records.
    for path in paths(Layout::Client, OTHER_TENANT) {
        let response = delete(&server, &path, &other).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let unchanged = export(&server, &token).await;
    assert_eq!(count(&unchanged, "users", "id", USER), 1);
    assert_eq!(len(&unchanged, "group_members"), 1);
    assert_eq!(len(&unchanged, "schemas"), 2);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn every_layout_deletes_the_same_records() {
    let (server, token) = seeded().await;
    for layout in Layout::ALL {
        for path in paths(layout, TENANT) {
            expect_deleted(delete(&server, &path, &token).await).await;
        }
        for path in paths(layout, TENANT) {
            let response = delete(&server, &path, &token).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{layout} {path}");
        }
        let after = export(&server, &token).await;
        assert_eq!(count(&after, "pools", "id", FULL), 0, "{layout}");
        assert_eq!(len(&after, "schemas"), 1, "{layout}");
        assert_eq!(len(&after, "users"), 3, "{layout}");
        // Everything again for the next layout.
        put_ok(&server, &token, None, &full_dump::dump(TENANT)).await;
        let mut spare = full_dump::schema(TENANT);
        spare["id"] = json!("spare");
        put_ok(&server, &token, None, &json!({"schemas": [spare]})).await;
    }
    server.handle.shutdown().await;
}

/// A sender of ferry's client for `server`'s tenant at `layout`, with the
/// scope the delete endpoints need, and its client (to build URLs).
fn sender(server: &TestServer, layout: Layout) -> (Sender, Arc<TargetClient>) {
    let base = url::Url::parse(&server.handle.base_url()).expect("base url");
    let mut config = ClientConfig::new(base, TENANT, CLIENT_ID, ClientSecret::new(SECRET));
    config.layout = layout;
    config.scope = SCOPE_IDENTITY.to_owned();
    let client = Arc::new(TargetClient::new(config).expect("client"));
    let backoff =
        Backoff::new(Duration::from_millis(1), Duration::from_millis(4), 3).expect("backoff");
    let gate = Arc::new(ThrottleGate::new(backoff));
    let sender = Sender::new(client.clone(), gate, None, backoff, seeded_rng(Some(1)));
    (sender, client)
}

#[tokio::test]
async fn sender_delete_removes_then_finds_absent_at_every_layout() {
    let (server, token) = seeded().await;
    for layout in Layout::ALL {
        let (mut sender, client) = sender(&server, layout);
        // A rollback's order: memberships, users, groups, the pool, schemas.
        let urls = [
            client.group_member_url(FULL, GROUP, USER),
            client.url(Endpoint::User, FULL, USER),
            client.group_url(FULL, GROUP),
            client.url(Endpoint::Pool, FULL, ""),
            client.schema_url("spare"),
        ]
        .map(|url| url.expect("url"));
        for url in &urls {
            let mut effort = Effort::default();
            let deleted = sender.delete(url, &mut effort).await;
            assert_eq!(deleted.ok(), Some(Deleted::Removed), "{layout} {url}");
            assert_eq!(effort.attempts, 1);
        }
        for url in &urls {
            let mut effort = Effort::default();
            let deleted = sender.delete(url, &mut effort).await;
            assert_eq!(deleted.ok(), Some(Deleted::Absent), "{layout} {url}");
        }
        put_ok(&server, &token, None, &full_dump::dump(TENANT)).await;
        let mut spare = full_dump::schema(TENANT);
        spare["id"] = json!("spare");
        put_ok(&server, &token, None, &json!({"schemas": [spare]})).await;
    }
    server.handle.shutdown().await;
}
