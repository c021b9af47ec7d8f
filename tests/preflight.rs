//! `ferry import --preflight` against `ferry serve`: a pool whose payload
//! schema lacks a mapped column or wants another type rejects exactly the
//! users it refuses, naming the field; `--strict` sends nothing at all; and
//! the schema endpoints (`systemListSchemas`, `systemGetSchema`) that the
//! preflight reads.

use std::path::Path;

use bytes::Bytes;
use ferry::contract::api::{Endpoint, Layout, Params};
use ferry::contract::ImportMode;
use ferry::send::client::{ClientConfig, TargetClient};
use serde_json::{json, Value};

use crate::common::{describe, ferry};
use crate::import::{command_args, Target, POOL, SECRET, TENANT};

/// The pool with a payload schema: `nickname` a string, `age` an integer,
/// nothing else.
fn seed(target: &Target) {
    let body = json!({
        "schemas": [{"id": "people_v1", "tenant_id": TENANT, "name": "People",
            "schema": {"type": "object", "properties": {
                "nickname": {"type": "string"}, "age": {"type": "integer"}}}}],
        "pools": [{"id": POOL, "tenant_id": TENANT, "name": POOL,
            "payload_schema_id": "people_v1"}],
        "users": [], "user_credentials": [], "user_identifiers": [],
        "user_verifiable_addresses": []
    });
    let client = client(target, ferry::send::token::DEFAULT_SCOPE);
    let response = target
        .block_on(client.put_batch(Bytes::from(body.to_string()), ImportMode::Update))
        .unwrap();
    assert_eq!(response.status, 204, "{}", response.reason());
}

fn client(target: &Target, scope: &str) -> TargetClient {
    let base = url::Url::parse(&target.url()).unwrap();
    let secret = ferry::send::token::ClientSecret::new(SECRET);
    let mut config = ClientConfig::new(base, TENANT.to_string(), "ferry".to_string(), secret);
    config.scope = scope.to_string();
    config.layout = Layout::Client;
    TargetClient::new(config).unwrap()
}

/// A CSV with `nickname` and `age` mapped into payload (`age` read as
/// JSON): row 2's age is a boolean, row 4 has a `loyalty_tier` the schema does not define.
fn source(dir: &Path) -> &'static str {
    std::fs::write(
        dir.join("users.csv"),
        "id,email,nickname,age,loyalty_tier\n\
         1,a@x.io,ann,31,\n\
         2,b@x.io,bob,true,\n\
         3,c@x.io,cy,40,\n\
         4,d@x.io,dee,22,gold\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("mapping.toml"),
        "[payload]\nnickname = \"nickname\"\nage = { path = \"age\", as = [\"json\"] }\nloyalty_tier = \"loyalty_tier\"\n",
    )
    .unwrap();
    "users.csv"
}

fn run(dir: &Path, target: &Target, extra: &[&str]) -> std::process::Output {
    let url = target.url();
    let mut args = command_args("import", &url, source(dir), extra);
    args.extend([
        "--mapping",
        "mapping.toml",
        "--preflight",
        "--rejects",
        "rejects.jsonl",
        "--checkpoint",
        "checkpoint",
        "--report",
        "report.json",
    ]);
    ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(args)
        .output()
        .unwrap()
}

fn stored_users(target: &Target) -> Vec<String> {
    let mut emails: Vec<String> = target
        .dump()
        .user_identifiers
        .iter()
        .map(|i| i.identifier.clone())
        .collect();
    emails.sort();
    emails
}

#[test]
fn preflight_rejects_exactly_the_users_the_schema_refuses_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::start(dir.path(), Default::default());
    seed(&target);
    let out = run(dir.path(), &target, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(stored_users(&target), ["a@x.io", "c@x.io"]);
    let rejects = std::fs::read_to_string(dir.path().join("rejects.jsonl")).unwrap();
    let lines: Vec<Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rows: Vec<u64> = lines.iter().map(|l| l["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, [2, 4]);
    for line in &lines {
        assert_eq!(line["stage"], "preflight", "{line}");
    }
    let reason = |i: usize| lines[i]["reason"].as_str().unwrap().to_owned();
    assert!(
        reason(0).contains("payload.age: is a boolean, schema people_v1 wants integer"),
        "{}",
        reason(0)
    );
    assert!(
        reason(1).contains("payload.loyalty_tier: not defined by schema people_v1"),
        "{}",
        reason(1)
    );
    assert!(!reason(1).contains("gold"), "no values in reasons");
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(
        (report["read"].as_u64(), report["rejected"].as_u64()),
        (Some(4), Some(2)),
        "{report}"
    );
    crate::import::assert_adds_up(&report);
}

#[test]
fn preflight_with_strict_sends_no_write_request_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::start(dir.path(), Default::default());
    seed(&target);
    let before = target.dump();
    let out = run(dir.path(), &target, &["--strict"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("row 2: payload.age"), "{stderr}");
    assert!(stderr.contains("row 4: payload.loyalty_tier"), "{stderr}");
    assert!(target.dump().users.is_empty());
    assert_eq!(target.dump(), before);
    let metrics = target.block_on(async {
        reqwest::get(format!("{}/metrics", target.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    // Every PUT the server answered, whatever its status: the seed's one.
    let puts: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("ferry_http_requests_total") && l.contains("method=\"PUT\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(puts, 1, "{metrics}");
}

#[test]
fn a_pool_naming_a_schema_the_target_lacks_stops_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::start(dir.path(), Default::default());
    let body = json!({"pools": [{"id": POOL, "tenant_id": TENANT, "name": POOL,
        "metadata_schema_id": "gone"}], "users": [], "user_credentials": [],
        "user_identifiers": [], "user_verifiable_addresses": []});
    let client = client(&target, ferry::send::token::DEFAULT_SCOPE);
    let put = client.put_batch(Bytes::from(body.to_string()), ImportMode::Update);
    assert_eq!(target.block_on(put).unwrap().status, 204);
    let out = run(dir.path(), &target, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no schema gone"),
        "{}",
        describe(&out)
    );
    assert!(target.dump().users.is_empty());
}

#[test]
fn the_schema_endpoints_answer_at_every_layout_with_scope_identity() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::start(dir.path(), Default::default());
    seed(&target);
    let identity = client(&target, ferry::contract::api::SCOPE_IDENTITY);
    let configuration = client(&target, ferry::send::token::DEFAULT_SCOPE);
    let base = url::Url::parse(&target.url()).unwrap();
    for layout in Layout::ALL {
        let at = |endpoint, id| {
            let path = layout.path(endpoint, Params::schema(TENANT, id));
            base.join(&path).unwrap()
        };
        let list = target
            .block_on(identity.get(at(Endpoint::Schemas, ""), false))
            .unwrap();
        assert_eq!(list.answer.status, 200, "{layout}");
        let list: Value = serde_json::from_slice(&list.body).unwrap();
        assert_eq!(list["schemas"][0]["id"], "people_v1", "{layout}: {list}");
        let one = target
            .block_on(identity.get(at(Endpoint::Schema, "people_v1"), false))
            .unwrap();
        assert_eq!(one.answer.status, 200, "{layout}");
        let one: Value = serde_json::from_slice(&one.body).unwrap();
        assert_eq!(
            one["schema"]["properties"]["age"]["type"], "integer",
            "{one}"
        );
        let missing = target
            .block_on(identity.get(at(Endpoint::Schema, "nope"), false))
            .unwrap();
        assert_eq!(missing.answer.status, 404, "{layout}");
        let forbidden = target
            .block_on(configuration.get(at(Endpoint::Schema, "people_v1"), false))
            .unwrap();
        assert_eq!(forbidden.answer.status, 403, "{layout}");
    }
    let anonymous = target.block_on(async {
        let path = Layout::Client.path(Endpoint::Schemas, Params::tenant(TENANT));
        reqwest::get(base.join(&path).unwrap())
            .await
            .unwrap()
            .status()
    });
    assert_eq!(anonymous, 401);
}

#[test]
fn a_dry_run_with_preflight_needs_a_target_and_then_rejects_the_same_users() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::start(dir.path(), Default::default());
    seed(&target);
    source(dir.path());
    let out = ferry()
        .current_dir(dir.path())
        .args([
            "import",
            "users.csv",
            "--mapping",
            "mapping.toml",
            "--preflight",
            "--dry-run",
            "out",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--target"),
        "{}",
        describe(&out)
    );
    let url = target.url();
    let mut args = command_args("import", &url, "users.csv", &[]);
    args.extend([
        "--mapping",
        "mapping.toml",
        "--preflight",
        "--dry-run",
        "out",
    ]);
    let out = ferry()
        .current_dir(dir.path())
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let rejects = std::fs::read_to_string(dir.path().join("out/rejects.jsonl")).unwrap();
    let rows: Vec<u64> = rejects
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["row"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(rows, [2, 4]);
    assert!(target.dump().users.is_empty(), "a dry run sends nothing");
}
