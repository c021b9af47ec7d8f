//! Presets: mapping files shipped inside ferry, one per system people leave
//! (`ferry import SOURCE --from auth0`).
//!
//! A preset is an ordinary mapping file (see `mapping::config` for the
//! language), written in the same format a user writes: `ferry presets show
//! NAME` prints it as a starting point for a custom mapping, and nothing a
//! preset does is hard-coded in Rust beyond genuinely new decoders (a file
//! layout in `mapping::shape`, a password format in `mapping::passwords`,
//! ferry's own export in `mapping::canonical`).

use crate::mapping::MappingConfig;

/// A preset: its name, what it reads, and its mapping file.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The name `--from` takes.
    pub name: &'static str,
    /// One line on what it reads.
    pub reads: &'static str,
    /// The mapping file's text.
    pub text: &'static str,
}

/// Every preset, in the order `ferry presets` lists them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "auth0",
        reads: "Auth0 user export job (NDJSON .json/.json.gz or CSV); --join the password-hash export",
        text: include_str!("auth0.toml"),
    },
    Preset {
        name: "firebase",
        reads: "firebase auth:export (JSON {\"users\": [...]}, or headerless CSV of 28 or 52 columns)",
        text: include_str!("firebase.toml"),
    },
    Preset {
        name: "keycloak",
        reads: "kc.sh export (a directory of <realm>-users-<n>.json, or one realm file)",
        text: include_str!("keycloak.toml"),
    },
    Preset {
        name: "cognito",
        reads: "aws cognito-idp list-users JSON ({\"Users\": [...]}) or the Cognito CSV import layout",
        text: include_str!("cognito.toml"),
    },
    Preset {
        name: "aspnet-identity",
        reads: "ASP.NET (Core) Identity AspNetUsers table as CSV; --join AspNetUserRoles with role names",
        text: include_str!("aspnet-identity.toml"),
    },
    Preset {
        name: "supabase",
        reads: "Supabase auth.users as CSV or JSON",
        text: include_str!("supabase.toml"),
    },
    Preset {
        name: "okta",
        reads: "Okta List Users API JSON (an array of users)",
        text: include_str!("okta.toml"),
    },
    Preset {
        name: "ferry",
        reads: "ferry's own export (`ferry export`: one user with its credentials, identifiers and addresses per JSON line)",
        text: include_str!("ferry.toml"),
    },
    Preset {
        name: "clerk",
        reads: "Clerk dashboard user export CSV",
        text: include_str!("clerk.toml"),
    },
];

/// A `--from` name that is not a preset.
#[derive(Debug, thiserror::Error)]
#[error("no preset '{name}' (presets: {})", names().join(", "))]
pub struct UnknownPreset {
    pub name: String,
}

/// The preset named `name`.
pub fn find(name: &str) -> Result<&'static Preset, UnknownPreset> {
    PRESETS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| UnknownPreset {
            name: name.to_string(),
        })
}

/// The names of every preset.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

impl Preset {
    /// The preset's mapping, parsed.
    pub fn mapping(&self) -> Result<MappingConfig, String> {
        MappingConfig::parse(self.text).map_err(|e| format!("preset {}: {e}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_resolves() {
        for preset in PRESETS {
            let config = preset.mapping().unwrap();
            config
                .resolve(None)
                .unwrap_or_else(|e| panic!("{}: {e}", preset.name));
        }
        assert!(find("AUTH0").is_ok());
        assert!(find("nope").unwrap_err().to_string().contains("auth0"));
    }
}
