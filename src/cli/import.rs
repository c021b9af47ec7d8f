//! `ferry import`: flags → [`ImportOptions`] → the library.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use ferry::config::ImportOptions;
use ferry::contract::choices::SaltConvention;
use ferry::contract::records::IdentifierType;
use ferry::contract::ImportMode;
use ferry::import::{End, Stop};
use ferry::mapping::passwords::{PasswordPolicy, UnsupportedPolicy};
use ferry::outcome::Outcome;
use ferry::progress::ProgressMode;
use ferry::source::{Format, Input};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::say;
use super::target::{RetryArgs, TargetArgs};

/// Import a user export (CSV, JSON Lines or a JSON document, optionally
/// gzipped, or a directory of them) into an Identity Pools bulk import
/// API. Each source row becomes a user with its credential, identifiers and
/// addresses, all with deterministic ids, sent in batches.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The export to import: a .csv, .jsonl, .ndjson or .json file (gzipped or
    /// not), a directory of such files, or - for standard input.
    pub source: String,
    /// Source format (csv, jsonl, json); by default from the file extension,
    /// and for .json from its first line (a document or JSON Lines).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Mapping file (TOML): source paths, transforms, identifiers, custom
    /// attributes, constants, defaults, user key.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Read the export of a system as it comes, with a mapping shipped inside
    /// ferry: auth0, firebase, keycloak, cognito, aspnet-identity, supabase,
    /// okta, clerk, and ferry for ferry's own export (`ferry presets` lists
    /// them).
    #[arg(long, value_name = "PRESET")]
    pub from: Option<String>,
    /// A second file joined into the source's records as the mapping's
    /// [join] says (Auth0's password-hash export, ASP.NET user roles).
    #[arg(long, value_name = "FILE")]
    pub join: Option<PathBuf>,
    /// Users per request (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// The import time (RFC 3339): every timestamp the source lacks. Pin it to
    /// make two runs produce the same bytes. Default: now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    pub import_time: Option<OffsetDateTime>,
    /// Write the request bodies, rejects and report to DIR instead of sending them.
    #[arg(long, value_name = "DIR")]
    pub dry_run: Option<PathBuf>,
    /// How existing records are treated: keep them (ignore), refuse the batch (fail), or overwrite (update).
    #[arg(long, value_enum, default_value_t = ModeArg::Ignore)]
    pub mode: ModeArg,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Limit the load to this many users per second.
    #[arg(long, value_name = "USERS_PER_S")]
    pub rate: Option<NonZeroU32>,
    /// Checkpoint file. Default: SOURCE.ferry-checkpoint.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Ignore an existing checkpoint and start from the first row.
    #[arg(long)]
    pub restart: bool,
    /// Rejects file (JSON Lines, mode 0600). Default: SOURCE.rejects.jsonl.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Also write the final report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// After SIGINT/SIGTERM, how long requests in flight may finish.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub grace_period_s: u64,
    /// Stop the run (checkpoint not complete, exit 1) when the target refuses
    /// every user of this many batches in a row for one same reason: a
    /// cause common to all users, to fix before going on. 0 never stops.
    #[arg(long, value_name = "N", default_value_t = ferry::import::DEFAULT_REFUSED_BATCHES_LIMIT)]
    pub stop_after_refused_batches: usize,
    /// Passwords: carry them over (keep), carry them expired so users must
    /// reset them (expire), or import no credentials (none). Overrides the
    /// mapping file's [passwords] policy; default keep.
    #[arg(long, value_enum, value_name = "keep|expire|none")]
    pub passwords: Option<PasswordPolicy>,
    /// A hash the target cannot verify (scrypt, HMAC, MD4, crypt(3), salt ‖
    /// password digests): reject the row, import the user with an expired
    /// credential, or import it without one. Overrides the mapping file's
    /// [passwords] unsupported; default reject.
    #[arg(long, value_enum, value_name = "reject|expire|drop")]
    pub unsupported_hash: Option<UnsupportedPolicy>,
    /// How the target reads a hash's salt: as text (its UTF-8 bytes; the
    /// default, as the platform's migration guide shows) or as base64 of the
    /// raw bytes. Under text, a salt that is not UTF-8 travels inside the
    /// hash value. Overrides the mapping file's [passwords] target_salt.
    /// Pick it with a pilot: import a few users with a salted hash, then
    /// check one signs in (see README, "Which salt setting").
    #[arg(long, value_enum, value_name = "text|base64")]
    pub target_salt: Option<SaltConvention>,
    /// Refuse (exit 2, before anything is sent) a source with a column the
    /// mapping neither reads nor ignores; without it, such columns are
    /// listed in the summary and the report.
    #[arg(long)]
    pub strict: bool,
    /// With --from ferry: give every record a new id, derived from the
    /// destination tenant and pool and the export's ids, instead of keeping
    /// the export's (to copy a pool beside its original).
    #[arg(long)]
    pub new_ids: bool,
    /// Before sending a batch, look its users up at the target by this
    /// identifier (users/by_key, scope identity: one request per user's
    /// identifier of that type, 8 at a time per batch) and send a user found
    /// there under the existing user's id, updated or kept by --mode,
    /// instead of a second account the target refuses. A user whose
    /// identifiers name two existing users, or one another row matched, is
    /// rejected. Not with --dry-run.
    #[arg(long, value_enum, value_name = "email|mobile|uid")]
    pub match_existing: Option<MatchArg>,
    /// Before sending, check every user's payload, metadata and
    /// business_metadata against the schemas the destination pool names
    /// (read from the target: systemGetPool, systemGetSchema, scope
    /// identity). A user with a field the schema does not define or a value
    /// it refuses is rejected, its fields named; with --strict the import
    /// stops before sending anything. With --dry-run, needs --target.
    #[arg(long)]
    pub preflight: bool,
    #[command(flatten)]
    pub connection: TargetArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
}

/// Import modes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    Ignore,
    Fail,
    Update,
}

impl From<ModeArg> for ImportMode {
    fn from(m: ModeArg) -> ImportMode {
        match m {
            ModeArg::Ignore => ImportMode::Ignore,
            ModeArg::Fail => ImportMode::Fail,
            ModeArg::Update => ImportMode::Update,
        }
    }
}

/// The identifier types `--match-existing` matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MatchArg {
    Email,
    Mobile,
    Uid,
}

impl From<MatchArg> for IdentifierType {
    fn from(m: MatchArg) -> IdentifierType {
        match m {
            MatchArg::Email => IdentifierType::Email,
            MatchArg::Mobile => IdentifierType::Mobile,
            MatchArg::Uid => IdentifierType::Uid,
        }
    }
}

fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("not RFC 3339: {e}"))
}

impl ImportArgs {
    /// The flags as the library's options.
    pub(super) fn options(&self) -> ImportOptions {
        // Every field named: a new option cannot be forgotten here.
        ImportOptions {
            source: Input::from_arg(&self.source),
            format: self.format,
            mapping: self.mapping.clone(),
            from: self.from.clone(),
            join: self.join.clone(),
            tenant: self.connection.tenant.clone(),
            pool: self.connection.pool.clone(),
            batch_size: self.batch_size,
            import_time: self.import_time,
            passwords: self.passwords,
            unsupported_hash: self.unsupported_hash,
            target_salt: self.target_salt,
            target: self.connection.target.clone(),
            layout: self.connection.layout.into(),
            db: self.connection.db.clone(),
            client_id: self.connection.client_id.clone(),
            client_secret_file: self.connection.client_secret_file.clone(),
            allow_insecure_http: self.connection.allow_insecure_http,
            mode: self.mode.into(),
            concurrency: usize::from(self.concurrency),
            rate: self.rate,
            retry_base: Duration::from_millis(self.retry.retry_base_ms),
            retry_cap: Duration::from_millis(self.retry.retry_cap_ms),
            max_attempts: self.retry.max_attempts,
            throttle_deadline: Duration::from_secs(self.retry.throttle_deadline_s),
            request_timeout: Duration::from_secs(self.retry.request_timeout_s),
            checkpoint: self.checkpoint.clone(),
            restart: self.restart,
            rejects: self.rejects.clone(),
            report: self.report.clone(),
            progress: ProgressMode::detect(self.quiet),
            grace: Duration::from_secs(self.grace_period_s),
            seed: self.retry.seed,
            refused_batches_limit: self.stop_after_refused_batches,
            strict: self.strict,
            new_ids: self.new_ids,
            match_existing: self.match_existing.map(Into::into),
            preflight: self.preflight,
        }
    }
}

pub async fn run(args: ImportArgs) -> anyhow::Result<Outcome> {
    let options = args.options();
    if let Some(dir) = args.dry_run.clone() {
        let mut body = options.dry_run_body()?;
        if let Some(preflight) = options.dry_run_preflight().await? {
            body = body.preflight(preflight);
        }
        let report =
            tokio::task::spawn_blocking(move || ferry::dry_run::run(&body, &dir)).await??;
        say(&report.summary());
        return Ok(report.outcome());
    }
    let config = options.validate()?;
    let target = config.connect().await?;
    let stop = Stop::new();
    watch_signals(stop.clone());
    let finished = ferry::import::run(&config, target.client(), stop).await;
    if let Some(note) = target.shutdown().await {
        say(&note);
    }
    let finished = finished?;
    let report = &finished.report;
    if let Some(path) = config.report() {
        report.write(path)?;
    }
    if let End::AlreadyComplete = finished.end {
        say("nothing to do: the checkpoint says this import is complete (use --restart to run it again)");
    }
    say(&report.summary());
    match &finished.end {
        End::Interrupted => eprintln!(
            "ferry: interrupted; the checkpoint is saved: run the same command again to resume"
        ),
        End::Stopped(reason) => eprintln!(
            "ferry: stopped: {reason}\nferry: the checkpoint is saved: run the same command again to resume"
        ),
        End::Complete | End::AlreadyComplete => {}
    }
    Ok(finished.outcome())
}

/// First SIGINT/SIGTERM: stop reading, finish what is in flight, save, exit 130.
/// Second: exit at once (the checkpoint on disk is still valid).
pub(super) fn watch_signals(stop: Stop) {
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            if wait_signal().await.is_err() {
                return;
            }
            count += 1;
            if count == 1 {
                eprintln!(
                    "ferry: stopping after the requests in flight (signal again to stop at once)"
                );
                stop.trigger();
            } else {
                eprintln!("ferry: stopped at once; the checkpoint on disk is valid");
                super::exit_now(Outcome::Interrupted);
            }
        }
    });
}

#[cfg(unix)]
async fn wait_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
