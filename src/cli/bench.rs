//! `ferry bench`: flags → [`ferry::tools::bench`], the report printed and written as JSON.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ferry::outcome::Outcome;
use ferry::tools::bench::{self, BenchConfig};

/// Measure ferry against the reference server's own ingest limit, on loopback:
/// a replay of pre-serialised bodies (the limit) and `ferry import` (ferry),
/// each into a fresh `ferry serve` child, then the same with server latency.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Users of the loopback case (`--users 1500000` is the platform guide's migration).
    #[arg(long, default_value_t = 200_000)]
    pub users: u64,
    /// Users of the latency-bound case (default: the smaller of --users and 40,000,
    /// 10 s at the 4,000 users/s such a server allows); 0 skips the case.
    #[arg(long)]
    pub latency_users: Option<u64>,
    /// Latency the server adds to every import in the latency-bound case.
    #[arg(long, default_value_t = 200)]
    pub latency_ms: u64,
    /// Requests in flight, for ferry and the replay alike.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Users per request.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Work directory (default: a new one under the system's temporary
    /// directory, removed afterwards unless --keep).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Keep the work directory (sources, bodies, databases, logs).
    #[arg(long)]
    pub keep: bool,
    /// Write the report as JSON here (default: bench.json in the current directory).
    #[arg(long, value_name = "FILE", default_value = "bench.json")]
    pub json: PathBuf,
    /// Longest any one step (sample, dry run, replay, import) may take.
    #[arg(long, value_name = "S", default_value_t = 900)]
    pub step_timeout_s: u64,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe().context("finding the ferry binary")?;
    let (dir, remove) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("ferry-bench-{}", std::process::id())),
            !args.keep,
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = BenchConfig {
        exe,
        dir: dir.clone(),
        users: args.users,
        latency_users: args.latency_users.unwrap_or(args.users.min(40_000)),
        latency_ms: args.latency_ms,
        concurrency: args.concurrency.max(1),
        batch_size: args.batch_size,
        step_timeout: Duration::from_secs(args.step_timeout_s.max(1)),
    };
    // The secret goes to the children through their environment only.
    let secret = ferry::server::ClientSecret::generate();
    let result = bench::run(&config, secret.expose()).await;
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    super::say(&report.summary());
    let json = serde_json::to_vec_pretty(&report)?;
    std::fs::write(&args.json, json).with_context(|| format!("writing {}", args.json.display()))?;
    super::say(&format!("report written to {}", args.json.display()));
    Ok(report.outcome())
}
