//! The tools around the pipeline: what ships with ferry to exercise an
//! import, not part of one.
//!
//! `ferry bench` and `ferry sample` are user-facing commands, but their code
//! lives here, apart from the stages of the import (`source` → `mapping` →
//! `batch` → `send` → `checkpoint`), so that a reader of the pipeline never
//! meets it. Their flags are parsed in `src/cli/`.
//!
//! - [`bench`]: `ferry bench`, ferry against the reference server's own
//!   ingest limit, each side in a process of its own.
//! - [`sample`]: `ferry sample`, realistic synthetic user exports with bad
//!   rows on demand.
//! - [`serve_child`]: `ferry serve` as a child process, for the bench and
//!   the tests that need the server in a process of its own.
//! - [`synthetic`]: import bodies of synthetic users with all their records,
//!   for the server's tests and benchmarks.

pub mod bench;
pub mod sample;
pub mod serve_child;
pub mod synthetic;
