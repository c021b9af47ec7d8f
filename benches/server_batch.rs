//! Micro benchmarks of the reference server's import: one batch of 100 users
//! parsed, validated and inserted (one transaction) through the real router,
//! without a socket; and the body's parsing alone.
//!
//! The bodies are pre-serialised by ferry's own pipeline from a `ferry sample`
//! of 20,000 users, so every request inserts 100 new users. When the bodies
//! run out, the benchmark starts again on a fresh database (outside the
//! timing), so the figures are for a database growing from 0 to 20,000 users.
//! Run: `cargo bench --bench server_batch`.

use std::hint::black_box;
use std::io::Cursor;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferry::batch::Batcher;
use ferry::contract::{api, ImportBody};
use ferry::mapping::{Mapper, MappingConfig, Target};
use ferry::server::{app, AppState, ClientSecret, ServerConfig};
use ferry::source::{Format, Position, SourceReader};
use ferry::tools::sample::{self, SampleSpec};
use time::macros::datetime;
use tower::ServiceExt;

/// Users per request.
const BATCH: usize = 100;
/// Users in the sample the bodies come from.
const SAMPLE_USERS: u64 = 20_000;
const SECRET: &str = "bench-secret";

/// Request bodies of `BATCH` users each, as ferry would send them.
fn bodies() -> Vec<Bytes> {
    let spec = SampleSpec {
        users: SAMPLE_USERS,
        bad_rows: 0,
        seed: 3,
        format: Format::CSV,
    };
    let mut data = Vec::new();
    sample::write(&spec, &mut data).expect("sample in memory");
    let reader = SourceReader::from_reader("bench", Cursor::new(data), Format::CSV).expect("csv");
    let mapping = MappingConfig::default()
        .resolve(reader.headers())
        .expect("mapping");
    let target = Target {
        tenant: "demo".into(),
        pool: "default".into(),
        import_time: datetime!(2025-01-01 00:00:00 UTC),
    };
    let start = Position { offset: 0, row: 1 };
    Batcher::new(reader, Mapper::new(target, mapping), BATCH, start, 1)
        .map(|b| b.expect("readable").body)
        .collect()
}

/// A server state on a fresh database in `dir`, and a bearer token for it.
async fn fresh_server(dir: &tempfile::TempDir, n: usize) -> (axum::Router, String) {
    let db = dir.path().join(format!("bench-{n}.db"));
    let state = AppState::open(ServerConfig::new(&db, ClientSecret::new(SECRET)))
        .await
        .expect("server state");
    let router = app(state);
    let form = format!("grant_type=client_credentials&client_id=ferry&client_secret={SECRET}");
    let request = Request::post(api::TOKEN.path(["demo"]))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("token");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("token body");
    let answer: serde_json::Value = serde_json::from_slice(&bytes).expect("token json");
    let token = answer["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    (router, token)
}

async fn put(router: &axum::Router, token: &str, body: Bytes) {
    let request = Request::put(format!("{}?mode=ignore", api::CONFIGURATION.path(["demo"])))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

fn server_import(c: &mut Criterion) {
    let bodies = bodies();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("server_import_100");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("parse", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % bodies.len();
            let body: ImportBody = serde_json::from_slice(black_box(&bodies[i])).expect("parse");
            body.users.len()
        })
    });
    let mut databases = 0;
    group.bench_function("validate_and_insert", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    databases += 1;
                    let (router, token) = fresh_server(&dir, databases).await;
                    for body in bodies.iter().take((iters - done) as usize) {
                        let started = Instant::now();
                        put(&router, &token, body.clone()).await;
                        total += started.elapsed();
                        done += 1;
                    }
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, server_import);
criterion_main!(benches);
