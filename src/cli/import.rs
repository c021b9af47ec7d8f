//! `ferry import`: flags → a validated configuration → the library.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferry::contract::ImportMode;
use ferry::error::Error;
use ferry::import::{End, ImportConfig, Stop};
use ferry::mapping::passwords::{PasswordPolicy, UnsupportedPolicy};
use ferry::mapping::MappingConfig;
use ferry::pipeline::BodySettings;
use ferry::progress::ProgressMode;
use ferry::send::backoff::Backoff;
use ferry::send::client::{ClientConfig, TargetClient};
use ferry::send::token::ClientSecret;
use ferry::server::{self, ServerConfig, ServerHandle};
use ferry::source::{Format, Input};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use url::Url;

/// Import a user export (CSV or JSON Lines) into an Identity Pools bulk import
/// API. Each source row becomes a user with its credential, identifiers and
/// addresses, all with deterministic ids, sent in batches.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The export to import: a .csv, .jsonl or .ndjson file, or - for standard input.
    pub source: String,
    /// Source format (csv, jsonl); by default from the file extension.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Mapping file (TOML): column renames, constants, defaults, user key.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Tenant id to import into.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// User pool id to import into.
    #[arg(long, default_value = "default")]
    pub pool: String,
    /// Users per request (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// The import time (RFC 3339): every timestamp the source lacks. Pin it to
    /// make two runs produce the same bytes. Default: now.
    #[arg(long, value_name = "RFC3339")]
    pub import_time: Option<String>,
    /// Write the request bodies, rejects and report to DIR instead of sending them.
    #[arg(long, value_name = "DIR")]
    pub dry_run: Option<PathBuf>,
    /// Base URL of the target (e.g. https://tenant.example.com). Without it,
    /// ferry starts its reference server in-process over --db and imports into it.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Database of the embedded target (used when --target is not given).
    #[arg(long, value_name = "PATH", default_value = "ferry-target.db")]
    pub db: PathBuf,
    /// OAuth client id for the target's token endpoint.
    #[arg(long, env = "FERRY_CLIENT_ID", default_value = "ferry")]
    pub client_id: String,
    /// File holding the client secret (otherwise FERRY_CLIENT_SECRET is read).
    /// The secret itself is never a flag.
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// How existing records are treated: keep them (ignore), refuse the batch (fail), or overwrite (update).
    #[arg(long, value_enum, default_value_t = ModeArg::Ignore)]
    pub mode: ModeArg,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Limit the load to this many users per second.
    #[arg(long, value_name = "USERS_PER_S")]
    pub rate: Option<NonZeroU32>,
    /// First retry waits up to this long (exponential backoff with full jitter).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub retry_base_ms: u64,
    /// Longest wait between two attempts.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub retry_cap_ms: u64,
    /// Attempts per request before the run stops (with its checkpoint saved).
    #[arg(long, default_value_t = 10)]
    pub max_attempts: u32,
    /// Time limit of one request.
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub request_timeout_s: u64,
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
    /// Seed of the retry jitter, for reproducible runs.
    #[arg(long)]
    pub seed: Option<u64>,
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

impl ImportArgs {
    /// Turns the flags into the settings that shape request bodies.
    fn body_settings(&self) -> Result<BodySettings, Error> {
        let input = Input::from_arg(&self.source);
        let import_time = match &self.import_time {
            Some(text) => OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|e| Error::Usage(format!("--import-time '{text}' is not RFC 3339: {e}")))?
                .to_offset(time::UtcOffset::UTC),
            None => now_seconds(),
        };
        let mut settings = BodySettings::new(
            input,
            self.format,
            &self.tenant,
            &self.pool,
            import_time,
        )?
        .with_batch_size(self.batch_size)?;
        if let Some(path) = &self.mapping {
            settings = settings.with_mapping(MappingConfig::load(path)?);
        }
        if let Some(policy) = self.passwords {
            settings.mapping.passwords.policy = policy;
        }
        if let Some(policy) = self.unsupported_hash {
            settings.mapping.passwords.unsupported = policy;
        }
        Ok(settings)
    }

    /// The validated configuration of an import.
    fn import_config(&self, body: BodySettings) -> Result<ImportConfig, Error> {
        let backoff = Backoff::new(
            Duration::from_millis(self.retry_base_ms),
            Duration::from_millis(self.retry_cap_ms),
            self.max_attempts,
        )
        .map_err(|e| Error::Usage(e.to_string()))?;
        let mut config = ImportConfig::new(body, self.import_time.is_some());
        config.mode = self.mode.into();
        config.concurrency = usize::from(self.concurrency);
        config.rate = self.rate;
        config.backoff = backoff;
        if let Some(path) = &self.checkpoint {
            config.checkpoint = Some(path.clone());
        }
        if let Some(path) = &self.rejects {
            config.rejects = path.clone();
        }
        config.restart = self.restart;
        config.progress = ProgressMode::detect(self.quiet);
        config.grace = Duration::from_secs(self.grace_period_s);
        config.seed = self.seed;
        Ok(config)
    }
}

/// Now, in UTC, to the second (so it prints and round-trips as plain RFC 3339).
fn now_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let body = args.body_settings()?;
    if let Some(dir) = args.dry_run.clone() {
        let report =
            tokio::task::spawn_blocking(move || ferry::dry_run::run(&body, &dir)).await??;
        println!("{}", report.summary());
        return Ok(if report.rejected > 0 {
            ExitCode::from(super::EXIT_REJECTED)
        } else {
            ExitCode::SUCCESS
        });
    }
    let config = args.import_config(body)?;
    let (client, embedded) = target_client(&args, &config).await?;
    let stop = Stop::new();
    watch_signals(stop.clone());
    let finished = ferry::import::run(config, client, stop).await;
    if let Some(server) = embedded {
        server.shutdown().await;
        println!(
            "embedded target: {} (tenant {}, pool {}); browse it with: ferry serve --db {}",
            args.db.display(),
            args.tenant,
            args.pool,
            args.db.display()
        );
    }
    let finished = finished?;
    let report = &finished.report;
    if let Some(path) = &args.report {
        let json = serde_json::to_vec_pretty(report)?;
        std::fs::write(path, json)
            .with_context(|| format!("writing the report {}", path.display()))?;
    }
    let code = match &finished.end {
        End::AlreadyComplete => {
            println!("nothing to do: the checkpoint says this import is complete (use --restart to run it again)");
            println!("{}", report.summary());
            exit_for(report)
        }
        End::Complete => {
            println!("{}", report.summary());
            exit_for(report)
        }
        End::Interrupted => {
            println!("{}", report.summary());
            eprintln!(
                "ferry: interrupted; the checkpoint is saved: run the same command again to resume"
            );
            ExitCode::from(super::EXIT_INTERRUPTED)
        }
        End::Stopped(reason) => {
            println!("{}", report.summary());
            eprintln!("ferry: stopped: {reason}\nferry: the checkpoint is saved: run the same command again to resume");
            ExitCode::from(super::EXIT_FATAL)
        }
    };
    Ok(code)
}

fn exit_for(report: &ferry::report::ImportReport) -> ExitCode {
    if report.rejected > 0 {
        ExitCode::from(super::EXIT_REJECTED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The target's client: the given URL, or the embedded reference server.
async fn target_client(
    args: &ImportArgs,
    config: &ImportConfig,
) -> anyhow::Result<(Arc<TargetClient>, Option<ServerHandle>)> {
    let tenant = config.body.target.tenant.clone();
    let (base, client_id, secret, embedded) = match &args.target {
        Some(url) => {
            let base = Url::parse(url)
                .map_err(|e| Error::Usage(format!("--target '{url}' is not a URL: {e}")))?;
            let secret = ClientSecret::from_env_or_file(args.client_secret_file.as_deref())
                .map_err(|e| Error::Usage(e.to_string()))?;
            (base, args.client_id.clone(), secret, None)
        }
        None => {
            let secret = server::ClientSecret::generate();
            let mut server_config = ServerConfig::new(&args.db, secret.clone());
            server_config.tenant_id = tenant.clone();
            server_config.pool_id = config.body.target.pool.clone();
            server_config.client_id = args.client_id.clone();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let handle = server::spawn(server_config, listener).await?;
            let base = Url::parse(&handle.base_url())?;
            let secret = ClientSecret::new(secret.expose());
            (base, args.client_id.clone(), secret, Some(handle))
        }
    };
    let mut client_config = ClientConfig::new(base, tenant, client_id, secret);
    client_config.request_timeout = Duration::from_secs(args.request_timeout_s.max(1));
    client_config.pool_size = config.concurrency;
    let client = TargetClient::new(client_config)?;
    Ok((Arc::new(client), embedded))
}

/// First SIGINT/SIGTERM: stop reading, finish what is in flight, save, exit 130.
/// Second: exit at once (the checkpoint on disk is still valid).
fn watch_signals(stop: Stop) {
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
                std::process::exit(i32::from(super::EXIT_INTERRUPTED));
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
