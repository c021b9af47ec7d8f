//! Command-line flags (clap) and their translation into library calls.
//! Nothing here does ferry's work; it only parses, validates and reports.

pub mod bench;
pub mod import;
pub mod sample;
pub mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ferry loads a CIAM user export (CSV or JSON Lines) into an Identity Pools
/// bulk import API, and ships a reference target server to rehearse on.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v info, -vv debug); FERRY_LOG=filter overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a user export into a target (or write the request bodies with --dry-run).
    Import(import::ImportArgs),
    /// Run the reference target server (the Identity Pools import API on SQLite).
    Serve(serve::ServeArgs),
    /// Write a realistic synthetic user export.
    Sample(sample::SampleArgs),
    /// Measure ferry against the reference server's ingest limit (end to end, on loopback).
    Bench(bench::BenchArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Import(args) => import::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Sample(args) => sample::run(args),
            Command::Bench(args) => bench::run(args).await,
        }
    }
}

/// Exit code: rows were rejected, the rest imported.
pub const EXIT_REJECTED: u8 = 3;
/// Exit code: usage or source error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: stopped by the target or a fatal error.
pub const EXIT_FATAL: u8 = 1;
/// Exit code: interrupted by a signal.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The exit code of a run that ended with an error.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    if let Some(e) = err.downcast_ref::<ferry::import::ImportError>() {
        return if e.is_usage() { EXIT_USAGE } else { EXIT_FATAL };
    }
    match err.downcast_ref::<ferry::error::Error>() {
        Some(e) if e.is_usage() => EXIT_USAGE,
        _ if err.downcast_ref::<clap::Error>().is_some() => EXIT_USAGE,
        _ => EXIT_FATAL,
    }
}

/// Logs go to standard error; `FERRY_LOG` (an env-filter directive) overrides the level.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
