//! `ferry export`: flags → [`ExportOptions`] → the library.

use std::path::PathBuf;
use std::time::Duration;

use ferry::export::output::Destination;
use ferry::export::{ExportOptions, DEFAULT_PAGE_SIZE};
use ferry::import::Stop;
use ferry::outcome::Outcome;
use ferry::progress::ProgressMode;

use super::import::watch_signals;
use super::say;
use super::target::{RetryArgs, TargetArgs};

/// Export every user of a pool, with its credentials, identifiers and
/// verifiable addresses, as one JSON line per user (the format `ferry import
/// --from ferry` reads; see the README's "Export"). The file holds password
/// hashes: it is created readable by its owner only (mode 0600).
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Where to write: FILE.jsonl, FILE.jsonl.gz (gzipped), or - for
    /// standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: String,
    /// Leave the credentials (password hashes) out, and read the users
    /// through the platform's user endpoints (scope identity) instead of
    /// the configuration dump (scope read_configuration).
    #[arg(long)]
    pub without_credentials: bool,
    /// Users per page of the target, and per block of the file (1 to 10000;
    /// at most 100 with --without-credentials).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PAGE_SIZE)]
    pub page_size: u32,
    /// Users read at once with --without-credentials (one request each).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Record how far the export got in FILE, and resume from it: the same
    /// command after a crash or Ctrl-C appends after the last user written.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Ignore the checkpoint and export from the start.
    #[arg(long)]
    pub restart: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Test hook: stop as if interrupted after this many pages.
    #[arg(long, hide = true, value_name = "N")]
    pub stop_after_pages: Option<u64>,
    #[command(flatten)]
    pub connection: TargetArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
}

impl ExportArgs {
    /// The flags as the library's options.
    fn options(&self) -> anyhow::Result<ExportOptions> {
        Ok(ExportOptions {
            destination: Destination::from_arg(&self.output),
            target: self.connection.spec()?,
            layout: self.connection.layout.into(),
            tenant: self.connection.tenant.clone(),
            pool: self.connection.pool.clone(),
            credentials: !self.without_credentials,
            page_size: self.page_size,
            concurrency: usize::from(self.concurrency),
            backoff: self.retry.backoff()?,
            request_timeout: Duration::from_secs(self.retry.request_timeout_s),
            checkpoint: self.checkpoint.clone(),
            restart: self.restart,
            progress: ProgressMode::detect(self.quiet),
            seed: self.retry.seed,
            stop_after_pages: self.stop_after_pages,
        })
    }
}

pub async fn run(args: ExportArgs) -> anyhow::Result<Outcome> {
    let config = args.options()?.validate()?;
    let target = config.connect().await?;
    let stop = Stop::new();
    watch_signals(stop.clone());
    let finished = ferry::export::run(&config, target.client(), stop).await;
    let note = target.shutdown().await;
    let report = finished?;
    // Standard output may be the export itself: the summary goes beside it.
    let tell = |line: &str| match report.destination {
        Destination::Stdout => eprintln!("{line}"),
        Destination::File(_) => say(line),
    };
    if let Some(note) = note {
        tell(&note);
    }
    tell(&report.summary());
    if report.outcome() == Outcome::Interrupted {
        eprintln!(
            "ferry: interrupted; the checkpoint is saved: run the same command again to resume"
        );
    }
    Ok(report.outcome())
}
