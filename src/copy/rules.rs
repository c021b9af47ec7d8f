//! What a record becomes at the destination: the tenant id in every
//! record, pools mapped (`--pool-map OLD=NEW`, kept by default), URL-valued
//! strings rewritten (`--rewrite OLD=NEW`, counted per field), user ids kept
//! or re-derived for the destination (`--new-ids`, as `import --from ferry
//! --new-ids` derives them, so the same source gives the same ids every
//! time), credential types stripped (`--strip`), and an existing pool's
//! own settings kept unless `--overwrite-pool-settings`.
//!
//! Schema, pool and group ids are names people configure by (`user_v0`,
//! `default`) and are kept; only `--pool-map` changes a pool's.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::contract::entry::Entry;
use crate::contract::line::ExportLine;
use crate::contract::{CredentialType, Group, GroupMember, Pool, Schema};
use crate::mapping::canonical;
use crate::mapping::ids::IdScope;

/// The fields of a pool a copy carries into a pool the destination already
/// has; every other field is a setting of the destination's own
/// (authentication mechanisms, password settings and policy, OTP and MFA
/// settings, registration, case-insensitivity...), kept as it is there
/// unless `--overwrite-pool-settings`.
pub const POOL_FIELDS_COPIED: [&str; 7] = [
    "id",
    "tenant_id",
    "name",
    "description",
    "metadata",
    "payload_schema_id",
    "metadata_schema_id",
];

/// How records are rewritten for the destination.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The destination's tenant id.
    pub tenant: String,
    /// Source pool → destination pool.
    pub pool_map: BTreeMap<String, String>,
    /// Text replaced in URL-valued strings, in order.
    pub rewrites: Vec<(String, String)>,
    /// Re-derive user and sub-record ids for the destination.
    pub new_ids: bool,
    /// Credential types left out.
    pub strip: BTreeSet<CredentialType>,
    /// Overwrite an existing pool's own settings too.
    pub overwrite_pool_settings: bool,
}

/// Replacements made per field (`pools.metadata.redirect_uri`), and
/// credentials left out per type: for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// URL replacements per field path.
    pub rewritten: BTreeMap<String, u64>,
    /// Credentials stripped per type.
    pub stripped: BTreeMap<String, u64>,
}

impl Rules {
    /// The destination id of the source pool `pool`.
    pub fn pool_id(&self, pool: &str) -> String {
        self.pool_map
            .get(pool)
            .cloned()
            .unwrap_or_else(|| pool.to_string())
    }

    /// The destination id of the source user `id`, who goes to `pool`.
    pub fn user_id(&self, pool: &str, id: Uuid) -> Uuid {
        if self.new_ids {
            IdScope::new(&self.tenant, pool).user(&id.to_string())
        } else {
            id
        }
    }

    /// A schema at the destination.
    pub fn schema(&self, schema: &Schema, changes: &mut Changes) -> Result<Schema, String> {
        let mut schema = schema.clone();
        schema.tenant_id.clone_from(&self.tenant);
        self.urls(&schema, "schemas", changes)
    }

    /// A pool at the destination, given the destination's pool of the same
    /// id if it has one (whose own settings are kept).
    pub fn pool(
        &self,
        pool: &Pool,
        existing: Option<&Pool>,
        changes: &mut Changes,
    ) -> Result<Pool, String> {
        let mut pool = pool.clone();
        pool.tenant_id.clone_from(&self.tenant);
        let key = super::index::pool_key(&pool).to_string();
        pool.id = Some(self.pool_id(&key));
        let pool = self.urls(&pool, "pools", changes)?;
        match existing {
            Some(theirs) if !self.overwrite_pool_settings => {
                let (Value::Object(ours), Value::Object(mut kept)) =
                    (as_value(&pool)?, as_value(theirs)?)
                else {
                    return Err("a pool is not a JSON object".into());
                };
                for field in POOL_FIELDS_COPIED {
                    match ours.get(field) {
                        Some(v) => kept.insert(field.to_string(), v.clone()),
                        None => kept.remove(field),
                    };
                }
                from_value(Value::Object(kept))
            }
            _ => Ok(pool),
        }
    }

    /// A group at the destination.
    pub fn group(&self, group: &Group) -> Group {
        let mut group = group.clone();
        group.tenant_id.clone_from(&self.tenant);
        group.user_pool_id = self.pool_id(&group.user_pool_id);
        group
    }

    /// A membership at the destination (its user's id as the copy sends it:
    /// `user` when the user was matched to an existing one).
    pub fn member(&self, member: &GroupMember, user: Option<Uuid>) -> GroupMember {
        let mut member = member.clone();
        member.tenant_id.clone_from(&self.tenant);
        member.user_pool_id = self.pool_id(&member.user_pool_id);
        member.user_id = user.unwrap_or_else(|| self.user_id(&member.user_pool_id, member.user_id));
        member
    }

    /// A user with its sub-records at the destination.
    pub fn entry(&self, entry: Entry, changes: &mut Changes) -> Result<Entry, String> {
        let pool = self.pool_id(&entry.user.user_pool_id);
        let ids = IdScope::new(&self.tenant, &pool);
        let mut entry = canonical::rewrite(
            ExportLine::new(entry),
            (&self.tenant, &pool),
            &ids,
            self.new_ids,
        );
        let strip = &self.strip;
        entry.credentials.retain(|c| {
            let keep = !strip.contains(&c.kind);
            if !keep {
                *changes
                    .stripped
                    .entry(credential_name(c.kind).to_string())
                    .or_default() += 1;
            }
            keep
        });
        if !self.rewrites.is_empty() {
            for (name, object) in [
                ("users.metadata", &mut entry.user.metadata),
                ("users.business_metadata", &mut entry.user.business_metadata),
            ] {
                if let Some(object) = object {
                    let mut value = Value::Object(std::mem::take(object));
                    rewrite_urls(&mut value, name, &self.rewrites, &mut changes.rewritten);
                    if let Value::Object(map) = value {
                        *object = map;
                    }
                }
            }
        }
        Ok(entry)
    }

    /// `record` with `--rewrite` applied to its URL-valued strings, counted
    /// under `collection`.
    fn urls<T: Serialize + DeserializeOwned>(
        &self,
        record: &T,
        collection: &str,
        changes: &mut Changes,
    ) -> Result<T, String> {
        let mut value = as_value(record)?;
        if self.rewrites.is_empty() {
            return from_value(value);
        }
        rewrite_urls(
            &mut value,
            collection,
            &self.rewrites,
            &mut changes.rewritten,
        );
        from_value(value)
    }
}

/// The wire name of a credential type.
pub fn credential_name(kind: CredentialType) -> &'static str {
    match kind {
        CredentialType::Password => "password",
        CredentialType::Webauthn => "webauthn",
        CredentialType::Totp => "totp",
    }
}

fn as_value<T: Serialize>(record: &T) -> Result<Value, String> {
    serde_json::to_value(record).map_err(|e| e.to_string())
}

fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    // serde's message may quote a value: say only what failed.
    serde_json::from_value(value).map_err(|_| "a rewritten record is no longer valid".to_string())
}

/// Whether `text` is a URL (a scheme and a host: `https://…`, not `a:b`).
fn is_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| u.has_host())
}

/// Applies `rewrites` to every URL-valued string in `value`, counting the
/// replacements per field path (`path.field`, `path.list[]`).
pub fn rewrite_urls(
    value: &mut Value,
    path: &str,
    rewrites: &[(String, String)],
    counts: &mut BTreeMap<String, u64>,
) {
    match value {
        Value::String(text) if is_url(text) => {
            let mut n = 0;
            for (old, new) in rewrites {
                if old.is_empty() {
                    continue;
                }
                let found = text.matches(old.as_str()).count() as u64;
                if found > 0 {
                    *text = text.replace(old.as_str(), new);
                    n += found;
                }
            }
            if n > 0 {
                *counts.entry(path.to_string()).or_default() += n;
            }
        }
        Value::Array(items) => {
            let path = format!("{path}[]");
            for item in items {
                rewrite_urls(item, &path, rewrites, counts);
            }
        }
        Value::Object(map) => rewrite_members(map, path, rewrites, counts),
        _ => {}
    }
}

fn rewrite_members(
    map: &mut Map<String, Value>,
    path: &str,
    rewrites: &[(String, String)],
    counts: &mut BTreeMap<String, u64>,
) {
    for (name, value) in map.iter_mut() {
        rewrite_urls(value, &format!("{path}.{name}"), rewrites, counts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_url_valued_strings_are_rewritten_and_counted_per_field() {
        let rewrites = vec![("staging.example".to_string(), "example".to_string())];
        let mut value = json!({
            "redirect": "https://app.staging.example/cb?next=https://staging.example/",
            "label": "staging.example is our staging",
            "hosts": ["https://staging.example", "mailto:x"],
            "n": 3
        });
        let mut counts = BTreeMap::new();
        rewrite_urls(&mut value, "pools.metadata", &rewrites, &mut counts);
        assert_eq!(
            value,
            json!({
                "redirect": "https://app.example/cb?next=https://example/",
                "label": "staging.example is our staging",
                "hosts": ["https://example", "mailto:x"],
                "n": 3
            })
        );
        assert_eq!(
            counts,
            BTreeMap::from([
                ("pools.metadata.redirect".to_string(), 2),
                ("pools.metadata.hosts[]".to_string(), 1)
            ])
        );
    }

    #[test]
    fn an_existing_pool_keeps_its_own_settings_unless_told() {
        let source: Pool = serde_json::from_value(json!({
            "id": "main", "tenant_id": "a", "name": "Main", "description": "from staging",
            "authentication_mechanisms": ["password"], "public_registration_allowed": true
        }))
        .unwrap();
        let theirs: Pool = serde_json::from_value(json!({
            "id": "main", "tenant_id": "b", "name": "Old name",
            "authentication_mechanisms": ["otp"], "identifier_case_insensitive": true
        }))
        .unwrap();
        let mut rules = Rules {
            tenant: "b".into(),
            ..Rules::default()
        };
        let mut changes = Changes::default();
        let kept = rules.pool(&source, Some(&theirs), &mut changes).unwrap();
        assert_eq!(kept.name, "Main");
        assert_eq!(kept.description.as_deref(), Some("from staging"));
        assert_eq!(kept.tenant_id, "b");
        assert_eq!(
            kept.authentication_mechanisms,
            theirs.authentication_mechanisms
        );
        assert_eq!(kept.identifier_case_insensitive, Some(true));
        assert_eq!(kept.public_registration_allowed, None);
        rules.overwrite_pool_settings = true;
        let over = rules.pool(&source, Some(&theirs), &mut changes).unwrap();
        assert_eq!(
            over.authentication_mechanisms,
            source.authentication_mechanisms
        );
        assert_eq!(over.identifier_case_insensitive, None);
        // A pool the destination lacks arrives with the source's settings.
        rules.overwrite_pool_settings = false;
        rules.pool_map.insert("main".into(), "prod".into());
        let new = rules.pool(&source, None, &mut changes).unwrap();
        assert_eq!(new.id.as_deref(), Some("prod"));
        assert_eq!(new.public_registration_allowed, Some(true));
    }
}
