//! `ferry verify` against `ferry serve`: a source mapped as the import maps
//! it, compared user by user with the target's pool.

use std::path::Path;
use std::process::Output;

use ferry::server::FaultConfig;
use serde_json::Value;

use crate::common::{describe, ferry};
use crate::import::{command_args, import, report, Target, SECRET};

/// Runs `ferry verify SOURCE` against `target` with the import's flags.
pub fn verify(dir: &Path, target: &Target, source: &str, extra: &[&str]) -> Output {
    let url = target.url();
    ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(command_args("verify", &url, source, extra))
        .output()
        .unwrap()
}

/// A CSV of `n` users (`u0`…), the row of user 7 invalid (rejected by the mapping).
fn write_users(path: &Path, n: usize) {
    let mut text = String::from("id,email,given_name,status\n");
    for i in 0..n {
        let email = if i == 7 {
            "not an email".to_string()
        } else {
            format!("user{i}@example.com")
        };
        text.push_str(&format!("u{i},{email},Ann,active\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// The diff file's lines.
fn diff_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn exit(output: &Output) -> Option<i32> {
    output.status.code()
}

/// Import flags that keep the run's files in `dir`.
const FILES: [&str; 4] = ["--rejects", "rejects.jsonl", "--checkpoint", "checkpoint"];

#[test]
fn verify_names_the_users_an_import_never_sent_and_those_changed_since() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = Target::start(dir, FaultConfig::default());
    write_users(&dir.join("all.csv"), 60);
    // The last 10 users were never sent.
    write_users(&dir.join("first.csv"), 50);
    let imported = import(dir, &target, "first.csv", &FILES);
    assert_eq!(exit(&imported), Some(3), "{}", describe(&imported));

    let checked = verify(
        dir,
        &target,
        "all.csv",
        &["--diff", "diff.jsonl", "--report", "r.json"],
    );
    assert_eq!(exit(&checked), Some(4), "{}", describe(&checked));
    let r = report(dir, "r.json");
    assert_eq!(
        (
            &r["read"],
            &r["matching"],
            &r["missing"],
            &r["different"],
            &r["extra"],
            &r["rejected"]
        ),
        (
            &60.into(),
            &49.into(),
            &10.into(),
            &0.into(),
            &0.into(),
            &1.into()
        ),
        "{r}"
    );
    let missing: Vec<String> = diff_lines(&dir.join("diff.jsonl"))
        .iter()
        .inspect(|l| assert_eq!(l["finding"], "missing", "{l}"))
        .map(|l| l["key"].as_str().unwrap().to_string())
        .collect();
    let mut expected: Vec<String> = (50..60).map(|i| format!("u{i}")).collect();
    let mut sorted = missing.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    let mode = std::fs::metadata(dir.join("diff.jsonl"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );

    // The repair sends exactly those 10; the target then agrees.
    let repaired = verify(
        dir,
        &target,
        "all.csv",
        &["--repair", "--rejects", "rejects.jsonl"],
    );
    assert_eq!(exit(&repaired), Some(0), "{}", describe(&repaired));
    let said = String::from_utf8_lossy(&repaired.stdout).to_string();
    assert!(said.contains("repair: read 60 rows: 10 imported"), "{said}");
    assert!(said.contains("49 skipped"), "{said}");
    assert!(said.contains("59 users matching, 0 missing"), "{said}");
    assert!(
        dir.join("rejects.jsonl.repair").exists(),
        "the repair has its own rejects file"
    );
    let agreed = verify(dir, &target, "all.csv", &[]);
    assert_eq!(exit(&agreed), Some(0), "{}", describe(&agreed));

    // Two users changed at the target (one renamed, one blocked there).
    std::fs::write(
        dir.join("two.csv"),
        "id,email,given_name,status\nu3,user3@example.com,Bea,active\nu4,user4@example.com,Ann,inactive\n",
    )
    .unwrap();
    let changed = import(
        dir,
        &target,
        "two.csv",
        &[
            "--mode",
            "update",
            "--rejects",
            "r3.jsonl",
            "--checkpoint",
            "c3",
        ],
    );
    assert_eq!(exit(&changed), Some(0), "{}", describe(&changed));
    let checked = verify(
        dir,
        &target,
        "all.csv",
        &["--diff", "diff.jsonl", "--report", "r.json"],
    );
    assert_eq!(exit(&checked), Some(4), "{}", describe(&checked));
    let r = report(dir, "r.json");
    assert_eq!(
        (&r["different"], &r["missing"], &r["matching"]),
        (&2.into(), &0.into(), &57.into()),
        "{r}"
    );
    let mut different: Vec<(String, Value)> = diff_lines(&dir.join("diff.jsonl"))
        .into_iter()
        .map(|l| (l["key"].as_str().unwrap().to_string(), l["fields"].clone()))
        .collect();
    different.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(different[0].0, "u3");
    assert_eq!(different[0].1, serde_json::json!(["user.payload"]));
    assert_eq!(different[1].0, "u4");
    assert_eq!(different[1].1, serde_json::json!(["user.status"]));
    let sampled = verify(
        dir,
        &target,
        "all.csv",
        &["--sample", "1000", "--report", "s.json"],
    );
    assert_eq!(exit(&sampled), Some(4), "{}", describe(&sampled));
    let s = report(dir, "s.json");
    assert_eq!(
        (&s["sampled"], &s["different"], &s["matching"]),
        (&59.into(), &2.into(), &57.into()),
        "{s}"
    );
    let few = verify(
        dir,
        &target,
        "all.csv",
        &["--sample", "5", "--report", "s.json"],
    );
    assert_eq!(report(dir, "s.json")["sampled"], 5, "{}", describe(&few));
    let text = std::fs::read_to_string(dir.join("diff.jsonl")).unwrap();
    assert!(
        !text.contains("Bea"),
        "the diff names fields, not values: {text}"
    );
    let repaired = verify(
        dir,
        &target,
        "all.csv",
        &["--repair", "--rejects", "rejects.jsonl"],
    );
    assert_eq!(exit(&repaired), Some(0), "{}", describe(&repaired));
    let said = String::from_utf8_lossy(&repaired.stdout).to_string();
    assert!(said.contains("2 updated"), "{said}");
    let blocked = target
        .dump()
        .users
        .iter()
        .filter(|u| u.status != ferry::contract::UserStatus::Active)
        .count();
    assert_eq!(blocked, 0, "the source's status is back");
}

#[test]
fn users_only_the_target_has_are_extra_and_left_alone() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = Target::start(dir, FaultConfig::default());
    write_users(&dir.join("all.csv"), 20);
    let imported = import(dir, &target, "all.csv", &FILES);
    assert_eq!(exit(&imported), Some(3), "{}", describe(&imported));
    write_users(&dir.join("fewer.csv"), 15);
    let checked = verify(
        dir,
        &target,
        "fewer.csv",
        &["--report", "r.json", "--diff", "d.jsonl"],
    );
    assert_eq!(
        exit(&checked),
        Some(0),
        "extra users alone do not fail: {}",
        describe(&checked)
    );
    let r = report(dir, "r.json");
    assert_eq!(
        (&r["extra"], &r["matching"]),
        (&5.into(), &14.into()),
        "{r}"
    );
    assert_eq!(target.dump().users.len(), 19, "nothing was touched");
    assert!(diff_lines(&dir.join("d.jsonl"))
        .iter()
        .all(|l| l["finding"] == "extra"));
}

#[test]
fn canaries_sign_in_with_their_old_passwords_per_hash_method() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = Target::start(dir, FaultConfig::default());
    let made = ferry()
        .current_dir(dir)
        .args([
            "sample",
            "--users",
            "40",
            "--seed",
            "3",
            "-o",
            "users.csv",
            "--password-formats",
            "all",
            "--plaintext-out",
            "canaries.jsonl",
        ])
        .output()
        .unwrap();
    assert_eq!(exit(&made), Some(0), "{}", describe(&made));
    let imported = import(dir, &target, "users.csv", &FILES);
    assert_eq!(exit(&imported), Some(0), "{}", describe(&imported));
    let checked = verify(
        dir,
        &target,
        "users.csv",
        &["--sign-in", "canaries.jsonl", "--report", "r.json"],
    );
    assert_eq!(exit(&checked), Some(0), "{}", describe(&checked));
    let r = report(dir, "r.json");
    let canaries = std::fs::read_to_string(dir.join("canaries.jsonl")).unwrap();
    let n = canaries.lines().count();
    assert!(n > 30, "{canaries}");
    assert_eq!(r["sign_in"]["checked"], n, "{r}");
    assert_eq!(r["sign_in"]["signed_in"], n, "{r}");
    let methods = r["sign_in"]["by_method"].as_object().unwrap();
    for method in ["sha", "md5", "bcrypt", "argon2", "pbkdf2"] {
        assert!(methods.contains_key(method), "{method}: {r}");
    }
    let first: Value = serde_json::from_str(canaries.lines().next().unwrap()).unwrap();
    let password = first["password"].as_str().unwrap();
    let said = format!("{}{}", describe(&checked), r);
    assert!(!said.contains(password), "a password was written out");

    // One canary with a password it never had: listed with the result.
    let wrong = serde_json::json!({"identifier": first["identifier"], "password": "not it"});
    std::fs::write(dir.join("wrong.jsonl"), format!("{canaries}{wrong}\n")).unwrap();
    let checked = verify(dir, &target, "users.csv", &["--sign-in", "wrong.jsonl"]);
    assert_eq!(exit(&checked), Some(4), "{}", describe(&checked));
    let said = String::from_utf8_lossy(&checked.stdout).to_string();
    let line = format!("{n} of {} canaries signed in", n + 1);
    assert!(said.contains(&line), "{said}");
    let identifier = first["identifier"].as_str().unwrap();
    assert!(said.contains(&format!("{identifier} (")), "{said}");
    assert!(said.contains("password_incorrect"), "{said}");

    // A line that is not a canary is refused, naming its line only.
    std::fs::write(
        dir.join("bad.jsonl"),
        "{\"identifier\": \"x\", \"pw\": \"secret-ish\"}\n",
    )
    .unwrap();
    let refused = verify(dir, &target, "users.csv", &["--sign-in", "bad.jsonl"]);
    assert_eq!(exit(&refused), Some(2), "{}", describe(&refused));
    assert!(
        !describe(&refused).contains("secret-ish"),
        "{}",
        describe(&refused)
    );
}
