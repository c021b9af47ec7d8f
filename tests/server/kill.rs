//! What was acknowledged survives a SIGKILL of the real `ferry serve` process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferry::contract::records::{ImportBody, TokenResponse};
use ferry::server::sample;
use reqwest::StatusCode;

use super::support::{sorted, POOL, TENANT};

const SECRET: &str = "kill-test-secret";

/// The child process, killed when the test ends however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ferry serve` on an ephemeral port; returns it and its URL.
fn start(db: &Path) -> (Serve, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tenant",
            TENANT,
            "--pool",
            POOL,
        ])
        .arg("--db")
        .arg(db)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferry serve");
    let stdout = child.stdout.take().expect("stdout");
    let serve = Serve(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = lines
        .next()
        .and_then(Result::ok)
        .and_then(|line| {
            line.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_owned)
        })
        .expect("ferry serve prints its URL first");
    // Keep the pipe open and drained for whatever the server prints next.
    std::thread::spawn(move || lines.for_each(drop));
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
    serve.0.kill().expect("kill");
    serve.0.wait().expect("wait");

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
