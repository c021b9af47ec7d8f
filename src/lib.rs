//! ferry: a bulk user-import engine.
//!
//! ferry streams a CIAM user export (CSV or JSON Lines) and loads it into an
//! Identity Pools bulk import API (`shared/spec/identity-pool-import-api.md`):
//!
//! ```text
//! config (ImportOptions → ImportConfig, validated once) → target (remote or embedded)
//! source (read) → mapping (validate, map, derive ids) → batch (serialise)
//!   → send (bounded concurrency, retry, bisect, rate limit)
//!   → import (acknowledge in order) → checkpoint, reject, report → outcome
//! ```
//!
//! [`import::run`] is the chain; its module documentation draws it stage by
//! stage. [`export::run`] reads a pool back out as canonical lines, which an
//! import `--from ferry` loads into another tenant or pool.
//!
//! It also ships the reference target of that API ([`server`]), on an
//! embedded SQLite database, which is the default target of an import, and
//! the [`tools`] that exercise an import without being part of one
//! (`ferry bench`, `ferry sample`).

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod contract;
pub mod copy;
pub mod dry_run;
pub mod error;
pub mod export;
pub mod fingerprint;
pub mod import;
pub mod mapping;
pub mod outcome;
pub mod outputs;
pub mod pipeline;
pub mod preflight;
pub mod presets;
pub mod private;
pub mod progress;
pub mod reject;
pub mod report;
pub mod secret;
pub mod send;
pub mod server;
pub mod source;
pub mod target;
pub mod tools;
pub mod verify;
mod words;
