//! `ferry import --match-existing`: users the target already holds under
//! other ids, found by email and sent under those ids, against `ferry
//! serve` in-process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use ferry::contract::records::IdentifierType;
use ferry::contract::ImportBody;
use ferry::server::FaultConfig;
use uuid::Uuid;

use crate::common::describe;
use crate::import::{assert_adds_up, import, report, Target};

/// Users in the source.
const USERS: usize = 300;
/// Of them, users the target holds before the import, under other keys.
const SEEDED: usize = 100;

/// `users.csv` (keys `u1`…, emails `user1@x.io`…) and `seed.csv` (the first
/// [`SEEDED`] emails under keys `old1`…, with other names).
fn write_sources(dir: &Path) {
    let rows = |key: &str, name: &str, n: usize| {
        (1..=n)
            .map(|i| format!("{key}{i},user{i}@x.io,{name}{i}\n"))
            .collect::<String>()
    };
    let header = "id,email,given_name\n";
    std::fs::write(
        dir.join("users.csv"),
        format!("{header}{}", rows("u", "Name", USERS)),
    )
    .unwrap();
    std::fs::write(
        dir.join("seed.csv"),
        format!("{header}{}", rows("old", "Old", SEEDED)),
    )
    .unwrap();
}

/// A target holding the seeded users, and their ids by email.
fn seeded(dir: &Path) -> (Target, BTreeMap<String, Uuid>) {
    write_sources(dir);
    let target = Target::start(dir, FaultConfig::default());
    let seed = run(dir, &target, "seed.csv", "seed", &[]);
    assert_eq!(seed.status.code(), Some(0), "{}", describe(&seed));
    let ids = ids_by_email(&target.dump());
    assert_eq!(ids.len(), SEEDED);
    (target, ids)
}

/// Imports `source` as the run `name`: its checkpoint, rejects file and
/// report in `dir`, named after it, and `extra` flags.
fn run(dir: &Path, target: &Target, source: &str, name: &str, extra: &[&str]) -> Output {
    let path = |suffix: &str| dir.join(format!("{name}.{suffix}")).display().to_string();
    let files = [
        ("--checkpoint", path("checkpoint")),
        ("--rejects", path("rejects.jsonl")),
        ("--report", path("report.json")),
    ];
    let mut args: Vec<&str> = files.iter().flat_map(|(f, p)| [*f, p.as_str()]).collect();
    args.extend_from_slice(extra);
    import(dir, target, source, &args)
}

/// The stored users' ids by their email identifier.
fn ids_by_email(dump: &ImportBody) -> BTreeMap<String, Uuid> {
    dump.user_identifiers
        .iter()
        .filter(|i| i.kind == IdentifierType::Email)
        .map(|i| (i.identifier.clone(), i.user_id))
        .collect()
}

/// The report's count `key`.
fn count(report: &serde_json::Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

/// The counts imported, updated, kept, skipped, rejected, matched.
fn counts(report: &serde_json::Value) -> [u64; 6] {
    [
        "imported", "updated", "kept", "skipped", "rejected", "matched",
    ]
    .map(|k| count(report, k))
}

#[test]
fn matching_by_email_updates_the_users_the_target_holds_and_creates_the_rest() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (target, seeded) = seeded(dir);
    let matching = ["--match-existing", "email", "--mode", "update"];
    let first = run(dir, &target, "users.csv", "run", &matching);
    assert_eq!(first.status.code(), Some(0), "{}", describe(&first));
    let r = report(dir, "run.report.json");
    assert_adds_up(&r);
    assert_eq!(counts(&r), [200, 100, 0, 0, 0, 100], "{r}");
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("100 of the users stored matched"),
        "{}",
        describe(&first)
    );

    let dump = target.dump();
    assert_eq!(dump.users.len(), USERS, "nobody duplicated");
    assert_eq!(dump.user_identifiers.len(), USERS);
    let now = ids_by_email(&dump);
    for (email, id) in &seeded {
        assert_eq!(now.get(email), Some(id), "{email} kept its id");
    }
    // The seeded users now hold the source's records: its names.
    let user = dump.users.iter().find(|u| u.id == seeded["user1@x.io"]);
    let text = serde_json::to_string(&user).unwrap();
    assert!(text.contains("Name1") && !text.contains("Old1"), "{text}");
    let users: BTreeSet<Uuid> = dump.users.iter().map(|u| u.id).collect();
    assert_eq!(users.len(), USERS);

    // Again from the start: the same bytes, so every user is as stored.
    let again = run(dir, &target, "users.csv", "again", &matching);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    let r = report(dir, "again.report.json");
    assert_eq!(counts(&r), [0, 0, 0, 300, 0, 100], "{r}");
    assert_eq!(target.dump(), dump, "a re-run changes nothing");

    // Resuming this checkpoint without matching is refused: it shapes the bodies.
    let refused = run(dir, &target, "users.csv", "again", &["--mode", "update"]);
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("match_existing"),
        "{}",
        describe(&refused)
    );
}

#[test]
fn without_matching_the_taken_emails_are_rejected() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (target, _) = seeded(dir);
    let plain = run(dir, &target, "users.csv", "run", &[]);
    assert_eq!(plain.status.code(), Some(3), "{}", describe(&plain));
    let r = report(dir, "run.report.json");
    assert_adds_up(&r);
    assert_eq!(counts(&r), [200, 0, 0, 0, 100, 0], "{r}");
    let rejects = std::fs::read_to_string(dir.join("run.rejects.jsonl")).unwrap();
    assert_eq!(rejects.lines().count(), SEEDED);
    assert!(rejects.contains("identifier_taken"), "{rejects}");
}

#[test]
fn matching_under_ignore_keeps_the_users_the_target_holds() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (target, seeded) = seeded(dir);
    let before = target.dump();
    let kept = run(
        dir,
        &target,
        "users.csv",
        "run",
        &["--match-existing", "email"],
    );
    assert_eq!(kept.status.code(), Some(0), "{}", describe(&kept));
    let r = report(dir, "run.report.json");
    assert_adds_up(&r);
    assert_eq!(counts(&r), [200, 0, 100, 0, 0, 100], "{r}");
    let dump = target.dump();
    assert_eq!(dump.users.len(), USERS);
    for id in seeded.values() {
        let of = |body: &ImportBody| body.users.iter().find(|u| u.id == *id).cloned();
        assert_eq!(of(&dump), of(&before), "kept as stored");
    }
}

#[test]
fn a_dry_run_cannot_match() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sources(dir);
    let out = dir.join("out").display().to_string();
    let dry = crate::common::run_in(
        dir,
        &[
            "import",
            "users.csv",
            "--dry-run",
            &out,
            "--match-existing",
            "email",
        ],
    );
    assert_eq!(dry.status.code(), Some(2), "{}", describe(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stderr).contains("--match-existing"),
        "{}",
        describe(&dry)
    );
}
