//! The bare router, driven with `tower::ServiceExt::oneshot` (no socket).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry::server::{app, AppState};
use tower::ServiceExt;

use super::support::config;

async fn body_text(response: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn healthz_and_metrics_answer_without_a_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = AppState::open(config(&dir)).await.expect("state");
    let router = app(state.clone());

    let response = router
        .clone()
        .oneshot(
            Request::get("/healthz")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("healthz");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, r#"{"status":"ok"}"#);

    let response = router
        .oneshot(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = body_text(response).await;
    assert!(
        text.contains(
            "ferry_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("# TYPE ferry_http_request_duration_seconds histogram"));
    state.close().await;
}
