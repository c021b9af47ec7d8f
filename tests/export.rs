//! `ferry export` and `ferry import --from ferry` end to end: the real
//! binary against `ferry serve` on ephemeral loopback ports. What the file
//! holds is compared with what the target stores (its dump), a round trip
//! through a second server with the first file, byte for byte.

use std::io::Read;
use std::path::Path;
use std::process::Output;

use ferry::contract::entry::Entry;
use ferry::contract::line::ExportLine;
use ferry::contract::{ImportBody, ImportMode, Pool, UserStatus};
use ferry::send::client::{ClientConfig, TargetClient};
use ferry::server::FaultConfig;
use serde_json::Value;

use crate::common::{describe, ferry, mode_of, samples, umask_022};
use crate::import::{import, report, Target, POOL, SECRET, TENANT};

/// `ferry export` of `target`'s pool (`--pool` in `extra` overrides) into
/// `out`, with fast retries.
fn export(dir: &Path, target: &Target, out: &str, extra: &[&str]) -> Output {
    let url = target.url();
    let mut args = vec!["export", "--target", &url, "--tenant", TENANT, "-o", out];
    if !extra.contains(&"--pool") {
        args.extend(["--pool", POOL]);
    }
    args.extend(["--retry-base-ms", "5", "--retry-cap-ms", "50", "--quiet"]);
    args.extend_from_slice(extra);
    ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(&args)
        .output()
        .unwrap()
}

/// A target holding `samples/users.csv` (1,000 users, 12 rows rejected).
fn imported_sample(dir: &Path) -> Target {
    let target = Target::start(dir, FaultConfig::default());
    std::fs::copy(samples().join("users.csv"), dir.join("users.csv")).unwrap();
    let output = import(dir, &target, "users.csv", &[]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    target
}

fn lines(bytes: &[u8]) -> Vec<ExportLine> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ok(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", describe(output));
}

/// The line the target's dump gives every user, by user id.
fn expected_lines(dump: &ImportBody) -> std::collections::HashMap<uuid::Uuid, ExportLine> {
    dump.users
        .iter()
        .map(|u| (u.id, ExportLine::new(Entry::in_body(dump, u))))
        .collect()
}

#[test]
fn an_imported_sample_exports_every_user_with_its_hashes_in_a_private_file() {
    umask_022();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = imported_sample(dir);
    let dump = target.dump();
    assert_eq!(dump.users.len(), 1000);
    let output = export(dir, &target, "users.jsonl", &["--page-size", "128"]);
    ok(&output);
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains("exported 1000 users") && summary.contains("0600"),
        "{summary}"
    );
    let path = dir.join("users.jsonl");
    assert_eq!(mode_of(&path), 0o600);
    let bytes = std::fs::read(&path).unwrap();
    let exported = lines(&bytes);
    let expected = expected_lines(&dump);
    assert_eq!(exported.len(), expected.len());
    for line in &exported {
        assert_eq!(
            Some(line),
            expected.get(&line.user.id),
            "every record as stored"
        );
    }
    let ids: Vec<_> = exported.iter().map(|l| l.user.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order");
    let credentials: usize = exported.iter().map(|l| l.credentials.len()).sum();
    assert_eq!(credentials, dump.user_credentials.len());
    assert!(credentials > 900, "the sample's users have passwords");
    // Each line is canonical: writing it again gives its bytes.
    let mut again = Vec::new();
    for line in &exported {
        line.write_to(&mut again).unwrap();
    }
    assert_eq!(again, bytes);

    // Gzipped: the same lines, whatever the page size.
    ok(&export(
        dir,
        &target,
        "users.jsonl.gz",
        &["--page-size", "300"],
    ));
    let gz = dir.join("users.jsonl.gz");
    assert_eq!(mode_of(&gz), 0o600);
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(text, bytes);

    // Standard output: the same bytes, the summary on standard error.
    let output = export(dir, &target, "-", &[]);
    ok(&output);
    assert_eq!(output.stdout, bytes);
    assert!(String::from_utf8_lossy(&output.stderr).contains("exported 1000 users"));

    // A reader that goes away early (`| head`) ends the export quietly.
    let url = target.url();
    let mut child = ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args([
            "export", "--target", &url, "--tenant", TENANT, "--pool", POOL,
        ])
        .args(["-o", "-", "--quiet", "--page-size", "10"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(&head[..], &bytes[..100]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn without_credentials_the_user_endpoints_give_the_same_users_without_hashes() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = imported_sample(dir);
    let dump = target.dump();
    let output = export(dir, &target, "bare.jsonl", &["--without-credentials"]);
    ok(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("without credentials"));
    let bytes = std::fs::read(dir.join("bare.jsonl")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for credential in &dump.user_credentials {
        let hash = &credential.payload.hashed_password.as_ref().unwrap().value;
        assert!(!text.contains(hash.as_str()), "no hash in the file");
    }
    let exported = lines(&bytes);
    assert_eq!(exported.len(), 1000);
    let ids: Vec<_> = exported.iter().map(|l| l.user.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in the target's id order"
    );
    let expected = expected_lines(&dump);
    for line in exported {
        let mut full = expected[&line.user.id].clone();
        full.credentials.clear();
        assert_eq!(line, full);
    }
}

#[test]
fn an_export_imported_into_a_second_server_exports_byte_identical() {
    let work = tempfile::tempdir().unwrap();
    let (dir, second_dir) = (work.path(), &work.path().join("second"));
    std::fs::create_dir(second_dir).unwrap();
    let first = imported_sample(dir);
    ok(&export(dir, &first, "first.jsonl", &[]));
    let first_bytes = std::fs::read(dir.join("first.jsonl")).unwrap();
    let inactive = lines(&first_bytes)
        .iter()
        .filter(|l| l.user.status == UserStatus::Inactive)
        .count();
    assert!(inactive > 0, "the sample has inactive users");

    let second = Target::start(second_dir, FaultConfig::default());
    let source = dir.join("first.jsonl").display().to_string();
    let output = import(
        second_dir,
        &second,
        &source,
        &["--from", "ferry", "--report", "r.json"],
    );
    ok(&output);
    assert_eq!(
        report(second_dir, "r.json")["imported"].as_u64(),
        Some(1000)
    );
    ok(&export(second_dir, &second, "second.jsonl", &[]));
    let second_bytes = std::fs::read(second_dir.join("second.jsonl")).unwrap();
    assert!(
        first_bytes == second_bytes,
        "the round trip is byte-identical"
    );

    // Into another pool of the second server, ids re-derived there: every
    // record moved, nothing else changed.
    add_pool(&second, "copy");
    let url = second.url();
    let output = ferry()
        .current_dir(second_dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args([
            "import", &source, "--target", &url, "--tenant", TENANT, "--pool", "copy",
        ])
        .args(["--from", "ferry", "--new-ids", "--quiet"])
        .args(["--checkpoint", "copy.cp", "--rejects", "copy.rejects"])
        .output()
        .unwrap();
    ok(&output);
    ok(&export(
        second_dir,
        &second,
        "copy.jsonl",
        &["--pool", "copy"],
    ));
    let copied = lines(&std::fs::read(second_dir.join("copy.jsonl")).unwrap());
    let originals = lines(&first_bytes);
    assert_eq!(copied.len(), originals.len());
    // Each user's new id is derived from its export id in the destination.
    let scope = ferry::mapping::ids::IdScope::new(TENANT, "copy");
    let by_new_id: std::collections::HashMap<uuid::Uuid, &ExportLine> = originals
        .iter()
        .map(|l| (scope.user(&l.user.id.to_string()), l))
        .collect();
    for copy in &copied {
        let original = by_new_id[&copy.user.id];
        assert_ne!(copy.user.id, original.user.id, "a new id");
        let records = copy
            .credentials
            .iter()
            .map(|c| (&c.tenant_id, &c.user_pool_id, c.user_id));
        let records = records
            .chain(
                copy.identifiers
                    .iter()
                    .map(|i| (&i.tenant_id, &i.user_pool_id, i.user_id)),
            )
            .chain(
                copy.verifiable_addresses
                    .iter()
                    .map(|a| (&a.tenant_id, &a.user_pool_id, a.user_id)),
            );
        for (tenant, pool, user) in
            records.chain([(&copy.user.tenant_id, &copy.user.user_pool_id, copy.user.id)])
        {
            assert_eq!(
                (tenant.as_str(), pool.as_str(), user),
                (TENANT, "copy", copy.user.id)
            );
        }
        // The same content, its ids and pool aside.
        let mut moved = copy.clone();
        let mut original = original.clone();
        for line in [&mut moved, &mut original] {
            line.user.id = uuid::Uuid::nil();
            line.user.user_pool_id.clear();
            for c in &mut line.credentials {
                (c.id, c.user_id, c.user_pool_id) =
                    (uuid::Uuid::nil(), uuid::Uuid::nil(), String::new());
            }
            line.identifiers
                .sort_by(|a, b| a.identifier.cmp(&b.identifier));
            for i in &mut line.identifiers {
                (i.id, i.user_id, i.user_pool_id) =
                    (uuid::Uuid::nil(), uuid::Uuid::nil(), String::new());
            }
            line.verifiable_addresses
                .sort_by(|a, b| a.address.cmp(&b.address));
            for a in &mut line.verifiable_addresses {
                (a.id, a.user_id, a.user_pool_id) =
                    (uuid::Uuid::nil(), uuid::Uuid::nil(), String::new());
            }
        }
        assert_eq!(
            moved, original,
            "hashes, status and times carried as they are"
        );
    }
}

/// Creates pool `id` in the target's tenant.
fn add_pool(target: &Target, id: &str) {
    let pool: Pool =
        serde_json::from_value(serde_json::json!({"id": id, "tenant_id": TENANT, "name": id}))
            .unwrap();
    let body = ImportBody {
        pools: vec![pool],
        ..ImportBody::default()
    };
    let base = url::Url::parse(&target.url()).unwrap();
    let secret = ferry::send::token::ClientSecret::new(SECRET);
    let client = TargetClient::new(ClientConfig::new(base, TENANT, "ferry", secret)).unwrap();
    let bytes = bytes::Bytes::from(serde_json::to_vec(&body).unwrap());
    let answer = target
        .block_on(client.put_batch(bytes, ImportMode::Ignore))
        .unwrap();
    assert_eq!(answer.status, 204, "{}", answer.reason());
}

#[test]
fn a_resumed_export_is_byte_identical_to_an_uninterrupted_one() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = imported_sample(dir);
    for name in ["users.jsonl", "users.jsonl.gz"] {
        let whole = format!("whole-{name}");
        ok(&export(dir, &target, &whole, &["--page-size", "100"]));
        let checkpoint = format!("{name}.checkpoint");
        let args = ["--page-size", "100", "--checkpoint", checkpoint.as_str()];
        let mut stopped = args.to_vec();
        stopped.extend(["--stop-after-pages", "3"]);
        let output = export(dir, &target, name, &stopped);
        assert_eq!(output.status.code(), Some(130), "{}", describe(&output));
        // A crash in the middle of the next block: half a line after the checkpoint.
        let path = dir.join(name);
        let cut = std::fs::read(&path).unwrap();
        // A file shorter than the checkpoint says is not the one it describes.
        std::fs::write(&path, &cut[..10]).unwrap();
        let output = export(dir, &target, name, &args);
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let mut torn = cut.clone();
        torn.extend_from_slice(b"{\"user\":{\"id\":\"0");
        std::fs::write(&path, &torn).unwrap();
        // Settings that would make another file are refused.
        let mut other = args.to_vec();
        other.push("--without-credentials");
        assert_eq!(export(dir, &target, name, &other).status.code(), Some(2));
        let output = export(dir, &target, name, &args);
        ok(&output);
        let summary = String::from_utf8_lossy(&output.stdout);
        assert!(summary.contains("resumed after 300"), "{summary}");
        let resumed = std::fs::read(&path).unwrap();
        let uninterrupted = std::fs::read(dir.join(&whole)).unwrap();
        assert!(resumed.starts_with(&cut) && resumed.len() > cut.len());
        assert!(
            resumed == uninterrupted,
            "{name}: the resumed file is the uninterrupted one"
        );
        let again = export(dir, &target, name, &args);
        ok(&again);
        assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));
        assert_eq!(std::fs::read(&path).unwrap(), uninterrupted);
    }
}

#[test]
fn bad_lines_of_a_ferry_import_are_rejected_with_their_reasons() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let first = imported_sample(dir);
    ok(&export(dir, &first, "good.jsonl", &[]));
    let good = std::fs::read_to_string(dir.join("good.jsonl")).unwrap();
    let good: Vec<&str> = good.lines().take(20).collect();
    let value = |n: usize| -> Value { serde_json::from_str(good[n]).unwrap() };
    let mut missing = value(1);
    missing.as_object_mut().unwrap().remove("identifiers");
    let mut extra = value(2);
    extra["groups"] = Value::Array(Vec::new());
    let mut foreign = value(3);
    foreign["identifiers"][0]["user_id"] = value(4)["user"]["id"].clone();
    let mut bad_status = value(5);
    bad_status["user"]["status"] = Value::String("asleep".into());
    let mut file: Vec<String> = good[6..].iter().map(|l| l.to_string()).collect();
    let bad = [
        ("not json at all".to_string(), "not valid JSON"),
        (missing.to_string(), "missing field `identifiers`"),
        (extra.to_string(), "unknown field `groups`"),
        (foreign.to_string(), "identifiers[0] names another user"),
        (bad_status.to_string(), "user.status"),
        (good[6].to_string(), "already used by an earlier row"),
    ];
    for (line, _) in &bad {
        file.insert(file.len() / 2, line.clone());
    }
    std::fs::write(dir.join("mixed.jsonl"), file.join("\n") + "\n").unwrap();

    let second_dir = dir.join("second");
    std::fs::create_dir(&second_dir).unwrap();
    let second = Target::start(&second_dir, FaultConfig::default());
    let source = dir.join("mixed.jsonl").display().to_string();
    let output = import(
        &second_dir,
        &second,
        &source,
        &[
            "--from",
            "ferry",
            "--report",
            "r.json",
            "--rejects",
            "rejects.jsonl",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let counts = report(&second_dir, "r.json");
    assert_eq!(counts["read"].as_u64(), Some(file.len() as u64));
    assert_eq!(counts["imported"].as_u64(), Some(14));
    assert_eq!(counts["rejected"].as_u64(), Some(bad.len() as u64));
    let rejects = std::fs::read_to_string(second_dir.join("rejects.jsonl")).unwrap();
    let reasons: Vec<String> = rejects
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(reasons.len(), bad.len(), "{reasons:?}");
    for (_, reason) in &bad {
        assert!(
            reasons.iter().any(|r| r.contains(reason)),
            "{reason} in {reasons:?}"
        );
    }
    assert_eq!(second.dump().users.len(), 14);

    // The dry run maps the same file to the same counts, sending nothing.
    let output = ferry()
        .current_dir(&second_dir)
        .args(["import", &source, "--from", "ferry"])
        .args(["--dry-run", "dry", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let dry = report(&second_dir.join("dry"), "report.json");
    assert_eq!(dry["rejected"].as_u64(), Some(bad.len() as u64), "{dry}");
}

#[test]
fn the_client_and_vanity_layouts_export_the_same_files() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = imported_sample(dir);
    for flags in [&[][..], &["--without-credentials"][..]] {
        let mut guide = flags.to_vec();
        guide.extend(["--layout", "guide"]);
        ok(&export(dir, &target, "guide.jsonl", &guide));
        let expected = std::fs::read(dir.join("guide.jsonl")).unwrap();
        assert_eq!(lines(&expected).len(), 1000);
        for layout in ["client", "vanity"] {
            let mut args = flags.to_vec();
            args.extend(["--layout", layout]);
            let name = format!("{layout}.jsonl");
            ok(&export(dir, &target, &name, &args));
            let got = std::fs::read(dir.join(&name)).unwrap();
            assert!(got == expected, "{layout} {flags:?}");
        }
    }
}

#[test]
fn an_export_killed_at_any_point_resumes_to_the_same_file() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = imported_sample(dir);
    let args = ["--page-size", "10", "--checkpoint", "killed.checkpoint"];
    ok(&export(dir, &target, "whole.jsonl", &["--page-size", "10"]));
    let whole = std::fs::read(dir.join("whole.jsonl")).unwrap();
    let url = target.url();
    // SIGKILL as soon as each run has written more than the one before,
    // resuming every time: the kills land while pages are written.
    let length = || std::fs::metadata(dir.join("killed.jsonl")).map_or(0, |m| m.len());
    let mut kills = 0;
    for _ in 0..4 {
        let before = length();
        let mut child = ferry()
            .current_dir(dir)
            .env("FERRY_CLIENT_SECRET", SECRET)
            .args([
                "export", "--target", &url, "--tenant", TENANT, "--pool", POOL,
            ])
            .args(["-o", "killed.jsonl", "--quiet"])
            .args(args)
            // A killed run cannot remove its temporary index: keep it here.
            .env("TMPDIR", dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while length() <= before && started.elapsed() < std::time::Duration::from_secs(20) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    let cut = length();
    assert!(
        kills > 0 && cut > 0 && cut < whole.len() as u64,
        "killed mid-way: {kills} kills, {cut} bytes"
    );
    ok(&export(dir, &target, "killed.jsonl", &args));
    assert!(std::fs::read(dir.join("killed.jsonl")).unwrap() == whole);
}
