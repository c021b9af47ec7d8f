//! What was acknowledged survives a SIGKILL of the real `ferry serve` process.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ferry::contract::records::{ImportBody, TokenResponse};
use ferry::server::child::ServeChild;
use ferry::server::sample;
use reqwest::StatusCode;

use super::support::{sorted, POOL, TENANT};

const SECRET: &str = "kill-test-secret";

/// Starts `ferry serve` on an ephemeral port (killed when the test ends,
/// however it ends); returns it and its URL.
fn start(db: &Path) -> (ServeChild, String) {
    let mut cmd = ServeChild::command(env!("CARGO_BIN_EXE_ferry"), db);
    cmd.args(["--tenant", TENANT, "--pool", POOL])
        .env("FERRY_CLIENT_SECRET", SECRET)
        .stderr(Stdio::null());
    let serve = ServeChild::start(cmd, Duration::from_secs(30)).expect("start ferry serve");
    let url = serve.url().to_owned();
    (serve, url)
}

async fn token(client: &reqwest::Client, url: &str) -> String {
    let response = client
        .post(format!("{url}/{TENANT}/system/oauth2/token"))
        .basic_auth("ferry", Some(SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token");
    let bytes = response.bytes().await.expect("token body");
    serde_json::from_slice::<TokenResponse>(&bytes)
        .expect("token json")
        .access_token
}

#[tokio::test]
async fn acknowledged_imports_survive_a_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("killed.db");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let config_url = |url: &str| format!("{url}/api/identity/system/{TENANT}/configuration");

    let (mut serve, url) = start(&db);
    let token_a = token(&client, &url).await;
    for n in 0..5u64 {
        let body = sample::users(TENANT, POOL, n * 20..(n + 1) * 20);
        let response = client
            .put(config_url(&url))
            .bearer_auth(&token_a)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).expect("json"))
            .send()
            .await
            .expect("put");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    // SIGKILL: no shutdown, no final checkpoint.
    serve.kill().expect("kill");

    let (_serve, url) = start(&db);
    let token_b = token(&client, &url).await;
    let response = client
        .get(config_url(&url))
        .bearer_auth(&token_b)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.expect("export body");
    let stored: ImportBody = serde_json::from_slice(&bytes).expect("export json");
    assert_eq!(sorted(stored), sorted(sample::users(TENANT, POOL, 0..100)));
}
