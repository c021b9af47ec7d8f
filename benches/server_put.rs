//! Throughput of `ferry serve` for 100-user imports over loopback.
//!
//! ```text
//! cargo bench --bench server_put -- [--requests N] [--concurrency C] [--users U]
//! ```
//!
//! Starts the real `ferry serve` binary as a child process on an ephemeral
//! loopback port with a fresh database, then PUTs N distinct bodies of U
//! synthetic users with all their records (`ferry::tools::synthetic`: one
//! credential, one identifier, two addresses each) from C concurrent
//! clients, and prints requests/s and users/s. A second pass resends the same
//! bodies under `ignore` (every user already stored). Bodies are built and
//! serialised before the clock starts; the time that took per body is
//! printed too, as a yardstick for the client's side of an import. CPU seconds of the server process and of this
//! client process are read from `/proc`, to show which side of an import is
//! the expensive one. Defaults: 2000 requests, 8 clients, 100 users.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry::contract::records::ImportMode;
use ferry::send::client::{ClientConfig, TargetClient};
use ferry::send::token::ClientSecret;
use ferry::tools::serve_child::ServeChild;
use ferry::tools::synthetic;

const TENANT: &str = "bench";
const POOL: &str = "default";
const SECRET: &str = "bench-secret";

struct Options {
    requests: usize,
    concurrency: usize,
    users: u64,
}

fn options() -> Options {
    let mut options = Options {
        requests: 2000,
        concurrency: 8,
        users: 100,
    };
    let args: Vec<String> = std::env::args().collect();
    let value = |i: usize| args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
    for (i, arg) in args.iter().enumerate() {
        match arg.as_str() {
            "--requests" => options.requests = value(i).map_or(options.requests, |v| v as usize),
            "--concurrency" => {
                options.concurrency = value(i).map_or(options.concurrency, |v| v as usize)
            }
            "--users" => options.users = value(i).unwrap_or(options.users),
            _ => {}
        }
    }
    options
}

/// CPU seconds (user + system) of a process, from `/proc/<pid>/stat`
/// (clock ticks of 1/100 s, Linux's fixed USER_HZ).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn start_server(dir: &std::path::Path) -> ServeChild {
    let mut cmd = ServeChild::command(env!("CARGO_BIN_EXE_ferry"), &dir.join("bench.db"));
    cmd.args(["--tenant", TENANT, "--pool", POOL])
        .env("FERRY_CLIENT_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stderr(if std::env::var_os("FERRY_BENCH_SERVER_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    ServeChild::start(cmd, Duration::from_secs(60)).expect("start ferry serve")
}

/// PUTs every body once from `concurrency` tasks; returns the elapsed time.
async fn put_all(
    client: &Arc<TargetClient>,
    bodies: &Arc<Vec<bytes::Bytes>>,
    concurrency: usize,
) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let response = client
                    .put_batch(body.clone(), ImportMode::Ignore)
                    .await
                    .expect("put");
                assert_eq!(response.status, 204, "request {i}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    started.elapsed()
}

fn report(label: &str, options: &Options, elapsed: Duration, server_cpu: f64, client_cpu: f64) {
    let seconds = elapsed.as_secs_f64();
    let requests = options.requests as f64;
    println!(
        "{label}: {} requests of {} users in {seconds:.2} s: {:.0} requests/s, {:.0} users/s; \
         CPU: server {server_cpu:.2} s ({:.2} ms/request), client {client_cpu:.2} s",
        options.requests,
        options.users,
        requests / seconds,
        requests * options.users as f64 / seconds,
        server_cpu * 1000.0 / requests,
    );
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start_server(dir.path());
    let base = server.url().to_owned();
    let pid = server.id().map(|id| id.to_string()).unwrap_or_default();
    let mut config = ClientConfig::new(
        url::Url::parse(&base).expect("server URL"),
        TENANT,
        "ferry",
        ClientSecret::new(SECRET),
    );
    config.pool_size = options.concurrency.max(1);
    let client = Arc::new(TargetClient::new(config).expect("client"));
    let building = Instant::now();
    let bodies: Arc<Vec<bytes::Bytes>> = Arc::new(
        (0..options.requests as u64)
            .map(|i| {
                let body =
                    synthetic::users(TENANT, POOL, i * options.users..(i + 1) * options.users);
                bytes::Bytes::from(serde_json::to_vec(&body).expect("json"))
            })
            .collect(),
    );
    let build_ms = building.elapsed().as_secs_f64() * 1000.0 / options.requests as f64;
    let body_kib = bodies.first().map_or(0, |b| b.len()) / 1024;
    println!(
        "ferry serve at {base}; {} clients; bodies of {} users, {body_kib} KiB each; \
         building one (records, ids, JSON) took {build_ms:.2} ms",
        options.concurrency, options.users
    );
    for label in ["new users", "resend (ignore)"] {
        let (server_before, client_before) = (cpu_seconds(&pid), cpu_seconds("self"));
        let elapsed = put_all(&client, &bodies, options.concurrency).await;
        let server_cpu = cpu_seconds(&pid) - server_before;
        let client_cpu = cpu_seconds("self") - client_before;
        report(label, &options, elapsed, server_cpu, client_cpu);
    }
    let size = |name: &str| std::fs::metadata(dir.path().join(name)).map_or(0, |m| m.len()) >> 20;
    println!(
        "database {} MiB, WAL {} MiB",
        size("bench.db"),
        size("bench.db-wal")
    );
    drop(server);
}
