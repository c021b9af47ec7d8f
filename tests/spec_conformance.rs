//! What ferry sends and what `ferry serve` exports are the platform's
//! `TenantDump`, read strictly (no field the description lacks, every type
//! and format as it says: [`crate::common::spec`]), and the dump of every
//! field covers every field the description defines.

use std::path::Path;

use ferry::contract::api::{self, TOKEN};
use ferry::server::FaultConfig;
use serde_json::{json, Value};

use crate::common::full_dump;
use crate::common::spec::{assert_tenant_dump, tenant_dump_violations, uncovered_fields};
use crate::common::{describe, run_in, samples};
use crate::dry_run::dry_run_args;
use crate::import::{import, Target, SECRET, TENANT};

/// The batch bodies a dry run of `source` writes, parsed.
fn dry_run_bodies(dir: &Path, source: &Path) -> Vec<(String, Value)> {
    let out = dir.join("out");
    let (source, out_arg) = (source.to_string_lossy(), out.to_string_lossy());
    let output = run_in(dir, &dry_run_args(&source, &out_arg, &[]));
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "{}",
        describe(&output)
    );
    let mut bodies = Vec::new();
    let entries = std::fs::read_dir(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("batch-") {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            bodies.push((name, body));
        }
    }
    bodies.sort_by(|a, b| a.0.cmp(&b.0));
    bodies
}

#[test]
fn the_bodies_ferry_builds_are_strict_tenant_dumps() {
    for sample in ["users.csv", "users.jsonl"] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let bodies = dry_run_bodies(dir.path(), &samples().join(sample));
        assert!(!bodies.is_empty(), "{sample}: no batch written");
        for (name, body) in bodies {
            assert!(
                body["users"].as_array().is_some_and(|u| !u.is_empty()),
                "{name}"
            );
            assert_tenant_dump(&body, &format!("{sample}: {name}"));
        }
    }
}

/// The whole-tenant export of `target`, as raw JSON.
fn export(target: &Target) -> Value {
    let base = target.url();
    target.block_on(async {
        let client = reqwest::Client::new();
        let token: Value = async {
            let response = client
                .post(format!("{base}{}", TOKEN.path([TENANT])))
                .basic_auth("ferry", Some(SECRET))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .send()
                .await?;
            response.json_value().await
        }
        .await
        .unwrap_or_else(|e| panic!("token: {e}"));
        let token = token["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let url = format!("{base}{}", api::CONFIGURATION.path([TENANT]));
        let response = client.get(url).bearer_auth(token).send().await;
        let response = response.unwrap_or_else(|e| panic!("export: {e}"));
        response
            .json_value()
            .await
            .unwrap_or_else(|e| panic!("export body: {e}"))
    })
}

/// `Response::json` without reqwest's `json` feature.
trait JsonValue {
    async fn json_value(self) -> reqwest::Result<Value>;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> reqwest::Result<Value> {
        let bytes = self.bytes().await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

#[test]
fn the_dump_ferry_serve_exports_after_an_import_is_a_strict_tenant_dump() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = Target::start(dir.path(), FaultConfig::default());
    // A copy: the checkpoint and the rejects file are written beside the source.
    let source = dir.path().join("users.csv");
    std::fs::copy(samples().join("users.csv"), &source).unwrap_or_else(|e| panic!("{e}"));
    let output = import(dir.path(), &target, &source.to_string_lossy(), &[]);
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "{}",
        describe(&output)
    );
    let dump = export(&target);
    let users = dump["users"].as_array().map_or(0, Vec::len);
    assert!(users > 0, "nothing imported: {}", describe(&output));
    assert_tenant_dump(&dump, "the export after importing samples/users.csv");
}

#[test]
fn the_dump_of_every_field_has_every_field_of_the_description() {
    let dump = full_dump::dump("demo");
    assert_eq!(uncovered_fields(&dump, &["codes"]), Vec::<String>::new());
    assert_tenant_dump(&dump, "the dump of every field");
}

#[test]
fn the_check_fails_for_an_unknown_field_a_wrong_type_and_a_bad_time() {
    let good = full_dump::dump("demo");
    let cases = [
        ("/groups/0", "colour", json!("teal"), "colour"),
        ("", "extras", json!([]), "extras"),
        ("/users/0", "status", json!(5), "/users/0/status"),
        (
            "/users/0",
            "created_at",
            json!("yesterday"),
            "/users/0/created_at",
        ),
        (
            "/pools/0/password_policy",
            "min_length",
            json!(-1),
            "min_length",
        ),
        (
            "/user_verifiable_addresses/0",
            "metadata",
            Value::Null,
            "metadata",
        ),
    ];
    for (at, key, value, expected) in cases {
        let mut body = good.clone();
        match body.pointer_mut(at).and_then(Value::as_object_mut) {
            Some(object) => {
                object.insert(key.to_owned(), value);
            }
            None => panic!("{at} is not an object of the dump"),
        }
        let violations = tenant_dump_violations(&body);
        assert!(
            violations.iter().any(|v| v.contains(expected)),
            "{at}.{key}: {violations:?}"
        );
    }
    assert!(
        !tenant_dump_violations(&json!([])).is_empty(),
        "not an object"
    );
}
