//! `ferry verify`: the import's flags → the source mapped as the import
//! maps it → [`ferry::verify`] against the target, and with `--repair` the
//! import of what differs, verified again.

use std::path::PathBuf;

use ferry::config::ImportConfig;
use ferry::import::Stop;
use ferry::outcome::Outcome;
use ferry::verify::VerifyReport;

use super::import::{watch_signals, ImportArgs};
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
    /// Then send exactly the missing and different users (under --mode
    /// update), with the import's retries and accounting, and verify again.
    /// Its checkpoint and rejects file are the import's with `.repair`
    /// added; a repair always starts over (it sends only what still differs).
    #[arg(long)]
    pub repair: bool,
    /// Sign canary users in through the platform's password check:
    /// FILE holds lines of {"identifier": "...", "password": "..."} (the
    /// canaries a team keeps, or `ferry sample --plaintext-out`). Reports
    /// per hash method how many sign in, and lists those that do not.
    /// The file is read, never copied or logged.
    #[arg(long, value_name = "FILE")]
    pub sign_in: Option<PathBuf>,
    /// Compare only about N users spread over the source, each read by id
    /// (GET …/users/{userID}: credentials are blurred there, so they are
    /// not compared), instead of the whole pool; extra users are not looked for.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub sample: Option<u64>,
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
    let report = verify(&config, &args).await?;
    if !args.repair || report.resend.is_empty() {
        return Ok(report.outcome());
    }
    let repair = config.repair(ferry::batch::UserSet::new(report.resend.clone()))?;
    say(&format!(
        "repairing: sending the {} missing and {} different users under --mode update",
        report.missing, report.different
    ));
    let target = repair.connect().await?;
    let stop = Stop::new();
    watch_signals(stop.clone());
    let finished = ferry::import::run(&repair, target.client(), stop).await;
    if let Some(note) = target.shutdown().await {
        say(&note);
    }
    let finished = finished?;
    say(&format!("repair: {}", finished.report.summary()));
    if finished.outcome() == Outcome::Interrupted {
        return Ok(Outcome::Interrupted);
    }
    Ok(verify(&config, &args).await?.outcome())
}

/// One verification of the run `config` describes, its summary said and
/// its report written.
async fn verify(config: &ImportConfig, args: &VerifyArgs) -> anyhow::Result<VerifyReport> {
    let target = config.connect_for("read_configuration identity").await?;
    let verified = ferry::verify::run(
        config.body(),
        target.client(),
        config.retry(),
        (args.diff.as_deref(), args.sign_in.as_deref()),
        args.sample,
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
    Ok(report)
}
