//! Every error answer of the contract, with its error body.

use std::time::Duration;

use ferry::contract::api;
use ferry::tools::synthetic;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::support::{
    detail, expect_error, TestServer, CLIENT_ID, OTHER_TENANT, POOL, SECRET, TENANT,
};

/// A sample body as JSON, to break on purpose.
fn body_value(n: u64) -> Value {
    serde_json::to_value(synthetic::users(TENANT, POOL, 0..n)).expect("json")
}

/// Breaks a valid body on purpose.
type Mutation = fn(&mut Value);

#[tokio::test]
async fn invalid_records_are_400_naming_array_index_and_field() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let cases: Vec<(&str, Mutation, &str, u64, &str)> = vec![
        (
            "bad enum",
            |b| b["users"][2]["status"] = json!("sleeping"),
            "users",
            2,
            "status",
        ),
        (
            "missing field",
            |b| {
                b["user_identifiers"][1]
                    .as_object_mut()
                    .map(|o| o.remove("identifier"));
            },
            "user_identifiers",
            1,
            "identifier",
        ),
        (
            "bad uuid",
            |b| b["user_credentials"][0]["user_id"] = json!("42"),
            "user_credentials",
            0,
            "user_id",
        ),
        (
            "bad time",
            |b| b["user_verifiable_addresses"][3]["created_at"] = json!("yesterday"),
            "user_verifiable_addresses",
            3,
            "created_at",
        ),
        (
            "bad email",
            |b| {
                b["user_identifiers"][2]["identifier"] = json!("not an email");
                b["user_identifiers"][2]["identifier_lc"] = json!("not an email");
            },
            "user_identifiers",
            2,
            "identifier",
        ),
        (
            "not lower-cased",
            |b| b["user_identifiers"][0]["identifier_lc"] = json!("USER.0@EXAMPLE.COM"),
            "user_identifiers",
            0,
            "identifier_lc",
        ),
        (
            "bad mobile",
            |b| {
                b["user_verifiable_addresses"][1]["address"] = json!("555-0100");
                b["user_verifiable_addresses"][1]["address_lc"] = json!("555-0100");
            },
            "user_verifiable_addresses",
            1,
            "address",
        ),
        (
            "dangling user",
            |b| b["user_identifiers"][1]["user_id"] = json!("0b0e0f8a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"),
            "user_identifiers",
            1,
            "user_id",
        ),
        (
            "duplicate id",
            |b| b["users"][1]["id"] = b["users"][0]["id"].clone(),
            "users",
            1,
            "id",
        ),
        (
            "bad hash",
            |b| {
                b["user_credentials"][2]["payload"]["hashed_password"]["config"]["sha"]
                    ["function"] = json!("SHA-512")
            },
            "user_credentials",
            2,
            "payload.hashed_password.value",
        ),
    ];
    for (name, mutate, array, index, field) in cases {
        let mut body = body_value(4);
        mutate(&mut body);
        let response = server.put(TENANT, &token, None, &body).await;
        let error = expect_error(response, 400, "invalid_record").await;
        assert_eq!(detail(&error, "array"), array, "{name}: {error:?}");
        assert_eq!(detail(&error, "index"), &json!(index), "{name}: {error:?}");
        assert_eq!(detail(&error, "field"), field, "{name}: {error:?}");
        assert!(
            error.error.contains(array) && error.error.contains(field),
            "{name}: {}",
            error.error
        );
    }
    // Nothing of the refused requests was stored.
    assert!(server.export(TENANT, &token, "").await.users.is_empty());
    server.handle.shutdown().await;
}

#[tokio::test]
async fn errors_never_echo_password_hashes() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let mut body = body_value(1);
    let value = body["user_credentials"][0]["payload"]["hashed_password"]["value"].clone();
    let secret = value.as_str().expect("hash value").to_owned();
    // Wrong type: serde would quote the value in its message.
    body["user_credentials"][0]["payload"]["hashed_password"]["config"]["sha"]["salt_length"] =
        json!(secret);
    body["user_credentials"][0]["payload"]["hashed_password"]["value"] = json!(42);
    let response = server.put(TENANT, &token, None, &body).await;
    let text = response.text().await.expect("text");
    assert!(!text.contains(&secret), "{text}");
    assert!(text.contains("user_credentials"), "{text}");
    server.handle.shutdown().await;
}

#[tokio::test]
async fn malformed_json_and_bad_mode_are_400() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let response = server
        .put_raw(
            TENANT,
            &token,
            None,
            "application/json",
            b"{\"users\": [{\"id\": ".to_vec(),
        )
        .await;
    expect_error(response, 400, "invalid_record").await;
    let response = server
        .put(TENANT, &token, Some("merge"), &body_value(1))
        .await;
    let error = expect_error(response, 400, "invalid_mode").await;
    assert!(error.error.contains("merge"));
    server.handle.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_refuses_wrong_credentials_with_401() {
    let server = TestServer::start().await;
    let response = server
        .token_request(
            TENANT,
            "guessed-secret-123",
            "grant_type=client_credentials",
        )
        .await;
    assert!(response.headers().contains_key(WWW_AUTHENTICATE));
    let error = expect_error(response, 401, "invalid_client").await;
    assert!(!format!("{error:?}").contains("guessed-secret-123"));

    // client_secret_post works, and a wrong one is refused the same way.
    let form = |secret: &str| {
        format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={secret}")
    };
    let post = |secret: String| {
        server
            .client
            .post(server.url(&api::TOKEN.path([TENANT])))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(secret)
            .send()
    };
    assert_eq!(
        post(form(SECRET)).await.expect("post").status(),
        StatusCode::OK
    );
    expect_error(
        post(form("nope")).await.expect("post"),
        401,
        "invalid_client",
    )
    .await;

    let response = server
        .token_request(TENANT, SECRET, "grant_type=password")
        .await;
    expect_error(response, 400, "unsupported_grant_type").await;
    let response = server
        .token_request(TENANT, SECRET, "grant_type=client_credentials&scope=admin")
        .await;
    expect_error(response, 400, "invalid_scope").await;
    let response = server
        .token_request("nowhere", SECRET, "grant_type=client_credentials")
        .await;
    expect_error(response, 404, "unknown_tenant").await;
    server.handle.shutdown().await;
}

#[tokio::test]
async fn missing_invalid_and_expired_tokens_are_401() {
    let server = TestServer::start_with(|c| c.token_ttl = Duration::ZERO).await;
    let body = body_value(1);
    let response = server
        .client
        .put(server.config_url(TENANT))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("put");
    expect_error(response, 401, "invalid_token").await;
    let response = server.put(TENANT, "made-up-token", None, &body).await;
    expect_error(response, 401, "invalid_token").await;
    // With a TTL of zero every token is already expired.
    let expired = server.token(TENANT).await;
    let response = server.put(TENANT, &expired, None, &body).await;
    let error = expect_error(response, 401, "invalid_token").await;
    assert!(error.error.contains("expired"), "{}", error.error);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn token_of_one_tenant_is_403_on_another() {
    let server = TestServer::start().await;
    let token_a = server.token(TENANT).await;
    let token_b = server.token(OTHER_TENANT).await;
    let body_b = synthetic::users(OTHER_TENANT, POOL, 0..1);
    let response = server.put(OTHER_TENANT, &token_a, None, &body_b).await;
    expect_error(response, 403, "wrong_tenant").await;
    let response = server.export_response(OTHER_TENANT, &token_a, "").await;
    expect_error(response, 403, "wrong_tenant").await;
    assert_eq!(
        server
            .put(OTHER_TENANT, &token_b, None, &body_b)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn record_of_another_tenant_is_403() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let mut body = body_value(3);
    body["user_identifiers"][2]["tenant_id"] = json!(OTHER_TENANT);
    let response = server.put(TENANT, &token, None, &body).await;
    let error = expect_error(response, 403, "wrong_tenant").await;
    assert_eq!(detail(&error, "array"), "user_identifiers");
    assert_eq!(detail(&error, "index"), 2);
    assert_eq!(detail(&error, "field"), "tenant_id");
    server.handle.shutdown().await;
}

#[tokio::test]
async fn scopes_are_enforced() {
    let server = TestServer::start().await;
    let response = server
        .token_request(
            TENANT,
            SECRET,
            "grant_type=client_credentials&scope=read_configuration",
        )
        .await;
    let read_only: ferry::contract::records::TokenResponse = super::support::json(response).await;
    assert_eq!(read_only.scope, "read_configuration");
    let response = server
        .put(TENANT, &read_only.access_token, None, &body_value(1))
        .await;
    let error = expect_error(response, 403, "insufficient_scope").await;
    assert_eq!(detail(&error, "scope"), "manage_configuration");
    let response = server
        .export_response(TENANT, &read_only.access_token, "")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn unknown_pool_is_404() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let body = synthetic::users(TENANT, "no-such-pool", 0..2);
    let response = server.put(TENANT, &token, None, &body).await;
    let error = expect_error(response, 404, "unknown_pool").await;
    assert_eq!(detail(&error, "array"), "users");
    assert_eq!(detail(&error, "index"), 0);
    assert_eq!(detail(&error, "field"), "user_pool_id");
    let response = server
        .export_response(TENANT, &token, "?pool_id=no-such-pool")
        .await;
    expect_error(response, 404, "unknown_pool").await;
    let response = server
        .client
        .get(server.url("/no/such/route"))
        .send()
        .await
        .expect("get");
    expect_error(response, 404, "not_found").await;
    server.handle.shutdown().await;
}

#[tokio::test]
async fn identifier_of_another_user_is_409() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let first = synthetic::users(TENANT, POOL, 0..2);
    assert_eq!(
        server.put(TENANT, &token, None, &first).await.status(),
        StatusCode::NO_CONTENT
    );

    // User 5 claims user 1's email (another case, same identifier_lc).
    let mut thief = synthetic::users(TENANT, POOL, 5..6);
    thief.user_identifiers[0].identifier = "USER.1@example.com".into();
    thief.user_identifiers[0].identifier_lc = "user.1@example.com".into();
    for mode in ["ignore", "fail", "update"] {
        let response = server.put(TENANT, &token, Some(mode), &thief).await;
        let error = expect_error(response, 409, "identifier_taken").await;
        assert_eq!(detail(&error, "array"), "user_identifiers", "{mode}");
        assert_eq!(detail(&error, "index"), 0, "{mode}");
        assert!(
            error.error.contains(&first.users[1].id.to_string()),
            "{}",
            error.error
        );
        assert!(
            !error.error.contains("user.1@example.com"),
            "{}",
            error.error
        );
    }
    let stored = server.export(TENANT, &token, "").await;
    assert_eq!(stored.users.len(), 2, "the thief was not stored");
    server.handle.shutdown().await;
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let server = TestServer::start_with(|c| c.max_body = 4096).await;
    let token = server.token(TENANT).await;
    let response = server.put(TENANT, &token, None, &body_value(20)).await;
    let error = expect_error(response, 413, "payload_too_large").await;
    assert_eq!(detail(&error, "limit"), 4096);
    assert_eq!(
        server
            .put(TENANT, &token, None, &body_value(1))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn non_json_content_type_is_400() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let body = body_value(1).to_string().into_bytes();
    let response = server
        .put_raw(TENANT, &token, None, "text/plain", body.clone())
        .await;
    expect_error(response, 400, "unsupported_media_type").await;
    // No content type and no body, as a fuzzer sends: 400 too, the status the
    // contract lists for a malformed request (415 it does not list).
    let response = server
        .client
        .put(server.config_url(TENANT))
        .bearer_auth(&token)
        .send()
        .await
        .expect("put");
    expect_error(response, 400, "unsupported_media_type").await;
    let response = server
        .put_raw(
            TENANT,
            &token,
            None,
            "application/json; charset=utf-8",
            body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn wrong_method_is_405_with_an_error_body() {
    let server = TestServer::start().await;
    let response = server
        .client
        .delete(server.config_url(TENANT))
        .send()
        .await
        .expect("delete");
    expect_error(response, 405, "method_not_allowed").await;
    server.handle.shutdown().await;
}
