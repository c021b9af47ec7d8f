//! `ferry sample`: flags → [`ferry::tools::sample`].

use std::path::PathBuf;

use anyhow::Context;
use ferry::outcome::Outcome;
use ferry::source::Format;
use ferry::tools::sample::{self, SampleHash, SampleSpec};

/// Write a realistic synthetic user export: non-ASCII names, mixed-case
/// emails, phones in local notations, verified flags, groups and password
/// hashes (salted SHA-256 by default, see --password-formats), with optional
/// bad rows that each break one rule.
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
    /// Password formats, comma-separated, taken by the users in turn: sha256,
    /// sha1, sha512, md5, bcrypt, argon2id, pbkdf2-sha256,
    /// django-pbkdf2-sha256, ssha, ssha512, or all. Work factors are cheap
    /// (bcrypt cost 4, argon2id m=64,t=1,p=1, pbkdf2 1000 rounds).
    #[arg(long, value_name = "LIST", default_value = "sha256")]
    pub password_formats: String,
    /// Also write each user's identifier (email) and plaintext password, as
    /// JSON Lines, to FILE (mode 0600), to sign in as the sample users.
    #[arg(long, value_name = "FILE")]
    pub plaintext_out: Option<PathBuf>,
}

pub fn run(args: SampleArgs) -> anyhow::Result<Outcome> {
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
    let hashes = SampleHash::parse_list(&args.password_formats)
        .map_err(|e| ferry::error::Error::Usage(format!("--password-formats: {e}")))?;
    let written = sample::write_file_with_passwords(
        &spec,
        &hashes,
        &args.output,
        args.plaintext_out.as_deref(),
    );
    let report = match written {
        Ok(report) => report,
        // A pipe whose reader went away (`head`) wanted no more rows: end
        // quietly, as a program killed by SIGPIPE would.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(Outcome::Done),
        Err(e) => {
            return Err(e).with_context(|| format!("writing {}", args.output.display()));
        }
    };
    super::say(&format!(
        "wrote {}: {}",
        args.output.display(),
        report.summary()
    ));
    Ok(Outcome::Done)
}
