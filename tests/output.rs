//! What ferry prints: summaries that survive a closed standard output, a
//! sample written into a pipe whose reader left, logs without colour codes
//! off a terminal, source values that cannot drive the terminal, and the
//! summary line that says where the rejected rows are.

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{describe, ferry, run_in, samples};

/// Runs `ferry args` in `dir` with its standard output already closed by
/// its reader, as in `ferry … | head -0`.
fn run_into_closed_stdout(dir: &Path, args: &[&str]) -> Output {
    let mut child = ferry()
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

fn assert_no_panic(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{}", describe(output));
    assert_ne!(output.status.code(), Some(101), "{}", describe(output));
}

#[test]
fn summaries_into_a_closed_standard_output_do_not_panic() {
    let work = tempfile::tempdir().unwrap();
    let source = samples().join("users.csv");
    let source = source.to_str().unwrap();
    let output = run_into_closed_stdout(work.path(), &["import", source, "--dry-run", "out"]);
    assert_no_panic(&output);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));

    let output = run_into_closed_stdout(work.path(), &["sample", "--users", "5", "-o", "s.csv"]);
    assert_no_panic(&output);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn a_sample_into_a_pipe_whose_reader_left_ends_quietly() {
    let work = tempfile::tempdir().unwrap();
    let fifo = work.path().join("users.csv");
    let name = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: `name` is a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let child = ferry()
        .current_dir(work.path())
        .args(["sample", "--users", "100000", "-o", "users.csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `head -c 100`: read a little, then go away.
    let mut reader = fs::File::open(&fifo).unwrap();
    let mut start = [0u8; 100];
    reader.read_exact(&mut start).unwrap();
    assert!(start.starts_with(b"id,email"));
    drop(reader);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

/// A dry run of the README's sample: it rejects rows, so it logs warnings.
fn dry_run_of_the_sample(dir: &Path, configure: impl FnOnce(&mut Command)) -> Output {
    let source = samples().join("users.csv");
    let mut cmd = ferry();
    cmd.current_dir(dir)
        .arg("import")
        .arg(source)
        .args(["--dry-run", "out"]);
    configure(&mut cmd);
    cmd.output().unwrap()
}

#[test]
fn logs_into_a_pipe_carry_no_colour_codes() {
    let work = tempfile::tempdir().unwrap();
    let output = dry_run_of_the_sample(work.path(), |cmd| {
        cmd.env_remove("NO_COLOR");
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Row rejected."), "{}", describe(&output));
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
}

#[test]
fn control_characters_of_a_source_value_are_escaped_in_the_log_and_kept_in_the_rejects() {
    let work = tempfile::tempdir().unwrap();
    fs::write(
        work.path().join("evil.csv"),
        b"id,email\n1,ok@example.com\n2,\"a\x00b\x1b[2J\x07\r@\"\n",
    )
    .unwrap();
    let output = run_in(work.path(), &["import", "evil.csv", "--dry-run", "out"]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Row rejected."), "{}", describe(&output));
    for raw in ['\0', '\x1b', '\x07', '\r'] {
        assert!(!stderr.contains(raw), "{raw:?} in {stderr:?}");
    }
    assert!(stderr.contains(r"a\0b\u{1b}[2J\u{7}\r@"), "{stderr}");
    let rejects = fs::read_to_string(work.path().join("out/rejects.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(rejects.trim()).unwrap();
    assert_eq!(line["source"]["email"], "a\0b\x1b[2J\x07\r@");
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("a\0b\x1b[2J\x07\r@"),
        "{line}"
    );
}

#[test]
fn the_summary_says_where_the_rejected_rows_are() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    fs::copy(samples().join("users.csv"), dir.join("users.csv")).unwrap();
    let output = run_in(dir, &["import", "users.csv", "--dry-run", "out"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("12 rejected") && stdout.contains("out/rejects.jsonl"),
        "{}",
        describe(&output)
    );
    let output = run_in(dir, &["import", "users.csv", "--quiet"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("12 rejected") && stdout.contains("users.csv.rejects.jsonl"),
        "{}",
        describe(&output)
    );
    // Nothing rejected: nothing to point at.
    fs::write(dir.join("good.csv"), "id,email\n1,one@example.com\n").unwrap();
    let output = run_in(dir, &["import", "good.csv", "--dry-run", "good"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("rejects.jsonl"),
        "{}",
        describe(&output)
    );
}
