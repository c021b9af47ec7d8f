//! The import: the whole pipeline as one chain.
//!
//! ```text
//! reader thread: source → map → batch ──(bounded channel)──▶
//!   senders (≤ concurrency in flight): rate → gate → PUT → retry / bisect
//!     ──▶ acknowledge (any order) → watermark (in order) → rejects file, checkpoint
//! ```
//!
//! Reading and mapping run on their own thread ahead of the senders, through
//! a channel of a few batches, so memory stays flat and a fast target never
//! waits on the parser. Senders finish out of order; the [`AckTracker`]
//! moves the checkpoint's watermark over the contiguous acknowledged prefix
//! only, and each batch's rejected rows reach the rejects file when the
//! watermark passes it. So at every moment the checkpoint on disk describes
//! a state the source, the target and the rejects file all agree with, and a
//! resumed run (same command again) re-reads from the watermark and resends
//! at most the batches that were in flight: harmless, because every id is
//! deterministic and the default mode is `ignore`.
//!
//! A batch the target refuses (400, 413, 422, or 409) is bisected until the
//! refused users are isolated; they go to the rejects file with the target's
//! reason and the rest are stored. Under `mode=fail`, a single user refused
//! with 409 whose stored records equal the ones sent (this migration stored
//! them before a crash) counts as imported.
//!
//! Checkpoint batch numbers are 0-based indexes, ferry's batches are numbered
//! from 1: [`ack_index`] converts, in this one place.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::batch::{encode, Batch};
use crate::checkpoint::{
    resume_rejects_file, BatchAck, Checkpoint, CheckpointError, CheckpointWriter, Counts, Mismatch,
    Settings, SourceFingerprint,
};
use crate::contract::{ImportBody, ImportMode};
use crate::error::Error;
use crate::mapping::MappedUser;
use crate::pipeline::BodySettings;
use crate::progress::{Counters, Progress, ProgressMode};
use crate::reject::{Rejection, Stage};
use crate::report::{per_second, ImportReport, Latencies};
use crate::send::backoff::{seeded_rng, Backoff};
use crate::send::client::{PutResponse, TargetClient};
use crate::send::deliver::{Delivery, Sender, StopReason, Verdict};
use crate::send::gate::ThrottleGate;
use crate::send::rate::UserRate;
use crate::source::{Input, Position, SourceError};

/// Everything an import needs besides the target client; validated once.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// What shapes the request bodies (source, mapping, tenant, pool, import time, batch size).
    pub body: BodySettings,
    /// Whether the import time was given (`--import-time`); if not, a resumed
    /// run takes the checkpoint's, so that it sends the same bytes.
    pub import_time_pinned: bool,
    /// `ignore`, `fail` or `update`.
    pub mode: ImportMode,
    /// Requests in flight.
    pub concurrency: usize,
    /// Users per second, if limited.
    pub rate: Option<NonZeroU32>,
    /// Backoff and attempt limit per request.
    pub backoff: Backoff,
    /// Checkpoint file; `None` for standard input, which cannot be resumed.
    pub checkpoint: Option<PathBuf>,
    /// Rejects file.
    pub rejects: PathBuf,
    /// Start again from the beginning, ignoring (and replacing) the checkpoint.
    pub restart: bool,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// How long in-flight requests may finish after a stop signal.
    pub grace: Duration,
    /// Seed of the backoff jitter, for reproducible runs.
    pub seed: Option<u64>,
}

impl ImportConfig {
    /// A configuration with ferry's defaults for everything but the body settings.
    pub fn new(body: BodySettings, import_time_pinned: bool) -> ImportConfig {
        let (checkpoint, rejects) = default_paths(&body.input);
        ImportConfig {
            body,
            import_time_pinned,
            mode: ImportMode::Ignore,
            concurrency: 8,
            rate: None,
            backoff: Backoff::default(),
            checkpoint,
            rejects,
            restart: false,
            progress: ProgressMode::Quiet,
            grace: Duration::from_secs(10),
            seed: None,
        }
    }
}

/// `SOURCE.ferry-checkpoint` and `SOURCE.rejects.jsonl` next to a file source;
/// for standard input no checkpoint and `ferry-stdin.rejects.jsonl` here.
pub fn default_paths(input: &Input) -> (Option<PathBuf>, PathBuf) {
    match input {
        Input::File(path) => {
            let with = |suffix: &str| {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                PathBuf::from(name)
            };
            (Some(with(".ferry-checkpoint")), with(".rejects.jsonl"))
        }
        Input::Stdin => (None, PathBuf::from("ferry-stdin.rejects.jsonl")),
    }
}

/// How a run ended, besides its report.
#[derive(Debug)]
pub enum End {
    /// Every row is accounted for.
    Complete,
    /// A checkpoint said the run was already complete; nothing was sent.
    AlreadyComplete,
    /// Stopped by a signal; the checkpoint is saved.
    Interrupted,
    /// The target (or the source) stopped the run; the checkpoint is saved.
    Stopped(String),
}

/// A finished (or stopped) run.
#[derive(Debug)]
pub struct Finished {
    pub report: ImportReport,
    pub end: End,
}

/// What prevents an import from starting or going on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error(transparent)]
    Setup(#[from] Error),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the checkpoint {path} was written for a different run: {mismatch}; run with --restart to start over, or restore the original source and flags")]
    Mismatch { path: PathBuf, mismatch: Mismatch },
    #[error("batch acknowledgement: {0}")]
    Ack(#[from] crate::checkpoint::AckError),
    #[error("cannot write the rejects file {path}: {source}")]
    Rejects {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ImportError {
    /// Whether the user's input or flags are at fault (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            ImportError::Setup(e) => e.is_usage(),
            ImportError::Mismatch { .. } => true,
            _ => false,
        }
    }
}

/// Checkpoint index of a batch number.
fn ack_index(batch_number: u64) -> u64 {
    batch_number - 1
}

/// The settings a checkpoint records: everything that shapes request bodies.
fn settings_of(config: &ImportConfig) -> Result<Settings, Error> {
    let body = &config.body;
    let import_time = body
        .target
        .import_time
        .format(&Rfc3339)
        .map_err(|e| Error::Usage(e.to_string()))?;
    Ok(Settings::new()
        .with("format", format!("{:?}", body.format))
        .with("tenant", &body.target.tenant)
        .with("pool", &body.target.pool)
        .with("batch_size", body.batch_size)
        .with("mapping", format!("{:?}", body.mapping))
        .with("mode", config.mode)
        .with("import_time", import_time))
}

/// The stop signals of a run: the first asks to stop reading and finish what
/// is in flight (within the grace period).
#[derive(Debug, Clone, Default)]
pub struct Stop {
    token: CancellationToken,
}

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Asks the run to stop.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    fn requested(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// Per-run request statistics.
#[derive(Debug, Default)]
struct Stats {
    attempts: u64,
    retries: std::collections::BTreeMap<String, u64>,
    latencies: Latencies,
}

impl Stats {
    fn add(&mut self, delivery: &Delivery, counters: &Counters) {
        self.attempts += u64::from(delivery.attempts);
        for cause in &delivery.retries {
            *self.retries.entry(cause.label()).or_default() += 1;
        }
        Counters::add(&counters.retries, delivery.retries.len() as u64);
        for latency in &delivery.latencies {
            self.latencies.record(*latency);
        }
    }
}

/// What is shared by every batch's delivery.
struct Shared {
    /// Where the users of a delivered batch go to be freed (see [`free_spent`]).
    spent: std::sync::mpsc::Sender<Vec<MappedUser>>,
    client: Arc<TargetClient>,
    gate: Arc<ThrottleGate>,
    rate: Option<Arc<UserRate>>,
    backoff: Backoff,
    mode: ImportMode,
    seed: Option<u64>,
}

/// One batch, delivered: how its rows ended.
struct Delivered {
    number: u64,
    end: Position,
    counts: Counts,
    rejects: Vec<Rejection>,
    deliveries: Vec<Delivery>,
}

/// Runs an import against `client`. Returns when every row is accounted for,
/// when `stop` fires (after the grace period at most), or when the target
/// stops the run; the checkpoint is saved on every one of these paths.
pub async fn run(
    config: ImportConfig,
    client: Arc<TargetClient>,
    stop: Stop,
) -> Result<Finished, ImportError> {
    let started = Instant::now();
    let mut config = config;
    let (checkpoint, resumed) = open_checkpoint(&mut config)?;
    if checkpoint.complete {
        let report = report_of(&checkpoint, &Stats::default(), started.elapsed(), 0, true);
        return Ok(Finished {
            report,
            end: End::AlreadyComplete,
        });
    }
    let mark = checkpoint.progress.watermark().clone();
    let resume = (mark.next_batch > 0).then(|| (mark.next_start, mark.next_batch + 1));
    let batches = config.body.batches(resume)?;
    // A new run starts the rejects file empty; a resumed one cuts it back to
    // what the checkpoint vouches for.
    let rejects_len = if resumed { mark.rejects_len } else { 0 };
    let rejects_file = resume_rejects_file(&config.rejects, rejects_len)?;

    let counters = Arc::new(Counters::default());
    let totals = checkpoint.progress.totals().counts;
    Counters::add(&counters.read, totals.read);
    Counters::add(&counters.imported, totals.imported);
    Counters::add(&counters.skipped, totals.skipped);
    Counters::add(&counters.rejected, totals.rejected);
    let base = totals.imported + totals.skipped + totals.rejected;
    let total_bytes = config
        .body
        .source_path()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len());
    let progress = Progress::start(config.progress, counters.clone(), total_bytes, base);

    // Reader thread: source → map → batch, a few batches ahead of the senders.
    let (tx, rx) = mpsc::channel::<Result<Batch, SourceError>>(config.concurrency.max(1) * 2);
    let (spent, spent_users) = std::sync::mpsc::channel::<Vec<MappedUser>>();
    let reader_stop = stop.clone();
    let reader_counters = counters.clone();
    let reader = std::thread::Builder::new()
        .name("ferry-reader".into())
        .spawn(move || {
            for item in batches {
                if reader_stop.requested() {
                    break;
                }
                if let Ok(batch) = &item {
                    Counters::set(&reader_counters.bytes, batch.end.offset);
                }
                if tx.blocking_send(item).is_err() {
                    break;
                }
                free_spent(&spent_users);
            }
        })
        .map_err(|e| Error::Output {
            path: PathBuf::from("(reader thread)"),
            source: e,
        })?;

    let shared = Arc::new(Shared {
        spent,
        gate: Arc::new(ThrottleGate::new(config.backoff)),
        rate: config.rate.map(|r| Arc::new(UserRate::per_second(r))),
        backoff: config.backoff,
        mode: config.mode,
        seed: config.seed,
        client,
    });
    let mut acks = Acknowledger {
        checkpoint,
        writer: config.checkpoint.clone().map(CheckpointWriter::new),
        rejects: rejects_file,
        rejects_path: config.rejects.clone(),
        stats: Stats::default(),
        counters: counters.clone(),
    };
    let end = acks.drive(rx, shared, &config, &stop).await;
    drop(progress);
    let _ = reader.join();
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            if let Err(save) = acks.save_now() {
                tracing::error!(error = %save, "Cannot save the checkpoint.");
            }
            return Err(e);
        }
    };
    acks.checkpoint.complete = matches!(end, End::Complete);
    acks.save_now()?;
    let elapsed = started.elapsed();
    let done_now = counters_done(&counters).saturating_sub(base);
    let report = report_of(&acks.checkpoint, &acks.stats, elapsed, done_now, resumed);
    Ok(Finished { report, end })
}

/// Frees the users of delivered batches, on the reader thread that
/// allocated them. A user is a few dozen small allocations (records,
/// strings, JSON maps, the source fields); glibc returns a block freed by
/// another thread to its owner's arena under that arena's lock, and the
/// senders dropping them cost about a fifth of the client's CPU (measured:
/// 2.5 against 2.0 CPU s for 200,000 users into a server that stores
/// nothing).
fn free_spent(spent: &std::sync::mpsc::Receiver<Vec<MappedUser>>) {
    while let Ok(users) = spent.try_recv() {
        drop(users);
    }
}

fn counters_done(c: &Counters) -> u64 {
    use std::sync::atomic::Ordering::Relaxed;
    c.imported.load(Relaxed) + c.skipped.load(Relaxed) + c.rejected.load(Relaxed)
}

fn report_of(
    checkpoint: &Checkpoint,
    stats: &Stats,
    elapsed: Duration,
    done_now: u64,
    resumed: bool,
) -> ImportReport {
    let totals = checkpoint.progress.totals();
    let elapsed_s = elapsed.as_secs_f64();
    ImportReport {
        read: totals.counts.read,
        imported: totals.counts.imported,
        skipped: totals.counts.skipped,
        rejected: totals.counts.rejected,
        unverifiable_hash: totals.counts.unverifiable_hash,
        batches: totals.batches,
        attempts: stats.attempts,
        retries: stats.retries.clone(),
        elapsed_s: (elapsed_s * 1000.0).round() / 1000.0,
        users_per_s: per_second(done_now, elapsed_s).round(),
        latency_p50_ms: stats.latencies.quantile_ms(0.5),
        latency_p99_ms: stats.latencies.quantile_ms(0.99),
        resumed,
        complete: checkpoint.complete,
    }
}

/// Loads the checkpoint (or starts a new one) and checks it fits this run.
/// Returns it and whether the run resumes.
fn open_checkpoint(config: &mut ImportConfig) -> Result<(Checkpoint, bool), ImportError> {
    let fingerprint = match config.body.source_path() {
        Some(path) => SourceFingerprint::of_file(path)?,
        None => SourceFingerprint {
            size: 0,
            modified: None,
            head_sha256: String::new(),
        },
    };
    let existing = match &config.checkpoint {
        Some(path) if !config.restart => Checkpoint::load(path)?,
        _ => None,
    };
    if let (Some(found), Some(path)) = (existing, &config.checkpoint) {
        if !config.import_time_pinned {
            if let Some(time) = found
                .settings
                .get("import_time")
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            {
                config.body.target.import_time = time;
            }
        }
        let settings = settings_of(config)?;
        found
            .compare(&fingerprint, &settings)
            .map_err(|mismatch| ImportError::Mismatch {
                path: path.clone(),
                mismatch,
            })?;
        tracing::info!(path = %path.display(), next_batch = found.progress.watermark().next_batch, "Resuming from the checkpoint.");
        return Ok((found, true));
    }
    let settings = settings_of(config)?;
    Ok((
        Checkpoint::new(fingerprint, settings, Position::default(), 0),
        false,
    ))
}

/// The acknowledging end of the chain: owns the checkpoint and the rejects file.
struct Acknowledger {
    checkpoint: Checkpoint,
    writer: Option<CheckpointWriter>,
    rejects: std::fs::File,
    rejects_path: PathBuf,
    stats: Stats,
    counters: Arc<Counters>,
}

impl Acknowledger {
    /// Sends batches with bounded concurrency and acknowledges them as they finish.
    async fn drive(
        &mut self,
        rx: mpsc::Receiver<Result<Batch, SourceError>>,
        shared: Arc<Shared>,
        config: &ImportConfig,
        stop: &Stop,
    ) -> Result<End, ImportError> {
        let acked = self.checkpoint.progress.clone();
        let batches = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let deliveries = batches
            .filter_map(move |item| {
                // A resumed run re-reads batches acknowledged above the watermark: skip them.
                let skip =
                    matches!(&item, Ok(batch) if acked.is_acknowledged(ack_index(batch.number)));
                async move { (!skip).then_some(item) }
            })
            .map(|item| {
                let shared = shared.clone();
                async move {
                    match item {
                        Ok(batch) => deliver_batch(shared, batch).await,
                        Err(e) => Err(e.to_string()),
                    }
                }
            })
            .buffer_unordered(config.concurrency.max(1));
        let mut deliveries = std::pin::pin!(deliveries);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut grace_until: Option<tokio::time::Instant> = None;
        loop {
            let deadline = grace_until
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
            tokio::select! {
                next = deliveries.next() => match next {
                    None => return Ok(if stop.requested() { End::Interrupted } else { End::Complete }),
                    Some(Ok(delivered)) => self.acknowledge(delivered)?,
                    Some(Err(reason)) => {
                        stop.trigger();
                        tracing::error!(reason = %reason, "Run stopped; the checkpoint keeps what was acknowledged.");
                        return Ok(End::Stopped(reason));
                    }
                },
                _ = stop.token.cancelled(), if grace_until.is_none() => {
                    tracing::warn!(grace_s = config.grace.as_secs(), "Stopping: no new batches; waiting for requests in flight.");
                    grace_until = Some(tokio::time::Instant::now() + config.grace);
                }
                _ = tokio::time::sleep_until(deadline), if grace_until.is_some() => {
                    tracing::warn!("Grace period over; requests still in flight will be resent on resume.");
                    return Ok(End::Interrupted);
                }
                _ = tick.tick() => self.save_if_due()?,
            }
        }
    }

    /// Records one delivered batch; writes released rejects; saves when due.
    fn acknowledge(&mut self, delivered: Delivered) -> Result<(), ImportError> {
        for delivery in &delivered.deliveries {
            self.stats.add(delivery, &self.counters);
        }
        let c = &self.counters;
        Counters::add(&c.read, delivered.counts.read);
        Counters::add(&c.imported, delivered.counts.imported);
        Counters::add(&c.skipped, delivered.counts.skipped);
        Counters::add(&c.rejected, delivered.counts.rejected);
        let mut rejects = String::new();
        for rejection in &delivered.rejects {
            if rejection.stage == Stage::Target {
                tracing::warn!(row = rejection.row, reason = %rejection.reason, "Target refused a user.");
            }
            let line = serde_json::to_string(rejection).map_err(|e| ImportError::Rejects {
                path: self.rejects_path.clone(),
                source: e.into(),
            })?;
            rejects.push_str(&line);
            rejects.push('\n');
        }
        let ack = BatchAck {
            batch: ack_index(delivered.number),
            end: delivered.end,
            counts: delivered.counts,
            rejects,
        };
        let released = self.checkpoint.progress.acknowledge(ack)?;
        self.write_rejects(&released)?;
        self.save_if_due()
    }

    fn write_rejects(&mut self, released: &[BatchAck]) -> Result<(), ImportError> {
        use std::io::Write;
        for ack in released.iter().filter(|a| !a.rejects.is_empty()) {
            self.rejects
                .write_all(ack.rejects.as_bytes())
                .map_err(|source| ImportError::Rejects {
                    path: self.rejects_path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    fn sync_rejects(&mut self) -> Result<(), ImportError> {
        self.rejects
            .sync_data()
            .map_err(|source| ImportError::Rejects {
                path: self.rejects_path.clone(),
                source,
            })
    }

    /// Saves the checkpoint if the last save is about a second old; the
    /// rejects file it vouches for is synced first.
    fn save_if_due(&mut self) -> Result<(), ImportError> {
        let now = Instant::now();
        if self.writer.as_ref().is_some_and(|w| w.due(now)) {
            self.save_now()?;
        }
        Ok(())
    }

    /// Saves the checkpoint now (exit paths), the rejects file synced first.
    fn save_now(&mut self) -> Result<(), ImportError> {
        self.sync_rejects()?;
        if let Some(writer) = &mut self.writer {
            tokio::task::block_in_place(|| writer.flush(&self.checkpoint, Instant::now()))?;
        }
        Ok(())
    }
}

/// Delivers one batch: its users (bisecting on refusal), and accounts for its rows.
async fn deliver_batch(shared: Arc<Shared>, batch: Batch) -> Result<Delivered, String> {
    let mut rejects = batch.rejected;
    let mut counts = Counts {
        read: batch.end.row - batch.start.row,
        rejected: rejects.len() as u64,
        ..Counts::default()
    };
    let mut deliveries = Vec::new();
    if !batch.users.is_empty() {
        let part = deliver_part(
            &shared,
            batch.number,
            &batch.users,
            batch.body,
            &mut deliveries,
        )
        .await;
        let part = part.map_err(|stop| format!("batch {}: {stop}", batch.number))?;
        counts.imported += part.imported;
        counts.skipped += part.skipped;
        counts.rejected += part.rejects.len() as u64;
        counts.unverifiable_hash += part.unverifiable_hash;
        rejects.extend(part.rejects);
    }
    // Freed by the reader thread; if it has ended, here.
    let _ = shared.spent.send(batch.users);
    rejects.sort_by_key(|r| r.row);
    Ok(Delivered {
        number: batch.number,
        end: batch.end,
        counts,
        rejects,
        deliveries,
    })
}

/// How the users of one body (or part of it) ended.
#[derive(Default)]
struct Part {
    imported: u64,
    skipped: u64,
    rejects: Vec<Rejection>,
    /// Of the imported and skipped, users without a usable password.
    unverifiable_hash: u64,
}

/// Users of `users` whose password hash the target cannot verify.
fn unverifiable(users: &[MappedUser]) -> u64 {
    users.iter().filter(|u| u.unverifiable_hash).count() as u64
}

/// Sends `users` (serialised as `body`); on refusal, splits them in halves
/// and sends each, down to single users, which are then rejected.
fn deliver_part<'a>(
    shared: &'a Shared,
    batch: u64,
    users: &'a [MappedUser],
    body: Bytes,
    deliveries: &'a mut Vec<Delivery>,
) -> BoxFuture<'a, Result<Part, StopReason>> {
    async move {
        let seed = shared
            .seed
            .map(|s| s ^ batch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ users[0].row);
        let mut sender = Sender::new(
            shared.client.clone(),
            shared.gate.clone(),
            shared.rate.clone(),
            shared.backoff,
            seeded_rng(seed),
        );
        let mut delivery = sender.deliver(body, users.len() as u32, shared.mode).await;
        let verdict = std::mem::replace(
            &mut delivery.verdict,
            Verdict::Stored {
                users_existing: None,
            },
        );
        deliveries.push(delivery);
        match verdict {
            Verdict::Stored { users_existing } => {
                let n = users.len() as u64;
                let skipped = u64::from(users_existing.unwrap_or(0)).min(n);
                Ok(Part {
                    imported: n - skipped,
                    skipped,
                    rejects: Vec::new(),
                    unverifiable_hash: unverifiable(users),
                })
            }
            Verdict::Stop(stop) => Err(stop),
            Verdict::Split(response) | Verdict::Conflict(response) if users.len() == 1 => {
                let conflict = response.status == 409;
                if conflict
                    && shared.mode == ImportMode::Fail
                    && already_stored(shared, &users[0]).await
                {
                    return Ok(Part {
                        imported: 1,
                        unverifiable_hash: unverifiable(users),
                        ..Part::default()
                    });
                }
                Ok(Part {
                    rejects: vec![target_rejection(&users[0], &response)],
                    ..Part::default()
                })
            }
            Verdict::Split(_) | Verdict::Conflict(_) => {
                let (left, right) = users.split_at(users.len() / 2);
                let mut part = Part::default();
                for half in [left, right] {
                    let body = Bytes::from(encode(half.iter().map(|u| &u.records)));
                    let sub = deliver_part(shared, batch, half, body, deliveries).await?;
                    part.imported += sub.imported;
                    part.skipped += sub.skipped;
                    part.rejects.extend(sub.rejects);
                    part.unverifiable_hash += sub.unverifiable_hash;
                }
                Ok(part)
            }
        }
    }
    .boxed()
}

fn target_rejection(user: &MappedUser, response: &PutResponse) -> Rejection {
    Rejection {
        row: user.row,
        key: Some(user.key.clone()),
        stage: Stage::Target,
        reason: format!("target answered {}: {}", response.status, response.reason()),
        source: user.source.to_json(),
    }
}

/// Whether the target already holds exactly this user's records (sent by
/// this migration before an interruption), found through the export.
async fn already_stored(shared: &Shared, user: &MappedUser) -> bool {
    let stored = match shared
        .client
        .export_user(&user.records.user.user_pool_id, user.records.user.id)
        .await
    {
        Ok(Some(body)) => body,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "Cannot read back a conflicting user; rejecting it.");
            return false;
        }
    };
    same_records(&stored, user)
}

/// Whether an export holds exactly the records of `user` (order aside).
fn same_records(stored: &ImportBody, user: &MappedUser) -> bool {
    fn by_id<T: Clone>(items: &[T], id: impl Fn(&T) -> uuid::Uuid) -> Vec<T> {
        let mut items = items.to_vec();
        items.sort_by_key(|item| id(item));
        items
    }
    let r = &user.records;
    stored.users.len() == 1
        && stored.users[0] == r.user
        && by_id(&stored.user_credentials, |c| c.id) == by_id(&r.credentials, |c| c.id)
        && by_id(&stored.user_identifiers, |c| c.id) == by_id(&r.identifiers, |c| c.id)
        && by_id(&stored.user_verifiable_addresses, |c| c.id) == by_id(&r.addresses, |c| c.id)
}
