//! What ferry writes that may hold a password hash or a secret is private
//! to its owner even under the usual umask 022: files 0600, the directories
//! ferry creates for them 0700; and `ferry serve` warns about a database
//! other users can read.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ferry::tools::serve_child::ServeChild;

use crate::common::{describe, mode_of, run_in, samples, umask_022};

/// Asserts that every path is a file of mode 0600.
fn assert_private(paths: &[&Path]) {
    for path in paths {
        assert_eq!(
            format!("{:o}", mode_of(path)),
            "600",
            "{} is not private",
            path.display()
        );
    }
}

#[test]
fn the_dry_run_directory_and_every_file_in_it_are_private() {
    umask_022();
    let work = tempfile::tempdir().unwrap();
    let source = samples().join("users.csv");
    let source = source.to_str().unwrap();
    let output = run_in(work.path(), &["import", source, "--dry-run", "out/run"]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let out = work.path().join("out/run");
    assert_eq!(format!("{:o}", mode_of(&work.path().join("out"))), "700");
    assert_eq!(format!("{:o}", mode_of(&out)), "700");
    let files: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() > 10, "{files:?}");
    assert_private(&files.iter().map(|p| p.as_path()).collect::<Vec<_>>());
}

#[test]
fn an_import_into_the_embedded_target_leaves_only_private_files() {
    umask_022();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::copy(samples().join("users.csv"), dir.join("users.csv")).unwrap();
    let output = run_in(dir, &["import", "users.csv", "--quiet"]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    assert_private(&[
        &dir.join("users.csv.ferry-checkpoint"),
        &dir.join("users.csv.rejects.jsonl"),
        &dir.join("ferry-target.db"),
    ]);
    // SQLite gives its -wal and -shm files the database's mode; whichever are left are private.
    for name in ["ferry-target.db-wal", "ferry-target.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            assert_private(&[&path]);
        }
    }
}

#[test]
fn a_sample_and_its_plaintexts_are_private() {
    umask_022();
    let work = tempfile::tempdir().unwrap();
    let output = run_in(
        work.path(),
        &[
            "sample",
            "--users",
            "20",
            "-o",
            "s.csv",
            "--plaintext-out",
            "pw.jsonl",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_private(&[&work.path().join("s.csv"), &work.path().join("pw.jsonl")]);
}

/// Starts `ferry serve` over `db`, waits until it listens, kills it and
/// returns what it wrote on standard error.
fn serve_stderr(db: &Path) -> String {
    let mut serve = ServeChild::command(env!("CARGO_BIN_EXE_ferry"), db);
    serve
        .env_remove("FERRY_LOG")
        .env("FERRY_CLIENT_SECRET", "private-files-test")
        .stderr(Stdio::piped());
    let started = ServeChild::start(serve, Duration::from_secs(30)).unwrap();
    let mut child = started.into_child().unwrap();
    child.kill().unwrap();
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr).unwrap();
    }
    child.wait().unwrap();
    stderr
}

#[test]
fn serve_warns_about_a_database_other_users_can_read() {
    umask_022();
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("shared.db");
    fs::write(&db, b"").unwrap();
    assert_eq!(mode_of(&db), 0o644);
    let stderr = serve_stderr(&db);
    assert!(
        stderr.contains("chmod 600") && stderr.contains("644") && stderr.contains("shared.db"),
        "{stderr}"
    );
    // The warning does not change the file: it is the owner's to fix.
    assert_eq!(mode_of(&db), 0o644);

    fs::set_permissions(&db, fs::Permissions::from_mode(0o600)).unwrap();
    let stderr = serve_stderr(&db);
    assert!(!stderr.contains("chmod"), "{stderr}");
    // A database serve creates is private from the start.
    let fresh = work.path().join("fresh.db");
    let stderr = serve_stderr(&fresh);
    assert!(!stderr.contains("chmod"), "{stderr}");
    assert_private(&[&fresh]);
}
