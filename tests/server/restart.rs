//! Durability: what was acknowledged is there after a restart.

use ferry::tools::synthetic;
use reqwest::StatusCode;

use super::support::{detail, expect_error, sorted, TestServer, POOL, TENANT};

#[tokio::test]
async fn acknowledged_imports_survive_a_restart() {
    let server = TestServer::start().await;
    let token = server.token(TENANT).await;
    let body = synthetic::users(TENANT, POOL, 0..40);
    assert_eq!(
        server.put(TENANT, &token, None, &body).await.status(),
        StatusCode::NO_CONTENT
    );

    let server = server.restart().await;
    // Tokens live in memory: the old one is gone, a new one works.
    let response = server.export_response(TENANT, &token, "").await;
    expect_error(response, 401, "invalid_token").await;
    let token = server.token(TENANT).await;
    assert_eq!(
        sorted(server.export(TENANT, &token, "").await),
        sorted(body.clone())
    );

    // And the restarted server still knows what exists, sub-records included.
    let again = server.put(TENANT, &token, Some("fail"), &body).await;
    expect_error(again, 409, "record_exists").await;
    let mut addresses_only = body.clone();
    addresses_only.users.clear();
    addresses_only.user_credentials.clear();
    addresses_only.user_identifiers.clear();
    let again = server
        .put(TENANT, &token, Some("fail"), &addresses_only)
        .await;
    let error = expect_error(again, 409, "record_exists").await;
    assert_eq!(detail(&error, "array"), "user_verifiable_addresses");
    let mut reused = synthetic::users(TENANT, POOL, 100..101);
    reused.user_identifiers[0].id = body.user_identifiers[7].id;
    let again = server.put(TENANT, &token, None, &reused).await;
    let error = expect_error(again, 409, "record_exists").await;
    assert_eq!(detail(&error, "field"), "id");
    server.handle.shutdown().await;
}
