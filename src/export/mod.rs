//! `ferry export`: every user of a pool, with its credentials, identifiers
//! and addresses, as one canonical JSON line per user
//! ([`crate::contract::line`]), the file `ferry import --from ferry` reads.
//!
//! The chain: read a page of the pool in id order ([`read`]: from the dump,
//! indexed on disk by [`spool`], with credentials; from the user endpoints
//! without) → its lines → one block of the file ([`output`]) → synced →
//! the checkpoint moves over it ([`checkpoint`]). Memory holds one page
//! whatever the size of the pool.
//!
//! Guarantees:
//! - **Deterministic**: the same pool gives the same bytes (lines in id
//!   order, each canonical), whatever order the target stored the users
//!   in, so an export imported elsewhere and exported again is
//!   byte-identical.
//! - **Resumable** (`--checkpoint FILE`): after a crash, a `kill -9` or
//!   Ctrl-C, the same command cuts the file back to the last block the
//!   checkpoint recorded and goes on after its last user; the file is then
//!   byte-identical to an uninterrupted export.
//! - **Private**: the file holds password hashes, so it is created with
//!   mode 0600 and the summary says so; `--without-credentials` leaves
//!   them out. No hash reaches a log line or the progress display.
//! - Requests are retried with the import's policy ([`Sender::fetch`]).
//!
//! [`Sender::fetch`]: crate::send::deliver::Sender::fetch

pub mod checkpoint;
pub mod output;
pub mod read;
pub mod spool;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::contract::api::{Layout, SCOPE_IDENTITY, SCOPE_READ};
use crate::import::Stop;
use crate::outcome::Outcome;
use crate::progress::{Counters, Progress, ProgressMode};
use crate::send::backoff::Backoff;
use crate::send::client::TargetClient;
use crate::send::deliver::StopReason;
use crate::send::gate::ThrottleGate;
use crate::target::{Connected, TargetError, TargetSpec};
use checkpoint::{ExportCheckpoint, ExportSettings};
use output::{Destination, Output};
use read::{Pager, Requests};

/// Users per page by default.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
/// The largest page: `ferry serve`'s largest page of its dump.
pub const MAX_PAGE_SIZE: u32 = 10_000;

/// An export could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Flags or files that do not fit together (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The settings could not be checked (a secret, an insecure target).
    #[error(transparent)]
    Config(#[from] crate::error::Error),
    /// The target could not be reached or started.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The export file or the checkpoint could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The target stopped the export (checkpoint saved).
    #[error("the target stopped the export: {0}")]
    Stopped(StopReason),
    /// The target answered something that is not what was asked for.
    #[error("{0}")]
    Answer(String),
}

impl ExportError {
    /// Whether the error is the user's flags or files (exit 2).
    pub fn is_usage(&self) -> bool {
        match self {
            ExportError::Usage(_) => true,
            ExportError::Config(e) => e.is_usage(),
            _ => false,
        }
    }
}

/// The flags of an export, unchecked.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Where the lines go.
    pub destination: Destination,
    /// The target: a platform, or the embedded reference server.
    pub target: TargetSpec,
    /// Where the target serves each endpoint.
    pub layout: Layout,
    /// The tenant read.
    pub tenant: String,
    /// The pool read.
    pub pool: String,
    /// Password hashes in the file (not `--without-credentials`).
    pub credentials: bool,
    /// Users per page (and per block of the file).
    pub page_size: u32,
    /// Requests at once for the users of a page (without credentials).
    pub concurrency: usize,
    /// Backoff and attempt limit per request.
    pub backoff: Backoff,
    /// Time limit of one request.
    pub request_timeout: Duration,
    /// Where the export records how far it got, if anywhere.
    pub checkpoint: Option<PathBuf>,
    /// Ignore the checkpoint and export from the start.
    pub restart: bool,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// Seed of the jitter.
    pub seed: Option<u64>,
    /// Stop as if interrupted after this many pages (a test hook).
    pub stop_after_pages: Option<u64>,
}

/// An export's settings, checked ([`ExportOptions::validate`]); immutable.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// The options, checked.
    options: ExportOptions,
    /// What the checkpoint records of them.
    settings: ExportSettings,
}

impl ExportOptions {
    /// Checks the options.
    pub fn validate(self) -> Result<ExportConfig, ExportError> {
        let usage = |text: &str| Err(ExportError::Usage(text.to_string()));
        if self.tenant.is_empty() || self.pool.is_empty() {
            return usage("tenant and pool must not be empty");
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(ExportError::Usage(format!(
                "the page size must be between 1 and {MAX_PAGE_SIZE}, not {}",
                self.page_size
            )));
        }
        if let Some(checkpoint) = &self.checkpoint {
            match self.destination.path() {
                None => {
                    return usage(
                        "standard output cannot be resumed: give -o FILE to use --checkpoint",
                    )
                }
                Some(path) if crate::outputs::same_file(path, checkpoint) => {
                    return usage("the export file and the checkpoint are the same file")
                }
                Some(_) => {}
            }
        }
        let target = match &self.target {
            TargetSpec::Remote { url, .. } => url.to_string(),
            TargetSpec::Embedded { db, .. } => format!("embedded:{}", db.display()),
        };
        let settings = ExportSettings {
            target,
            tenant: self.tenant.clone(),
            pool: self.pool.clone(),
            credentials: self.credentials,
            page_size: self.page_size,
            gzip: self.destination.gzip(),
        };
        Ok(ExportConfig {
            options: self,
            settings,
        })
    }
}

impl ExportConfig {
    /// Reaches the target, with a token for what the export reads: the
    /// dump (`read_configuration`), or the user endpoints (`identity`).
    pub async fn connect(&self) -> Result<Connected, TargetError> {
        let o = &self.options;
        let scope = if o.credentials {
            SCOPE_READ
        } else {
            SCOPE_IDENTITY
        };
        Connected::connect(
            &o.target,
            o.layout,
            (&o.tenant, &o.pool),
            o.request_timeout.max(Duration::from_secs(1)),
            (o.concurrency.max(1), scope),
        )
        .await
    }
}

/// How an export ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportEnd {
    /// Every user is in the file.
    Complete,
    /// The checkpoint said so already; nothing was read.
    AlreadyComplete,
    /// Stopped by a signal (or the test hook), checkpoint saved.
    Interrupted,
    /// Standard output was closed by its reader (`ferry export -o - | head`).
    Closed,
}

/// What an export did.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// How it ended.
    pub end: ExportEnd,
    /// Users written by this run.
    pub users: u64,
    /// Users written by the runs it resumed.
    pub before: u64,
    /// Requests resent.
    pub retries: usize,
    /// How long this run took.
    pub elapsed: Duration,
    /// Where the lines went.
    pub destination: Destination,
    /// Whether the file holds password hashes.
    pub credentials: bool,
}

impl ExportReport {
    /// The exit status.
    pub fn outcome(&self) -> Outcome {
        match self.end {
            ExportEnd::Complete | ExportEnd::AlreadyComplete | ExportEnd::Closed => Outcome::Done,
            ExportEnd::Interrupted => Outcome::Interrupted,
        }
    }

    /// The summary line.
    pub fn summary(&self) -> String {
        if self.end == ExportEnd::AlreadyComplete {
            return format!(
                "nothing to do: the checkpoint says the export of {} users to {} is complete (use --restart to export again)",
                self.before,
                self.destination.describe()
            );
        }
        let total = self.before + self.users;
        let resumed = match self.before {
            0 => String::new(),
            n => format!(", {} this run, resumed after {n}", self.users),
        };
        let rate = crate::report::per_second(self.users, self.elapsed.as_secs_f64());
        let secrets = match (self.credentials, &self.destination) {
            (false, _) => "; without credentials".to_string(),
            (true, Destination::File(_)) => "; the file holds password hashes: it is readable by its owner only (mode 0600), keep it so".to_string(),
            (true, Destination::Stdout) => "; the output holds password hashes: keep it private".to_string(),
        };
        let state = match self.end {
            ExportEnd::Interrupted => "interrupted after exporting",
            ExportEnd::Closed => "the reader closed the output after",
            _ => "exported",
        };
        format!(
            "{state} {total} users to {}{resumed} in {:.1}s ({rate:.0} users/s, {} retries){secrets}",
            self.destination.describe(),
            self.elapsed.as_secs_f64(),
            self.retries,
        )
    }
}

/// Runs an export against `client` until the pool is read, `stop` fires
/// (after the page in hand) or the target stops it; the checkpoint is saved
/// after every page.
pub async fn run(
    config: &ExportConfig,
    client: Arc<TargetClient>,
    stop: Stop,
) -> Result<ExportReport, ExportError> {
    let started = Instant::now();
    let o = &config.options;
    let resume = match &o.checkpoint {
        Some(path) => ExportCheckpoint::load(path, &config.settings, o.restart)?,
        None => None,
    };
    let before = resume.as_ref().map_or(0, |c| c.users);
    let mut report = ExportReport {
        end: ExportEnd::AlreadyComplete,
        users: 0,
        before,
        retries: 0,
        elapsed: Duration::ZERO,
        destination: o.destination.clone(),
        credentials: o.credentials,
    };
    if resume.as_ref().is_some_and(|c| c.complete) {
        return Ok(report);
    }
    let written = |source| ExportError::Output {
        path: o.destination.path().map(PathBuf::from).unwrap_or_default(),
        source,
    };
    let mut output = open_output(&o.destination, resume.as_ref().map(|c| c.offset))?;
    let requests = Requests {
        client,
        gate: Arc::new(ThrottleGate::new(o.backoff)),
        backoff: o.backoff,
        seed: o.seed,
    };
    let mut after = resume.as_ref().and_then(|c| c.after);
    let mut pager = Pager::new(
        requests,
        &o.pool,
        (o.page_size, o.concurrency),
        o.credentials,
        after,
    );
    let shown = Arc::new(AtomicU64::new(before));
    let progress = show_progress(o.progress, before, shown.clone(), pager.read_counter());
    let mut pages = 0;
    let end = loop {
        if stop.requested() {
            break ExportEnd::Interrupted;
        }
        // A stop while a page is read drops the page: nothing of it was written.
        let page = tokio::select! {
            page = pager.next_page() => page?,
            () = stop.asked() => break ExportEnd::Interrupted,
        };
        let Some(lines) = page else {
            break ExportEnd::Complete;
        };
        let mut block = Vec::new();
        for line in &lines {
            line.write_to(&mut block)
                .map_err(|e| ExportError::Answer(format!("a user cannot be written: {e}")))?;
        }
        match output.write_block(&block) {
            Err(e)
                if e.kind() == std::io::ErrorKind::BrokenPipe && o.destination.path().is_none() =>
            {
                break ExportEnd::Closed
            }
            written_or_not => written_or_not.map_err(written)?,
        }
        report.users += lines.len() as u64;
        after = lines.last().map(|l| l.user.id).or(after);
        Counters::set(&shown, before + report.users);
        if let Some(path) = &o.checkpoint {
            let offset = output.sync().map_err(written)?;
            ExportCheckpoint::new(
                config.settings.clone(),
                offset,
                after,
                before + report.users,
            )
            .save(path)?;
        }
        pages += 1;
        if o.stop_after_pages == Some(pages) {
            break ExportEnd::Interrupted;
        }
    };
    let offset = match (end, output.sync()) {
        (ExportEnd::Closed, _) => 0,
        (_, synced) => synced.map_err(written)?,
    };
    progress.finish();
    if let (ExportEnd::Complete, Some(path)) = (end, &o.checkpoint) {
        let mut done = ExportCheckpoint::new(
            config.settings.clone(),
            offset,
            after,
            before + report.users,
        );
        done.complete = true;
        done.save(path)?;
    }
    report.end = end;
    report.retries = pager.retries();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Opens the export file, cut back to `resume` when resuming; a file that is
/// not the one the checkpoint describes is the user's to sort out (exit 2).
fn open_output(destination: &Destination, resume: Option<u64>) -> Result<Output, ExportError> {
    Output::open(destination, resume).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => ExportError::Usage(format!(
            "the export file {}: {e}; pass --restart to export from the start",
            destination.describe()
        )),
        _ => ExportError::Output {
            path: destination.path().map(PathBuf::from).unwrap_or_default(),
            source: e,
        },
    })
}

/// The progress display of an export: users read from the target (`read`),
/// users written (`written`, `before` of them by earlier runs) and the rate.
fn show_progress(
    mode: ProgressMode,
    before: u64,
    written: Arc<AtomicU64>,
    read: Arc<AtomicU64>,
) -> Progress {
    let position = written.clone();
    Progress::show(
        mode,
        None,
        move || Counters::get(&position),
        move |elapsed| {
            let users = Counters::get(&written);
            let rate =
                crate::report::per_second(users.saturating_sub(before), elapsed.as_secs_f64());
            let read = Counters::get(&read);
            format!("read {read} users from the target · exported {users} · {rate:.0} users/s")
        },
    )
}
