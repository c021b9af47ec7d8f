//! Presets end to end: an export in each vendor's published shape
//! (`tests/data/presets/<vendor>/`, written from the vendors' documentation
//! and code, with real hashes of known passwords; `expected.json` says what
//! each user must become) is imported with `ferry import --from <vendor>`
//! into `ferry serve`, and every user is checked at the target: status,
//! names, creation time, identifiers and addresses, every custom attribute
//! (each value somewhere in the user's payload or metadata, with its type),
//! and sign-in with the original password through the verify endpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferry::contract::ImportBody;
use ferry::mapping::ids::IdScope;
use serde_json::Value;

use crate::common::describe;
use crate::import::{import, Target, POOL, TENANT};
use crate::passwords::Signer;

fn data(vendor: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/presets")
        .join(vendor)
}

fn expected(vendor: &str, file: &str) -> Vec<Value> {
    let text = std::fs::read(data(vendor).join(file)).unwrap();
    let doc: Value = serde_json::from_slice(&text).unwrap();
    doc["users"].as_array().cloned().unwrap_or_default()
}

/// What the target holds of one user.
struct Stored {
    user: Value,
    identifiers: Vec<(String, String)>,
    addresses: Vec<(String, String, bool)>,
}

fn stored(dump: &ImportBody, key: &str) -> Option<Stored> {
    let id = IdScope::new(TENANT, POOL).user(key);
    let user = dump.users.iter().find(|u| u.id == id)?;
    Some(Stored {
        user: serde_json::to_value(user).unwrap(),
        identifiers: dump
            .user_identifiers
            .iter()
            .filter(|i| i.user_id == id)
            .map(|i| (i.kind.as_str().to_string(), i.identifier.clone()))
            .collect(),
        addresses: dump
            .user_verifiable_addresses
            .iter()
            .filter(|a| a.user_id == id)
            .map(|a| {
                let kind = serde_json::to_value(a.kind).unwrap();
                (
                    kind.as_str().unwrap().to_string(),
                    a.address.clone(),
                    a.verified,
                )
            })
            .collect(),
    })
}

/// Every scalar under `value` (arrays and objects walked; an expectation's
/// `note` is prose, not a value).
fn leaves(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(members) => members
            .iter()
            .filter(|(k, _)| *k != "note")
            .for_each(|(_, v)| leaves(v, out)),
        Value::Null => {}
        scalar => out.push(scalar.clone()),
    }
}

/// The value an expected attribute holds: `{"value": X, "source": …}` or X.
fn attribute_value(entry: &Value) -> &Value {
    match entry.get("value") {
        Some(v) if entry.get("source").is_some() => v,
        _ => entry,
    }
}

/// Checks every expected user of `expected` against the target; returns
/// the failures, one line each.
fn check_users(dump: &ImportBody, expected: &[Value], skip: &[&str]) -> Vec<String> {
    let mut failures = Vec::new();
    for want in expected {
        let key = want["source_key"].as_str().unwrap();
        let Some(got) = stored(dump, key) else {
            failures.push(format!("{key}: not at the target"));
            continue;
        };
        let mut fail = |what: String| failures.push(format!("{key}: {what}"));
        if let Some(status) = want["status"].as_str() {
            if got.user["status"] != status {
                fail(format!("status {} instead of {status}", got.user["status"]));
            }
        }
        for name in ["given_name", "family_name", "name"] {
            if let Some(v) = want["payload"].get(name) {
                if got.user["payload"][name] != *v {
                    fail(format!(
                        "{name} {} instead of {v}",
                        got.user["payload"][name]
                    ));
                }
            }
        }
        if let Some(created) = want["created_at"].as_str() {
            let want_t = ferry::mapping::parse_time(created).unwrap();
            let got_t = got.user["created_at"]
                .as_str()
                .and_then(ferry::mapping::parse_time);
            if got_t != Some(want_t) {
                fail(format!(
                    "created_at {} instead of {created}",
                    got.user["created_at"]
                ));
            }
        }
        for identifier in want["identifiers"].as_array().into_iter().flatten() {
            if identifier
                .get("note")
                .is_some_and(|n| n.as_str().unwrap_or("").contains("only if"))
            {
                continue;
            }
            let kind = identifier["type"].as_str().unwrap();
            let value = identifier["value"].as_str().unwrap();
            let found = got.identifiers.iter().any(|(k, v)| {
                k == kind
                    && match kind {
                        // A federated identifier is "<provider>|<subject>".
                        "federated" => v.ends_with(&format!("|{value}")) || v == value,
                        _ => v.eq_ignore_ascii_case(value),
                    }
            });
            if !found && !skip.contains(&format!("{kind}:{value}").as_str()) {
                fail(format!(
                    "no {kind} identifier {value}: {:?}",
                    got.identifiers
                ));
            }
        }
        for address in want["addresses"].as_array().into_iter().flatten() {
            let (kind, value) = (
                address["type"].as_str().unwrap(),
                address["value"].as_str().unwrap(),
            );
            let verified = address["verified"].as_bool().unwrap_or(false);
            match got
                .addresses
                .iter()
                .find(|(k, v, _)| k == kind && v.eq_ignore_ascii_case(value))
            {
                None => fail(format!("no {kind} address {value}")),
                Some((_, _, v))
                    if *v != verified && !skip.contains(&format!("verified:{value}").as_str()) =>
                {
                    fail(format!(
                        "{kind} address {value} verified {v} instead of {verified}"
                    ))
                }
                Some(_) => {}
            }
        }
        let mut have = Vec::new();
        for set in ["payload", "metadata", "business_metadata"] {
            leaves(&got.user[set], &mut have);
        }
        let mut want_leaves = Vec::new();
        for (name, entry) in want["metadata"].as_object().into_iter().flatten() {
            if skip.contains(&format!("metadata:{name}").as_str()) {
                continue;
            }
            leaves(attribute_value(entry), &mut want_leaves);
        }
        for leaf in want_leaves {
            if !have.contains(&leaf) {
                fail(format!("attribute value {leaf} is not carried (typed)"));
            }
        }
    }
    failures
}

/// Signs every user of `passwords.jsonl` whose expected password verifies.
fn check_sign_in(target: &Target, vendor: &str, expected: &[Value]) -> (usize, Vec<String>) {
    let signer = Signer::with(target, ferry::contract::api::Layout::default(), "identity");
    let text = std::fs::read_to_string(data(vendor).join("passwords.jsonl")).unwrap();
    let should: BTreeMap<&str, bool> = expected
        .iter()
        .map(|u| {
            (
                u["source_key"].as_str().unwrap(),
                u["password"]["should_verify"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    let (mut signed, mut failures) = (0, Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let canary: Value = serde_json::from_str(line).unwrap();
        let user = canary["user"].as_str().unwrap();
        if !should.get(user).copied().unwrap_or(false) {
            continue;
        }
        let identifier = canary["identifier"].as_str().unwrap();
        let password = canary["password"].as_str().unwrap();
        let (status, result) = signer.verify(identifier, password);
        if (status, result.as_str()) == (200, "password_correct") {
            signed += 1;
        } else {
            failures.push(format!("{user} ({identifier}): {status} {result}"));
        }
        let (_, wrong) = signer.verify(identifier, "not the password");
        if wrong == "password_correct" {
            failures.push(format!("{user}: a wrong password signs in"));
        }
    }
    (signed, failures)
}

/// Imports `source` with `--from vendor` into a fresh target, then checks.
fn run(vendor: &str, source: &str, extra: &[&str], expected_file: &str, skip: &[&str]) -> Target {
    run_with(vendor, source, extra, expected_file, skip, true)
}

/// [`run`]; `verifiable` says whether the vendor's hashes can sign in at
/// the target at all (Firebase's modified scrypt cannot).
fn run_with(
    vendor: &str,
    source: &str,
    extra: &[&str],
    expected_file: &str,
    skip: &[&str],
    verifiable: bool,
) -> Target {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::start(dir.path(), ferry::server::FaultConfig::default());
    let src = data(vendor).join(source);
    let rejects = dir.path().join("rejects.jsonl").display().to_string();
    let checkpoint = dir.path().join("checkpoint.json").display().to_string();
    let mut args = vec![
        "--from",
        vendor,
        "--rejects",
        &rejects,
        "--checkpoint",
        &checkpoint,
    ];
    args.extend_from_slice(extra);
    let join;
    if let Some(i) = args.iter().position(|a| *a == "--join") {
        join = data(vendor).join(args[i + 1]).display().to_string();
        args[i + 1] = &join;
    }
    let out = import(dir.path(), &target, &src.display().to_string(), &args);
    assert!(
        out.status.success(),
        "{vendor} {source}: {}\n{}",
        describe(&out),
        std::fs::read_to_string(&rejects).unwrap_or_default()
    );
    let users = expected(vendor, expected_file);
    let failures = check_users(&target.dump(), &users, skip);
    assert!(
        failures.is_empty(),
        "{vendor} {source}:\n{}",
        failures.join("\n")
    );
    let (signed, failures) = check_sign_in(&target, vendor, &users);
    let want_signed = users
        .iter()
        .filter(|u| u["password"]["should_verify"].as_bool() == Some(true))
        .count();
    if verifiable {
        assert!(
            failures.is_empty(),
            "{vendor} sign-in:\n{}",
            failures.join("\n")
        );
        assert_eq!(
            signed, want_signed,
            "{vendor}: every verifiable password signs in"
        );
    } else {
        assert_eq!(
            signed, 0,
            "{vendor}: no password the target cannot verify signs in"
        );
        assert_eq!(failures.len(), want_signed, "{failures:?}");
    }
    std::mem::forget(dir);
    target
}

#[test]
fn auth0_ndjson_with_the_password_hash_export_joined() {
    run(
        "auth0",
        "users-export.ndjson",
        &["--join", "password-hashes.ndjson"],
        "expected.json",
        &[],
    );
}

#[test]
fn auth0_csv_with_the_password_hash_export_joined() {
    run(
        "auth0",
        "users-export.csv",
        &["--join", "password-hashes.ndjson"],
        "expected-csv.json",
        &[],
    );
}

#[test]
fn firebase_json_and_both_csv_layouts() {
    for source in ["users.json", "users.csv", "users-legacy28.csv"] {
        // The CSV layouts have no column for second factors.
        // The 28-column layout has no apple.com columns.
        let skip: &[&str] = match source {
            "users.csv" => &["metadata:mfaInfo"],
            "users-legacy28.csv" => &[
                "metadata:mfaInfo",
                "federated:001234.abcdef0123456789abcdef0123456789.1234",
            ],
            _ => &[],
        };
        // Firebase's scrypt: imported for a password reset, never signing in.
        run_with(
            "firebase",
            source,
            &["--unsupported-hash", "expire"],
            "expected.json",
            skip,
            false,
        );
    }
}

#[test]
fn keycloak_directory_and_realm_file() {
    run("keycloak", "different_files", &[], "expected.json", &[]);
    run(
        "keycloak",
        "realm_file/acme-realm.json",
        &[],
        "expected.json",
        &[],
    );
}

#[test]
fn cognito_list_users_of_both_cli_versions_and_the_csv_layout() {
    run(
        "cognito",
        "list-users.cli-v2.json",
        &[],
        "expected.json",
        &[],
    );
    run(
        "cognito",
        "list-users.cli-v1.json",
        &[],
        "expected.json",
        &[],
    );
}

#[test]
fn aspnet_identity_users_with_their_roles_joined() {
    run(
        "aspnet-identity",
        "core/AspNetUsers.csv",
        &["--join", "core/AspNetUserRoles.csv"],
        "expected.json",
        &[],
    );
    run(
        "aspnet-identity",
        "core/AspNetUsers.ssms.csv",
        &[],
        "expected.json",
        &[],
    );
}

#[test]
fn supabase_csv_and_json() {
    let join = ["--join", "auth.identities.csv"];
    run("supabase", "auth.users.csv", &join, "expected.json", &[]);
    run("supabase", "auth.users.json", &join, "expected.json", &[]);
}

#[test]
fn okta_list_users() {
    run("okta", "users.json", &[], "expected.json", &[]);
}

#[test]
fn clerk_dashboard_csv() {
    // TOTP secrets are left out on purpose: users enrol again.
    run(
        "clerk",
        "users-export.csv",
        &[],
        "expected.json",
        &["metadata:totp_secret_present"],
    );
}

#[test]
fn presets_are_listed_and_shown() {
    let out = crate::common::ferry().args(["presets"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in ferry::presets::names() {
        assert!(text.contains(name), "{name} listed");
        let shown = crate::common::ferry()
            .args(["presets", "show", name])
            .output()
            .unwrap();
        assert!(shown.status.success());
        let mapping = String::from_utf8(shown.stdout).unwrap();
        ferry::mapping::MappingConfig::parse(&mapping).unwrap();
    }
    let bad = crate::common::ferry()
        .args(["presets", "show", "nope"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// Every body ferry builds from every preset's fixtures validates against
/// the platform's published `TenantDump` schema, strictly (no field the
/// schema lacks).
#[test]
fn bodies_built_from_every_preset_validate_against_the_published_tenant_dump() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "auth0",
            "users-export.ndjson",
            &["--join", "password-hashes.ndjson"],
        ),
        (
            "auth0",
            "users-export.csv",
            &["--join", "password-hashes.ndjson"],
        ),
        ("firebase", "users.json", &["--unsupported-hash", "expire"]),
        ("firebase", "users.csv", &["--unsupported-hash", "expire"]),
        ("keycloak", "different_files", &[]),
        ("cognito", "list-users.cli-v2.json", &[]),
        ("cognito", "users-import.csv", &[]),
        (
            "aspnet-identity",
            "core/AspNetUsers.csv",
            &["--join", "core/AspNetUserRoles.csv"],
        ),
        (
            "supabase",
            "auth.users.csv",
            &["--join", "auth.identities.csv"],
        ),
        ("okta", "users.json", &[]),
        ("clerk", "users-export.csv", &[]),
        ("ferry", "users.jsonl", &[]),
    ];
    for (vendor, source, extra) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("out");
        let mut args = vec![
            "import".to_string(),
            data(vendor).join(source).display().to_string(),
            "--from".into(),
            vendor.to_string(),
            "--dry-run".into(),
            out_dir.display().to_string(),
            "--import-time".into(),
            "2026-11-01T12:00:00Z".into(),
            "--quiet".into(),
        ];
        let mut extra = extra.iter();
        while let Some(flag) = extra.next() {
            args.push(flag.to_string());
            if let Some(value) = extra.next() {
                args.push(match *flag {
                    "--join" => data(vendor).join(value).display().to_string(),
                    _ => value.to_string(),
                });
            }
        }
        let out = crate::common::ferry().args(&args).output().unwrap();
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 3),
            "{vendor}: {}",
            describe(&out)
        );
        let mut bodies = 0;
        for entry in std::fs::read_dir(&out_dir).unwrap() {
            let path = entry.unwrap().path();
            if !path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("batch-")
            {
                continue;
            }
            let body: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            crate::common::spec::assert_tenant_dump(&body, &format!("{vendor} {source}"));
            bodies += 1;
        }
        assert!(bodies > 0, "{vendor} {source}: no body written");
    }
}
