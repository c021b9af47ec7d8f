//! Micro benchmarks of the client's hot path: one batch of 100 users read,
//! validated, mapped and serialised into a request body, from CSV and from
//! JSON Lines; and the deterministic id derivation alone.
//!
//! The sources are `ferry sample` output held in memory, so the figures are
//! the CPU cost of ferry's own work, without disk or network.
//! Run: `cargo bench --bench pipeline`.

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferry::batch::Batcher;
use ferry::mapping::ids::{IdScope, RecordKind};
use ferry::mapping::{Mapper, MappingConfig, Target};
use ferry::source::{Format, Position, SourceReader};
use ferry::tools::sample::{self, SampleSpec};
use time::macros::datetime;

/// Users per batch, the platform guide's maximum and ferry's default.
const USERS: u64 = 100;

/// A sample of `USERS` users in `format`, as bytes.
fn sample(format: Format) -> Vec<u8> {
    let spec = SampleSpec {
        users: USERS,
        bad_rows: 0,
        seed: 7,
        format,
    };
    let mut out = Vec::new();
    sample::write(&spec, &mut out).expect("writing a sample into memory");
    out
}

/// Reads, maps and serialises every row of `data` into one batch; returns the body length.
fn one_batch(data: &'static [u8], format: Format) -> usize {
    let reader = SourceReader::from_reader("bench", Cursor::new(data), format).expect("source");
    let mapping = MappingConfig::default()
        .resolve(reader.headers())
        .expect("mapping");
    let target = Target {
        tenant: "demo".into(),
        pool: "default".into(),
        import_time: datetime!(2025-01-01 00:00:00 UTC),
    };
    let mapper = Mapper::new(target, mapping);
    let start = Position { offset: 0, row: 1 };
    let mut batches = Batcher::new(reader, mapper, USERS as usize, start, 1);
    let batch = batches.next().expect("one batch").expect("readable");
    assert_eq!(batch.users.len(), USERS as usize);
    batch.body.len()
}

fn batch_of_100(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_of_100");
    group.throughput(Throughput::Elements(USERS));
    for (name, format) in [("csv", Format::CSV), ("jsonl", Format::JSON_LINES)] {
        let data: &'static [u8] = Box::leak(sample(format).into_boxed_slice());
        group.bench_function(name, |b| b.iter(|| one_batch(black_box(data), format)));
    }
    group.finish();
}

fn id_derivation(c: &mut Criterion) {
    let scope = IdScope::new("demo", "default");
    let mut group = c.benchmark_group("ids");
    group.throughput(Throughput::Elements(1));
    group.bench_function("user", |b| b.iter(|| scope.user(black_box("user-0001234"))));
    group.bench_function("email_identifier", |b| {
        b.iter(|| {
            scope.contact(
                RecordKind::EmailIdentifier,
                black_box("user-0001234"),
                black_box(0),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, batch_of_100, id_derivation);
criterion_main!(benches);
