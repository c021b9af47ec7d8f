//! Injected faults: failures, throttling, dropped connections, import slots.

use ferry::contract::api;
use ferry::tools::synthetic;
use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::support::{expect_error, TestServer, POOL, TENANT};

#[tokio::test]
async fn fail_rate_answers_503_and_touches_nothing() {
    let server = TestServer::start_with(|c| {
        c.faults.fail_rate = 1.0;
        c.faults.seed = Some(1);
    })
    .await;
    let token = server.token(TENANT).await;
    let body = synthetic::users(TENANT, POOL, 0..3);
    for _ in 0..3 {
        let response = server.put(TENANT, &token, None, &body).await;
        expect_error(response, 503, "unavailable").await;
    }
    // Faults apply to imports only: the export tells the truth.
    assert!(server.export(TENANT, &token, "").await.users.is_empty());
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("ferry_faults_injected_total{fault=\"fail\"} 3"),
        "{metrics}"
    );
    server.handle.shutdown().await;
}

#[tokio::test]
async fn throttle_rate_answers_429_with_retry_after() {
    let server = TestServer::start_with(|c| c.faults.throttle_rate = 1.0).await;
    let token = server.token(TENANT).await;
    let response = server
        .put(TENANT, &token, None, &synthetic::users(TENANT, POOL, 0..1))
        .await;
    assert_eq!(
        response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    expect_error(response, 429, "throttled").await;
    server.handle.shutdown().await;
}

#[tokio::test]
async fn drop_rate_closes_connections_and_commits_about_half() {
    let server = TestServer::start_with(|c| {
        c.faults.drop_rate = 1.0;
        c.faults.seed = Some(42);
    })
    .await;
    let token = server.token(TENANT).await;
    let requests = 16u64;
    for n in 0..requests {
        let body = synthetic::users(TENANT, POOL, n..n + 1);
        let result = server
            .client
            .put(server.config_url(TENANT))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).expect("json"))
            .send()
            .await;
        let err = result.expect_err("the connection is closed without an answer");
        assert!(!err.is_timeout(), "{err}");
    }
    let stored = server.export(TENANT, &token, "").await.users.len() as u64;
    // The seed fixes which ones committed; some did and some did not.
    assert!(
        stored > 0 && stored < requests,
        "{stored} of {requests} committed"
    );
    let metrics = server.metrics().await;
    let line = format!("ferry_faults_injected_total{{fault=\"drop_after_commit\"}} {stored}");
    assert!(metrics.contains(&line), "{metrics}");
    server.handle.shutdown().await;
}

#[tokio::test]
async fn max_in_flight_answers_429_when_every_slot_is_taken() {
    let server = TestServer::start_with(|c| c.faults.max_in_flight = Some(1)).await;
    let token = server.token(TENANT).await;
    let body = serde_json::to_vec(&synthetic::users(TENANT, POOL, 0..1)).expect("json");

    // A request that takes the only slot and then waits for the rest of its body.
    let mut slow = TcpStream::connect(server.handle.addr())
        .await
        .expect("connect");
    let head = format!(
        "PUT {} HTTP/1.1\r\nhost: test\r\n\
         authorization: Bearer {token}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        api::CONFIGURATION.path([TENANT]),
        body.len()
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    slow.write_all(&body[..10]).await.expect("write");
    // Wait (at most about 10 s) until the server counts it in flight.
    let mut in_flight = false;
    for _ in 0..1000 {
        if server.metrics().await.contains("ferry_imports_in_flight 1") {
            in_flight = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(in_flight, "the slow request never started");

    let response = server
        .put_raw(TENANT, &token, None, "application/json", body.clone())
        .await;
    assert!(response.headers().contains_key(RETRY_AFTER));
    expect_error(response, 429, "throttled").await;

    // Once the slow request is done, the slot is free again.
    slow.write_all(&body[10..]).await.expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::io::AsyncReadExt::read(&mut slow, &mut buf)
            .await
            .expect("read");
        assert!(n > 0, "closed early");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 204"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let again = server
        .put_raw(TENANT, &token, None, "application/json", body)
        .await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    server.handle.shutdown().await;
}
