//! The export: whole tenant, one pool, and pages.

use std::collections::BTreeSet;

use ferry::contract::api::NEXT_AFTER_HEADER;
use ferry::contract::records::ImportBody;
use ferry::tools::synthetic;
use reqwest::StatusCode;

use super::support::{expect_error, json, sorted, TestServer, OTHER_TENANT, POOL, TENANT};

#[tokio::test]
async fn export_equals_import_and_stays_within_its_tenant() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let other_token = server.token(OTHER_TENANT).await;
    let mine = synthetic::users(TENANT, POOL, 0..150);
    let theirs = synthetic::users(OTHER_TENANT, POOL, 0..7);
    for chunk in [0..100, 100..150] {
        let part = synthetic::users(TENANT, POOL, chunk);
        assert_eq!(
            server.put(TENANT, &token, None, &part).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        server
            .put(OTHER_TENANT, &other_token, None, &theirs)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let response = server.export_response(TENANT, &token, "").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let exported: ImportBody = json(response).await;
    // Users come in import order, sub-records in the order of their users.
    let ids: Vec<_> = exported.users.iter().map(|u| u.id).collect();
    let imported: Vec<_> = mine.users.iter().map(|u| u.id).collect();
    assert_eq!(ids, imported);
    assert_eq!(sorted(exported), sorted(mine));
    assert_eq!(
        sorted(server.export(OTHER_TENANT, &other_token, "").await),
        sorted(theirs)
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn pages_cover_every_user_once_with_their_sub_records() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let all = synthetic::users(TENANT, POOL, 0..25);
    assert_eq!(
        server.put(TENANT, &token, None, &all).await.status(),
        StatusCode::NO_CONTENT
    );

    let mut seen = ImportBody::default();
    let mut after: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let mut query = format!("?pool_id={POOL}&limit=10");
        if let Some(after) = &after {
            query.push_str(&format!("&after={after}"));
        }
        let response = server.export_response(TENANT, &token, &query).await;
        assert_eq!(response.status(), StatusCode::OK);
        let next = response
            .headers()
            .get(NEXT_AFTER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let page: ImportBody = json(response).await;
        let page_users: BTreeSet<_> = page.users.iter().map(|u| u.id).collect();
        assert!(page
            .user_credentials
            .iter()
            .all(|c| page_users.contains(&c.user_id)));
        assert!(page
            .user_verifiable_addresses
            .iter()
            .all(|a| page_users.contains(&a.user_id)));
        assert_eq!(page.user_identifiers.len(), page.users.len());
        sizes.push(page.users.len());
        seen.users.extend(page.users);
        seen.user_credentials.extend(page.user_credentials);
        seen.user_identifiers.extend(page.user_identifiers);
        seen.user_verifiable_addresses
            .extend(page.user_verifiable_addresses);
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(sorted(seen), sorted(all));
    server.handle.shutdown().await;
}

#[tokio::test]
async fn paging_needs_a_pool_and_sane_values() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    for query in [
        "?limit=10",
        "?pool_id=default&limit=0",
        "?pool_id=default&after=nope",
        "?pool_id=default&after=0b0e0f8a-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
    ] {
        let response = server.export_response(TENANT, &token, query).await;
        expect_error(response, 400, "invalid_query").await;
    }
    server.handle.shutdown().await;
}

#[tokio::test]
async fn one_user_is_exported_by_id_with_its_sub_records() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let all = synthetic::users(TENANT, POOL, 0..20);
    assert_eq!(
        server.put(TENANT, &token, None, &all).await.status(),
        StatusCode::NO_CONTENT
    );
    let wanted = &all.users[13];
    let query = format!("?pool_id={POOL}&user_id={}", wanted.id);
    let response = server.export_response(TENANT, &token, &query).await;
    assert_eq!(response.status(), StatusCode::OK);
    let one: ImportBody = json(response).await;
    assert_eq!(one.users, vec![wanted.clone()]);
    let expected = |ids: Vec<uuid::Uuid>| ids.len();
    assert_eq!(
        one.user_identifiers.len(),
        expected(
            all.user_identifiers
                .iter()
                .filter(|i| i.user_id == wanted.id)
                .map(|i| i.id)
                .collect()
        )
    );
    assert!(one.user_credentials.iter().all(|c| c.user_id == wanted.id));
    assert!(!one.user_verifiable_addresses.is_empty());

    let absent = format!("?pool_id={POOL}&user_id={}", uuid::Uuid::nil());
    let response = server.export_response(TENANT, &token, &absent).await;
    assert_eq!(response.status(), StatusCode::OK);
    let none: ImportBody = json(response).await;
    assert!(none.users.is_empty() && none.user_identifiers.is_empty());

    for bad in [
        "?user_id=not-a-uuid&pool_id=default",
        "?user_id=00000000-0000-0000-0000-000000000000",
    ] {
        let response = server.export_response(TENANT, &token, bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    server.handle.shutdown().await;
}
