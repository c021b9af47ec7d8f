//! The platform's system pool and user endpoints: pools listed and read,
//! a pool's users paged in id order, one user read by id and by key, and
//! the answers to bad input.

use std::collections::BTreeSet;

use ferry::contract::api::{Endpoint, Layout, Params};
use ferry::tools::synthetic;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::support::{expect_error, json, TestServer, OTHER_TENANT, POOL, TENANT};

fn path(endpoint: Endpoint, pool: &str) -> String {
    Layout::Client.path(endpoint, Params::pool(TENANT, pool))
}

fn user_path(pool: &str, user: &str) -> String {
    Layout::Client.path(Endpoint::User, Params::user(TENANT, pool, user))
}

async fn put_ok(server: &TestServer, token: &str, body: &impl serde::Serialize) {
    let response = server.put(TENANT, token, None, body).await;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
}

/// Ids of a `Users` page, as the answer gives them.
fn page_ids(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .map(|users| {
            users
                .iter()
                .filter_map(|u| u["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn users_are_paged_in_id_order_each_once_at_most_100_a_page() {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    for range in [0..100, 100..200, 200..250] {
        put_ok(&server, &token, &synthetic::users(TENANT, POOL, range)).await;
    }
    let users = path(Endpoint::Users, POOL);
    // The default page is 20 users, the lowest ids.
    let first: Value = json(server.get(&users, &token).await).await;
    let mut all: Vec<String> = synthetic::users(TENANT, POOL, 0..250)
        .users
        .iter()
        .map(|u| u.id.to_string())
        .collect();
    all.sort();
    assert_eq!(page_ids(&first), all[..20]);

    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page: Value = json(
            server
                .get(&format!("{users}?limit=100&after_user_id={after}"), &token)
                .await,
        )
        .await;
        let ids = page_ids(&page);
        assert!(ids.len() <= 100);
        if ids.is_empty() {
            break;
        }
        after = ids.last().cloned().unwrap_or_default();
        seen.extend(ids);
    }
    assert_eq!(seen, all, "every user once, in id order");

    // Descending, and a window between two ids (both exclusive).
    let desc: Value = json(
        server
            .get(&format!("{users}?order=desc&limit=3"), &token)
            .await,
    )
    .await;
    let mut last_three: Vec<String> = all[247..].to_vec();
    last_three.reverse();
    assert_eq!(page_ids(&desc), last_three);
    let window = format!(
        "{users}?after_user_id={}&before_user_id={}&limit=100",
        all[10], all[15]
    );
    let between: Value = json(server.get(&window, &token).await).await;
    assert_eq!(page_ids(&between), all[11..15]);
    let before: Value = json(
        server
            .get(
                &format!("{users}?before_user_id={}&limit=2", all[10]),
                &token,
            )
            .await,
    )
    .await;
    assert_eq!(
        page_ids(&before),
        all[8..10],
        "the two just before, in order"
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn a_listed_user_carries_its_identifiers_and_addresses_but_no_credential() {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    let body = synthetic::users(TENANT, POOL, 0..1);
    put_ok(&server, &token, &body).await;
    let page: Value = json(server.get(&path(Endpoint::Users, POOL), &token).await).await;
    let user = &page["users"][0];
    assert_eq!(user["id"], body.users[0].id.to_string());
    assert_eq!(user["tenant_id"], TENANT);
    assert_eq!(user["status"], "active");
    assert_eq!(user["identifiers"], json!(["User.0@Example.com"]));
    assert_eq!(
        user["identifiers_with_details"],
        json!([{"type": "email", "value": "User.0@Example.com"}])
    );
    let addresses = user["addresses"].as_array().map(Vec::len);
    assert_eq!(addresses, Some(2));
    // The email is verified, the mobile is not (the synthetic users' way).
    assert_eq!(user["verified addresses"], json!(["User.0@Example.com"]));
    assert!(user.get("credentials").is_none());
    server.handle.shutdown().await;
}

#[tokio::test]
async fn bad_paging_is_a_400_and_unknown_pools_a_404() {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    let users = path(Endpoint::Users, POOL);
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=-1",
        "after_user_id=not-a-uuid",
        "before_user_id=1",
        "order=sideways",
    ] {
        let response = server.get(&format!("{users}?{query}"), &token).await;
        expect_error(response, 400, "invalid_query").await;
    }
    for query in [r#"query={"user_key":"ann"}"#, "sort=name"] {
        let response = server.get(&format!("{users}?{query}"), &token).await;
        expect_error(response, 400, "not_served").await;
    }
    for bad in ["limit=0", "limit=101", "sort=size", "order=up"] {
        let response = server
            .get(&format!("{}?{bad}", path(Endpoint::Pools, POOL)), &token)
            .await;
        expect_error(response, 400, "invalid_query").await;
    }
    let unknown = path(Endpoint::Users, "nope");
    expect_error(server.get(&unknown, &token).await, 404, "unknown_pool").await;
    let unknown = path(Endpoint::Pool, "nope");
    expect_error(server.get(&unknown, &token).await, 404, "unknown_pool").await;
    server.handle.shutdown().await;
}

#[tokio::test]
async fn the_endpoints_need_a_token_of_the_tenant_with_scope_identity() {
    let server = TestServer::start().await;
    let configuration_only = server.token(TENANT).await;
    let other = server.identity_token(OTHER_TENANT).await;
    let user = user_path(POOL, &uuid::Uuid::from_u128(1).to_string());
    for request in [
        path(Endpoint::Pools, POOL),
        path(Endpoint::Pool, POOL),
        path(Endpoint::Users, POOL),
        user,
    ] {
        let response = server.get(&request, &configuration_only).await;
        expect_error(response, 403, "insufficient_scope").await;
        expect_error(server.get(&request, &other).await, 403, "wrong_tenant").await;
        let response = server.client.get(server.url(&request)).send().await;
        let response = response.expect("get");
        expect_error(response, 401, "invalid_token").await;
    }
    let by_key = path(Endpoint::UserByKey, POOL);
    let body = json!({"identifier": "x"});
    let response = server.post_json(&by_key, &configuration_only, &body).await;
    expect_error(response, 403, "insufficient_scope").await;
    server.handle.shutdown().await;
}

#[tokio::test]
async fn pools_are_listed_sorted_searched_and_paged() {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    let pool = |id: &str, name: &str| json!({"id": id, "tenant_id": TENANT, "name": name});
    let body = json!({"pools": [pool("b-pool", "Alpha"), pool("c-pool", "Beta"), pool("a-pool", "Gamma")]});
    put_ok(&server, &token, &body).await;
    put_ok(&server, &token, &synthetic::users(TENANT, POOL, 0..3)).await;
    let pools = path(Endpoint::Pools, POOL);
    let ids = |page: &Value| -> Vec<String> {
        page["pools"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|p| p["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let list = |query: &'static str| {
        let server = &server;
        let token = &token;
        let pools = &pools;
        async move { json::<Value>(server.get(&format!("{pools}?{query}"), token).await).await }
    };
    let all = list("").await;
    assert_eq!(ids(&all), ["a-pool", "b-pool", "c-pool", POOL]);
    let default = all["pools"].as_array().and_then(|p| p.last()).cloned();
    let default = default.unwrap_or_default();
    assert_eq!(default["number_of_users"], 3);
    assert_eq!(default["tenant_id"], TENANT);
    // Names compare as bytes: "Gamma" before "default".
    assert_eq!(
        ids(&list("sort=name").await),
        ["b-pool", "c-pool", "a-pool", POOL]
    );
    assert_eq!(
        ids(&list("sort=name&order=desc&limit=2").await),
        [POOL, "a-pool"]
    );
    assert_eq!(ids(&list("after_pool_id=b-pool&limit=1").await), ["c-pool"]);
    assert_eq!(
        ids(&list("sort=name&after_pool_id=c-pool").await),
        ["a-pool", POOL]
    );
    assert_eq!(
        ids(&list("before_pool_id=c-pool&limit=1").await),
        ["b-pool"]
    );
    assert_eq!(ids(&list("order=acs&limit=1").await), ["a-pool"]);
    assert_eq!(ids(&list("search_phrase=ALP").await), ["b-pool"]);
    let unknown = server
        .get(&format!("{pools}?sort=name&after_pool_id=nope"), &token)
        .await;
    expect_error(unknown, 400, "invalid_query").await;

    let one: Value = json(server.get(&path(Endpoint::Pool, "c-pool"), &token).await).await;
    assert_eq!(
        one,
        json!({"id": "c-pool", "tenant_id": TENANT, "name": "Beta", "number_of_users": 0})
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn one_user_by_id_with_its_records_and_blurred_credentials() {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    let body = synthetic::users(TENANT, POOL, 0..2);
    put_ok(&server, &token, &body).await;
    let id = body.users[1].id.to_string();
    let response = server.get(&user_path(POOL, &id), &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap_or_default();
    let user: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(user["id"], id);
    assert_eq!(user["payload"]["name"], "User 1");
    assert_eq!(user["identifiers"][0]["identifier"], "User.1@Example.com");
    assert_eq!(
        user["identifiers"][0]["identifier_lc"],
        "user.1@example.com"
    );
    assert_eq!(
        user["verifiable_addresses"].as_array().map(Vec::len),
        Some(2)
    );
    let credential = &user["credentials"][0];
    assert_eq!(credential["type"], "password");
    assert_eq!(
        credential["payload"],
        json!({"hashed_password": {"config": {"method": "sha"}, "value": ""}})
    );
    let stored = &body.user_credentials[1].payload.hashed_password;
    let hash = stored.as_ref().map(|h| h.value.clone()).unwrap_or_default();
    assert!(
        !hash.is_empty() && !text.contains(&hash),
        "the hash is never answered"
    );

    for missing in [uuid::Uuid::from_u128(9).to_string(), "not-a-uuid".into()] {
        let response = server.get(&user_path(POOL, &missing), &token).await;
        expect_error(response, 404, "unknown_user").await;
    }
    let elsewhere = server.get(&user_path("nope", &id), &token).await;
    expect_error(elsewhere, 404, "unknown_pool").await;
    // Another tenant's token cannot read it, and its own pool does not hold it.
    let other = server.identity_token(OTHER_TENANT).await;
    let theirs = Layout::Client.path(Endpoint::User, Params::user(OTHER_TENANT, POOL, &id));
    expect_error(server.get(&theirs, &other).await, 404, "unknown_user").await;
    server.handle.shutdown().await;
}

#[tokio::test]
async fn a_key_finds_its_user_as_the_pools_case_setting_says() {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    let pool = json!({"id": "ci", "tenant_id": TENANT, "name": "ci",
        "identifier_case_insensitive": true});
    put_ok(&server, &token, &json!({"pools": [pool]})).await;
    let sensitive = synthetic::users(TENANT, POOL, 0..2);
    let insensitive = synthetic::users(TENANT, "ci", 2..4);
    put_ok(&server, &token, &sensitive).await;
    put_ok(&server, &token, &insensitive).await;
    let find = |pool: &'static str, key: Value| {
        let server = &server;
        let token = &token;
        async move {
            server
                .post_json(&path(Endpoint::UserByKey, pool), token, &key)
                .await
        }
    };
    let id_of = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::OK);
        json::<Value>(response).await["id"]
            .as_str()
            .map(str::to_owned)
    };
    let user0 = Some(sensitive.users[0].id.to_string());
    let user2 = Some(insensitive.users[0].id.to_string());
    // Exact in a pool without the setting, lower-cased in one with it.
    let exact = find(POOL, json!({"identifier": "User.0@Example.com"})).await;
    assert_eq!(id_of(exact).await, user0);
    let lower = find(POOL, json!({"identifier": "user.0@example.com"})).await;
    expect_error(lower, 404, "unknown_user").await;
    let lower = find("ci", json!({"identifier": "USER.2@example.COM"})).await;
    assert_eq!(id_of(lower).await, user2);
    // A verified address finds its user; an unverified one does not.
    let verified = find(POOL, json!({"address": "User.0@Example.com"})).await;
    assert_eq!(id_of(verified).await, user0);
    let mobile = sensitive.user_verifiable_addresses[1].address.clone();
    let unverified = find(POOL, json!({"address": mobile})).await;
    expect_error(unverified, 404, "unknown_user").await;
    // The answer is the user with its records, credentials blurred.
    let answer: Value = json(find(POOL, json!({"identifier": "User.1@Example.com"})).await).await;
    assert_eq!(
        answer["credentials"][0]["payload"]["hashed_password"]["value"],
        ""
    );

    for bad in [
        json!({}),
        json!({"identifier": "a", "address": "b"}),
        json!({"identifier": 5}),
        json!({"identifier": "a", "userID": "b"}),
        json!(["identifier"]),
    ] {
        let response = find(POOL, bad.clone()).await;
        expect_error(response, 422, "invalid_request").await;
    }
    let unknown = find("nope", json!({"identifier": "User.0@Example.com"})).await;
    expect_error(unknown, 404, "unknown_pool").await;
    server.handle.shutdown().await;
}

#[tokio::test]
async fn every_layout_answers_the_same_users() {
    let server = TestServer::start().await;
    let token = server.identity_token(TENANT).await;
    put_ok(&server, &token, &synthetic::users(TENANT, POOL, 0..5)).await;
    let mut answers = BTreeSet::new();
    for layout in Layout::ALL {
        let users = layout.path(Endpoint::Users, Params::pool(TENANT, POOL));
        let page: Value = json(server.get(&users, &token).await).await;
        assert_eq!(page_ids(&page).len(), 5, "{layout}");
        answers.insert(page.to_string());
    }
    assert_eq!(answers.len(), 1, "one answer at every layout");
    server.handle.shutdown().await;
}

#[tokio::test]
async fn patch_of_the_configuration_is_a_405_that_names_get_and_put() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let response = server
        .client
        .patch(server.config_url(TENANT))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"[{"op": "remove", "path": "/users/0"}]"#)
        .send()
        .await
        .expect("patch");
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(allow.as_deref(), Some("GET, PUT"));
    let error = expect_error(response, 405, "method_not_allowed").await;
    assert!(error.error.contains("RFC 6902"), "{error:?}");
    server.handle.shutdown().await;
}
