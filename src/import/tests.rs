//! The import chain against the reference server started in-process on a
//! loopback port, through the library's API (no binary): acknowledgement in
//! source order, resume skipping what the checkpoint acknowledged, bisection
//! isolating a refused user, and the `fail`-mode read-back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use super::*;
use crate::checkpoint::{BatchAck, Checkpoint, SourceFingerprint};
use crate::config::ImportOptions;
use crate::contract::ImportMode;
use crate::import::DEFAULT_REFUSED_BATCHES_LIMIT;
use crate::report::Counts;
use crate::server::{self, FaultConfig, LatencyRange, ServerConfig, ServerHandle};
use crate::source::Input;

const SECRET: &str = "chain-test-secret";

/// A server over a database in a temporary directory, and the files of the runs.
struct Rig {
    dir: TempDir,
    server: ServerHandle,
}

impl Rig {
    async fn start(faults: FaultConfig) -> Rig {
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("secret"), SECRET).unwrap();
        let mut config = ServerConfig::new(
            dir.path().join("target.db"),
            crate::secret::ClientSecret::new(SECRET),
        );
        config.faults = faults;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = server::spawn(config, listener).await.unwrap();
        Rig { dir, server }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `rows` (id, email) as the CSV `name`.
    fn source(&self, name: &str, rows: &[(String, String)]) -> PathBuf {
        let mut csv = String::from("id,email\n");
        for (id, email) in rows {
            csv.push_str(&format!("{id},{email}\n"));
        }
        let path = self.path(name);
        std::fs::write(&path, csv).unwrap();
        path
    }

    /// The configuration of an import of `source` into this server.
    fn config(&self, source: &Path, set: impl FnOnce(&mut ImportOptions)) -> ImportConfig {
        let mut options = ImportOptions::new(Input::File(source.to_path_buf()));
        options.target = Some(url::Url::parse(&self.server.base_url()).unwrap());
        options.client_secret_file = Some(self.path("secret"));
        options.batch_size = 10;
        options.import_time = Some(time::macros::datetime!(2026-01-01 00:00:00 UTC));
        options.retry_base = Duration::from_millis(1);
        options.retry_cap = Duration::from_millis(5);
        set(&mut options);
        options.validate().unwrap()
    }

    async fn import(&self, config: &ImportConfig) -> Finished {
        let target = config.connect().await.unwrap();
        let finished = run(config, target.client(), Stop::new()).await.unwrap();
        assert!(target.shutdown().await.is_none(), "a remote target");
        finished
    }

    /// The emails of the users stored, sorted.
    async fn stored_emails(&self, config: &ImportConfig) -> Vec<String> {
        let target = config.connect().await.unwrap();
        let dump = target.client().export().await.unwrap();
        let mut emails: Vec<String> = dump
            .user_identifiers
            .iter()
            .map(|i| i.identifier.clone())
            .collect();
        emails.sort();
        emails
    }
}

/// `n` users `u1..un` with `ui@x.io`, and bad emails at the rows in `bad`.
fn users(n: u64, bad: &[u64]) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| {
            let email = if bad.contains(&i) {
                format!("not-an-email-{i}")
            } else {
                format!("u{i}@x.io")
            };
            (format!("u{i}"), email)
        })
        .collect()
}

fn rejected_rows(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["row"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn batches_finishing_out_of_order_are_acknowledged_in_source_order() {
    // Random latencies, 8 in flight: batches finish in any order.
    let rig = Rig::start(FaultConfig {
        latency: Some(LatencyRange {
            min: Duration::from_millis(1),
            max: Duration::from_millis(40),
        }),
        seed: Some(3),
        ..FaultConfig::default()
    })
    .await;
    let bad = [5, 37, 38, 121, 250, 299];
    let source = rig.source("users.csv", &users(300, &bad));
    let config = rig.config(&source, |_| {});
    let finished = rig.import(&config).await;
    assert!(matches!(finished.end, End::Complete), "{:?}", finished.end);
    let r = &finished.report;
    assert_eq!(
        (
            r.counts.read,
            r.counts.imported,
            r.counts.rejected,
            r.batches
        ),
        (300, 294, 6, 30)
    );
    // Each rejected row once, in source order, whatever order the batches finished in.
    assert_eq!(rejected_rows(&rig.path("users.csv.rejects.jsonl")), bad);
    let saved = Checkpoint::load(&rig.path("users.csv.ferry-checkpoint"))
        .unwrap()
        .unwrap();
    assert!(saved.complete);
    assert_eq!(saved.progress.watermark().next_batch, 31);
    assert_eq!(saved.progress.pending().count(), 0);
}

#[tokio::test]
async fn a_resumed_run_sends_only_what_its_checkpoint_did_not_acknowledge() {
    let rig = Rig::start(FaultConfig::default()).await;
    let source = rig.source("users.csv", &users(50, &[]));
    let config = rig.config(&source, |_| {});
    // The checkpoint of a run that stopped with batches 1, 2 and 4 (of 5) acknowledged.
    let time = config.body.import_time().for_run(None);
    let settings = config.body.run_settings(ImportMode::Ignore, time);
    let mut checkpoint = Checkpoint::new(
        SourceFingerprint::of_file(&source).unwrap(),
        settings,
        crate::batch::FIRST_BATCH,
        crate::source::Position::default(),
        0,
    );
    for batch in config.body.batches(time, None).unwrap() {
        let batch = batch.unwrap();
        if [1, 2, 4].contains(&batch.number) {
            let n = batch.users.len() as u64;
            let counts = Counts {
                read: n,
                imported: n,
                ..Counts::default()
            };
            let ack = BatchAck {
                batch: batch.number,
                end: batch.end,
                counts,
                rejects: String::new(),
                unmapped: Default::default(),
            };
            checkpoint.progress.acknowledge(ack).unwrap();
        }
    }
    checkpoint
        .save(&rig.path("users.csv.ferry-checkpoint"))
        .unwrap();

    let finished = rig.import(&config).await;
    assert!(matches!(finished.end, End::Complete), "{:?}", finished.end);
    let r = &finished.report;
    assert!(r.resumed);
    assert_eq!((r.counts.read, r.counts.imported, r.batches), (50, 50, 5));
    assert_eq!(r.attempts, 2, "batches 3 and 5 only");
    let mut expected: Vec<String> = (21..=30)
        .chain(41..=50)
        .map(|i| format!("u{i}@x.io"))
        .collect();
    expected.sort();
    assert_eq!(rig.stored_emails(&config).await, expected);
}

#[tokio::test]
async fn bisection_isolates_the_one_user_the_target_refuses() {
    let rig = Rig::start(FaultConfig::default()).await;
    // Another user, stored first, owns taken@x.io.
    let first = rig.source("first.csv", &[("owner".into(), "taken@x.io".into())]);
    rig.import(&rig.config(&first, |_| {})).await;

    let mut rows = users(100, &[]);
    rows[36].1 = "taken@x.io".into();
    let source = rig.source("users.csv", &rows);
    let config = rig.config(&source, |o| o.batch_size = 100);
    let finished = rig.import(&config).await;
    let r = &finished.report;
    assert_eq!((r.counts.imported, r.counts.rejected), (99, 1));
    // Halving 100 users down to one: at most two requests per level.
    assert!(r.attempts <= 1 + 2 * 7, "{} requests", r.attempts);
    assert_eq!(rejected_rows(&rig.path("users.csv.rejects.jsonl")), [37]);
    assert_eq!(
        rig.stored_emails(&config).await.len(),
        100,
        "the owner and 99"
    );
}

#[tokio::test]
async fn under_fail_what_is_stored_exactly_as_sent_is_read_back_not_refused() {
    let rig = Rig::start(FaultConfig::default()).await;
    let source = rig.source("users.csv", &users(20, &[]));
    let fail = |o: &mut ImportOptions| o.mode = ImportMode::Fail;
    rig.import(&rig.config(&source, fail)).await;
    // The checkpoint lost: everything is sent again, and refused with 409.
    let again = rig.config(&source, |o| {
        o.mode = ImportMode::Fail;
        o.restart = true;
    });
    let r = rig.import(&again).await.report;
    // A new checkpoint is a new migration: the users were there before it.
    assert_eq!(
        (r.counts.imported, r.counts.skipped, r.counts.rejected),
        (0, 20, 0),
        "{r:?}"
    );
    assert!(r.attempts > 2, "the batches were refused and bisected");

    // A user whose stored records differ is a conflict, not this migration's write.
    let mut changed = users(20, &[]);
    changed[4].1 = "other5@x.io".into();
    let source = rig.source("changed.csv", &changed);
    let r = rig
        .import(&rig.config(&source, |o| o.mode = ImportMode::Fail))
        .await
        .report;
    assert_eq!((r.counts.skipped, r.counts.rejected), (19, 1), "{r:?}");
}

/// An import of 30 users (3 batches) into a scripted target answering every `PUT` with `reply`.
async fn against_scripted(reply: crate::send::testing::Reply) -> (Rig, Finished) {
    use crate::send::testing::{Script, ScriptedTarget};
    let target = ScriptedTarget::start(Script {
        secret: SECRET.into(),
        ..Script::replies(vec![reply; 200])
    })
    .await;
    let rig = Rig::start(FaultConfig::default()).await;
    let source = rig.source("users.csv", &users(30, &[]));
    let config = rig.config(&source, |o| {
        o.target = Some(target.base());
        o.concurrency = 1;
    });
    let finished = rig.import(&config).await;
    (rig, finished)
}

#[tokio::test]
async fn a_success_that_is_not_the_contracts_204_stores_nothing_and_stops_the_run() {
    let page = "<html><body>Sign in to the corporate proxy</body></html>";
    let reply = crate::send::testing::Reply::status(200).text(page);
    let (rig, finished) = against_scripted(reply).await;
    assert_eq!(finished.outcome(), Outcome::Stopped);
    let End::Stopped(stopped) = &finished.end else {
        panic!("{:?}", finished.end)
    };
    let message = stopped.to_string();
    for part in [
        "HTTP 200",
        "text/html",
        "Sign in to the corporate proxy",
        "204",
    ] {
        assert!(message.contains(part), "{part} in {message}");
    }
    let r = &finished.report;
    assert_eq!(
        (r.counts.imported, r.counts.rejected, r.complete),
        (0, 0, false)
    );
    let saved = Checkpoint::load(&rig.path("users.csv.ferry-checkpoint"))
        .unwrap()
        .unwrap();
    assert!(!saved.complete);
    assert_eq!(saved.progress.totals().batches, 0, "nothing acknowledged");
}

#[tokio::test]
async fn a_target_refusing_every_user_for_one_reason_stops_the_run_without_rejecting_them() {
    let reply = crate::send::testing::Reply::error(
        400,
        "invalid_record",
        "the pool's payload schema requires 'department'",
    );
    let (rig, finished) = against_scripted(reply).await;
    assert_eq!(finished.outcome(), Outcome::Stopped);
    let End::Stopped(Stopped::Refused { batches, reason }) = &finished.end else {
        panic!("{:?}", finished.end)
    };
    assert_eq!(*batches, DEFAULT_REFUSED_BATCHES_LIMIT);
    assert!(reason.contains("requires 'department'"), "{reason}");
    let r = &finished.report;
    assert_eq!((r.counts.rejected, r.batches, r.complete), (0, 0, false));
    // Three batches of ten bisected to single users: 3 × 19 requests, not one per user of the source.
    assert_eq!(r.attempts, 3 * 19);
    let rejects = std::fs::read_to_string(rig.path("users.csv.rejects.jsonl")).unwrap();
    assert!(rejects.is_empty(), "nothing rejected: {rejects}");

    // The cause fixed (a target that takes them), the same command imports everyone.
    let source = rig.path("users.csv");
    let r = rig.import(&rig.config(&source, |_| {})).await.report;
    assert_eq!(
        (r.counts.imported, r.counts.rejected, r.complete),
        (30, 0, true)
    );
    assert!(r.resumed);
}

#[tokio::test]
async fn whole_batches_refused_under_the_limit_are_ordinary_rejections() {
    let rig = Rig::start(FaultConfig::default()).await;
    // Two owners take the emails of users 1-10 and 11-20 of the next source.
    let owners: Vec<(String, String)> = (1..=20)
        .map(|i| (format!("owner{i}"), format!("u{i}@x.io")))
        .collect();
    let first = rig.source("owners.csv", &owners);
    rig.import(&rig.config(&first, |_| {})).await;
    let source = rig.source("users.csv", &users(20, &[]));
    let finished = rig.import(&rig.config(&source, |_| {})).await;
    // Each refusal names its own identifier: not one common reason, and the source ends anyway.
    assert!(matches!(finished.end, End::Complete), "{:?}", finished.end);
    assert_eq!(finished.report.counts.rejected, 20);
    assert_eq!(
        rejected_rows(&rig.path("users.csv.rejects.jsonl")).len(),
        20
    );
}
