//! The import: the whole pipeline as one chain.
//!
//! ```text
//! start:   checkpoint → resume point, import time                     (start.rs)
//!          --preflight: the pool and its schemas read from the target  (crate::preflight)
//! reader thread: source → map → batch ──(bounded channel)──▶           (crate::pipeline)
//!   senders (≤ concurrency in flight): rate → gate → PUT → retry / bisect  (crate::send)
//!     ──▶ acknowledge (any order) → watermark (in order) → rejects file, checkpoint  (acknowledge.rs)
//! ```
//!
//! Reading and mapping run on their own thread ahead of the senders, through
//! a channel of a few batches, so memory stays flat and a fast target never
//! waits on the parser. Senders finish out of order; the checkpoint's
//! watermark moves over the contiguous acknowledged prefix only, and each
//! batch's rejected rows reach the rejects file when the watermark passes
//! it. So at every moment the checkpoint on disk describes a state the
//! source, the target and the rejects file all agree with, and a resumed run
//! (same command again) re-reads from the watermark and resends at most the
//! batches that were in flight: harmless, because every id is deterministic
//! and the default mode is `ignore`.

mod acknowledge;
mod error;
pub(crate) mod lock;
mod refusals;
mod start;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::acknowledge::Acknowledger;
pub use self::error::ImportError;
pub use self::refusals::DEFAULT_LIMIT as DEFAULT_REFUSED_BATCHES_LIMIT;
use self::start::Start;
use crate::batch::Batch;
use crate::checkpoint::CheckpointWriter;
use crate::config::ImportConfig;
use crate::contract::api::Endpoint;
use crate::error::Error;
use crate::mapping::ids::IdScope;
use crate::mapping::MappedUser;
use crate::outcome::Outcome;
use crate::progress::{Counters, Progress};
use crate::reject::RejectsWriter;
use crate::report::ImportReport;
use crate::send::bisect::{BatchSender, BatchStopped, Delivered};
use crate::send::client::TargetClient;
use crate::send::matching::Matcher;
use crate::source::SourceError;

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
    Stopped(Stopped),
}

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Stopped {
    /// A batch could not be delivered.
    #[error(transparent)]
    Target(#[from] BatchStopped),
    /// The source could not be read on.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The target refused every user of whole batches, batch after batch,
    /// for one same reason (see `refusals.rs`).
    #[error("the target refused every user of {batches} batches in a row, each for the same reason: {reason}; nothing of them is counted as rejected: fix the cause (the pool's schema, the client's permissions) and run the same command again")]
    Refused {
        /// Batches in the streak.
        batches: usize,
        /// The target's reason.
        reason: String,
    },
}

/// A finished (or stopped) run.
#[derive(Debug)]
pub struct Finished {
    /// Counts and statistics, cumulative over resumed runs.
    pub report: ImportReport,
    /// How it ended.
    pub end: End,
}

impl Finished {
    /// How the run ended, for the exit code.
    pub fn outcome(&self) -> Outcome {
        match self.end {
            End::Complete | End::AlreadyComplete => Outcome::finished(self.report.counts.rejected),
            End::Interrupted => Outcome::Interrupted,
            End::Stopped(_) => Outcome::Stopped,
        }
    }
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

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Waits until a stop is asked for.
    pub async fn asked(&self) {
        self.token.cancelled().await
    }
}

/// Runs an import against `client`. Returns when every row is accounted for,
/// when `stop` fires (after the grace period at most), or when the target
/// stops the run; the checkpoint is saved on every one of these paths.
pub async fn run(
    config: &ImportConfig,
    client: Arc<TargetClient>,
    stop: Stop,
) -> Result<Finished, ImportError> {
    let started = Instant::now();
    // One run at a time on this checkpoint and rejects file, from before the checkpoint is read.
    let locked = config.checkpoint.iter().chain([&config.rejects]);
    let _lock = lock::RunLock::acquire(locked.map(PathBuf::as_path))?;
    let start = Start::open(config)?;
    if start.checkpoint.complete {
        let stats = acknowledge::Stats::default();
        let report = acknowledge::report_of(&start.checkpoint, &stats, started.elapsed(), 0, true);
        return Ok(Finished {
            report,
            end: End::AlreadyComplete,
        });
    }
    // read → map → (preflight) → batch, from the resume point; the rejects
    // file cut back to it. Under --strict a user the preflight refuses is
    // an error here, before any write request.
    let body = match config.preflight {
        true => {
            let (pool, (backoff, seed)) = (config.body.pool(), config.retry());
            let preflight = crate::preflight::from_target(client.clone(), pool, backoff, seed)
                .await
                .map_err(Error::from)?;
            config.body.clone().preflight(preflight)
        }
        false => config.body.clone(),
    };
    let batches = body.batches(start.import_time, start.resume_point())?;
    let join = batches.join();
    let rejects = RejectsWriter::resume(&config.rejects, start.rejects_len())?;
    let counters = Arc::new(Counters::default());
    counters.add_counts(&start.checkpoint.progress.totals().counts);
    let base = counters.done();
    let progress = Progress::start(
        config.progress,
        counters.clone(),
        config.body.source_size(),
        base,
    );

    // → send (bounded concurrency) → acknowledge in order → checkpoint.
    let reader = Reader::spawn(batches, config, &stop, &counters)?;
    let sender = BatchSender::new(
        client.clone(),
        config.backoff,
        config.rate,
        config.mode,
        config.seed,
    )
    .resuming(start.checkpoint.progress.sent_through())
    .matching(matcher(config, &client)?);
    let writer = config.checkpoint.clone().map(CheckpointWriter::new);
    let mut acks = Acknowledger::new(start.checkpoint, writer, rejects, counters.clone());
    let end = drive(&mut acks, reader.rx, &sender, &reader.spent, config, &stop).await;
    drop(progress);
    let _ = reader.thread.join();
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            if let Err(save) = acks.save_now().await {
                tracing::error!(error = %save, "Cannot save the checkpoint.");
            }
            return Err(e);
        }
    };
    acks.finish(matches!(end, End::Complete)).await?;
    let done_now = counters.done().saturating_sub(base);
    let mut report = acks.report(started.elapsed(), done_now, start.resumed);
    report.join = join.map(|index| index.report());
    report.note = config.body.mapping_note();
    Ok(Finished { report, end })
}

/// The matcher of `--match-existing`, if the run matches: lookups at the
/// pool's `users/by_key`, sub-record ids derived in the run's pool.
fn matcher(config: &ImportConfig, client: &TargetClient) -> Result<Option<Matcher>, Error> {
    let Some(kind) = config.match_existing else {
        return Ok(None);
    };
    let (tenant, pool) = (config.body.tenant(), config.body.pool());
    let url = client
        .url(Endpoint::UserByKey, pool, "")
        .map_err(|e| Error::Usage(format!("cannot build the users/by_key URL: {e}")))?;
    Ok(Some(Matcher::new(kind, url, IdScope::new(tenant, pool))))
}

/// The reading end of the chain: a thread that reads, maps and batches the
/// source a few batches ahead of the senders.
struct Reader {
    /// Batches, in source order.
    rx: mpsc::Receiver<Result<Batch, SourceError>>,
    /// Where the users of delivered batches go to be freed (see [`free_spent`]).
    spent: std::sync::mpsc::Sender<Vec<MappedUser>>,
    /// The thread.
    thread: std::thread::JoinHandle<()>,
}

impl Reader {
    fn spawn(
        batches: impl Iterator<Item = Result<Batch, SourceError>> + Send + 'static,
        config: &ImportConfig,
        stop: &Stop,
        counters: &Arc<Counters>,
    ) -> Result<Reader, Error> {
        let (tx, rx) = mpsc::channel(config.concurrency.get() * 2);
        let (spent, spent_users) = std::sync::mpsc::channel::<Vec<MappedUser>>();
        let stop = stop.clone();
        let counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("ferry-reader".into())
            .spawn(move || {
                for item in batches {
                    if stop.requested() {
                        break;
                    }
                    if let Ok(batch) = &item {
                        Counters::set(&counters.bytes, batch.end.offset);
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
        Ok(Reader { rx, spent, thread })
    }
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

/// Sends batches with bounded concurrency and acknowledges them as they
/// finish, until the source ends, the run is stopped, or a batch cannot be
/// delivered. Before a batch is sent, the checkpoint records that it may be
/// ([`Acknowledger::reserve`]).
async fn drive(
    acks: &mut Acknowledger,
    mut rx: mpsc::Receiver<Result<Batch, SourceError>>,
    sender: &BatchSender,
    spent: &std::sync::mpsc::Sender<Vec<MappedUser>>,
    config: &ImportConfig,
    stop: &Stop,
) -> Result<End, ImportError> {
    let send = |batch: Batch| async move {
        let delivered = sender.deliver(&batch).await;
        // Freed by the reader thread; if it has ended, here.
        let _ = spent.send(batch.users);
        delivered
    };
    let mut in_flight = FuturesUnordered::new();
    let mut read_all = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut grace_until: Option<tokio::time::Instant> = None;
    let mut streak = refusals::Streak::new(config.refused_batches_limit);
    loop {
        let taking = !read_all && !stop.requested();
        if !taking && in_flight.is_empty() {
            for held in streak.drain() {
                acks.acknowledge(held).await?;
            }
            return Ok(if stop.requested() {
                End::Interrupted
            } else {
                End::Complete
            });
        }
        let stopped: Stopped = tokio::select! {
            item = rx.recv(), if taking && in_flight.len() < config.concurrency.get() => match item {
                None => {
                    read_all = true;
                    continue;
                }
                Some(Err(e)) => e.into(),
                // A resumed run re-reads batches acknowledged above the watermark: skip them.
                Some(Ok(batch)) if acks.progress().is_acknowledged(batch.number) => {
                    let _ = spent.send(batch.users);
                    continue;
                }
                Some(Ok(batch)) => {
                    acks.reserve(batch.number).await?;
                    in_flight.push(send(batch));
                    continue;
                }
            },
            next = in_flight.next(), if !in_flight.is_empty() => match next {
                Some(Ok(delivered)) => match admit(acks, &mut streak, delivered).await? {
                    Some(stopped) => stopped,
                    None => continue,
                },
                Some(Err(stopped)) => stopped.into(),
                None => continue,
            },
            _ = stop.token.cancelled(), if grace_until.is_none() => {
                tracing::warn!(grace_s = config.grace.as_secs(), "Stopping: no new batches; waiting for requests in flight.");
                grace_until = Some(tokio::time::Instant::now() + config.grace);
                continue;
            }
            _ = sleep_until(grace_until) => {
                tracing::warn!("Grace period over; requests still in flight will be resent on resume.");
                return Ok(End::Interrupted);
            }
            _ = tick.tick() => {
                acks.save_if_due().await?;
                continue;
            }
        };
        stop.trigger();
        tracing::error!(reason = %stopped, "Run stopped; the checkpoint keeps what was acknowledged.");
        return Ok(End::Stopped(stopped));
    }
}

/// Takes one delivered batch: counts its requests, and acknowledges it (with
/// the batches it releases) unless the refusal streak holds it back, or
/// stops the run.
async fn admit(
    acks: &mut Acknowledger,
    streak: &mut refusals::Streak,
    mut delivered: Delivered,
) -> Result<Option<Stopped>, ImportError> {
    acks.count_requests(&std::mem::take(&mut delivered.efforts));
    match streak.admit(delivered) {
        refusals::Admit::Release(batches) => {
            for delivered in batches {
                acks.acknowledge(delivered).await?;
            }
            Ok(None)
        }
        refusals::Admit::Hold => Ok(None),
        refusals::Admit::Stop { batches, reason } => Ok(Some(Stopped::Refused { batches, reason })),
    }
}

/// Sleeps until `deadline`; without one, never wakes.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
