//! `ferry import`: flags → a validated configuration → the library.

use std::path::PathBuf;
use std::process::ExitCode;

use ferry::error::Error;
use ferry::mapping::MappingConfig;
use ferry::pipeline::BodySettings;
use ferry::source::{Format, Input};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Source format names on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Csv,
    Jsonl,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Csv => Format::Csv,
            FormatArg::Jsonl => Format::JsonLines,
        }
    }
}

/// Import a user export (CSV or JSON Lines) into an Identity Pools bulk import
/// API. Each source row becomes a user with its credential, identifiers and
/// addresses, all with deterministic ids, sent in batches.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The export to import: a .csv, .jsonl or .ndjson file, or - for standard input.
    pub source: String,
    /// Source format; by default from the file extension.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Mapping file (TOML): column renames, constants, defaults, user key.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Tenant id to import into.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// User pool id to import into.
    #[arg(long, default_value = "default")]
    pub pool: String,
    /// Users per request (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// The import time (RFC 3339): every timestamp the source lacks. Pin it to
    /// make two runs produce the same bytes. Default: now.
    #[arg(long, value_name = "RFC3339")]
    pub import_time: Option<String>,
    /// Write the request bodies, rejects and report to DIR instead of sending them.
    #[arg(long, value_name = "DIR")]
    pub dry_run: Option<PathBuf>,
}

impl ImportArgs {
    /// Turns the flags into the settings that shape request bodies.
    fn body_settings(&self) -> Result<BodySettings, Error> {
        let input = if self.source == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(&self.source))
        };
        let import_time = match &self.import_time {
            Some(text) => OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|e| Error::Usage(format!("--import-time '{text}' is not RFC 3339: {e}")))?
                .to_offset(time::UtcOffset::UTC),
            None => now_seconds(),
        };
        let mut settings = BodySettings::new(
            input,
            self.format.map(Format::from),
            &self.tenant,
            &self.pool,
            import_time,
        )?
        .with_batch_size(self.batch_size)?;
        if let Some(path) = &self.mapping {
            settings = settings.with_mapping(MappingConfig::load(path)?);
        }
        Ok(settings)
    }
}

/// Now, in UTC, to the second (so it prints and round-trips as plain RFC 3339).
fn now_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let settings = args.body_settings()?;
    let Some(dir) = &args.dry_run else {
        return Err(
            Error::Usage("sending to a target is not built yet; use --dry-run DIR".into()).into(),
        );
    };
    let dir = dir.clone();
    let report =
        tokio::task::spawn_blocking(move || ferry::dry_run::run(&settings, &dir)).await??;
    println!("{}", report.summary());
    Ok(if report.rejected > 0 {
        ExitCode::from(super::EXIT_REJECTED)
    } else {
        ExitCode::SUCCESS
    })
}
