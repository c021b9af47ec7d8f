//! `ferry import` end to end: the real binary against `ferry serve` started
//! in-process on an ephemeral loopback port; what the target stored is read
//! back through the export and compared with what the dry run says the
//! source maps to.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use ferry::contract::ImportBody;
use ferry::send::client::{ClientConfig, TargetClient};
use ferry::server::{self, ClientSecret, FaultConfig, ServerConfig, ServerHandle};
use ferry::source::Format;
use ferry::tools::sample::{self, SampleSpec};
use serde_json::Value;

use crate::common::{describe, ferry, run_in, sorted};

pub const SECRET: &str = "import-test-secret";
pub const TENANT: &str = "acme";
pub const POOL: &str = "main";
const IMPORT_TIME: &str = "2026-11-01T12:00:00Z";

/// `ferry serve` in-process, on its own runtime, over a database in `dir`.
pub struct Target {
    runtime: tokio::runtime::Runtime,
    handle: Option<ServerHandle>,
    db: PathBuf,
}

impl Target {
    pub fn start(dir: &Path, faults: FaultConfig) -> Target {
        Target::start_on(dir.join("target.db"), faults)
    }

    fn start_on(db: PathBuf, faults: FaultConfig) -> Target {
        Target::start_with(db, |config| config.faults = faults)
    }

    /// A target over `db`, its configuration changed by `configure`.
    pub fn start_with(db: PathBuf, configure: impl FnOnce(&mut ServerConfig)) -> Target {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut config = ServerConfig::new(&db, ClientSecret::new(SECRET));
        config.tenant_id = TENANT.into();
        config.pool_id = POOL.into();
        configure(&mut config);
        let handle = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            server::spawn(config, listener).await.unwrap()
        });
        Target {
            runtime,
            handle: Some(handle),
            db,
        }
    }

    pub fn url(&self) -> String {
        self.handle
            .as_ref()
            .map(|h| h.base_url())
            .unwrap_or_default()
    }

    /// Runs `future` on the target's runtime (for tests that talk to it directly).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Everything the tenant holds, each array sorted by id.
    pub fn dump(&self) -> ImportBody {
        let base = url::Url::parse(&self.url()).unwrap();
        let secret = ferry::send::token::ClientSecret::new(SECRET);
        let client = TargetClient::new(ClientConfig::new(
            base,
            TENANT.to_string(),
            "ferry".to_string(),
            secret,
        ))
        .unwrap();
        sorted(self.runtime.block_on(client.export()).unwrap())
    }

    /// A target that answers every import after `min_ms..=max_ms` milliseconds.
    pub fn slow(dir: &Path, min_ms: u64, max_ms: u64) -> Target {
        let latency = ferry::server::LatencyRange {
            min: Duration::from_millis(min_ms),
            max: Duration::from_millis(max_ms),
        };
        Target::start(
            dir,
            FaultConfig {
                latency: Some(latency),
                ..FaultConfig::default()
            },
        )
    }

    /// The same database, a fresh server (faults off).
    pub fn restart_clean(mut self) -> Target {
        let db = self.db.clone();
        self.stop();
        Target::start_on(db, FaultConfig::default())
    }

    fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.shutdown());
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the source maps to, according to the dry run: all batch bodies merged.
pub fn expected_dump(dir: &Path, source: &str, extra: &[&str]) -> ImportBody {
    let out = dir.join("expected");
    let mut args = vec![
        "import",
        source,
        "--tenant",
        TENANT,
        "--pool",
        POOL,
        "--import-time",
        IMPORT_TIME,
        "--dry-run",
    ];
    let out_str = out.to_string_lossy().into_owned();
    args.push(&out_str);
    args.extend_from_slice(extra);
    let output = run_in(dir, &args);
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "{}",
        describe(&output)
    );
    let mut all = ImportBody::default();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names.iter().filter(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("batch-")
    }) {
        let body: ImportBody = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        all.users.extend(body.users);
        all.user_credentials.extend(body.user_credentials);
        all.user_identifiers.extend(body.user_identifiers);
        all.user_verifiable_addresses
            .extend(body.user_verifiable_addresses);
    }
    sorted(all)
}

fn import_args<'a>(target: &'a str, source: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    command_args("import", target, source, extra)
}

/// The arguments of `command` (`import`, `verify`) of `source` into `target`
/// with the tests' tenant, pool, import time and fast retries, then `extra`.
pub fn command_args<'a>(
    command: &'a str,
    target: &'a str,
    source: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        command,
        source,
        "--target",
        target,
        "--tenant",
        TENANT,
        "--pool",
        POOL,
        "--import-time",
        IMPORT_TIME,
        "--retry-base-ms",
        "5",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    // Fast, patient retries unless the test sets its own.
    for (flag, value) in [("--retry-cap-ms", "100"), ("--max-attempts", "30")] {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args
}

pub fn import(dir: &Path, target: &Target, source: &str, extra: &[&str]) -> Output {
    let url = target.url();
    let output = ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(import_args(&url, source, extra))
        .output();
    output.unwrap()
}

pub fn spawn_import(dir: &Path, target: &Target, source: &str, extra: &[&str]) -> Child {
    let url = target.url();
    ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(import_args(&url, source, extra))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn write_sample(dir: &Path, name: &str, users: u64, bad: u64) -> sample::SampleReport {
    let format = Format::from_path(Path::new(name)).unwrap();
    sample::write_file(
        &SampleSpec {
            users,
            bad_rows: bad,
            seed: 21,
            format,
        },
        &dir.join(name),
    )
    .unwrap()
}

pub fn report(dir: &Path, name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
}

/// The rows of a rejects file, in file order.
fn rejected_rows(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["row"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

pub fn assert_adds_up(report: &Value) {
    let n = |k: &str| {
        report[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {report}"))
    };
    assert_eq!(
        n("read"),
        n("imported") + n("updated") + n("kept") + n("skipped") + n("rejected"),
        "{report}"
    );
}

pub fn assert_same_dump(actual: &ImportBody, expected: &ImportBody) {
    assert_eq!(actual.users.len(), expected.users.len(), "users stored");
    assert_eq!(
        actual.user_credentials.len(),
        expected.user_credentials.len(),
        "credentials stored"
    );
    assert_eq!(
        actual.user_identifiers.len(),
        expected.user_identifiers.len(),
        "identifiers stored"
    );
    assert_eq!(
        actual.user_verifiable_addresses.len(),
        expected.user_verifiable_addresses.len(),
        "addresses stored"
    );
    assert!(
        actual == expected,
        "the stored dump differs from the mapping of the source"
    );
}

#[test]
fn twenty_thousand_users_are_stored_exactly_as_mapped() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 20_000, 0);
    let target = Target::start(dir, FaultConfig::default());
    let output = import(dir, &target, "users.csv", &["--report", "report.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let r = report(dir, "report.json");
    assert_eq!(
        (
            r["read"].as_u64(),
            r["imported"].as_u64(),
            r["rejected"].as_u64()
        ),
        (Some(20_000), Some(20_000), Some(0))
    );
    assert_eq!(r["batches"], 200);
    assert_eq!(r["complete"], true);
    assert_same_dump(&target.dump(), &expected_dump(dir, "users.csv", &[]));

    // Running the same command again sends nothing and says so.
    let again = import(dir, &target, "users.csv", &[]);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to do"),
        "{}",
        describe(&again)
    );

    // With --restart everything is sent again, and under ignore every user is skipped.
    let restart = import(
        dir,
        &target,
        "users.csv",
        &["--restart", "--report", "again.json"],
    );
    assert_eq!(restart.status.code(), Some(0), "{}", describe(&restart));
    let r = report(dir, "again.json");
    assert_eq!(
        (r["imported"].as_u64(), r["skipped"].as_u64()),
        (Some(0), Some(20_000)),
        "{r}"
    );
}

#[test]
fn a_faulty_target_ends_with_the_same_data_and_nothing_rejected() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.jsonl", 20_000, 0);
    let faults = FaultConfig {
        fail_rate: 0.2,
        throttle_rate: 0.1,
        drop_rate: 0.02,
        seed: Some(7),
        ..FaultConfig::default()
    };
    let target = Target::start(dir, faults);
    let output = import(dir, &target, "users.jsonl", &["--report", "report.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let r = report(dir, "report.json");
    assert_adds_up(&r);
    assert_eq!(r["rejected"], 0);
    assert_eq!(r["read"], 20_000);
    let retries: u64 = r["retries"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(
        retries > 0,
        "faults were injected, so requests were retried: {r}"
    );
    let target = target.restart_clean();
    assert_same_dump(&target.dump(), &expected_dump(dir, "users.jsonl", &[]));
}

#[test]
fn bad_rows_are_exactly_the_rejected_ones() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let sample = write_sample(dir, "users.csv", 1_000, 40);
    let target = Target::start(dir, FaultConfig::default());
    let output = import(
        dir,
        &target,
        "users.csv",
        &["--report", "report.json", "--rejects", "rejects.jsonl"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let r = report(dir, "report.json");
    assert_adds_up(&r);
    assert_eq!(
        (r["imported"].as_u64(), r["rejected"].as_u64()),
        (Some(1_000), Some(sample.bad.len() as u64))
    );
    let rows = rejected_rows(&dir.join("rejects.jsonl"));
    assert_eq!(rows, sample.bad.iter().map(|b| b.0).collect::<Vec<_>>());
    assert_same_dump(&target.dump(), &expected_dump(dir, "users.csv", &[]));
}

#[test]
fn one_user_the_target_refuses_does_not_cost_the_other_ninety_nine() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let target = Target::start(dir, FaultConfig::default());
    // Another user, imported first, owns taken@example.com.
    std::fs::write(dir.join("first.csv"), "id,email\nowner,taken@example.com\n").unwrap();
    let output = import(dir, &target, "first.csv", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let mut csv = String::from("id,email,given_name\n");
    for i in 1..=100 {
        let email = if i == 37 {
            "Taken@Example.com".to_string()
        } else {
            format!("user{i}@example.com")
        };
        csv.push_str(&format!("u{i},{email},User {i}\n"));
    }
    std::fs::write(dir.join("hundred.csv"), csv).unwrap();
    let output = import(
        dir,
        &target,
        "hundred.csv",
        &["--report", "report.json", "--rejects", "rejects.jsonl"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let r = report(dir, "report.json");
    assert_eq!(
        (
            r["imported"].as_u64(),
            r["rejected"].as_u64(),
            r["batches"].as_u64()
        ),
        (Some(99), Some(1), Some(1))
    );
    let reject: Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("rejects.jsonl"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(
        (
            reject["row"].as_u64(),
            reject["stage"].as_str(),
            reject["key"].as_str()
        ),
        (Some(37), Some("target"), Some("u37"))
    );
    assert!(
        reject["reason"].as_str().unwrap().contains("409"),
        "{reject}"
    );
    assert_eq!(reject["source"]["email"], "Taken@Example.com");
    assert_eq!(
        target.dump().users.len(),
        100,
        "the owner and the 99 good users"
    );
}

#[test]
fn a_restart_under_fail_finds_what_is_stored_exactly_as_sent_skipped_not_refused() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 300, 0);
    let target = Target::start(dir, FaultConfig::default());
    let first = import(dir, &target, "users.csv", &["--mode", "fail"]);
    assert_eq!(first.status.code(), Some(0), "{}", describe(&first));
    // As if the checkpoint were lost after a crash: everything is sent again.
    let again = import(
        dir,
        &target,
        "users.csv",
        &["--mode", "fail", "--restart", "--report", "again.json"],
    );
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    let r = report(dir, "again.json");
    // A new checkpoint is a new migration: the users were there before it.
    assert_eq!(
        (
            r["imported"].as_u64(),
            r["skipped"].as_u64(),
            r["rejected"].as_u64()
        ),
        (Some(0), Some(300), Some(0)),
        "{r}"
    );
}

#[test]
fn a_target_that_refuses_the_credentials_stops_the_run() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 50, 0);
    let target = Target::start(dir, FaultConfig::default());
    let url = target.url();
    let output = ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", "wrong-secret")
        .args(import_args(&url, "users.csv", &[]))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("wrong-secret"),
        "the secret never appears: {stderr}"
    );
    assert!(
        stderr.contains("401") || stderr.to_lowercase().contains("credential"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_target_stops_cleanly_with_the_checkpoint_saved() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 50, 0);
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let output = ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(import_args(
            &url,
            "users.csv",
            &["--max-attempts", "3", "--retry-cap-ms", "20"],
        ))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "it gives up by itself"
    );
    assert!(
        dir.join("users.csv.ferry-checkpoint").exists(),
        "{}",
        describe(&output)
    );
}

#[test]
fn a_changed_source_is_refused_unless_restarted() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 100, 0);
    let target = Target::start(dir, FaultConfig::default());
    let output = import(dir, &target, "users.csv", &["--batch-size", "10"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let changed = import(dir, &target, "users.csv", &["--batch-size", "20"]);
    assert_eq!(changed.status.code(), Some(2), "{}", describe(&changed));
    assert!(
        String::from_utf8_lossy(&changed.stderr).contains("batch_size"),
        "{}",
        describe(&changed)
    );
    write_sample(dir, "users.csv", 101, 0);
    let changed = import(dir, &target, "users.csv", &["--batch-size", "10"]);
    assert_eq!(changed.status.code(), Some(2), "{}", describe(&changed));
    let restarted = import(
        dir,
        &target,
        "users.csv",
        &["--batch-size", "10", "--restart"],
    );
    assert_eq!(restarted.status.code(), Some(0), "{}", describe(&restarted));
}

/// Kills `ferry import SOURCE` with SIGKILL after `after`, then runs it to
/// the end, which must exit with `code`; returns the final report.
pub fn kill_and_resume(
    dir: &Path,
    target: &Target,
    source: &str,
    after: Duration,
    code: i32,
) -> Value {
    let mut child = spawn_import(dir, target, source, &["--report", "report.json"]);
    std::thread::sleep(after);
    let _ = child.kill();
    let _ = child.wait();
    let output = import(dir, target, source, &["--report", "report.json"]);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{source}, resumed after a kill at {after:?}: {}",
        describe(&output)
    );
    report(dir, "report.json")
}

#[test]
fn kill_nine_at_any_moment_loses_and_duplicates_nobody() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 10_000, 20);
    let expected = expected_dump(dir, "users.csv", &[]);
    // A slow target (about 2 s for the run), so that kills land before the
    // first acknowledgement, mid-run, and near the end.
    for (i, after) in [0u64, 250, 700, 1300, 1900].into_iter().enumerate() {
        let run = dir.join(format!("run{i}"));
        std::fs::create_dir(&run).unwrap();
        std::fs::copy(dir.join("users.csv"), run.join("users.csv")).unwrap();
        let target = Target::slow(&run, 100, 200);
        // Exit 3: the rows rejected on purpose.
        let r = kill_and_resume(&run, &target, "users.csv", Duration::from_millis(after), 3);
        assert_adds_up(&r);
        assert_eq!(
            (r["read"].as_u64(), r["rejected"].as_u64()),
            (Some(10_020), Some(20)),
            "kill after {after} ms: {r}"
        );
        let rejects = std::fs::read_to_string(run.join("users.csv.rejects.jsonl")).unwrap();
        assert_eq!(
            rejects.lines().count(),
            20,
            "kill after {after} ms: each rejected row once"
        );
        assert_same_dump(&target.dump(), &expected);
    }
}

/// Every user stored on a fresh target was stored by this migration,
/// however often the run was killed: a batch resent after a crash finds its
/// users stored exactly as sent and counts them as imported, not skipped.
#[test]
fn after_three_kill_nines_on_a_fresh_target_every_user_is_imported_none_skipped() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 10_000, 20);
    let target = Target::slow(dir, 100, 200);
    let checkpoint = dir.join("users.csv.ferry-checkpoint");
    for kill in 0..3 {
        let mut child = spawn_import(dir, &target, "users.csv", &["--report", "report.json"]);
        // Wait until this run has acknowledged something new, then kill it mid-flight.
        let saved = std::fs::read(&checkpoint).ok();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read(&checkpoint).ok() == saved && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(150));
        let _ = child.kill();
        let _ = child.wait();
        assert!(checkpoint.exists(), "kill {kill}: a checkpoint was saved");
    }
    let output = import(dir, &target, "users.csv", &["--report", "report.json"]);
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let r = report(dir, "report.json");
    assert_adds_up(&r);
    assert_eq!(
        (
            r["read"].as_u64(),
            r["imported"].as_u64(),
            r["skipped"].as_u64(),
            r["rejected"].as_u64(),
            r["resumed"].as_bool()
        ),
        (Some(10_020), Some(10_000), Some(0), Some(20), Some(true)),
        "{r}"
    );
    assert_eq!(target.dump().users.len(), 10_000);
}

/// Two migrations of one source into one target at once (each with its
/// own checkpoint): each user is imported by exactly one of them and found
/// already there, unchanged, by the other.
#[test]
fn two_concurrent_migrations_import_each_user_once_between_them() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 3_000, 0);
    let target = Target::slow(dir, 5, 20);
    let run = |n: u32| {
        let (checkpoint, rejects, report) = (
            format!("run{n}.checkpoint"),
            format!("run{n}.rejects.jsonl"),
            format!("run{n}.json"),
        );
        let args = [
            "--checkpoint",
            checkpoint.as_str(),
            "--rejects",
            rejects.as_str(),
            "--report",
            report.as_str(),
        ];
        spawn_import(dir, &target, "users.csv", &args)
    };
    let (first, second) = (run(1), run(2));
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    }
    let (a, b) = (report(dir, "run1.json"), report(dir, "run2.json"));
    assert_adds_up(&a);
    assert_adds_up(&b);
    let sum = |k: &str| a[k].as_u64().unwrap() + b[k].as_u64().unwrap();
    assert_eq!(
        (sum("imported"), sum("skipped")),
        (3_000, 3_000),
        "{a}\n{b}"
    );
    assert_eq!(target.dump().users.len(), 3_000);
}

/// An import reports the source columns nothing maps, as the dry run does,
/// counted once per row over resumed runs (through the checkpoint).
#[test]
fn an_import_reports_the_columns_nothing_maps() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut csv = String::from("id,email,locale\n");
    for i in 0..300 {
        csv.push_str(&format!("u{i},u{i}@example.com,de-DE\n"));
    }
    std::fs::write(dir.join("users.csv"), csv).unwrap();
    let target = Target::slow(dir, 50, 100);
    let mut child = spawn_import(dir, &target, "users.csv", &["--batch-size", "10"]);
    let checkpoint = dir.join("users.csv.ferry-checkpoint");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !checkpoint.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    let output = import(
        dir,
        &target,
        "users.csv",
        &["--batch-size", "10", "--report", "report.json"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let r = report(dir, "report.json");
    assert_eq!(r["unmapped"], serde_json::json!({"locale": 300}), "{r}");
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("locale (300 rows)"), "{summary}");
}

/// A changed email replaces the old one (`update`), or is reported as a
/// change kept as stored (`ignore`); never does the user end up with both.
#[test]
fn a_changed_email_is_kept_as_stored_under_ignore_and_replaces_the_old_one_under_update() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let source = |second: &str| {
        let csv = format!(
            "id,email,given_name\nu1,one@example.com,One\nu2,{second},Two\nu3,three@example.com,Three\n"
        );
        std::fs::write(dir.join("users.csv"), csv).unwrap();
    };
    let emails_of_u2 = |target: &Target| -> (Vec<String>, Vec<String>) {
        let dump = target.dump();
        let two = dump
            .users
            .iter()
            .find(|u| u.payload.as_ref().unwrap()["given_name"] == "Two")
            .unwrap()
            .id;
        let identifiers = dump.user_identifiers.iter().filter(|i| i.user_id == two);
        let addresses = dump
            .user_verifiable_addresses
            .iter()
            .filter(|a| a.user_id == two);
        (
            identifiers.map(|i| i.identifier_lc.clone()).collect(),
            addresses.map(|a| a.address_lc.clone()).collect(),
        )
    };
    let target = Target::start(dir, FaultConfig::default());
    source("two@example.com");
    let first = import(dir, &target, "users.csv", &[]);
    assert_eq!(first.status.code(), Some(0), "{}", describe(&first));

    source("two.new@example.com");
    let kept = import(
        dir,
        &target,
        "users.csv",
        &["--restart", "--report", "kept.json"],
    );
    assert_eq!(kept.status.code(), Some(0), "{}", describe(&kept));
    let r = report(dir, "kept.json");
    assert_adds_up(&r);
    assert_eq!(
        (
            r["imported"].as_u64(),
            r["kept"].as_u64(),
            r["skipped"].as_u64()
        ),
        (Some(0), Some(1), Some(2)),
        "{r}"
    );
    let summary = String::from_utf8_lossy(&kept.stdout);
    assert!(
        summary.contains("1 changed at source, kept as stored (use --mode update)"),
        "{summary}"
    );
    let only_the_old = vec!["two@example.com".to_string()];
    assert_eq!(emails_of_u2(&target), (only_the_old.clone(), only_the_old));

    let updated = import(
        dir,
        &target,
        "users.csv",
        &["--restart", "--mode", "update", "--report", "updated.json"],
    );
    assert_eq!(updated.status.code(), Some(0), "{}", describe(&updated));
    let r = report(dir, "updated.json");
    assert_adds_up(&r);
    assert_eq!(
        (
            r["imported"].as_u64(),
            r["updated"].as_u64(),
            r["skipped"].as_u64()
        ),
        (Some(0), Some(1), Some(2)),
        "{r}"
    );
    let only_the_new = vec!["two.new@example.com".to_string()];
    assert_eq!(emails_of_u2(&target), (only_the_new.clone(), only_the_new));
    assert_eq!(target.dump().user_identifiers.len(), 3);
}

#[cfg(unix)]
#[test]
fn sigint_stops_with_130_and_the_run_resumes_to_the_same_end() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 10_000, 0);
    let expected = expected_dump(dir, "users.csv", &[]);
    // About 13 rounds of 8 requests at 200 ms: the signal lands mid-run.
    let target = Target::slow(dir, 200, 200);
    let child = spawn_import(dir, &target, "users.csv", &["--report", "report.json"]);
    // Wait for the first checkpoint save (some batches acknowledged), then interrupt.
    let checkpoint = dir.join("users.csv.ferry-checkpoint");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !checkpoint.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", describe(&output));
    let partial = report(dir, "report.json");
    assert_eq!(partial["complete"], false);
    assert_adds_up(&partial);
    let output = import(dir, &target, "users.csv", &["--report", "report.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let r = report(dir, "report.json");
    assert_eq!(
        (r["read"].as_u64(), r["resumed"].as_bool()),
        (Some(10_000), Some(true))
    );
    assert_adds_up(&r);
    assert_same_dump(&target.dump(), &expected);
}

#[test]
fn the_readme_first_command_imports_into_the_embedded_target() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::create_dir(dir.join("samples")).unwrap();
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    std::fs::copy(samples.join("users.csv"), dir.join("samples/users.csv")).unwrap();
    let output = run_in(dir, &["import", "samples/users.csv"]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "the sample has bad rows on purpose: {}",
        describe(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("imported") && stdout.contains("ferry-target.db"),
        "{stdout}"
    );
    assert!(dir.join("ferry-target.db").exists());
    let again = run_in(dir, &["import", "samples/users.csv"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to do"),
        "{}",
        describe(&again)
    );
}

/// A checkpoint written by ferry 0.1.0 (format version 1), whose run derived
/// identifier and address ids from their values, is refused before anything
/// is sent, with what to do: `tests/data/checkpoint-v1/` holds a 200-row
/// source, the checkpoint of a run interrupted after 7 of its 20 batches (71
/// rows, one rejected) and that run's rejects file. `--restart` then runs
/// the whole source.
#[test]
fn a_checkpoint_of_the_old_id_derivation_is_refused_and_restart_starts_over() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/checkpoint-v1");
    for name in [
        "users.csv",
        "users.csv.ferry-checkpoint",
        "users.csv.rejects.jsonl",
    ] {
        std::fs::copy(fixture.join(name), dir.join(name)).unwrap();
    }
    let before = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let (checkpoint, rejects) = (
        before("users.csv.ferry-checkpoint"),
        before("users.csv.rejects.jsonl"),
    );
    let args = [
        "import",
        "users.csv",
        "--batch-size",
        "10",
        "--import-time",
        "2026-01-01T00:00:00Z",
        "--quiet",
        "--report",
        "report.json",
    ];
    let output = run_in(dir, &args);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("derived identifier and address ids from their values")
            && stderr.contains("--restart"),
        "{stderr}"
    );
    assert_eq!(before("users.csv.ferry-checkpoint"), checkpoint);
    assert_eq!(before("users.csv.rejects.jsonl"), rejects);
    assert!(!dir.join("report.json").exists(), "nothing ran");

    let output = run_in(dir, &[&args[..], &["--restart"]].concat());
    assert_eq!(
        output.status.code(),
        Some(3),
        "two rows of the source are bad on purpose: {}",
        describe(&output)
    );
    let r = report(dir, "report.json");
    assert_adds_up(&r);
    assert_eq!(
        (
            r["read"].as_u64(),
            r["imported"].as_u64(),
            r["rejected"].as_u64(),
            r["resumed"].as_bool(),
            r["complete"].as_bool()
        ),
        (Some(200), Some(198), Some(2), Some(false), Some(true)),
        "{r}"
    );
    let rows = rejected_rows(&dir.join("users.csv.rejects.jsonl"));
    assert_eq!(rows, [58, 165], "each rejected row once, in order");
}

#[test]
fn a_plain_http_target_on_another_machine_is_refused_before_anything_is_sent() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(dir.join("users.csv"), "id,email\nu1,a@example.com\n").unwrap();
    // A documentation address (RFC 5737): nothing is ever sent to it.
    let output = ferry()
        .current_dir(dir)
        .env("FERRY_CLIENT_SECRET", SECRET)
        .args(["import", "users.csv", "--target", "http://192.0.2.10:8080"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("clear text") && stderr.contains("--allow-insecure-http"),
        "{stderr}"
    );
    assert!(!dir.join("users.csv.ferry-checkpoint").exists());
    assert!(!dir.join("users.csv.rejects.jsonl").exists());
}

#[cfg(unix)]
#[test]
fn an_output_path_on_the_source_is_refused_and_the_source_left_as_it_was() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 20, 0);
    let before = std::fs::read(dir.join("users.csv")).unwrap();
    let mode = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    };
    let mode_before = mode(&dir.join("users.csv"));
    let cases: [&[&str]; 5] = [
        &["--rejects", "./users.csv"],
        &["--checkpoint", "users.csv"],
        &["--report", "users.csv"],
        &["--rejects", "out.jsonl", "--report", "out.jsonl"],
        &["--dry-run", "users.csv"],
    ];
    for extra in cases {
        let mut args = vec!["import", "users.csv", "--quiet"];
        args.extend_from_slice(extra);
        let output = run_in(dir, &args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{extra:?}: {}",
            describe(&output)
        );
        assert_eq!(
            std::fs::read(dir.join("users.csv")).unwrap(),
            before,
            "{extra:?}"
        );
        assert_eq!(mode(&dir.join("users.csv")), mode_before, "{extra:?}");
        assert!(
            !dir.join("ferry-target.db").exists(),
            "{extra:?}: nothing started"
        );
    }
    // A source named like a dry run's own file, in the dry-run directory.
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::copy(dir.join("users.csv"), dir.join("out/report.json")).unwrap();
    let output = run_in(
        dir,
        &[
            "import",
            "out/report.json",
            "--format",
            "csv",
            "--dry-run",
            "out",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert_eq!(std::fs::read(dir.join("out/report.json")).unwrap(), before);
}

#[test]
fn a_second_run_on_the_same_checkpoint_is_refused_at_once_naming_the_first() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_sample(dir, "users.csv", 2_000, 0);
    // About 4 s of 200 ms requests one at a time: the first run is still going.
    let target = Target::slow(dir, 200, 200);
    let mut first = spawn_import(dir, &target, "users.csv", &["--concurrency", "1"]);
    let lock = dir.join("users.csv.ferry-checkpoint.lock");
    let pid = first.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&lock).map_or(true, |t| t.trim() != pid) {
        assert!(
            Instant::now() < deadline,
            "the first run never took its lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = import(dir, &target, "users.csv", &["--concurrency", "1"]);
    assert_eq!(second.status.code(), Some(2), "{}", describe(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains(&format!("process {pid}")), "{stderr}");
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run is still going"
    );
    let _ = first.kill();
    let _ = first.wait();
    // The lock went with the killed process: the same command resumes.
    let resumed = import(dir, &target, "users.csv", &["--report", "report.json"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", describe(&resumed));
    assert_eq!(report(dir, "report.json")["read"].as_u64(), Some(2_000));
}
