//! `ferry serve`: runs the reference target server until SIGINT or SIGTERM.
//!
//! This file only turns flags into a [`ServerConfig`] and reports where the
//! server listens; everything else is in [`ferry::server`]. Client
//! credentials come from `FERRY_CLIENT_ID` / `FERRY_CLIENT_SECRET`, read from
//! the environment directly (never flags, so the secret stays out of argv
//! and `--help`); without a secret, the one in `<db>.secret` is used, created
//! on first start, and only its path is printed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ferry::outcome::Outcome;
use ferry::server::credentials::{self, ClientCredentials, SecretSource};
use ferry::server::{
    Durability, FaultConfig, LatencyRange, SaltConvention, ServerConfig, DEFAULT_MAX_BODY,
    DEFAULT_POOL, DEFAULT_TENANT,
};
use tokio::net::TcpListener;

use super::say;

/// Flags of `ferry serve`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Run the reference Identity Pools import API on an embedded SQLite database",
    after_help = "Client credentials: FERRY_CLIENT_ID (default 'ferry') and FERRY_CLIENT_SECRET. \
                  Without FERRY_CLIENT_SECRET the secret is read from <DB>.secret, which is \
                  created with a random secret and mode 0600 on first start."
)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8085", value_name = "IP:PORT")]
    pub addr: SocketAddr,
    /// SQLite database file, created when missing.
    #[arg(long, default_value = "ferry-target.db", value_name = "PATH")]
    pub db: PathBuf,
    /// Tenant id created at start if missing.
    #[arg(long, default_value = DEFAULT_TENANT, value_name = "ID")]
    pub tenant: String,
    /// Another tenant to create at start (repeatable), with the same pool.
    #[arg(long = "extra-tenant", value_name = "ID")]
    pub extra_tenants: Vec<String>,
    /// Pool id created in each tenant at start if missing.
    #[arg(long, default_value = DEFAULT_POOL, value_name = "ID")]
    pub pool: String,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub token_ttl: u64,
    /// Largest accepted request body, in bytes; larger bodies get 413.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY, value_name = "BYTES")]
    pub max_body: usize,
    /// fsync every commit, so acknowledged imports also survive power loss
    /// (by default they survive a crash or kill of the server, not of the machine).
    #[arg(long)]
    pub fsync: bool,
    /// Share of imports answered 503 before touching the database (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fail_rate: f64,
    /// Share of imports answered 429 with Retry-After (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub throttle_rate: f64,
    /// Share of imports whose connection is closed without an answer, half of
    /// them after committing (0 to 1).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub drop_rate: f64,
    /// Latency added to every import, fixed or drawn from a range, in milliseconds.
    #[arg(long, value_name = "MIN[..MAX]")]
    pub latency_ms: Option<LatencyRange>,
    /// Imports allowed to run at once; more are answered 429.
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// Seed of the fault generator, to replay the same faults.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// How a hash's `salt` is read: as text (its UTF-8 bytes are the salt,
    /// as the platform's migration guide shows) or as base64 of the raw
    /// bytes. Import with the same `--target-salt`.
    #[arg(long, value_enum, default_value_t = SaltConvention::Text, value_name = "text|base64")]
    pub salt: SaltConvention,
}

impl ServeArgs {
    /// The server configuration these flags describe, with `credentials`.
    pub fn to_config(&self, credentials: &ClientCredentials) -> ServerConfig {
        let mut config = ServerConfig::new(&self.db, credentials.client_secret.clone());
        config.client_id = credentials.client_id.clone();
        config.tenant_id = self.tenant.clone();
        config.extra_tenants = self.extra_tenants.clone();
        config.pool_id = self.pool.clone();
        config.token_ttl = Duration::from_secs(self.token_ttl);
        config.max_body = self.max_body;
        config.salt = self.salt;
        config.durability = if self.fsync {
            Durability::PowerLoss
        } else {
            Durability::Process
        };
        config.faults = FaultConfig {
            fail_rate: self.fail_rate,
            throttle_rate: self.throttle_rate,
            drop_rate: self.drop_rate,
            latency: self.latency_ms,
            max_in_flight: self.max_in_flight,
            seed: self.seed,
        };
        config
    }
}

/// Runs `ferry serve` until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn run(args: ServeArgs) -> anyhow::Result<Outcome> {
    // Keeps the lead's subscriber if main installed one.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(super::log_colours())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    if let Some(dir) = args.db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let credentials = credentials::from_env(&args.db)?;
    let config = args.to_config(&credentials);
    config.validate()?;
    let listener = TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let server = ferry::server::spawn(config, listener).await?;
    say(&format!(
        "ferry serve: listening on {} (tenant '{}', pool '{}', database {})",
        server.base_url(),
        args.tenant,
        args.pool,
        args.db.display()
    ));
    say(&credentials_line(&credentials));
    shutdown_signal().await?;
    tracing::info!("Signal received; shutting down.");
    server.shutdown().await;
    Ok(Outcome::Done)
}

/// Tells where the secret is, never what it is.
fn credentials_line(credentials: &ClientCredentials) -> String {
    let id = &credentials.client_id;
    match &credentials.source {
        SecretSource::Environment => {
            format!("client id '{id}', client secret from FERRY_CLIENT_SECRET")
        }
        SecretSource::ExistingFile(path) => {
            format!("client id '{id}', client secret in {}", path.display())
        }
        SecretSource::NewFile(path) => format!(
            "client id '{id}', new client secret written to {} (mode 0600)",
            path.display()
        ),
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot watch SIGINT")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot watch Ctrl-C")?;
    Ok(())
}
