//! Sources as they come, end to end through the `ferry` binary: a stray CSV
//! quote costs one row; a JSON document, gzip, a directory of export files
//! and standard input map exactly like the JSON Lines file of the same users;
//! an interrupted import of a gzipped document or a directory resumes to the
//! same stored data.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ferry::contract::ImportBody;
use ferry::source::Format;
use ferry::tools::sample::{self, SampleSpec};
use serde_json::Value;

use crate::common::{describe, ferry, run_in};
use crate::dry_run::dry_run_args;
use crate::import::{assert_adds_up, assert_same_dump, expected_dump, kill_and_resume, Target};

/// Every batch body of a dry-run directory, in batch order.
fn batches_of(dir: &Path) -> Vec<ImportBody> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("batch-")
        })
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| serde_json::from_slice(&fs::read(p).unwrap()).unwrap())
        .collect()
}

fn write_sample(dir: &Path, name: &str, users: u64) {
    sample::write_file(
        &SampleSpec {
            users,
            bad_rows: 0,
            seed: 7,
            format: Format::from_path(Path::new(name)).unwrap(),
        },
        &dir.join(name),
    )
    .unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The lines of a JSON Lines file wrapped into a Firebase-style document.
fn firebase_document(lines: &[&str]) -> String {
    format!("{{\"users\": [\n{}\n]}}\n", lines.join(",\n"))
}

/// A Keycloak-style export directory of `lines`: `acme-realm.json` without
/// users, then `acme-users-<n>.json` of `per_file` users each (the second
/// one gzipped), in `dir`.
fn keycloak_export(dir: &Path, lines: &[&str], per_file: usize) {
    fs::create_dir_all(dir).unwrap();
    let realm = "{\n  \"realm\" : \"acme\",\n  \"clients\" : [ {\"id\": \"c\"} ]\n}\n";
    fs::write(dir.join("acme-realm.json"), realm).unwrap();
    for (n, chunk) in lines.chunks(per_file).enumerate() {
        let doc = format!(
            "{{\n  \"realm\" : \"acme\",\n  \"users\" : [ {} ]\n}}\n",
            chunk.join(", ")
        );
        if n == 1 {
            fs::write(
                dir.join(format!("acme-users-{n}.json.gz")),
                gzip(doc.as_bytes()),
            )
            .unwrap();
        } else {
            fs::write(dir.join(format!("acme-users-{n}.json")), doc).unwrap();
        }
    }
}

#[test]
fn a_stray_quote_in_row_100_of_20000_costs_that_row_alone() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 20_000);
    let text = fs::read_to_string(dir.join("users.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Line 101 is data row 100: open a quote in its second field, never closed.
    let (id, rest) = lines[100].split_once(',').unwrap();
    lines[100] = format!("{id},\"{rest}");
    fs::write(dir.join("users.csv"), lines.join("\n") + "\n").unwrap();

    let output = run_in(dir, &dry_run_args("users.csv", "out", &[]));
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("read 20000 rows: 19999 mapped, 1 rejected"),
        "{}",
        describe(&output)
    );
    let report: Value =
        serde_json::from_slice(&fs::read(dir.join("out/report.json")).unwrap()).unwrap();
    assert_eq!(
        (
            report["read"].as_u64(),
            report["mapped"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(20_000), Some(19_999), Some(1))
    );
    let rejects = fs::read_to_string(dir.join("out/rejects.jsonl")).unwrap();
    let rejects: Vec<Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["row"], 100);
    assert_eq!(rejects[0]["reason"], "unterminated quote");
    let users: usize = batches_of(&dir.join("out"))
        .iter()
        .map(|b| b.users.len())
        .sum();
    assert_eq!(users, 19_999);
}

#[test]
fn documents_gzip_directories_and_stdin_map_exactly_like_json_lines() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.jsonl", 1_000);
    let text = fs::read_to_string(dir.join("users.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let document = firebase_document(&lines);
    fs::write(dir.join("firebase.json"), &document).unwrap();
    fs::write(dir.join("firebase.json.gz"), gzip(document.as_bytes())).unwrap();
    // Auth0's export job: gzipped NDJSON named .json.
    fs::write(dir.join("auth0.json.gz"), gzip(text.as_bytes())).unwrap();
    keycloak_export(&dir.join("export"), &lines, 80);

    let run = |source: &str, out: &str| {
        let output = run_in(dir, &dry_run_args(source, out, &[]));
        assert_eq!(
            output.status.code(),
            Some(0),
            "{source}: {}",
            describe(&output)
        );
        batches_of(&dir.join(out))
    };
    let expected = run("users.jsonl", "jsonl");
    assert_eq!(expected.iter().map(|b| b.users.len()).sum::<usize>(), 1_000);
    for (source, out) in [
        ("firebase.json", "doc"),
        ("firebase.json.gz", "doc-gz"),
        ("auth0.json.gz", "auth0"),
        ("export", "dir"),
        ("export/", "dir-slash"),
    ] {
        assert!(run(source, out) == expected, "{source} maps differently");
    }

    // Standard input, gzipped, with its format named.
    let mut child = ferry()
        .current_dir(dir)
        .args(dry_run_args("-", "stdin", &["--format", "json"]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let gz = gzip(document.as_bytes());
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&gz));
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        batches_of(&dir.join("stdin")) == expected,
        "stdin maps differently"
    );
}

#[test]
fn sources_that_cannot_be_read_stop_the_run_with_a_clear_message() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::create_dir_all(dir.join("empty/sub")).unwrap();
    fs::write(dir.join("empty/notes.txt"), "x").unwrap();
    let output = run_in(dir, &dry_run_args("empty", "out", &[]));
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("holds no source file"),
        "{}",
        describe(&output)
    );

    // A document that ends inside its users array: the rows before it are
    // read, then the run fails naming the byte.
    fs::write(
        dir.join("cut.json"),
        "{\"users\": [\n{\"id\":\"u1\",\"email\":\"a@x.io\"},\n{\"id\":",
    )
    .unwrap();
    let output = run_in(dir, &dry_run_args("cut.json", "out2", &[]));
    assert_ne!(output.status.code(), Some(0), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ends inside a value at byte"),
        "{}",
        describe(&output)
    );
}

#[test]
fn an_interrupted_import_of_a_gzipped_document_or_a_directory_resumes_exactly() {
    let work = tempfile::tempdir().unwrap();
    let base = work.path();
    write_sample(base, "users.jsonl", 5_000);
    let text = fs::read_to_string(base.join("users.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, source) in ["users.json.gz", "export"].into_iter().enumerate() {
        let dir = base.join(format!("run{i}"));
        fs::create_dir(&dir).unwrap();
        match source {
            "export" => keycloak_export(&dir.join("export"), &lines, 450),
            _ => fs::write(dir.join(source), gzip(firebase_document(&lines).as_bytes())).unwrap(),
        }
        let expected = expected_dump(&dir, source, &[]);
        assert_eq!(expected.users.len(), 5_000);
        let target = Target::slow(&dir, 100, 200);
        let r = kill_and_resume(&dir, &target, source, Duration::from_millis(600), 0);
        assert_adds_up(&r);
        assert_eq!(
            (r["read"].as_u64(), r["resumed"].as_bool()),
            (Some(5_000), Some(true)),
            "{source}: {r}"
        );
        assert_same_dump(&target.dump(), &expected);
    }
}
