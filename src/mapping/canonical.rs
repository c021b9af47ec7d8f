//! The decoder of ferry's own export (`[source] records = "ferry"`, the
//! `ferry` preset): each JSON Lines record is a canonical
//! [`ExportLine`], which needs no mapping. The records are carried as the
//! line has them (status, payloads, timestamps, password hashes) with
//! their tenant and pool rewritten to the destination's, and their ids
//! kept, or re-derived in the destination with `--new-ids`
//! ([`IdScope::moved`]).
//!
//! A line that is not a canonical record (not JSON, a member missing or
//! unknown, a record of another user) is rejected with the reason, like any
//! bad row; duplicates are decided as for every source, on the user's
//! source id and its identifiers.

use serde_json::Value;

use super::config::SourceConfig;
use super::ids::{IdScope, RecordKind};
use crate::contract::entry::{Entry, SubRecord};
use crate::contract::line::ExportLine;

/// The name of the decoder in `[source] records`.
pub const FERRY: &str = "ferry";

/// Records a source holds that need no mapping (`[source] records`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Records {
    /// ferry's canonical export lines.
    Ferry {
        /// Re-derive every id in the destination (`--new-ids`) instead of
        /// keeping the export's.
        new_ids: bool,
    },
}

impl Records {
    /// Resolves `[source] records` and `new_ids`.
    pub fn resolve(config: &SourceConfig) -> Result<Option<Records>, String> {
        match config.records.as_deref() {
            None if config.new_ids => {
                Err("[source] new_ids (--new-ids) needs records = \"ferry\" (--from ferry)".into())
            }
            None => Ok(None),
            Some(FERRY) => Ok(Some(Records::Ferry {
                new_ids: config.new_ids,
            })),
            Some(other) => Err(format!(
                "[source] records '{other}' is not known (known: {FERRY})"
            )),
        }
    }
}

/// The line a record holds, or why it is not one. The reason names where
/// the record is wrong, never a value it holds (a hash is a secret).
pub fn decode(record: &Value) -> Result<ExportLine, String> {
    let line: ExportLine = serde_path_to_error::deserialize(record).map_err(|err| {
        let path = err.path().to_string();
        let message = without_quoted(&err.inner().to_string());
        format!("not a ferry export line: {message} at {path}")
    })?;
    if let Some(record) = line.foreign_record() {
        return Err(format!(
            "not a ferry export line: {record} names another user than the line's user"
        ));
    }
    Ok(line)
}

/// `text` with every quoted part (`"…"` or `` `…` ``) blanked, unless it
/// speaks of a field by name: serde quotes the values it refuses, and a
/// value may be a password hash; field names are no secret.
fn without_quoted(text: &str) -> String {
    if text.starts_with("unknown field") || text.starts_with("missing field") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut open: Option<char> = None;
    for c in text.chars() {
        match open {
            None if c == '"' || c == '`' => {
                out.push(c);
                out.push('…');
                open = Some(c);
            }
            None => out.push(c),
            Some(quote) if c == quote => {
                out.push(c);
                open = None;
            }
            Some(_) => {}
        }
    }
    out
}

/// The entry `line` becomes at `target`: every record moved to its tenant
/// and pool, ids kept or (with `new_ids`) re-derived there.
pub fn rewrite(
    line: ExportLine,
    (tenant, pool): (&str, &str),
    ids: &IdScope,
    new_ids: bool,
) -> Entry {
    let mut entry = line.into_entry();
    let source_user = entry.user.id;
    let user_id = if new_ids {
        ids.user(&source_user.to_string())
    } else {
        source_user
    };
    entry.relink(user_id, |kind, id| {
        let kind = match kind {
            SubRecord::Credential => RecordKind::MovedCredential,
            SubRecord::Identifier => RecordKind::MovedIdentifier,
            SubRecord::Address => RecordKind::MovedAddress,
        };
        if new_ids {
            ids.moved(kind, source_user, id)
        } else {
            id
        }
    });
    entry.user.tenant_id = tenant.to_string();
    entry.user.user_pool_id = pool.to_string();
    for c in &mut entry.credentials {
        (c.tenant_id, c.user_pool_id) = (tenant.to_string(), pool.to_string());
    }
    for i in &mut entry.identifiers {
        (i.tenant_id, i.user_pool_id) = (tenant.to_string(), pool.to_string());
    }
    for a in &mut entry.addresses {
        (a.tenant_id, a.user_pool_id) = (tenant.to_string(), pool.to_string());
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::line::tests::lines_of;
    use crate::tools::synthetic;

    fn target() -> (&'static str, &'static str) {
        ("t2", "p2")
    }

    fn line() -> ExportLine {
        lines_of(synthetic::users("demo", "default", 0..1), "default").remove(0)
    }

    #[test]
    fn records_move_with_their_ids_or_new_ones() {
        let line = line();
        let ids = IdScope::new("t2", "p2");
        let kept = rewrite(line.clone(), target(), &ids, false);
        assert_eq!(kept.user.id, line.user.id);
        assert_eq!(kept.identifiers[0].id, line.identifiers[0].id);
        let new = rewrite(line.clone(), target(), &ids, true);
        assert_ne!(new.user.id, line.user.id);
        assert_eq!(new, rewrite(line.clone(), target(), &ids, true));
        for entry in [kept, new] {
            assert_eq!(
                (
                    entry.user.tenant_id.as_str(),
                    entry.user.user_pool_id.as_str()
                ),
                ("t2", "p2")
            );
            assert!(entry.identifiers.iter().all(|i| i.user_id == entry.user.id
                && i.tenant_id == "t2"
                && i.user_pool_id == "p2"));
            assert!(entry.addresses.iter().all(|a| a.user_id == entry.user.id));
            assert_eq!(entry.user.status, line.user.status);
            assert_eq!(entry.credentials.len(), line.credentials.len());
        }
    }

    #[test]
    fn a_bad_line_is_refused_without_its_values() {
        let mut value = serde_json::to_value(line()).unwrap();
        assert!(decode(&value).is_ok());
        value["credentials"][0]["payload"]["hashed_password"]["config"]["method"] =
            Value::String("s3cret-hash".into());
        let reason = decode(&value).unwrap_err();
        assert!(reason.contains("credentials[0].payload"), "{reason}");
        assert!(!reason.contains("s3cret"), "{reason}");
        let reason = decode(&serde_json::json!({"user": {}})).unwrap_err();
        assert!(reason.starts_with("not a ferry export line"), "{reason}");
    }

    #[test]
    fn records_names_a_decoder_and_new_ids_needs_it() {
        let mut config = SourceConfig::default();
        assert_eq!(Records::resolve(&config), Ok(None));
        config.new_ids = true;
        assert!(Records::resolve(&config).is_err());
        config.records = Some("ferry".into());
        assert_eq!(
            Records::resolve(&config),
            Ok(Some(Records::Ferry { new_ids: true }))
        );
        config.records = Some("other".into());
        assert!(Records::resolve(&config).is_err());
    }
}
