//! The settings a checkpoint records: everything that shapes the request
//! bodies of a run. A resume with other settings would send other bodies, so
//! [`Settings::changes`] lists every difference and the run refuses to resume.
//!
//! They are a typed struct, [`RunSettings`], serialised as JSON: a field
//! added to the mapping configuration (with its `serde` default) reads back
//! from an older checkpoint as that default, so it is not a change.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::contract::records::IdentifierType;
use crate::contract::ImportMode;
use crate::mapping::MappingConfig;

/// Everything that shapes the request bodies of a run. Two runs with equal
/// settings over the same source send the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSettings {
    /// The source format's name (`csv`, `jsonl`).
    pub format: String,
    /// The tenant imported into: part of every record id.
    pub tenant: String,
    /// The pool imported into: part of every record id.
    pub pool: String,
    /// Users per request body: where batches start and end.
    pub batch_size: usize,
    /// Column renames, constants, defaults, key and password options.
    #[serde(deserialize_with = "checkpoint_mapping")]
    pub mapping: MappingConfig,
    /// `ignore`, `fail` or `update`: the query of every request.
    pub mode: ImportMode,
    /// Every timestamp the source lacks.
    #[serde(with = "time::serde::rfc3339")]
    pub import_time: OffsetDateTime,
    /// How record ids are derived ([`crate::mapping::ids::ID_DERIVATION`]).
    pub id_derivation: u32,
    /// The identifier type users are matched on with users the target
    /// already has (`--match-existing`): a matched user is sent under
    /// another id. Absent (none) in checkpoints from before the setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_existing: Option<IdentifierType>,
    /// Whether users were checked against the destination pool's schemas
    /// (`--preflight`): a refused user is a rejection, not a user of a
    /// batch, so batches end elsewhere. Absent (false) in checkpoints from
    /// before the setting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preflight: bool,
}

impl RunSettings {
    /// Sentences describing how `now` differs from these settings.
    pub fn changes(&self, now: &RunSettings) -> Vec<String> {
        typed_changes(self, now)
    }
}

/// The differences between two typed settings, field by field; the mapping
/// member by member (`mapping.columns.email changed from ...`).
fn typed_changes(was: &RunSettings, now: &RunSettings) -> Vec<String> {
    let mut changes = Vec::new();
    let mut field = |name: &str, was: String, now: String| {
        if was != now {
            changes.push(format!("{name} changed from '{was}' to '{now}'"));
        }
    };
    field("format", was.format.clone(), now.format.clone());
    field("tenant", was.tenant.clone(), now.tenant.clone());
    field("pool", was.pool.clone(), now.pool.clone());
    field(
        "batch_size",
        was.batch_size.to_string(),
        now.batch_size.to_string(),
    );
    field("mode", was.mode.to_string(), now.mode.to_string());
    field(
        "id_derivation",
        was.id_derivation.to_string(),
        now.id_derivation.to_string(),
    );
    let matching = |kind: Option<IdentifierType>| kind.map_or("none", IdentifierType::as_str);
    field(
        "match_existing",
        matching(was.match_existing).to_string(),
        matching(now.match_existing).to_string(),
    );
    field(
        "preflight",
        was.preflight.to_string(),
        now.preflight.to_string(),
    );
    field(
        "import_time",
        rfc3339(was.import_time),
        rfc3339(now.import_time),
    );
    let as_value = |m: &MappingConfig| serde_json::to_value(m).unwrap_or(Value::Null);
    value_changes(
        "mapping",
        &as_value(&was.mapping),
        &as_value(&now.mapping),
        &mut changes,
    );
    changes
}

/// The differences between two JSON values, by path.
fn value_changes(path: &str, was: &Value, now: &Value, changes: &mut Vec<String>) {
    match (was, now) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let at = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => value_changes(&at, x, y, changes),
                    (Some(x), None) => changes.push(format!("{at} ('{x}') is no longer set")),
                    (None, Some(y)) => changes.push(format!("{at} ('{y}') is new")),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => changes.push(format!("{path} changed from '{a}' to '{b}'")),
        _ => {}
    }
}

/// The mapping of a checkpoint. One written before `[passwords]
/// target_salt` existed, when ferry wrote every salt as base64, reads as
/// `base64`: resuming it under today's default (`text`) is then a change
/// the run refuses, instead of a load whose bodies mix the two.
fn checkpoint_mapping<'de, D: serde::Deserializer<'de>>(d: D) -> Result<MappingConfig, D::Error> {
    let mut value = Value::deserialize(d)?;
    if let Some(mapping) = value.as_object_mut() {
        let passwords = mapping
            .entry("passwords")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(passwords) = passwords.as_object_mut() {
            passwords
                .entry("target_salt")
                .or_insert_with(|| Value::from("base64"));
        }
    }
    serde_json::from_value(value).map_err(serde::de::Error::custom)
}

/// RFC 3339 text of a time, for messages.
fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap_or_else(|_| time.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn run_settings() -> RunSettings {
        RunSettings {
            format: "csv".into(),
            tenant: "acme".into(),
            pool: "default".into(),
            batch_size: 100,
            mapping: MappingConfig::default(),
            mode: ImportMode::Ignore,
            import_time: time::macros::datetime!(2025-01-01 00:00:00 UTC),
            id_derivation: crate::mapping::ids::ID_DERIVATION,
            match_existing: None,
            preflight: false,
        }
    }

    #[test]
    fn typed_settings_say_what_changed_down_to_the_mapping_member() {
        let was = run_settings();
        assert!(was.changes(&run_settings()).is_empty());
        let mut now = run_settings();
        now.batch_size = 50;
        now.mode = ImportMode::Update;
        now.match_existing = Some(IdentifierType::Email);
        now.mapping.columns.insert("email".into(), "mail".into());
        assert_eq!(
            was.changes(&now),
            [
                "batch_size changed from '100' to '50'",
                "mode changed from 'ignore' to 'update'",
                "match_existing changed from 'none' to 'email'",
                "mapping.columns.email ('\"mail\"') is new",
            ]
        );
    }

    #[test]
    fn a_mapping_field_missing_from_an_older_checkpoint_reads_as_its_default() {
        let mut json = serde_json::to_value(run_settings()).unwrap();
        json["mapping"]["passwords"]
            .as_object_mut()
            .unwrap()
            .remove("salt_encoding");
        json["mapping"].as_object_mut().unwrap().remove("defaults");
        let read: RunSettings = serde_json::from_value(json).unwrap();
        assert_eq!(read, run_settings());
        assert!(read.changes(&run_settings()).is_empty());
    }

    #[test]
    fn a_checkpoint_from_before_the_salt_setting_wrote_salts_as_base64() {
        let mut json = serde_json::to_value(run_settings()).unwrap();
        json["mapping"]["passwords"]
            .as_object_mut()
            .unwrap()
            .remove("target_salt");
        let read: RunSettings = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(
            read.changes(&run_settings()),
            ["mapping.passwords.target_salt changed from '\"base64\"' to '\"text\"'"]
        );
        json["mapping"].as_object_mut().unwrap().remove("passwords");
        let read: RunSettings = serde_json::from_value(json).unwrap();
        assert_eq!(
            read.mapping.passwords.target_salt,
            crate::contract::choices::SaltConvention::Base64
        );
    }
}
