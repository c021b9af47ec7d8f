//! 204 and what is stored, under each mode.

use ferry::tools::synthetic;
use reqwest::StatusCode;
use serde_json::json;

use super::support::{detail, expect_error, sorted, users_existing, TestServer, POOL, TENANT};

#[tokio::test]
async fn import_answers_204_and_stores_every_record() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let body = synthetic::users(TENANT, POOL, 0..20);

    let response = server.put(TENANT, &token, None, &body).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(users_existing(&response), 0);

    let exported = server.export(TENANT, &token, "").await;
    assert_eq!(exported.pools.len(), 1, "the default pool");
    assert_eq!(sorted(exported), sorted(body));
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("ferry_records_stored_total{kind=\"user\"} 20"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ferry_records_stored_total{kind=\"address\"} 40"),
        "{metrics}"
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn resend_under_ignore_changes_nothing() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let body = synthetic::users(TENANT, POOL, 0..10);
    assert_eq!(
        server
            .put(TENANT, &token, Some("ignore"), &body)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let before = server.export(TENANT, &token, "").await;

    // The same body again, then a changed one: both leave the stored records as they were.
    let again = server.put(TENANT, &token, None, &body).await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    assert_eq!(users_existing(&again), 10);
    let mut changed = body.clone();
    changed.users[3].payload = Some(serde_json::Map::from_iter([(
        "name".into(),
        json!("Changed"),
    )]));
    let response = server.put(TENANT, &token, Some("ignore"), &changed).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(users_existing(&response), 10);

    assert_eq!(server.export(TENANT, &token, "").await, before);
    server.handle.shutdown().await;
}

#[tokio::test]
async fn ignore_inserts_the_new_users_of_a_partly_stored_body() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let first = synthetic::users(TENANT, POOL, 0..5);
    assert_eq!(
        server.put(TENANT, &token, None, &first).await.status(),
        StatusCode::NO_CONTENT
    );
    let overlapping = synthetic::users(TENANT, POOL, 3..8);
    let response = server.put(TENANT, &token, None, &overlapping).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(users_existing(&response), 2);
    let all = server.export(TENANT, &token, "").await;
    assert_eq!(sorted(all), sorted(synthetic::users(TENANT, POOL, 0..8)));
    server.handle.shutdown().await;
}

#[tokio::test]
async fn fail_mode_refuses_any_existing_record_and_applies_nothing() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let first = synthetic::users(TENANT, POOL, 0..3);
    assert_eq!(
        server
            .put(TENANT, &token, Some("fail"), &first)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    // Users 2..5: user 2 exists, so nothing of the request is applied (3 and 4 neither).
    let overlapping = synthetic::users(TENANT, POOL, 2..5);
    let response = server.put(TENANT, &token, Some("fail"), &overlapping).await;
    let error = expect_error(response, 409, "record_exists").await;
    assert_eq!(detail(&error, "array"), "users");
    assert_eq!(detail(&error, "index"), 0);
    assert_eq!(
        detail(&error, "id"),
        &json!(overlapping.users[0].id.to_string())
    );

    let stored = server.export(TENANT, &token, "").await;
    assert_eq!(sorted(stored), sorted(first));

    // An existing sub-record alone is refused too.
    let mut only_address = synthetic::users(TENANT, POOL, 0..1);
    only_address.users.clear();
    only_address.user_credentials.clear();
    only_address.user_identifiers.clear();
    let response = server
        .put(TENANT, &token, Some("fail"), &only_address)
        .await;
    let error = expect_error(response, 409, "record_exists").await;
    assert_eq!(detail(&error, "array"), "user_verifiable_addresses");
    server.handle.shutdown().await;
}

#[tokio::test]
async fn update_overwrites_and_replaces_sub_records() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let body = synthetic::users(TENANT, POOL, 0..4);
    assert_eq!(
        server.put(TENANT, &token, None, &body).await.status(),
        StatusCode::NO_CONTENT
    );

    // User 1 comes back with a new name and without its mobile address.
    let mut user = synthetic::users(TENANT, POOL, 1..2);
    user.users[0].payload = Some(serde_json::Map::from_iter([(
        "name".into(),
        json!("Renamed"),
    )]));
    user.user_verifiable_addresses
        .retain(|a| a.address.contains('@'));
    let response = server.put(TENANT, &token, Some("update"), &user).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(users_existing(&response), 1);

    let mut expected = body.clone();
    expected.users[1] = user.users[0].clone();
    let mobile_of_user_1 = body
        .user_verifiable_addresses
        .iter()
        .find(|a| a.user_id == user.users[0].id && !a.address.contains('@'))
        .map(|a| a.id);
    expected
        .user_verifiable_addresses
        .retain(|a| Some(a.id) != mobile_of_user_1);
    let stored = server.export(TENANT, &token, "").await;
    assert_eq!(sorted(stored), sorted(expected));
    server.handle.shutdown().await;
}

#[tokio::test]
async fn sub_records_may_point_at_stored_users() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let full = synthetic::users(TENANT, POOL, 0..2);
    let mut users_only = full.clone();
    users_only.user_credentials.clear();
    users_only.user_identifiers.clear();
    users_only.user_verifiable_addresses.clear();
    assert_eq!(
        server.put(TENANT, &token, None, &users_only).await.status(),
        StatusCode::NO_CONTENT
    );
    let mut rest = full.clone();
    rest.users.clear();
    assert_eq!(
        server.put(TENANT, &token, None, &rest).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        sorted(server.export(TENANT, &token, "").await),
        sorted(full)
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn pools_in_the_body_are_created() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let mut body = synthetic::users(TENANT, "staff", 0..2);
    body.pools.push(
        serde_json::from_value(json!({"id": "staff", "tenant_id": TENANT, "name": "Staff",
            "identifier_case_insensitive": true}))
        .expect("pool"),
    );
    assert_eq!(
        server.put(TENANT, &token, None, &body).await.status(),
        StatusCode::NO_CONTENT
    );
    let staff = server.export(TENANT, &token, "?pool_id=staff").await;
    assert_eq!(staff.pools, body.pools);
    assert_eq!(sorted(staff), sorted(body));
    server.handle.shutdown().await;
}

#[tokio::test]
async fn a_sub_record_id_of_another_user_is_409_in_every_mode() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let first = synthetic::users(TENANT, POOL, 0..1);
    assert_eq!(
        server.put(TENANT, &token, None, &first).await.status(),
        StatusCode::NO_CONTENT
    );

    // User 1's credential reuses the id of user 0's credential.
    let mut second = synthetic::users(TENANT, POOL, 1..2);
    second.user_credentials[0].id = first.user_credentials[0].id;
    for mode in ["ignore", "fail", "update"] {
        let response = server.put(TENANT, &token, Some(mode), &second).await;
        let error = expect_error(response, 409, "record_exists").await;
        assert_eq!(detail(&error, "array"), "user_credentials", "{mode}");
        assert_eq!(detail(&error, "field"), "id", "{mode}");
    }
    assert_eq!(
        sorted(server.export(TENANT, &token, "").await),
        sorted(first)
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn a_refused_request_leaves_no_trace() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let owner = synthetic::users(TENANT, POOL, 0..1);
    assert_eq!(
        server.put(TENANT, &token, None, &owner).await.status(),
        StatusCode::NO_CONTENT
    );

    // Users 1 and 2 with all their records, but user 2 claims user 0's email:
    // the whole request is refused, including user 1's records written before.
    let mut body = synthetic::users(TENANT, POOL, 1..3);
    body.user_identifiers[1].identifier = owner.user_identifiers[0].identifier.clone();
    body.user_identifiers[1].identifier_lc = owner.user_identifiers[0].identifier_lc.clone();
    let response = server.put(TENANT, &token, Some("fail"), &body).await;
    expect_error(response, 409, "identifier_taken").await;

    // So the same records can come again, under `fail` even.
    let retry = synthetic::users(TENANT, POOL, 1..2);
    let response = server.put(TENANT, &token, Some("fail"), &retry).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let expected = synthetic::users(TENANT, POOL, 0..2);
    assert_eq!(
        sorted(server.export(TENANT, &token, "").await),
        sorted(expected)
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn a_sub_record_dropped_by_update_can_come_back() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let body = synthetic::users(TENANT, POOL, 0..1);
    assert_eq!(
        server.put(TENANT, &token, None, &body).await.status(),
        StatusCode::NO_CONTENT
    );
    let mut without_mobile = body.clone();
    without_mobile
        .user_verifiable_addresses
        .retain(|a| a.address.contains('@'));
    let response = server
        .put(TENANT, &token, Some("update"), &without_mobile)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server
            .export(TENANT, &token, "")
            .await
            .user_verifiable_addresses
            .len(),
        1
    );
    // The mobile address alone, for the stored user, under `fail`: it is new again.
    let mut mobile = body.clone();
    mobile.users.clear();
    mobile.user_credentials.clear();
    mobile.user_identifiers.clear();
    mobile
        .user_verifiable_addresses
        .retain(|a| !a.address.contains('@'));
    let response = server.put(TENANT, &token, Some("fail"), &mobile).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        sorted(server.export(TENANT, &token, "").await),
        sorted(body)
    );
    server.handle.shutdown().await;
}

/// Concurrent requests are committed together when they queue up for the
/// writer (group commit); each still gets its own answer, and a refused one
/// takes nobody else down with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_each_get_their_own_answer() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let stored = synthetic::users(TENANT, POOL, 0..20);
    assert_eq!(
        server.put(TENANT, &token, None, &stored).await.status(),
        StatusCode::NO_CONTENT
    );

    // 30 requests at once, of three kinds by index:
    //  0: 20 new users (204);
    //  1: 20 new users, one of which claims user 0's email (409, nothing stored);
    //  2: the stored users again, under `fail` for odd requests (409) and
    //     `ignore` for even ones (204, all 20 existing).
    let requests = (0..30u64).map(|i| {
        let (server, token) = (&server, &token);
        let first = 100 + i * 20;
        async move {
            let (body, mode) = match i % 3 {
                0 => (synthetic::users(TENANT, POOL, first..first + 20), None),
                1 => {
                    let mut body = synthetic::users(TENANT, POOL, first..first + 20);
                    body.user_identifiers[7].identifier = "User.0@Example.com".into();
                    body.user_identifiers[7].identifier_lc = "user.0@example.com".into();
                    (body, None)
                }
                _ => {
                    let mode = if i % 2 == 1 { "fail" } else { "ignore" };
                    (synthetic::users(TENANT, POOL, 0..20), Some(mode))
                }
            };
            let response = server.put(TENANT, token, mode, &body).await;
            (i, response)
        }
    });
    let mut expected = stored;
    for (i, response) in futures::future::join_all(requests).await {
        let first = 100 + i * 20;
        match (i % 3, i % 2) {
            (0, _) => {
                assert_eq!(response.status(), StatusCode::NO_CONTENT, "request {i}");
                assert_eq!(users_existing(&response), 0, "request {i}");
                let added = synthetic::users(TENANT, POOL, first..first + 20);
                expected.users.extend(added.users);
                expected.user_credentials.extend(added.user_credentials);
                expected.user_identifiers.extend(added.user_identifiers);
                expected
                    .user_verifiable_addresses
                    .extend(added.user_verifiable_addresses);
            }
            (1, _) => {
                let error = expect_error(response, 409, "identifier_taken").await;
                assert_eq!(detail(&error, "index"), &json!(7), "request {i}");
            }
            (_, 1) => {
                expect_error(response, 409, "record_exists").await;
            }
            _ => {
                assert_eq!(response.status(), StatusCode::NO_CONTENT, "request {i}");
                assert_eq!(users_existing(&response), 20, "request {i}");
            }
        }
    }
    assert_eq!(
        sorted(server.export(TENANT, &token, "").await),
        sorted(expected)
    );
    server.handle.shutdown().await;
}
