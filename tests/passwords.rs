//! Passwords end to end: users hashed in every supported format are imported
//! with the real `ferry import` into `ferry serve`, then signed in through
//! the server's verification endpoint with their original passwords.
//!
//! Work factors are cheap on purpose (bcrypt cost 4, argon2id m=64 KiB t=1,
//! pbkdf2 1000 rounds): the formats are under test, not their cost.

use std::collections::BTreeMap;
use std::path::Path;

use ferry::contract::api::{Endpoint, Layout, Params};
use ferry::contract::choices::SaltConvention;
use ferry::contract::UserStatus;
use ferry::server::FaultConfig;
use ferry::source::Format;
use ferry::tools::sample::{self, SampleHash, SampleSpec};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{describe, ferry};
use crate::import::{import, report, Target, POOL, SECRET, TENANT};

/// A known-answer vector of `tests/data/passwords/vectors.json`.
#[derive(Debug, Clone, Deserialize)]
struct Vector {
    format: String,
    password: String,
    hash: String,
    salt: Option<String>,
    algorithm: Option<String>,
    salt_encoding: Option<String>,
    expect: String,
}

fn vectors() -> Vec<Vector> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/passwords/vectors.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Signs users in through the platform's `POST …/user/password/v2/verify`.
pub struct Signer<'t> {
    target: &'t Target,
    client: reqwest::Client,
    token: String,
    layout: Layout,
}

impl<'t> Signer<'t> {
    fn new(target: &'t Target) -> Signer<'t> {
        Signer::with(target, Layout::default(), "identity")
    }

    /// A signer at `layout` whose token has `scope`.
    pub fn with(target: &'t Target, layout: Layout, scope: &str) -> Signer<'t> {
        let client = reqwest::Client::new();
        let url = format!(
            "{}{}",
            target.url(),
            layout.path(Endpoint::Token, Params::tenant(TENANT))
        );
        let token = target.block_on(async {
            let answer = client
                .post(url)
                .basic_auth("ferry", Some(SECRET))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("grant_type=client_credentials&scope={scope}"))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
            body["access_token"].as_str().unwrap().to_string()
        });
        Signer {
            target,
            client,
            token,
            layout,
        }
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// (status, the v2 `result` on 200 or the error code otherwise).
    pub fn verify(&self, identifier: &str, password: &str) -> (u16, String) {
        let (status, body) = self.answer(identifier, password);
        let what = if status == 200 {
            body["result"].as_str().unwrap_or_default().to_string()
        } else {
            body["error_code"].as_str().unwrap_or_default().to_string()
        };
        (status, what)
    }

    /// The status and the whole answer.
    pub fn answer(&self, identifier: &str, password: &str) -> (u16, Value) {
        let url = format!(
            "{}{}",
            self.target.url(),
            self.layout
                .path(Endpoint::PasswordVerify, Params::pool(TENANT, POOL))
        );
        let body = serde_json::json!({ "identifier": identifier, "password": password });
        self.target.block_on(async {
            let answer = self
                .client
                .post(url)
                .bearer_auth(&self.token)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap();
            assert!(password.len() < 4 || !text.contains(password), "{text}");
            (status, serde_json::from_str(&text).unwrap())
        })
    }
}

/// Writes `rows` as a CSV with ferry's password columns.
fn write_csv(path: &Path, rows: &[(String, String, &Vector)]) {
    let mut out = csv::Writer::from_path(path).unwrap();
    out.write_record([
        "id",
        "email",
        "password_hash",
        "password_salt",
        "password_algorithm",
    ])
    .unwrap();
    for (id, email, v) in rows {
        out.write_record([
            id.as_str(),
            email.as_str(),
            &v.hash,
            v.salt.as_deref().unwrap_or(""),
            v.algorithm.as_deref().unwrap_or(""),
        ])
        .unwrap();
    }
    out.flush().unwrap();
}

/// The users of `vectors` as rows with ids and emails under `prefix`.
fn rows<'v>(prefix: &str, vectors: &'v [Vector]) -> Vec<(String, String, &'v Vector)> {
    vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                format!("{prefix}-{i}"),
                format!("{prefix}.{i}@example.com"),
                v,
            )
        })
        .collect()
}

fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", describe(output));
}

/// Neither a password nor a hash of `vectors` appears in `text`.
fn assert_no_secrets(what: &str, text: &str, vectors: &[Vector]) {
    for v in vectors {
        assert!(
            !text.contains(&v.hash),
            "{what} holds the hash of {}",
            v.format
        );
        if v.password.len() > 3 {
            assert!(
                !text.contains(&v.password),
                "{what} holds the password of {}",
                v.format
            );
        }
    }
}

#[test]
fn every_supported_format_signs_in_with_its_original_password() {
    for convention in [SaltConvention::Text, SaltConvention::Base64] {
        let work = tempfile::tempdir().unwrap();
        every_format_signs_in_at(work.path(), convention);
    }
}

/// Imports every supported vector with `--target-salt convention` into a
/// target reading salts the same way, and signs each user in.
fn every_format_signs_in_at(dir: &Path, convention: SaltConvention) {
    let target = Target::start_with(dir.join("target.db"), |c| c.salt = convention);
    let setting = convention.name();
    let supported: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| v.expect == "hash")
        .collect();
    let mut formats = std::collections::BTreeSet::new();
    let mut all_rows = Vec::new();
    // One import per salt encoding: it is a setting of the mapping file.
    for encoding in ["hex", "base64", "plain"] {
        let group: Vec<Vector> = supported
            .iter()
            .filter(|v| v.salt_encoding.as_deref().unwrap_or("hex") == encoding)
            .cloned()
            .collect();
        let rows = rows(encoding, &group);
        let source = format!("{encoding}.csv");
        write_csv(&dir.join(&source), &rows);
        let mapping = format!("{encoding}.toml");
        std::fs::write(
            dir.join(&mapping),
            format!("[passwords]\nsalt_encoding = \"{encoding}\"\n"),
        )
        .unwrap();
        let report_name = format!("{encoding}-report.json");
        let output = import(
            dir,
            &target,
            &source,
            &[
                "--mapping",
                &mapping,
                "--report",
                &report_name,
                "--target-salt",
                setting,
            ],
        );
        assert_exit(&output, 0);
        let r = report(dir, &report_name);
        assert_eq!(r["imported"].as_u64(), Some(rows.len() as u64), "{r}");
        assert_eq!(r["unverifiable_hash"].as_u64(), Some(0), "{r}");
        let outputs = format!(
            "{}{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            r
        );
        assert_no_secrets("the import's output and report", &outputs, &group);
        all_rows.extend(rows.into_iter().map(|(_, email, v)| (email, v.clone())));
    }
    let signer = Signer::new(&target);
    for (email, v) in &all_rows {
        formats.insert(v.format.clone());
        let (status, answer) = signer.verify(email, &v.password);
        assert_eq!(
            (status, answer.as_str()),
            (200, "password_correct"),
            "{} at --salt {setting}",
            v.format
        );
        let (status, answer) = signer.verify(email, &format!("{}x", v.password));
        assert_eq!(
            (status, answer.as_str()),
            (200, "password_incorrect"),
            "{} at --salt {setting}",
            v.format
        );
    }
    assert!(formats.len() >= 25, "formats signed in: {formats:?}");
    let (status, answer) = signer.answer("nobody@example.com", "whatever");
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        serde_json::json!({"id": "", "state": "valid", "result": "user_not_found"})
    );
    if convention == SaltConvention::Text {
        // A salt that is text goes as text; a binary one inside the value.
        let dump = target.dump();
        let salts: Vec<Option<String>> = dump
            .user_credentials
            .iter()
            .filter_map(|c| c.payload.hashed_password.as_ref())
            .filter_map(|h| h.config.sha.as_ref().map(|s| s.salt.clone()))
            .collect();
        let plain = supported
            .iter()
            .filter(|v| v.salt_encoding.as_deref() == Some("plain"))
            .filter_map(|v| v.salt.clone());
        let as_text: Vec<String> = plain.filter(|p| salts.contains(&Some(p.clone()))).collect();
        assert!(!as_text.is_empty(), "no plain salt went as text: {salts:?}");
        assert!(salts.iter().any(Option::is_none), "{salts:?}");
    }
}

/// Salts written under one convention, at a target reading the other: the
/// salted users are refused (the salt's length no longer matches
/// `salt_length`), none is stored with a credential that could never match.
#[test]
fn a_target_reading_salts_the_other_way_refuses_the_salted_users() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = Target::start_with(dir.join("target.db"), |c| c.salt = SaltConvention::Text);
    let salted: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| v.expect == "hash" && v.salt.is_some())
        .filter(|v| v.salt_encoding.as_deref().unwrap_or("hex") == "hex")
        .collect();
    assert!(salted.len() >= 5, "{salted:?}");
    let rows = rows("wrong", &salted);
    write_csv(&dir.join("salted.csv"), &rows);
    let output = import(
        dir,
        &target,
        "salted.csv",
        &["--target-salt", "base64", "--report", "r.json"],
    );
    let r = report(dir, "r.json");
    assert_eq!(
        r["imported"].as_u64(),
        Some(0),
        "{r}\n{}",
        describe(&output)
    );
    assert_eq!(r["rejected"].as_u64(), Some(rows.len() as u64), "{r}");
    let rejects = std::fs::read_to_string(dir.join("salted.csv.rejects.jsonl")).unwrap();
    assert!(rejects.contains("salt_length"), "{rejects}");
    assert!(target.dump().user_credentials.is_empty());
}

#[test]
fn unsupported_formats_follow_the_unsupported_hash_flag() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = Target::start(dir, FaultConfig::default());
    let unsupported: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| v.expect == "unsupported")
        .collect();
    let n = unsupported.len() as u64;
    let signer = Signer::new(&target);
    for (policy, code) in [("reject", 3), ("expire", 0), ("drop", 0)] {
        let rows = rows(policy, &unsupported);
        let source = format!("{policy}.csv");
        write_csv(&dir.join(&source), &rows);
        let report_name = format!("{policy}.json");
        let mut extra = vec!["--report", report_name.as_str()];
        if policy != "reject" {
            extra.extend(["--unsupported-hash", policy]);
        }
        let output = import(dir, &target, &source, &extra);
        assert_exit(&output, code);
        let r = report(dir, &report_name);
        let outputs = format!(
            "{}{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            r
        );
        assert_no_secrets("the import's output and report", &outputs, &unsupported);
        // The report says how many users must reset their password.
        let without = if policy == "reject" { 0 } else { n };
        assert_eq!(r["unverifiable_hash"].as_u64(), Some(without), "{r}");
        assert_eq!(
            outputs.contains(&format!("; {n} of the users have no usable password")),
            policy != "reject",
            "{outputs}"
        );
        match policy {
            "reject" => {
                assert_eq!(r["rejected"].as_u64(), Some(n), "{r}");
                let rejects =
                    std::fs::read_to_string(dir.join(format!("{source}.rejects.jsonl"))).unwrap();
                for line in rejects.lines() {
                    let reject: Value = serde_json::from_str(line).unwrap();
                    let reason = reject["reason"].as_str().unwrap();
                    assert!(
                        reason.contains("target") || reason.contains("not a hash format"),
                        "{reason}"
                    );
                }
                for (email, v) in rows.iter().map(|(_, e, v)| (e, v)) {
                    let (status, answer) = signer.verify(email, &v.password);
                    assert_eq!((status, answer.as_str()), (200, "user_not_found"));
                }
            }
            "expire" => {
                assert_eq!(r["imported"].as_u64(), Some(n), "{r}");
                // Their placeholder matches no password, and a
                // credential's state is told only after a correct one.
                for (email, v) in rows.iter().map(|(_, e, v)| (e, v)) {
                    let (status, answer) = signer.answer(email, &v.password);
                    assert_eq!(status, 200);
                    assert_eq!(
                        (answer["result"].as_str(), answer["state"].as_str()),
                        (Some("password_incorrect"), Some("valid")),
                        "{}",
                        v.format
                    );
                }
            }
            _ => {
                assert_eq!(r["imported"].as_u64(), Some(n), "{r}");
                for (email, v) in rows.iter().map(|(_, e, v)| (e, v)) {
                    let (status, answer) = signer.verify(email, &v.password);
                    assert_eq!(
                        (status, answer.as_str()),
                        (200, "no_password"),
                        "{}",
                        v.format
                    );
                }
            }
        }
    }
    // A dry run counts them the same way, before anything is sent.
    let dry = ferry()
        .current_dir(dir)
        .args([
            "import",
            "drop.csv",
            "--unsupported-hash",
            "drop",
            "--dry-run",
            "dry",
        ])
        .output()
        .unwrap();
    assert_exit(&dry, 0);
    let dry_report: Value =
        serde_json::from_slice(&std::fs::read(dir.join("dry/report.json")).unwrap()).unwrap();
    assert_eq!(
        dry_report["unverifiable_hash"].as_u64(),
        Some(n),
        "{dry_report}"
    );
    assert_eq!(dry_report["mapped"].as_u64(), Some(n), "{dry_report}");

    let dump = target.dump();
    assert_eq!(dump.users.len() as u64, 2 * n, "reject stores nobody");
    assert_eq!(
        dump.user_credentials.len() as u64,
        n,
        "only expire stores credentials"
    );
}

/// Plaintext passwords of a sample, by identifier.
fn plaintexts(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            (
                v["identifier"].as_str().unwrap().to_string(),
                v["password"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Status of each stored user, by lower-cased identifier.
fn statuses(target: &Target) -> BTreeMap<String, UserStatus> {
    let dump = target.dump();
    let by_id: BTreeMap<_, _> = dump.users.iter().map(|u| (u.id, u.status)).collect();
    dump.user_identifiers
        .iter()
        .map(|i| (i.identifier_lc.clone(), by_id[&i.user_id]))
        .collect()
}

#[test]
fn sample_users_of_every_format_sign_in_and_expire_on_request() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let spec = SampleSpec {
        users: 60,
        bad_rows: 0,
        seed: 5,
        format: Format::CSV,
    };
    let plain = dir.join("plain.jsonl");
    sample::write_file_with_passwords(
        &spec,
        &SampleHash::ALL,
        &dir.join("users.csv"),
        Some(&plain),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&plain).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let target = Target::start(dir, FaultConfig::default());
    assert_exit(&import(dir, &target, "users.csv", &[]), 0);
    let statuses = statuses(&target);
    let signer = Signer::new(&target);
    let users = plaintexts(&plain);
    assert!(users.len() >= 50, "{}", users.len());
    let mut wrong_answers = Vec::new();
    for (identifier, password) in &users {
        // v2 checks the password, whatever the user's status.
        let (status, answer) = signer.verify(identifier, password);
        assert_eq!(
            (status, answer.as_str()),
            (200, "password_correct"),
            "{identifier}"
        );
        wrong_answers.push((
            statuses[&identifier.to_lowercase()],
            signer.answer(identifier, "not-the-password"),
        ));
    }
    assert_wrong_passwords_tell_nothing(&wrong_answers);

    // The same users migrated with --passwords expire must reset their password.
    let expired = tempfile::tempdir().unwrap();
    let dir = expired.path();
    std::fs::copy(work.path().join("users.csv"), dir.join("users.csv")).unwrap();
    let target = Target::start(dir, FaultConfig::default());
    assert_exit(
        &import(dir, &target, "users.csv", &["--passwords", "expire"]),
        0,
    );
    let signer = Signer::new(&target);
    for (identifier, password) in &users {
        let (status, answer) = signer.verify(identifier, password);
        assert_eq!(
            (status, answer.as_str()),
            (200, "password_expired"),
            "{identifier}"
        );
        let (status, answer) = signer.verify(identifier, "not-the-password");
        assert_eq!(
            (status, answer.as_str()),
            (200, "password_incorrect"),
            "{identifier}: an expired password is told only to who knows it"
        );
    }

    // And with --passwords none they have no credential at all.
    let none = tempfile::tempdir().unwrap();
    let dir = none.path();
    std::fs::copy(work.path().join("users.csv"), dir.join("users.csv")).unwrap();
    let target = Target::start(dir, FaultConfig::default());
    assert_exit(
        &import(dir, &target, "users.csv", &["--passwords", "none"]),
        0,
    );
    assert!(target.dump().user_credentials.is_empty());
    let signer = Signer::new(&target);
    let (identifier, password) = &users[0];
    assert_eq!(
        signer.verify(identifier, password),
        (200, "no_password".into())
    );
}

/// A wrong password gets the same answer, its id aside, from active and
/// inactive users alike: at least one of each is in `answers`.
fn assert_wrong_passwords_tell_nothing(answers: &[(UserStatus, (u16, Value))]) {
    let mut seen = std::collections::BTreeSet::new();
    for (status, (code, answer)) in answers {
        let mut answer = answer.clone();
        assert!(
            answer["id"].as_str().is_some_and(|id| !id.is_empty()),
            "{answer}"
        );
        answer["id"] = Value::Null;
        seen.insert((*code, answer.to_string()));
        assert_eq!(
            (*code, answer),
            (
                200,
                serde_json::json!({"id": null, "state": "valid", "result": "password_incorrect"})
            ),
            "{status:?}"
        );
    }
    assert_eq!(seen.len(), 1);
    let kinds: std::collections::BTreeSet<bool> = answers
        .iter()
        .map(|(s, _)| *s == UserStatus::Active)
        .collect();
    assert_eq!(kinds.len(), 2, "both active and inactive users were asked");
}

#[test]
fn plaintext_passwords_are_hashed_and_never_written_anywhere() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let secrets = [
        "Plaintext-One-7f3a",
        "pässwörd-zwei-🔑",
        "third,with\"quote",
    ];
    let mut out = csv::Writer::from_path(dir.join("plain.csv")).unwrap();
    out.write_record(["id", "email", "pw"]).unwrap();
    out.write_record(["1", "one@example.com", secrets[0]])
        .unwrap();
    out.write_record(["2", "two@example.com", secrets[1]])
        .unwrap();
    out.write_record(["3", "not an email", secrets[2]]).unwrap();
    out.flush().unwrap();
    std::fs::write(
        dir.join("plain.toml"),
        "[passwords]\nplaintext_column = \"pw\"\n[passwords.argon2]\nmemory_kb = 64\niterations = 1\nparallelism = 1\n",
    )
    .unwrap();
    let target = Target::start(dir, FaultConfig::default());
    let output = crate::common::ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .env("FERRY_LOG", "debug")
        .args([
            "import",
            "plain.csv",
            "--mapping",
            "plain.toml",
            "--target",
            &target.url(),
            "--tenant",
            TENANT,
            "--pool",
            POOL,
            "--report",
            "report.json",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 3);
    let signer = Signer::new(&target);
    assert_eq!(
        signer.verify("one@example.com", secrets[0]).1,
        "password_correct"
    );
    assert_eq!(
        signer.verify("TWO@example.com", secrets[1]).1,
        "password_correct"
    );
    assert_eq!(
        signer.verify("two@example.com", secrets[0]).1,
        "password_incorrect"
    );
    let dump = target.dump();
    let stored = serde_json::to_string(&dump).unwrap();
    let mut written = vec![
        (
            "stdout",
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ),
        (
            "stderr",
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ),
        ("the stored data", stored),
    ];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name != "plain.csv" && path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            written.push((
                Box::leak(name.into_boxed_str()),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    assert!(written.iter().any(|(n, _)| n.ends_with("rejects.jsonl")));
    for (what, text) in &written {
        for secret in secrets {
            assert!(!text.contains(secret), "{what} holds a plaintext password");
        }
    }
}

#[test]
fn verification_is_rate_limited_per_identifier() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let v: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| v.format == "ldap-ssha")
        .take(2)
        .collect();
    write_csv(&dir.join("two.csv"), &rows("rl", &v));
    let target = Target::start(dir, FaultConfig::default());
    assert_exit(&import(dir, &target, "two.csv", &[]), 0);
    let signer = Signer::new(&target);
    let burst = ferry::server::verify::BURST as usize;
    for _ in 0..burst {
        assert_eq!(
            signer.verify("rl.0@example.com", "guess").1,
            "password_incorrect"
        );
    }
    let (status, code) = signer.verify("rl.0@example.com", &v[0].password);
    assert_eq!(
        (status, code.as_str()),
        (429, "throttled"),
        "even the right password waits"
    );
    // Another identifier is not affected.
    assert_eq!(
        signer.verify("rl.1@example.com", &v[1].password).1,
        "password_correct"
    );
}
