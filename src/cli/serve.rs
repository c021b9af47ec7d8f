//! PLACEHOLDER: `ferry serve` flags (being written on the server branch).

use std::process::ExitCode;

/// Run the reference target server.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub async fn run(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("ferry serve is not built yet")
}
