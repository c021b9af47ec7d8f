//! The dry run, end to end through the `ferry` binary: batches, rejects,
//! report, determinism, and the errors that stop a run before it writes.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use ferry::contract::ImportBody;
use ferry::source::Format;
use ferry::tools::sample::{self, BadKind, SampleSpec};
use serde_json::Value;

use crate::common::{describe, ferry, run_in, samples};

const IMPORT_TIME: &str = "2026-11-01T12:00:00Z";

fn write_sample(dir: &Path, name: &str, users: u64, bad: u64, seed: u64) -> sample::SampleReport {
    let format = Format::from_path(Path::new(name)).unwrap();
    sample::write_file(
        &SampleSpec {
            users,
            bad_rows: bad,
            seed,
            format,
        },
        &dir.join(name),
    )
    .unwrap()
}

/// The arguments of a dry run of `source` into `out`, at a pinned import time.
pub fn dry_run_args<'a>(source: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "import",
        source,
        "--tenant",
        "acme",
        "--pool",
        "main",
        "--import-time",
        IMPORT_TIME,
        "--dry-run",
        out,
    ];
    args.extend_from_slice(extra);
    args
}

fn dry_run(dir: &Path, source: &str, out: &str, extra: &[&str]) -> std::process::Output {
    run_in(dir, &dry_run_args(source, out, extra))
}

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&path).unwrap(),
            )
        })
        .collect()
}

fn batches_of(dir: &Path) -> Vec<ImportBody> {
    files_of(dir)
        .into_iter()
        .filter(|(name, _)| name.starts_with("batch-"))
        .map(|(name, bytes)| {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
        })
        .collect()
}

fn report_of(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("report.json")).unwrap()).unwrap()
}

fn rejects_of(dir: &Path) -> Vec<Value> {
    fs::read_to_string(dir.join("rejects.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn same_inputs_give_byte_identical_directories() {
    let work = tempfile::tempdir().unwrap();
    write_sample(work.path(), "users.csv", 1000, 25, 11);
    for out in ["a", "b"] {
        let output = dry_run(work.path(), "users.csv", out, &[]);
        assert_eq!(
            output.status.code(),
            Some(3),
            "rows were rejected: {}",
            describe(&output)
        );
    }
    let (mut a, mut b) = (
        files_of(&work.path().join("a")),
        files_of(&work.path().join("b")),
    );
    // The report's timings differ by nature; everything else must be the same bytes.
    let (ra, rb) = (
        a.remove("report.json").unwrap(),
        b.remove("report.json").unwrap(),
    );
    assert_eq!(a, b);
    let strip = |bytes: &[u8]| {
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        v.as_object_mut()
            .unwrap()
            .retain(|k, _| k != "elapsed_s" && k != "rows_per_s");
        v
    };
    assert_eq!(strip(&ra), strip(&rb));
    // A different import time changes the bytes.
    let output = run_in(
        work.path(),
        &[
            "import",
            "users.csv",
            "--tenant",
            "acme",
            "--pool",
            "main",
            "--import-time",
            "2026-11-02T00:00:00Z",
            "--dry-run",
            "c",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    assert_ne!(
        files_of(&work.path().join("c"))["batch-000001.json"],
        a["batch-000001.json"]
    );
}

/// Checks the batches of a 1,000-user sample, in either format.
fn check_thousand_users(name: &str) {
    let work = tempfile::tempdir().unwrap();
    let sample = write_sample(work.path(), name, 1000, 30, 3);
    let output = dry_run(work.path(), name, "out", &[]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let out = work.path().join("out");

    let batches = batches_of(&out);
    assert_eq!(batches.len(), 10);
    let mut all_ids = HashSet::new();
    for body in &batches {
        assert_eq!(body.users.len(), 100);
        let users: HashSet<_> = body.users.iter().map(|u| u.id).collect();
        let mut ids: Vec<uuid::Uuid> = body.users.iter().map(|u| u.id).collect();
        for c in &body.user_credentials {
            assert!(
                users.contains(&c.user_id),
                "credential {} points outside its batch",
                c.id
            );
            ids.push(c.id);
        }
        for i in &body.user_identifiers {
            assert!(
                users.contains(&i.user_id),
                "identifier {} points outside its batch",
                i.id
            );
            ids.push(i.id);
        }
        for a in &body.user_verifiable_addresses {
            assert!(
                users.contains(&a.user_id),
                "address {} points outside its batch",
                a.id
            );
            ids.push(a.id);
        }
        for id in ids {
            assert_eq!(id.get_version(), Some(uuid::Version::Random), "{id}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert!(all_ids.insert(id), "id {id} used twice");
        }
        assert!(body
            .users
            .iter()
            .all(|u| u.tenant_id == "acme" && u.user_pool_id == "main"));
        assert!(
            body.user_credentials.len() > 80,
            "most sample users have a password"
        );
    }
    // Each batch body holds only the four arrays.
    let raw: Value =
        serde_json::from_slice(&fs::read(out.join("batch-000001.json")).unwrap()).unwrap();
    let keys: Vec<&String> = raw.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "user_credentials",
            "user_identifiers",
            "user_verifiable_addresses",
            "users"
        ]
    );

    let report = report_of(&out);
    assert_eq!(report["read"], 1030);
    assert_eq!(report["mapped"], 1000);
    assert_eq!(report["rejected"], 30);
    assert_eq!(report["batches"], 10);

    // Exactly the sample's bad rows are rejected, each for the rule it breaks.
    let rejects = rejects_of(&out);
    let rejected: Vec<(u64, String)> = rejects
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rejected.iter().map(|r| r.0).collect::<Vec<_>>(),
        sample.bad.iter().map(|b| b.0).collect::<Vec<_>>()
    );
    for ((row, reason), (_, kind)) in rejected.iter().zip(&sample.bad) {
        let expected = match kind {
            BadKind::MissingKey => "user key (column 'id') is missing",
            BadKind::InvalidEmail => "email '",
            BadKind::InvalidPhone => "phone '(555) 010-4477' is not an E.164 number",
            BadKind::OversizeName => "given_name is 1200 bytes, over the 1024-byte limit",
            BadKind::DuplicateKey => "user key '",
            BadKind::DuplicateEmail => "email '",
            BadKind::UnsupportedAlgorithm => "password algorithm 'firebase_scrypt'",
            BadKind::InvalidStatus => "status 'suspended?' is not one of",
            BadKind::InvalidCreatedAt => "created_at '31/12/2019' is not a time",
            BadKind::WrongColumnCount => "has 5 fields, the header has 14",
            BadKind::InvalidUtf8 => "not valid UTF-8",
            BadKind::InvalidJson => "not valid JSON",
        };
        assert!(
            reason.contains(expected),
            "row {row} ({kind:?}): '{reason}' lacks '{expected}'"
        );
    }
    for r in &rejects {
        assert!(r["stage"] == "source" || r["stage"] == "mapping", "{r}");
        assert!(r.get("source").is_some() && r.get("key").is_some(), "{r}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(out.join("rejects.jsonl"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("read 1030 rows: 1000 mapped, 30 rejected, 10 batches"),
        "{stdout}"
    );
}

#[test]
fn thousand_csv_users_make_ten_batches_of_a_hundred() {
    check_thousand_users("users.csv");
}

#[test]
fn thousand_jsonl_users_make_ten_batches_of_a_hundred() {
    check_thousand_users("users.jsonl");
}

#[test]
fn batch_size_is_honoured_and_checked() {
    let work = tempfile::tempdir().unwrap();
    write_sample(work.path(), "u.ndjson", 250, 0, 9);
    let output = dry_run(work.path(), "u.ndjson", "out", &["--batch-size", "40"]);
    assert!(output.status.success(), "{}", describe(&output));
    let sizes: Vec<usize> = batches_of(&work.path().join("out"))
        .iter()
        .map(|b| b.users.len())
        .collect();
    assert_eq!(sizes, [40, 40, 40, 40, 40, 40, 10]);
    for bad in ["0", "1001"] {
        let output = dry_run(work.path(), "u.ndjson", "out2", &["--batch-size", bad]);
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    }
}

#[test]
fn malformed_csv_rows_are_rejected_and_the_run_goes_on() {
    let work = tempfile::tempdir().unwrap();
    let mut csv = Vec::new();
    csv.extend_from_slice(b"\xef\xbb\xbfid,email,given_name,family_name\r\n");
    csv.extend_from_slice(b"1,one@example.com,\"Ann, the first\",\"Multi\nLine\"\r\n");
    csv.extend_from_slice(b"2,two@example.com,Bob\r\n");
    csv.extend_from_slice(b"3,three@example.com,J\xf6rg,Meyer\r\n");
    csv.extend_from_slice(b"4,four@example.com,\"Quote \"\"Q\"\"\",Four\r\n");
    csv.extend_from_slice(b"5,four@EXAMPLE.com,Dup,Email\r\n");
    csv.extend_from_slice(b"4,other@example.com,Dup,Key\n");
    fs::write(work.path().join("m.csv"), csv).unwrap();
    let output = dry_run(work.path(), "m.csv", "out", &[]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let out = work.path().join("out");
    let report = report_of(&out);
    assert_eq!(
        (
            report["read"].as_u64(),
            report["mapped"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(6), Some(1), Some(5))
    );
    let body = &batches_of(&out)[0];
    assert_eq!(
        body.users[0].payload.as_ref().unwrap()["given_name"],
        "Quote \"Q\""
    );
    let rejects = rejects_of(&out);
    let reasons: Vec<(u64, String)> = rejects
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 5);
    // The quoted fields were read whole, the comma and the line break in
    // them; a line break is a control character, which no name may hold.
    assert_eq!(reasons[0].0, 1);
    assert!(
        reasons[0]
            .1
            .contains("family_name holds the control character U+000A"),
        "{reasons:?}"
    );
    assert_eq!(rejects[0]["source"]["given_name"], "Ann, the first");
    assert_eq!(rejects[0]["source"]["family_name"], "Multi\nLine");
    assert_eq!(reasons[1].0, 2);
    assert!(
        reasons[1].1.contains("has 3 fields, the header has 4"),
        "{reasons:?}"
    );
    assert_eq!(reasons[2].0, 3);
    assert!(reasons[2].1.contains("not valid UTF-8"), "{reasons:?}");
    assert_eq!(
        reasons[3],
        (
            5,
            "email 'four@example.com' was already used by an earlier row".to_string()
        )
    );
    assert_eq!(
        reasons[4],
        (
            6,
            "user key '4' was already used by an earlier row".to_string()
        )
    );
}

#[test]
fn standard_input_is_a_source() {
    let work = tempfile::tempdir().unwrap();
    let mut child = ferry()
        .current_dir(work.path())
        .args([
            "import",
            "-",
            "--format",
            "jsonl",
            "--import-time",
            IMPORT_TIME,
            "--dry-run",
            "out",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"{\"id\":\"a\",\"email\":\"a@example.com\"}\n\n{\"id\":\"b\",\"phone\":\"+1 415 555 0100\"}\n{oops\n").unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let report = report_of(&work.path().join("out"));
    assert_eq!(
        (
            report["read"].as_u64(),
            report["mapped"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    let rejects = rejects_of(&work.path().join("out"));
    assert_eq!(rejects[0]["row"], 3);
    assert_eq!(
        rejects[0]["source"], "{oops",
        "an unparsable row is kept as its text"
    );
}

#[test]
fn a_mapping_file_reads_a_differently_shaped_export() {
    let work = tempfile::tempdir().unwrap();
    let source = samples().join("legacy-users.csv");
    let mapping = samples().join("mapping.toml");
    let output = dry_run(
        work.path(),
        source.to_str().unwrap(),
        "out",
        &["--mapping", mapping.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", describe(&output));
    let out = work.path().join("out");
    let body = &batches_of(&out)[0];
    let report = report_of(&out);
    assert_eq!(report["rejected"], 0);
    assert_eq!(report["mapped"].as_u64(), Some(body.users.len() as u64));
    assert!(body.users.len() >= 8);
    assert!(body
        .user_identifiers
        .iter()
        .any(|i| i.kind == ferry::contract::IdentifierType::Mobile));
    assert!(body
        .users
        .iter()
        .all(|u| u.payload.as_ref().is_some_and(|p| p.contains_key("name"))));
    assert!(!body.user_credentials.is_empty());
}

#[test]
fn unusable_sources_stop_before_anything_is_written() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::write(dir.join("empty.csv"), b"").unwrap();
    fs::write(dir.join("users.txt"), b"id,email\n1,a@b.co\n").unwrap();
    fs::write(dir.join("noid.csv"), b"name,phone\nAnn,+14155550100\n").unwrap();
    fs::write(dir.join("utf16.csv"), b"\xff\xfei\x00d\x00\n\x00").unwrap();
    fs::write(dir.join("ok.csv"), b"id,email\n1,a@b.co\n").unwrap();
    fs::write(
        dir.join("bad-mapping.toml"),
        b"[columns]\nemail = \"mail_address\"\n",
    )
    .unwrap();
    fs::write(
        dir.join("typo-mapping.toml"),
        b"[colums]\nemail = \"email\"\n",
    )
    .unwrap();
    let cases: [(&str, &[&str], &str); 7] = [
        ("empty.csv", &[], "header"),
        ("users.txt", &[], "format"),
        ("noid.csv", &[], "key"),
        ("utf16.csv", &[], "UTF-16"),
        ("missing.csv", &[], "missing.csv"),
        ("ok.csv", &["--mapping", "bad-mapping.toml"], "mail_address"),
        ("ok.csv", &["--mapping", "typo-mapping.toml"], "colums"),
    ];
    for (source, extra, hint) in cases {
        let output = dry_run(dir, source, "out", extra);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{source}: {}",
            describe(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(hint),
            "{source}: stderr lacks '{hint}': {stderr}"
        );
        assert!(
            !dir.join("out").exists(),
            "{source}: nothing may be written"
        );
    }
}

#[test]
fn help_explains_every_flag() {
    let output = ferry().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for word in ["import", "serve", "sample"] {
        assert!(help.contains(word), "ferry --help lacks {word}: {help}");
    }
    let output = ferry().args(["import", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--format",
        "--mapping",
        "--tenant",
        "--pool",
        "--batch-size",
        "--import-time",
        "--dry-run",
    ] {
        assert!(
            help.contains(flag),
            "ferry import --help lacks {flag}: {help}"
        );
    }
}

/// Every source column is mapped, ignored on purpose or reported: a CSV with
/// columns nothing maps lists them with how many rows had a value, once, in
/// the summary and the report; `--strict` refuses it before writing.
#[test]
fn columns_nothing_maps_are_reported_ignored_on_purpose_or_refused_under_strict() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut csv = String::from("id,email,locale,loyalty_tier,birthdate\n");
    for i in 0..250 {
        let tier = if i % 5 == 0 { "gold" } else { "" };
        csv.push_str(&format!("u{i},u{i}@example.com,fr-FR,{tier},1990-01-01\n"));
    }
    fs::write(dir.join("users.csv"), csv).unwrap();

    let output = dry_run(dir, "users.csv", "out", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains("3 source field(s) not carried")
            && summary.contains("birthdate (250 rows), locale (250 rows), loyalty_tier (50 rows)"),
        "{summary}"
    );
    let report = report_of(&dir.join("out"));
    assert_eq!(
        report["unmapped"],
        serde_json::json!({"birthdate": 250, "locale": 250, "loyalty_tier": 50})
    );

    fs::write(dir.join("mapping.toml"), "ignore = [\"birthdate\"]\n").unwrap();
    let output = dry_run(dir, "users.csv", "out", &["--mapping", "mapping.toml"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let report = report_of(&dir.join("out"));
    assert_eq!(
        report["unmapped"],
        serde_json::json!({"locale": 250, "loyalty_tier": 50}),
        "birthdate is ignored on purpose"
    );

    let output = dry_run(
        dir,
        "users.csv",
        "strict",
        &["--mapping", "mapping.toml", "--strict"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("locale, loyalty_tier") && !stderr.contains("birthdate"),
        "{stderr}"
    );
    assert!(!dir.join("strict").exists(), "nothing written");
}

/// A source without a header is keyed as the mapping says, never by its
/// first record: a JSON Lines file whose first record has no `id` is not
/// keyed on email throughout.
#[test]
fn a_json_lines_source_is_keyed_on_id_unless_the_mapping_says_email() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::write(
        dir.join("users.jsonl"),
        concat!(
            "{\"email\":\"first@example.com\"}\n",
            "{\"id\":\"u2\",\"email\":\"second@example.com\"}\n",
            "{\"id\":\"u3\",\"email\":\"third@example.com\",\"nickname\":\"T\"}\n",
        ),
    )
    .unwrap();
    let output = dry_run(dir, "users.jsonl", "out", &[]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let rejects = rejects_of(&dir.join("out"));
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["row"], 1);
    assert!(
        rejects[0]["reason"]
            .as_str()
            .unwrap()
            .contains("column 'id'"),
        "{}",
        rejects[0]
    );
    let report = report_of(&dir.join("out"));
    assert_eq!(report["unmapped"], serde_json::json!({"nickname": 1}));

    // --strict reads a source without a header through first.
    let output = dry_run(dir, "users.jsonl", "strict", &["--strict"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("nickname"),
        "{}",
        describe(&output)
    );
    assert!(!dir.join("strict").exists(), "nothing written");

    fs::write(dir.join("mapping.toml"), "key_email = true\n").unwrap();
    let output = dry_run(
        dir,
        "users.jsonl",
        "by-email",
        &["--mapping", "mapping.toml"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let report = report_of(&dir.join("by-email"));
    assert_eq!(
        (report["mapped"].as_u64(), report["rejected"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(
        report["unmapped"],
        serde_json::json!({"id": 2, "nickname": 1}),
        "keyed on email, the id column is carried nowhere: said so"
    );
}
