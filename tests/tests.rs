//! Integration tests: one test binary, one module per area.

mod common;
mod copy;
mod dry_run;
mod export;
mod import;
mod layouts;
mod matching;
mod output;
mod passwords;
mod preflight;
mod presets;
mod private_files;
mod server;
mod sources;
mod spec_conformance;
mod verify;
