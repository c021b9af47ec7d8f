//! `ferry presets`: the mappings shipped inside ferry.

use clap::Subcommand;
use ferry::outcome::Outcome;
use ferry::presets::{self, PRESETS};

/// List the presets, or print one as a starting point for a custom mapping.
#[derive(Debug, clap::Args)]
pub struct PresetsArgs {
    #[command(subcommand)]
    pub action: Option<PresetsAction>,
}

#[derive(Debug, Subcommand)]
pub enum PresetsAction {
    /// Print a preset's mapping file (`ferry presets show auth0 > my.toml`).
    Show {
        /// The preset's name.
        name: String,
    },
}

pub fn run(args: PresetsArgs) -> anyhow::Result<Outcome> {
    match args.action {
        None => {
            let width = PRESETS.iter().map(|p| p.name.len()).max().unwrap_or(0);
            for preset in PRESETS {
                super::say(&format!("{:width$}  {}", preset.name, preset.reads));
            }
        }
        Some(PresetsAction::Show { name }) => {
            let preset =
                presets::find(&name).map_err(|e| ferry::error::Error::Usage(e.to_string()))?;
            super::say(preset.text.trim_end());
        }
    }
    Ok(Outcome::Done)
}
