//! The settings a checkpoint records: everything that shapes the request
//! bodies of a run. A resume with other settings would send other bodies, so
//! [`Settings::changes`] lists every difference and the run refuses to resume.
//!
//! Since checkpoint version 2 they are a typed struct, [`RunSettings`],
//! serialised as JSON: a field added to the mapping configuration (with its
//! `serde` default) reads back from an older checkpoint as that default, so
//! it is not a change. Version 1 (ferry 0.1.0) wrote each setting as text,
//! the mapping as its `Debug` text; such a checkpoint is compared with the
//! text ferry 0.1.0 would have written for this run ([`legacy_text`]), and
//! the first save after a successful comparison writes version 2.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

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
    pub mapping: MappingConfig,
    /// `ignore`, `fail` or `update`: the query of every request.
    pub mode: ImportMode,
    /// Every timestamp the source lacks.
    #[serde(with = "time::serde::rfc3339")]
    pub import_time: OffsetDateTime,
}

/// The settings as a checkpoint holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Settings {
    /// Written by this ferry (checkpoint version 2).
    Typed(Box<RunSettings>),
    /// Written by ferry 0.1.0 (checkpoint version 1): setting name → text.
    Legacy(BTreeMap<String, String>),
}

impl Settings {
    /// The import time the checkpoint's run used, which a resumed run reuses
    /// unless the import time is pinned.
    pub fn import_time(&self) -> Option<OffsetDateTime> {
        match self {
            Settings::Typed(settings) => Some(settings.import_time),
            Settings::Legacy(text) => text
                .get("import_time")
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()),
        }
    }

    /// Sentences describing how `now` differs from these settings.
    pub fn changes(&self, now: &RunSettings) -> Vec<String> {
        match self {
            Settings::Typed(was) => typed_changes(was, now),
            Settings::Legacy(was) => text_changes(was, &legacy_text(now)),
        }
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

/// The differences between two sets of settings as text, by name.
fn text_changes(was: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> Vec<String> {
    let names: BTreeSet<&String> = was.keys().chain(now.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| match (was.get(name), now.get(name)) {
            (Some(was), Some(is)) if was != is => {
                Some(format!("{name} changed from '{was}' to '{is}'"))
            }
            (Some(was), None) => Some(format!("{name} ('{was}') is no longer set")),
            (None, Some(is)) => Some(format!("{name} ('{is}') is new")),
            _ => None,
        })
        .collect()
}

/// The text ferry 0.1.0 wrote into a version-1 checkpoint for `settings`:
/// the format as its enum variant's name, the mapping as `Debug` text. Kept
/// only to resume runs that ferry started; a change to `MappingConfig`'s
/// fields changes its `Debug` text, so such a change cannot be resumed from
/// a version-1 checkpoint (it says "mapping changed"), only from version 2.
pub fn legacy_text(settings: &RunSettings) -> BTreeMap<String, String> {
    let format = match settings.format.as_str() {
        "csv" => "Csv".to_string(),
        "jsonl" => "JsonLines".to_string(),
        other => other.to_string(),
    };
    [
        ("format", format),
        ("tenant", settings.tenant.clone()),
        ("pool", settings.pool.clone()),
        ("batch_size", settings.batch_size.to_string()),
        ("mapping", format!("{:?}", settings.mapping)),
        ("mode", settings.mode.to_string()),
        ("import_time", rfc3339(settings.import_time)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

/// RFC 3339 text of a time, for messages and legacy text.
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
        }
    }

    #[test]
    fn typed_settings_say_what_changed_down_to_the_mapping_member() {
        let was = Settings::Typed(Box::new(run_settings()));
        assert!(was.changes(&run_settings()).is_empty());
        let mut now = run_settings();
        now.batch_size = 50;
        now.mode = ImportMode::Update;
        now.mapping.columns.insert("email".into(), "mail".into());
        assert_eq!(
            was.changes(&now),
            [
                "batch_size changed from '100' to '50'",
                "mode changed from 'ignore' to 'update'",
                "mapping.columns.email ('\"mail\"') is new",
            ]
        );
    }

    #[test]
    fn a_mapping_field_missing_from_an_older_checkpoint_reads_as_its_default() {
        let mut json = serde_json::to_value(run_settings()).unwrap();
        json["mapping"].as_object_mut().unwrap().remove("passwords");
        json["mapping"].as_object_mut().unwrap().remove("defaults");
        let read: Settings = serde_json::from_value(json).unwrap();
        assert_eq!(read, Settings::Typed(Box::new(run_settings())));
        assert!(read.changes(&run_settings()).is_empty());
    }

    #[test]
    fn version_1_text_is_compared_with_what_ferry_0_1_0_wrote() {
        // The settings of tests/data/checkpoint-v1, as ferry 0.1.0 wrote them.
        let text: BTreeMap<String, String> = serde_json::from_str(
            r#"{"batch_size":"10","format":"Csv","import_time":"2026-01-01T00:00:00Z","mapping":"MappingConfig { key: None, columns: {}, constants: {}, defaults: {}, passwords: PasswordOptions { policy: Keep, unsupported: Reject, salt_encoding: Hex, plaintext_column: None, argon2: Argon2Params { memory_kb: 19456, iterations: 2, parallelism: 1 } } }","mode":"ignore","pool":"default","tenant":"demo"}"#,
        )
        .unwrap();
        let legacy = Settings::Legacy(text);
        let mut now = run_settings();
        now.tenant = "demo".into();
        now.batch_size = 10;
        now.import_time = time::macros::datetime!(2026-01-01 00:00:00 UTC);
        assert_eq!(legacy.changes(&now), Vec::<String>::new());
        assert_eq!(legacy.import_time(), Some(now.import_time));
        now.format = "jsonl".into();
        now.pool = "other".into();
        assert_eq!(
            legacy.changes(&now),
            [
                "format changed from 'Csv' to 'JsonLines'",
                "pool changed from 'default' to 'other'"
            ]
        );
    }
}
