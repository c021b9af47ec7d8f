//! The end-to-end benchmark (`ferry bench`): is ferry or the target the limit?
//!
//! One run, on loopback, with the real binaries as separate processes so that
//! CPU time is accounted per side:
//!
//! ```text
//! ferry sample  → users.csv                    (N users, fixed seed)
//! ferry import --dry-run → bodies/             (the exact request bodies; dry-run speed)
//! limit: ferry serve (fresh db) ◀── replay of bodies/ by a minimal PUT loop here
//! ferry: ferry serve (fresh db) ◀── ferry import users.csv
//! the same two with ferry serve --latency-ms 200 (the latency-bound case)
//! ```
//!
//! The **limit** is the most any client can get out of that server: the
//! bodies are already serialised and the loop does nothing but read a file
//! and `PUT` it, with the same concurrency as ferry. ferry's figure divided by
//! the limit says how much of the server's capacity ferry leaves unused.
//!
//! Every child runs under a deadline and is waited for with `wait4`, which
//! gives its CPU time and peak RSS; the replay's CPU is this process's own.
//! After each phase the server is stopped and its database counted, so the
//! report also says whether every user arrived ("nothing lost"), whatever
//! the speed. Traffic never leaves 127.0.0.1.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;

use crate::contract::records::ImportMode;
use crate::dry_run::batch_file_name;
use crate::report::{per_second, DryRunReport, ImportReport};
use crate::send::client::{ClientConfig, TargetClient};
use crate::send::token::ClientSecret;
use crate::tools::serve_child::ServeChild;

/// The import time of every run, so that the dry run and the imports send the same bytes.
const IMPORT_TIME: &str = "2025-01-01T00:00:00Z";
/// Tenant of the benchmark server.
const TENANT: &str = "demo";

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The `ferry` binary to run as sample, dry run, server and client.
    pub exe: PathBuf,
    /// Work directory (sources, bodies, databases, logs); must exist.
    pub dir: PathBuf,
    /// Users of the loopback case.
    pub users: u64,
    /// Users of the latency-bound case; 0 skips it.
    pub latency_users: u64,
    /// Latency the server adds to every import in the latency-bound case.
    pub latency_ms: u64,
    /// Requests in flight, for ferry and the replay alike.
    pub concurrency: usize,
    /// Users per request.
    pub batch_size: usize,
    /// Longest any one step may take before it is killed.
    pub step_timeout: Duration,
}

/// Why a benchmark could not run to the end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// A child process failed.
    #[error("{what} failed ({status}); its log is {log}")]
    Child {
        /// Which step.
        what: String,
        /// Its exit status.
        status: String,
        /// Where its standard error went.
        log: PathBuf,
    },
    /// A step ran over its deadline and was killed.
    #[error("{what} took longer than {limit_s} s and was stopped")]
    Timeout {
        /// Which step.
        what: String,
        /// The deadline.
        limit_s: u64,
    },
    /// The replay or the server said something unexpected.
    #[error("{0}")]
    Protocol(String),
    /// Counting a database failed.
    #[error("counting {path}: {source}")]
    Count {
        /// The database.
        path: PathBuf,
        /// The failure.
        #[source]
        source: crate::server::StoreError,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Io { what, source }
}

/// Resources a finished process used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Wall time from start to exit, in seconds.
    pub wall_s: f64,
    /// User plus system CPU time, in seconds.
    pub cpu_s: f64,
    /// Peak resident set size, in MiB.
    pub max_rss_mib: f64,
}

/// Rows of each table of a server's database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub users: u64,
    pub credentials: u64,
    pub identifiers: u64,
    pub addresses: u64,
}

/// One measured load: the replay (limit) or ferry.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// Users sent.
    pub users: u64,
    /// Wall time of the client, in seconds.
    pub elapsed_s: f64,
    /// `users / elapsed_s`.
    pub users_per_s: f64,
    /// CPU seconds of the client process.
    pub client_cpu_s: f64,
    /// Peak RSS of the client process, in MiB (the replay's is this process's).
    pub client_max_rss_mib: f64,
    /// CPU seconds of the server process.
    pub server_cpu_s: f64,
    /// Peak RSS of the server process, in MiB.
    pub server_max_rss_mib: f64,
    /// What the server's database holds afterwards.
    pub stored: Stored,
}

/// The limit and ferry against the same server settings.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// Latency the server added to every import, in milliseconds.
    pub latency_ms: u64,
    /// The replay of pre-serialised bodies.
    pub limit: Phase,
    /// `ferry import` of the source.
    pub ferry: Phase,
    /// `ferry.users_per_s / limit.users_per_s`.
    pub ratio: f64,
    /// Whether both databases hold every user with all their records, and the same counts.
    pub nothing_lost: bool,
}

/// The dry run: mapping and serialisation alone.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunPhase {
    pub users: u64,
    pub elapsed_s: f64,
    pub users_per_s: f64,
    pub cpu_s: f64,
    pub max_rss_mib: f64,
}

/// Everything one `ferry bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Logical CPUs and their model.
    pub machine: String,
    pub users: u64,
    pub concurrency: usize,
    pub batch_size: usize,
    pub dry_run: DryRunPhase,
    pub loopback: Case,
    /// Absent when skipped.
    pub latency_bound: Option<Case>,
    /// Whether every case stored every user.
    pub nothing_lost: bool,
}

impl BenchReport {
    /// Done when nothing was lost; stopped otherwise (exit code 1).
    pub fn outcome(&self) -> crate::outcome::Outcome {
        if self.nothing_lost {
            crate::outcome::Outcome::Done
        } else {
            crate::outcome::Outcome::Stopped
        }
    }

    /// A table for people.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "ferry bench: {} users, concurrency {}, batches of {} ({})\n",
            self.users, self.concurrency, self.batch_size, self.machine
        );
        out.push_str(&format!(
            "dry run (map + serialise, 1 core): {:.0} users/s ({:.2} s, {:.2} CPU s, peak RSS {:.1} MiB)\n",
            self.dry_run.users_per_s, self.dry_run.elapsed_s, self.dry_run.cpu_s, self.dry_run.max_rss_mib
        ));
        out.push_str(&format!(
            "{:<26} {:>9} {:>10} {:>9} {:>10} {:>10} {:>10}\n",
            "case", "users", "users/s", "elapsed", "client CPU", "server CPU", "client RSS"
        ));
        for case in std::iter::once(&self.loopback).chain(&self.latency_bound) {
            let label = if case.latency_ms == 0 {
                "loopback".to_owned()
            } else {
                format!("latency {} ms", case.latency_ms)
            };
            for (name, p) in [("limit", &case.limit), ("ferry", &case.ferry)] {
                out.push_str(&format!(
                    "{:<26} {:>9} {:>10.0} {:>8.2}s {:>9.2}s {:>9.2}s {:>7.1} MiB\n",
                    format!("{label}: {name}"),
                    p.users,
                    p.users_per_s,
                    p.elapsed_s,
                    p.client_cpu_s,
                    p.server_cpu_s,
                    p.client_max_rss_mib
                ));
            }
            out.push_str(&format!(
                "{:<26} ferry / limit = {:.3}{}\n",
                format!("{label}: ratio"),
                case.ratio,
                if case.nothing_lost {
                    ""
                } else {
                    "  (USERS LOST)"
                }
            ));
        }
        out.push_str(if self.nothing_lost {
            "nothing lost: every database holds every user with all its records"
        } else {
            "LOST: a database does not hold every user; see the stored counts in the JSON"
        });
        out
    }
}

/// Runs the whole benchmark; see the module docs.
pub async fn run(config: &BenchConfig, secret: &str) -> Result<BenchReport, BenchError> {
    let source = config.dir.join("users.csv");
    sample(config, config.users, &source)?;
    let (dry, bodies) = dry_run(config, &source, "bodies")?;
    let loopback = measure_case(config, secret, &source, &bodies, 0, config.users).await?;
    let latency_bound = if config.latency_users == 0 {
        None
    } else {
        let source = config.dir.join("latency-users.csv");
        sample(config, config.latency_users, &source)?;
        let (_, bodies) = dry_run(config, &source, "latency-bodies")?;
        let users = config.latency_users;
        Some(measure_case(config, secret, &source, &bodies, config.latency_ms, users).await?)
    };
    let nothing_lost =
        loopback.nothing_lost && latency_bound.as_ref().is_none_or(|c| c.nothing_lost);
    Ok(BenchReport {
        machine: machine(),
        users: config.users,
        concurrency: config.concurrency,
        batch_size: config.batch_size,
        dry_run: dry,
        loopback,
        latency_bound,
        nothing_lost,
    })
}

/// `ferry sample --users N`.
fn sample(config: &BenchConfig, users: u64, path: &Path) -> Result<(), BenchError> {
    let mut cmd = Command::new(&config.exe);
    cmd.arg("sample")
        .arg("--users")
        .arg(users.to_string())
        .arg("--output")
        .arg(path);
    run_child(config, cmd, "sample")?;
    Ok(())
}

/// `ferry import --dry-run`: the bodies the limit replays, and the mapping speed.
fn dry_run(
    config: &BenchConfig,
    source: &Path,
    name: &str,
) -> Result<(DryRunPhase, PathBuf), BenchError> {
    let dir = config.dir.join(name);
    let mut cmd = Command::new(&config.exe);
    cmd.arg("import")
        .arg(source)
        .arg("--dry-run")
        .arg(&dir)
        .arg("--import-time")
        .arg(IMPORT_TIME)
        .arg("--batch-size")
        .arg(config.batch_size.to_string());
    let usage = run_child(config, cmd, name)?;
    let report_path = dir.join(crate::dry_run::REPORT_FILE);
    let text = fs::read(&report_path).map_err(io(format!("reading {}", report_path.display())))?;
    let report: DryRunReport = serde_json::from_slice(&text)
        .map_err(|e| BenchError::Protocol(format!("{}: {e}", report_path.display())))?;
    let phase = DryRunPhase {
        users: report.mapped,
        elapsed_s: usage.wall_s,
        users_per_s: per_second(report.mapped, usage.wall_s),
        cpu_s: usage.cpu_s,
        max_rss_mib: usage.max_rss_mib,
    };
    Ok((phase, dir))
}

/// The limit and ferry against fresh servers with `latency_ms`.
async fn measure_case(
    config: &BenchConfig,
    secret: &str,
    source: &Path,
    bodies: &Path,
    latency_ms: u64,
    users: u64,
) -> Result<Case, BenchError> {
    let tag = if latency_ms == 0 {
        "loopback".to_owned()
    } else {
        format!("latency{latency_ms}")
    };
    let limit = {
        let server = Server::start(config, secret, &format!("{tag}-limit"), latency_ms)?;
        let before = own_usage();
        let started = Instant::now();
        let sent = replay(server.url(), secret, bodies, config.concurrency).await;
        let elapsed = started.elapsed().as_secs_f64();
        let after = own_usage();
        let (server_usage, stored) = server.stop(config)?;
        let sent = sent?;
        phase(
            sent,
            elapsed,
            Usage {
                wall_s: elapsed,
                cpu_s: after.cpu_s - before.cpu_s,
                max_rss_mib: after.max_rss_mib,
            },
            server_usage,
            stored,
        )
    };
    let ferry = {
        let server = Server::start(config, secret, &format!("{tag}-ferry"), latency_ms)?;
        let imported = ferry_import(config, secret, source, server.url(), &tag);
        let (server_usage, stored) = server.stop(config)?;
        let (report, usage) = imported?;
        phase(
            report.counts.imported,
            usage.wall_s,
            usage,
            server_usage,
            stored,
        )
    };
    let complete = |p: &Phase| p.users == users && p.stored.users == users;
    let nothing_lost = complete(&limit) && complete(&ferry) && limit.stored == ferry.stored;
    Ok(Case {
        latency_ms,
        ratio: if limit.users_per_s > 0.0 {
            ferry.users_per_s / limit.users_per_s
        } else {
            0.0
        },
        limit,
        ferry,
        nothing_lost,
    })
}

fn phase(users: u64, elapsed_s: f64, client: Usage, server: Usage, stored: Stored) -> Phase {
    Phase {
        users,
        elapsed_s,
        users_per_s: per_second(users, elapsed_s),
        client_cpu_s: client.cpu_s,
        client_max_rss_mib: client.max_rss_mib,
        server_cpu_s: server.cpu_s,
        server_max_rss_mib: server.max_rss_mib,
        stored,
    }
}

/// `ferry import SOURCE --target URL`, with the secret in its environment.
fn ferry_import(
    config: &BenchConfig,
    secret: &str,
    source: &Path,
    url: &str,
    tag: &str,
) -> Result<(ImportReport, Usage), BenchError> {
    let file = |suffix: &str| config.dir.join(format!("{tag}-ferry.{suffix}"));
    let report_path = file("report.json");
    let mut cmd = Command::new(&config.exe);
    cmd.arg("import")
        .arg(source)
        .arg("--target")
        .arg(url)
        .arg("--import-time")
        .arg(IMPORT_TIME)
        .arg("--concurrency")
        .arg(config.concurrency.to_string())
        .arg("--batch-size")
        .arg(config.batch_size.to_string())
        .arg("--checkpoint")
        .arg(file("checkpoint"))
        .arg("--rejects")
        .arg(file("rejects.jsonl"))
        .arg("--report")
        .arg(&report_path)
        .arg("--restart")
        .arg("--quiet")
        .env("FERRY_CLIENT_SECRET", secret);
    let usage = run_child(config, cmd, &format!("{tag}-import"))?;
    let text = fs::read(&report_path).map_err(io(format!("reading {}", report_path.display())))?;
    let report: ImportReport = serde_json::from_slice(&text)
        .map_err(|e| BenchError::Protocol(format!("{}: {e}", report_path.display())))?;
    Ok((report, usage))
}

/// Runs a child to its end under the step deadline; its output goes to `NAME.log`.
fn run_child(config: &BenchConfig, mut cmd: Command, name: &str) -> Result<Usage, BenchError> {
    let log = config.dir.join(format!("{name}.log"));
    let out = fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(io(format!("opening {}", log.display())))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let started = Instant::now();
    let child = cmd.spawn().map_err(io(format!("starting {name}")))?;
    let (status, usage) = wait_child(child, started, Some(config.step_timeout), name)?;
    // Exit 3 means rows were rejected: the run itself worked; the counts tell.
    if status != 0 && status != 3 {
        return Err(BenchError::Child {
            what: name.to_owned(),
            status: format!("exit status {status}"),
            log,
        });
    }
    Ok(usage)
}

/// Waits for `child` with `wait4`, killing it past `limit`; returns its exit
/// code (128 + signal when killed by one) and what it used.
fn wait_child(
    child: Child,
    started: Instant,
    limit: Option<Duration>,
    name: &str,
) -> Result<(i32, Usage), BenchError> {
    let pid = child.id() as libc::pid_t;
    let mut killed = false;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `rusage` is plain data that wait4 fills in; `pid` is our own child.
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut rusage) };
        if done == pid {
            if killed {
                return Err(BenchError::Timeout {
                    what: name.to_owned(),
                    limit_s: limit.map_or(0, |l| l.as_secs()),
                });
            }
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            return Ok((code, usage_of(&rusage, started.elapsed())));
        }
        if done < 0 {
            return Err(io(format!("waiting for {name}"))(
                std::io::Error::last_os_error(),
            ));
        }
        if !killed && limit.is_some_and(|l| started.elapsed() > l) {
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn usage_of(rusage: &libc::rusage, wall: Duration) -> Usage {
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        wall_s: wall.as_secs_f64(),
        cpu_s: seconds(rusage.ru_utime) + seconds(rusage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_mib: rusage.ru_maxrss as f64 / 1024.0,
    }
}

/// This process's CPU time so far and peak RSS.
fn own_usage() -> Usage {
    // SAFETY: getrusage fills in a plain struct.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut rusage) };
    usage_of(&rusage, Duration::ZERO)
}

/// A `ferry serve` child on a fresh database.
struct Server {
    child: ServeChild,
    started: Instant,
    db: PathBuf,
    name: String,
}

impl Server {
    /// Starts `ferry serve` on 127.0.0.1, an ephemeral port and a fresh
    /// `NAME.db`, and waits for the line that gives its URL.
    fn start(
        config: &BenchConfig,
        secret: &str,
        name: &str,
        latency_ms: u64,
    ) -> Result<Server, BenchError> {
        let db = config.dir.join(format!("{name}.db"));
        let _ = crate::outputs::remove_database(&db);
        let log = config.dir.join(format!("{name}-serve.log"));
        let err = fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?;
        let mut cmd = ServeChild::command(&config.exe, &db);
        cmd.env("FERRY_CLIENT_SECRET", secret)
            .stdin(Stdio::null())
            .stderr(err);
        if latency_ms > 0 {
            cmd.arg("--latency-ms").arg(latency_ms.to_string());
        }
        let started = Instant::now();
        let child =
            ServeChild::start(cmd, Duration::from_secs(60)).map_err(|err| BenchError::Child {
                what: "ferry serve".into(),
                status: err.to_string(),
                log,
            })?;
        Ok(Server {
            child,
            started,
            db,
            name: name.to_owned(),
        })
    }

    fn url(&self) -> &str {
        self.child.url()
    }

    /// Stops the server (SIGTERM, a graceful shutdown), and counts its database.
    fn stop(self, config: &BenchConfig) -> Result<(Usage, Stored), BenchError> {
        let what = format!("{} server shutdown", self.name);
        let Some(child) = self.child.into_child() else {
            return Err(BenchError::Child {
                what,
                status: "already stopped".into(),
                log: config.dir.join(format!("{}-serve.log", self.name)),
            });
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: signalling our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let (_, usage) = wait_child(child, self.started, Some(config.step_timeout), &what)?;
        Ok((usage, count(&self.db)?))
    }
}

/// Counts the rows of every record table of a database.
pub fn count(db: &Path) -> Result<Stored, BenchError> {
    let counts = crate::server::count_records(db).map_err(|source| BenchError::Count {
        path: db.to_owned(),
        source,
    })?;
    Ok(Stored {
        users: counts.users as u64,
        credentials: counts.credentials as u64,
        identifiers: counts.identifiers as u64,
        addresses: counts.addresses as u64,
    })
}

/// The minimal client: a token, then every body of `dir` `PUT` as it is,
/// `concurrency` at a time. Returns the users sent (from the dry-run report).
async fn replay(
    url: &str,
    secret: &str,
    dir: &Path,
    concurrency: usize,
) -> Result<u64, BenchError> {
    let report_path = dir.join(crate::dry_run::REPORT_FILE);
    let text = fs::read(&report_path).map_err(io(format!("reading {}", report_path.display())))?;
    let report: DryRunReport = serde_json::from_slice(&text)
        .map_err(|e| BenchError::Protocol(format!("{}: {e}", report_path.display())))?;
    let base =
        url::Url::parse(url).map_err(|e| BenchError::Protocol(format!("server URL {url}: {e}")))?;
    let mut client_config = ClientConfig::new(
        base,
        TENANT,
        crate::server::DEFAULT_CLIENT_ID,
        ClientSecret::new(secret),
    );
    client_config.pool_size = concurrency.max(1);
    let client = TargetClient::new(client_config)
        .map_err(|e| BenchError::Protocol(format!("HTTP client: {e}")))?;
    let files = (1..=report.batches).map(|n| dir.join(batch_file_name(n)));
    let puts = futures::stream::iter(files)
        .map(|path| {
            let client = &client;
            async move {
                let body = tokio::fs::read(&path)
                    .await
                    .map_err(io(format!("reading {}", path.display())))?;
                let response = client
                    .put_batch(body.into(), ImportMode::Ignore)
                    .await
                    .map_err(|e| BenchError::Protocol(format!("PUT failed: {e}")))?;
                if response.status != 204 {
                    return Err(BenchError::Protocol(format!(
                        "PUT of {} answered {}",
                        path.display(),
                        response.status
                    )));
                }
                Ok(())
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut puts = std::pin::pin!(puts);
    while let Some(done) = puts.next().await {
        done?;
    }
    Ok(report.mapped)
}

/// "2 × AMD EPYC", from the number of CPUs and `/proc/cpuinfo`.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} × {model}")
}
