//! `ferry verify`: the import's flags → the source mapped as the import
//! maps it → [`ferry::verify`] against the target.

use std::path::PathBuf;

use ferry::outcome::Outcome;

use super::import::ImportArgs;
use super::say;

/// Prove a migration: map the source exactly as `ferry import` does (give
/// the import's flags: preset or mapping, tenant, pool, target) and compare
/// it, user by user on the deterministic ids, with the users the target
/// holds in that pool. Exit 0 when the target holds every user of the
/// source as the source has it, 4 when it does not.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Write one JSON line per user that is missing, different (with the
    /// fields that differ) or extra to FILE (mode 0600). Fields are named,
    /// values never written.
    #[arg(long, value_name = "FILE")]
    pub diff: Option<PathBuf>,
    #[command(flatten)]
    pub import: ImportArgs,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    if args.import.dry_run.is_some() {
        anyhow::bail!(ferry::error::Error::Usage(
            "ferry verify reads the target: --dry-run does not apply".into()
        ));
    }
    let config = args.import.options().validate()?;
    let target = config.connect_for("read_configuration identity").await?;
    let verified = ferry::verify::run(
        config.body(),
        target.client(),
        config.retry(),
        args.diff.as_deref(),
    )
    .await;
    if let Some(note) = target.shutdown().await {
        say(&note);
    }
    let report = verified?;
    if let Some(path) = config.report() {
        let json = serde_json::to_vec_pretty(&report)?;
        ferry::private::write_private(path, &json)?;
    }
    say(&report.summary());
    Ok(report.outcome())
}
