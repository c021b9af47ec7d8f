//! The acknowledging end of the chain: delivered batches in, in any order;
//! the checkpoint's watermark moved over the contiguous prefix; the rejects
//! of the batches it passes appended to the rejects file; the checkpoint
//! saved about once a second and on every exit path, the rejects file synced
//! before each save (the checkpoint vouches for its length).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::ImportError;
use crate::checkpoint::{AckTracker, BatchAck, Checkpoint, CheckpointWriter};
use crate::progress::Counters;
use crate::reject::{RejectsWriter, Stage};
use crate::report::{per_second, ImportReport, Latencies};
use crate::send::bisect::Delivered;
use crate::send::deliver::Effort;
use crate::send::retry::RetryCause;

/// How many batches one save of [`Acknowledger::reserve`] covers: a crash
/// may then leave up to this many batches marked as sent that never were,
/// whose users already at the target count as imported rather than skipped
/// on resume (they were there exactly as this migration would send them).
const RESERVE_AHEAD: u64 = 32;

/// Per-run request statistics.
#[derive(Debug, Default)]
pub(super) struct Stats {
    /// Requests sent.
    attempts: u64,
    /// Resent requests by cause.
    retries: BTreeMap<RetryCause, u64>,
    /// Latency of every answered request.
    latencies: Latencies,
}

impl Stats {
    fn add(&mut self, effort: &Effort) {
        self.attempts += u64::from(effort.attempts);
        for cause in &effort.retries {
            *self.retries.entry(*cause).or_default() += 1;
        }
        for latency in &effort.latencies {
            self.latencies.record(*latency);
        }
    }
}

/// What is written to disk: the checkpoint and the rejects file it vouches for.
struct Files {
    /// Saves the checkpoint; `None` when the run has none (standard input).
    writer: Option<CheckpointWriter>,
    /// The rejects file, cut back to the watermark when the run started.
    rejects: RejectsWriter,
}

/// Owns the run's checkpoint, rejects file and statistics.
pub(super) struct Acknowledger {
    /// The durable state, updated by every acknowledgement.
    checkpoint: Checkpoint,
    /// The files; taken while a save runs on the blocking pool.
    files: Option<Files>,
    /// Request statistics for the report.
    stats: Stats,
    /// Live counts for the progress display.
    counters: Arc<Counters>,
    /// Where the rejects file is, for the report (the file itself is in
    /// `files`, which a save may hold).
    rejects_path: PathBuf,
}

impl Acknowledger {
    /// Acknowledges into `checkpoint`, saving it with `writer` and appending
    /// rejects to `rejects`.
    pub(super) fn new(
        checkpoint: Checkpoint,
        writer: Option<CheckpointWriter>,
        rejects: RejectsWriter,
        counters: Arc<Counters>,
    ) -> Acknowledger {
        Acknowledger {
            checkpoint,
            rejects_path: rejects.path().to_path_buf(),
            files: Some(Files { writer, rejects }),
            stats: Stats::default(),
            counters,
        }
    }

    /// What is acknowledged so far.
    pub(super) fn progress(&self) -> &AckTracker {
        &self.checkpoint.progress
    }

    /// Counts the requests a batch took, when it arrives (acknowledged or
    /// not: a batch held back or never acknowledged still cost them).
    pub(super) fn count_requests(&mut self, efforts: &[Effort]) {
        for effort in efforts {
            self.stats.add(effort);
            Counters::add(&self.counters.retries, effort.retries.len() as u64);
        }
    }

    /// Before batch `number` is sent: makes sure the checkpoint on disk says
    /// this migration may have sent it, so that a run resuming after a crash
    /// knows the users it finds stored may be its own ([`AckTracker::sent_through`]).
    /// Saves once per [`RESERVE_AHEAD`] batches.
    pub(super) async fn reserve(&mut self, number: u64) -> Result<(), ImportError> {
        if number <= self.checkpoint.progress.sent_through() {
            return Ok(());
        }
        let through = number.saturating_add(RESERVE_AHEAD - 1);
        self.checkpoint.progress.reserve_through(through);
        self.save_now().await
    }

    /// Records one delivered batch; writes the rejects it releases; saves when due.
    pub(super) async fn acknowledge(&mut self, delivered: Delivered) -> Result<(), ImportError> {
        let files = self.files.as_mut().ok_or_else(files_lost)?;
        self.counters.add_counts(&delivered.counts);
        let mut rejects = String::new();
        for rejection in &delivered.rejects {
            if rejection.stage == Stage::Target {
                tracing::warn!(row = rejection.row, reason = %rejection.reason_for_log(), "Target refused a user.");
            } else if rejection.stage == Stage::Preflight {
                tracing::warn!(row = rejection.row, reason = %rejection.reason_for_log(), "The pool's schemas refuse a user; it was not sent.");
            }
            let line = rejection
                .to_line()
                .map_err(|e| files.rejects.io_error(e.into()))?;
            rejects.push_str(&line);
        }
        let ack = BatchAck {
            batch: delivered.number,
            end: delivered.end,
            counts: delivered.counts,
            rejects,
            unmapped: delivered.unmapped,
        };
        let released = self.checkpoint.progress.acknowledge(ack)?;
        for ack in released.iter().filter(|a| !a.rejects.is_empty()) {
            let appended = files.rejects.append(&ack.rejects);
            appended.map_err(|e| files.rejects.io_error(e))?;
        }
        self.save_if_due().await
    }

    /// Saves the checkpoint if the last save is about a second old.
    pub(super) async fn save_if_due(&mut self) -> Result<(), ImportError> {
        let due = self
            .files
            .as_ref()
            .is_some_and(|f| f.writer.as_ref().is_some_and(|w| w.due(Instant::now())));
        if due {
            self.save_now().await?;
        }
        Ok(())
    }

    /// Saves the checkpoint now, the rejects file synced first. The fsyncs
    /// run on the blocking pool, off the runtime's threads (so this works on
    /// any runtime, the tests' single-threaded one included).
    pub(super) async fn save_now(&mut self) -> Result<(), ImportError> {
        let mut files = self.files.take().ok_or_else(files_lost)?;
        let checkpoint = self.checkpoint.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let saved = save(&mut files, &checkpoint);
            (files, saved)
        })
        .await;
        let (files, saved) = saved.map_err(|e| ImportError::Save(e.to_string()))?;
        self.files = Some(files);
        saved
    }

    /// Marks the run complete (or not) and saves.
    pub(super) async fn finish(&mut self, complete: bool) -> Result<(), ImportError> {
        self.checkpoint.complete = complete;
        self.save_now().await
    }

    /// The report of the run so far: the checkpoint's totals, this run's
    /// statistics, `done_now` rows finished in `elapsed`, and the rejects file.
    pub(super) fn report(&self, elapsed: Duration, done_now: u64, resumed: bool) -> ImportReport {
        ImportReport {
            rejects: Some(self.rejects_path.clone()),
            ..report_of(&self.checkpoint, &self.stats, elapsed, done_now, resumed)
        }
    }
}

/// The error of a run whose files went with a save that did not come back.
fn files_lost() -> ImportError {
    ImportError::Save("an earlier save did not finish; the files are closed".into())
}

/// Syncs the rejects file, then saves the checkpoint that counts its length.
fn save(files: &mut Files, checkpoint: &Checkpoint) -> Result<(), ImportError> {
    let synced = files.rejects.sync();
    synced.map_err(|e| files.rejects.io_error(e))?;
    if let Some(writer) = &mut files.writer {
        writer.flush(checkpoint, Instant::now())?;
    }
    Ok(())
}

/// The report of a run: `checkpoint`'s totals, `stats` of this run.
pub(super) fn report_of(
    checkpoint: &Checkpoint,
    stats: &Stats,
    elapsed: Duration,
    done_now: u64,
    resumed: bool,
) -> ImportReport {
    let totals = checkpoint.progress.totals();
    let elapsed_s = elapsed.as_secs_f64();
    ImportReport {
        counts: totals.counts,
        batches: totals.batches,
        attempts: stats.attempts,
        retries: stats
            .retries
            .iter()
            .fold(BTreeMap::new(), |mut by_label, (cause, n)| {
                *by_label.entry(cause.label()).or_default() += n;
                by_label
            }),
        elapsed_s: (elapsed_s * 1000.0).round() / 1000.0,
        users_per_s: per_second(done_now, elapsed_s).round(),
        latency_p50_ms: stats.latencies.quantile_ms(0.5),
        latency_p99_ms: stats.latencies.quantile_ms(0.99),
        resumed,
        complete: checkpoint.complete,
        rejects: None,
        unmapped: totals.unmapped,
        join: None,
        note: None,
    }
}
