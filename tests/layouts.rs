//! The three URL layouts end to end: the real `ferry import --layout X`
//! into `ferry serve`, which answers all three; what is stored, exported and
//! signed in is the same whichever layout carried it.

use ferry::contract::api::{Endpoint, Layout, Params};
use ferry::server::FaultConfig;
use ferry::tools::sample::{self, SampleHash, SampleSpec};
use serde_json::Value;

use crate::import::{import, Target, POOL, TENANT};
use crate::passwords::Signer;

#[test]
fn each_layout_imports_exports_and_signs_in_alike() {
    let mut dumps = Vec::new();
    for layout in Layout::ALL {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let spec = SampleSpec {
            users: 12,
            bad_rows: 0,
            seed: 9,
            format: ferry::source::Format::CSV,
        };
        let plain = dir.join("plain.jsonl");
        sample::write_file_with_passwords(
            &spec,
            &[SampleHash::Sha256],
            &dir.join("users.csv"),
            Some(&plain),
        )
        .unwrap();
        let target = Target::start(dir, FaultConfig::default());
        let output = import(dir, &target, "users.csv", &["--layout", layout.as_str()]);
        assert_eq!(output.status.code(), Some(0), "{layout}: {output:?}");
        // The import went to this layout's own paths (the server counts
        // requests by route).
        let metrics = metrics(&target);
        for (endpoint, method, status) in [
            (Endpoint::Token, "POST", 200),
            (Endpoint::Configuration, "PUT", 204),
        ] {
            let series = format!(
                "route=\"{}\",method=\"{method}\",status=\"{status}\"",
                layout.route(endpoint)
            );
            assert!(metrics.contains(&series), "{layout}: {series} in {metrics}");
        }
        let dump = target.dump();
        assert_eq!(dump.users.len(), 12, "{layout}");
        // The export at this layout's own path holds the same.
        let exported = export_at(&target, layout);
        assert_eq!(
            exported["users"].as_array().map(Vec::len),
            Some(12),
            "{layout}"
        );
        let signer = Signer::with(&target, layout, "identity");
        let first = std::fs::read_to_string(&plain).unwrap();
        let first: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
        let (identifier, password) = (
            first["identifier"].as_str().unwrap(),
            first["password"].as_str().unwrap(),
        );
        assert_eq!(
            signer.verify(identifier, password),
            (200, "password_correct".into()),
            "{layout}"
        );
        // ferry verify reads and signs in at this layout's paths too.
        let proved = crate::verify::verify(
            dir,
            &target,
            "users.csv",
            &["--layout", layout.as_str(), "--sign-in", "plain.jsonl"],
        );
        assert_eq!(proved.status.code(), Some(0), "{layout}: {proved:?}");
        let said = String::from_utf8_lossy(&proved.stdout);
        assert!(said.contains("12 users matching"), "{layout}: {said}");
        let canaries = std::fs::read_to_string(&plain).unwrap().lines().count();
        let line = format!("{canaries} of {canaries} canaries signed in");
        assert!(canaries > 5 && said.contains(&line), "{layout}: {said}");
        dumps.push(serde_json::to_value(&dump).unwrap());
    }
    assert!(
        dumps.windows(2).all(|w| w[0] == w[1]),
        "the same data at every layout"
    );
}

/// The server's Prometheus text.
fn metrics(target: &Target) -> String {
    let url = format!("{}/metrics", target.url());
    target.block_on(async {
        let answer = reqwest::get(url).await.unwrap();
        answer.text().await.unwrap()
    })
}

/// `GET` of the configuration at `layout`, with a token from that layout's
/// token endpoint.
fn export_at(target: &Target, layout: Layout) -> Value {
    let token = Signer::with(target, layout, "read_configuration")
        .token()
        .to_owned();
    let url = format!(
        "{}{}",
        target.url(),
        layout.path(Endpoint::Configuration, Params::tenant(TENANT))
    );
    target.block_on(async {
        let answer = reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{layout}");
        serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap()
    })
}

#[test]
fn the_verify_endpoint_is_the_platforms_and_needs_scope_identity() {
    let work = tempfile::tempdir().unwrap();
    let target = Target::start(work.path(), FaultConfig::default());
    let client = reqwest::Client::new();
    let base = target.url();
    let body = serde_json::json!({"identifier": "a@example.com", "password": "x"});
    let post = |path: String, token: String, body: String| {
        let client = client.clone();
        target.block_on(async move {
            let answer = client
                .post(path)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            let bytes = answer.bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            (
                status,
                body["error_code"].as_str().unwrap_or_default().to_owned(),
            )
        })
    };
    let manage = Signer::with(&target, Layout::Guide, "manage_configuration");
    let identity = Signer::with(&target, Layout::Guide, "identity");
    let old = format!("{base}/api/identity/{TENANT}/pools/{POOL}/password/verify");
    assert_eq!(
        post(old, identity.token().into(), body.to_string()),
        (404, "not_found".into()),
        "ferry's own endpoint is gone"
    );
    for layout in Layout::ALL {
        let path = format!(
            "{base}{}",
            layout.path(Endpoint::PasswordVerify, Params::pool(TENANT, POOL))
        );
        assert_eq!(
            post(path.clone(), manage.token().into(), body.to_string()),
            (403, "insufficient_scope".into()),
            "{layout}"
        );
        assert_eq!(
            post(
                path.clone(),
                identity.token().into(),
                r#"{"password": "x"}"#.into()
            ),
            (422, "invalid_request".into()),
            "{layout}: no identifier"
        );
        assert_eq!(
            post(path, identity.token().into(), body.to_string()).0,
            200,
            "{layout}"
        );
    }
}
