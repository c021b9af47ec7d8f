//! The flags every command that talks to a target shares (`import`,
//! `export`): which target, tenant and pool, the client's credentials, and
//! the retry settings. One definition, flattened into each command.

use std::path::PathBuf;
use std::time::Duration;

use ferry::contract::api::Layout;
use ferry::error::Error;
use ferry::send::backoff::Backoff;
use ferry::target::TargetSpec;
use url::Url;

/// Which target, tenant and pool, and the client's credentials.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Tenant id.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// User pool id.
    #[arg(long, default_value = "default")]
    pub pool: String,
    /// Base URL of the target (e.g. https://tenant.example.com). Without it,
    /// ferry starts its reference server in-process over --db.
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    pub target: Option<Url>,
    /// Where the target serves its API: guide (the migration guide's
    /// /api/identity/system/{tid}/configuration; pool and user endpoints at
    /// /api/identity/{tid}/system/pools/…), client (the official Go
    /// client's /api/identity/{tid}/…), or vanity (a tenant's own domain: no
    /// tenant id in the paths, token at /system/oauth2/token).
    #[arg(long, value_enum, default_value_t = LayoutArg::Guide)]
    pub layout: LayoutArg,
    /// Database of the embedded target (used when --target is not given).
    #[arg(long, value_name = "PATH", default_value = "ferry-target.db")]
    pub db: PathBuf,
    /// OAuth client id for the target's token endpoint.
    #[arg(long, env = "FERRY_CLIENT_ID", default_value = "ferry")]
    pub client_id: String,
    /// Accept a plain http:// target that is not this machine (127.0.0.1,
    /// localhost): the client secret and every password hash then cross the
    /// network in clear text.
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// File holding the client secret (otherwise FERRY_CLIENT_SECRET is read).
    /// The secret itself is never a flag.
    #[arg(long, value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
}

impl TargetArgs {
    /// The target these flags name (the secret read now). An export reads
    /// hashes as stored, so the embedded target's salt setting does not
    /// matter to it: the default.
    pub fn spec(&self) -> Result<TargetSpec, Error> {
        TargetSpec::new(
            self.target.clone(),
            self.allow_insecure_http,
            self.client_id.clone(),
            self.client_secret_file.as_deref(),
            self.db.clone(),
            ferry::contract::choices::SaltConvention::default(),
        )
    }
}

/// How requests are retried.
#[derive(Debug, Clone, clap::Args)]
pub struct RetryArgs {
    /// First retry waits up to this long (exponential backoff with full jitter).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub retry_base_ms: u64,
    /// Longest wait between two attempts.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub retry_cap_ms: u64,
    /// Attempts per request before the run stops (with its checkpoint saved).
    /// Throttling (429) uses none: see --throttle-deadline-s.
    #[arg(long, default_value_t = 10)]
    pub max_attempts: u32,
    /// Longest time one request may be throttled (HTTP 429) before the run
    /// stops with its checkpoint saved.
    #[arg(long, value_name = "S", default_value_t = 1800)]
    pub throttle_deadline_s: u64,
    /// Time limit of one request.
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub request_timeout_s: u64,
    /// Seed of the retry jitter, for reproducible runs.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl RetryArgs {
    /// The backoff these flags describe, checked.
    pub fn backoff(&self) -> Result<Backoff, Error> {
        Ok(Backoff::new(
            Duration::from_millis(self.retry_base_ms),
            Duration::from_millis(self.retry_cap_ms),
            self.max_attempts,
        )?
        .with_throttle_deadline(Duration::from_secs(self.throttle_deadline_s)))
    }
}

/// URL layouts on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    Guide,
    Client,
    Vanity,
}

impl From<LayoutArg> for Layout {
    fn from(l: LayoutArg) -> Layout {
        match l {
            LayoutArg::Guide => Layout::Guide,
            LayoutArg::Client => Layout::Client,
            LayoutArg::Vanity => Layout::Vanity,
        }
    }
}

/// A URL flag's value.
pub fn parse_url(text: &str) -> Result<Url, String> {
    Url::parse(text).map_err(|e| format!("not a URL: {e}"))
}
