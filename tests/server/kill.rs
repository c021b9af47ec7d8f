//! What was acknowledged survives a SIGKILL of the real `ferry serve` process.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ferry::contract::records::ImportMode;
use ferry::send::client::{ClientConfig, TargetClient};
use ferry::send::token::ClientSecret;
use ferry::tools::serve_child::ServeChild;
use ferry::tools::synthetic;

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

/// A client of the test tenant on the server at `url`.
fn client(url: &str) -> TargetClient {
    let base = url::Url::parse(url).expect("server URL");
    TargetClient::new(ClientConfig::new(
        base,
        TENANT,
        "ferry",
        ClientSecret::new(SECRET),
    ))
    .expect("client")
}

#[tokio::test]
async fn acknowledged_imports_survive_a_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("killed.db");

    let (mut serve, url) = start(&db);
    let before = client(&url);
    for n in 0..5u64 {
        let body = synthetic::users(TENANT, POOL, n * 20..(n + 1) * 20);
        let body = serde_json::to_vec(&body).expect("json");
        let response = before
            .put_batch(body.into(), ImportMode::Ignore)
            .await
            .expect("put");
        assert_eq!(response.status, 204);
    }
    // SIGKILL: no shutdown, no final checkpoint.
    serve.kill().expect("kill");

    let (_serve, url) = start(&db);
    let stored = client(&url).export().await.expect("export");
    assert_eq!(
        sorted(stored),
        sorted(synthetic::users(TENANT, POOL, 0..100))
    );
}
