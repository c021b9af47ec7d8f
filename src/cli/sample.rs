//! `ferry sample`: flags → [`ferry::sample`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ferry::sample::{self, SampleSpec};
use ferry::source::Format;

/// Write a realistic synthetic user export: non-ASCII names, mixed-case
/// emails, phones in local notations, verified flags, groups and salted
/// SHA-256 password hashes, with optional bad rows that each break one rule.
#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Number of valid users.
    #[arg(long, default_value_t = 1000)]
    pub users: u64,
    /// Seed of the generator: the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// About this many extra rows, spread through the file, each breaking one validation rule.
    #[arg(long, default_value_t = 0)]
    pub bad_rows: u64,
    /// Output file; CSV or JSON Lines from its extension (.csv, .jsonl, .ndjson).
    #[arg(short, long)]
    pub output: PathBuf,
}

pub fn run(args: SampleArgs) -> anyhow::Result<ExitCode> {
    let format = Format::from_path(&args.output).ok_or_else(|| {
        ferry::error::Error::Usage(format!(
            "{}: use a .csv, .jsonl or .ndjson file name",
            args.output.display()
        ))
    })?;
    let spec = SampleSpec {
        users: args.users,
        bad_rows: args.bad_rows,
        seed: args.seed,
        format,
    };
    let report = sample::write_file(&spec, &args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!("wrote {}: {}", args.output.display(), report.summary());
    Ok(ExitCode::SUCCESS)
}
