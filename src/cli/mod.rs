//! Command-line flags (clap) and their translation into library calls.
//! Nothing here does ferry's work; it only parses flags, prints what the
//! library returns, and maps outcomes to exit codes ([`exit_code`], the one
//! place that chooses them).

pub mod bench;
pub mod copy;
pub mod export;
pub mod import;
pub mod presets;
pub mod sample;
pub mod serve;
pub mod target;
pub mod verify;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use clap::{Parser, Subcommand};
use ferry::outcome::Outcome;

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
    Import(Box<import::ImportArgs>),
    /// Export every user of a pool, with credentials, as one JSON line per user.
    Export(Box<export::ExportArgs>),
    /// Prove a migration: compare the source, mapped as the import maps it, with the target's users.
    Verify(Box<verify::VerifyArgs>),
    /// Copy a whole tenant (schemas, pools, groups, users, memberships) to another tenant.
    Copy(Box<copy::CopyArgs>),
    /// Undo a copy from its backup journal, and check the destination is back as it was.
    Rollback(Box<copy::RollbackArgs>),
    /// Run the reference target server (the Identity Pools import API on SQLite).
    Serve(serve::ServeArgs),
    /// List the presets (mappings for the systems people leave), or print one.
    Presets(presets::PresetsArgs),
    /// Write a realistic synthetic user export.
    Sample(sample::SampleArgs),
    /// Measure ferry against the reference server's ingest limit (end to end, on loopback).
    Bench(bench::BenchArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> anyhow::Result<Outcome> {
        match self.command {
            Command::Import(args) => import::run(*args).await,
            Command::Export(args) => export::run(*args).await,
            Command::Verify(args) => verify::run(*args).await,
            Command::Copy(args) => copy::run(*args).await,
            Command::Rollback(args) => copy::rollback(*args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Sample(args) => sample::run(args),
            Command::Presets(args) => presets::run(args),
            Command::Bench(args) => bench::run(args).await,
        }
    }
}

/// Exit code: rows were rejected, the rest imported.
const EXIT_REJECTED: u8 = 3;
/// Exit code: usage or source error.
const EXIT_USAGE: u8 = 2;
/// Exit code: stopped by the target or a fatal error.
const EXIT_FATAL: u8 = 1;
/// Exit code: `ferry verify` found the target does not hold the source as it is.
const EXIT_DIFFERS: u8 = 4;
/// Exit code: interrupted by a signal.
const EXIT_INTERRUPTED: u8 = 130;

/// The exit code of a command: 0 done; 3 finished with rejected rows; 2 a
/// usage or source error (nothing written); 1 stopped by the target or a
/// fatal error; 4 a verification that found differences; 130 interrupted.
pub fn exit_code(result: &anyhow::Result<Outcome>) -> u8 {
    match result {
        Ok(Outcome::Done) => 0,
        Ok(Outcome::Rejected) => EXIT_REJECTED,
        Ok(Outcome::Interrupted) => EXIT_INTERRUPTED,
        Ok(Outcome::Stopped) => EXIT_FATAL,
        Ok(Outcome::Differs) => EXIT_DIFFERS,
        Err(err) if is_usage(err) => EXIT_USAGE,
        Err(_) => EXIT_FATAL,
    }
}

/// Exits the process now with the code of `outcome` (a second stop signal).
pub fn exit_now(outcome: Outcome) -> ! {
    std::process::exit(i32::from(exit_code(&Ok(outcome))))
}

/// Whether an error is the user's input or flags rather than a failure while working.
fn is_usage(err: &anyhow::Error) -> bool {
    if let Some(e) = err.downcast_ref::<ferry::import::ImportError>() {
        return e.is_usage();
    }
    if let Some(e) = err.downcast_ref::<ferry::error::Error>() {
        return e.is_usage();
    }
    if let Some(e) = err.downcast_ref::<ferry::export::ExportError>() {
        return e.is_usage();
    }
    if let Some(e) = err.downcast_ref::<ferry::copy::CopyError>() {
        return e.is_usage();
    }
    err.downcast_ref::<clap::Error>().is_some()
}

/// What to tell the user besides an error: the flag that fixes it (the
/// library's errors speak of settings, not of flags).
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    use ferry::error::Error;
    use ferry::source::SourceError;
    match err.downcast_ref::<Error>()? {
        Error::Source(SourceError::UnknownFormat { .. }) => Some("pass --format csv|jsonl"),
        Error::InsecureTarget { .. } => {
            Some("use an https:// target, or pass --allow-insecure-http to accept the risk")
        }
        Error::Secret(ferry::secret::SecretError::Missing) => {
            Some("pass --client-secret-file FILE, or set FERRY_CLIENT_SECRET")
        }
        _ => None,
    }
}

/// Prints a line on standard output. A closed standard output (`ferry … |
/// head`, a parent that read what it needed and went away) must neither
/// panic, as `println!` does, nor change how the command ended: the line
/// repeats what the files and the exit code already say, so a failed write
/// is dropped and the program ends as it would have.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Whether log lines on standard error get ANSI colours: only on a
/// terminal (a file or a pipe would keep the codes as noise), and never
/// when `NO_COLOR` is set (<https://no-color.org>).
pub fn log_colours() -> bool {
    colours_wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    )
}

/// [`log_colours`] with its inputs given: whether standard error is a
/// terminal, and the value of `NO_COLOR` (set but empty counts as unset,
/// as no-color.org says).
fn colours_wanted(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Logs go to standard error, coloured on a terminal only ([`log_colours`]);
/// `FERRY_LOG` (an env-filter directive) overrides the level.
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
        .with_ansi(log_colours())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_on_a_terminal_and_never_under_no_color() {
        for (terminal, no_color, wanted) in [
            (true, None, true),
            (true, Some(""), true),
            (true, Some("1"), false),
            (true, Some("0"), false),
            (false, None, false),
            (false, Some("1"), false),
        ] {
            assert_eq!(
                colours_wanted(terminal, no_color.map(OsString::from)),
                wanted,
                "terminal {terminal}, NO_COLOR {no_color:?}"
            );
        }
    }
}
