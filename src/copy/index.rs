//! One side of a copy, on disk: every record of a tenant's dump, read as a
//! stream ([`crate::contract::dump`]) into a SQLite database in a private
//! temporary directory (0700/0600, removed with the index: it holds
//! password hashes). One-time codes are counted, never kept.
//!
//! Schemas, pools and groups are few and are also held in memory once read;
//! users (with their sub-records) and group memberships are read back a
//! page at a time in key order, so memory does not grow with the tenant.

use std::collections::BTreeMap;
use std::io::Read;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::contract::dump::{self, Collection, DumpRecord, DumpSink};
use crate::contract::entry::Entry;
use crate::contract::line::ExportLine;
use crate::contract::{Group, GroupMember, Pool, Schema, User};

/// The key of a pool: its id, or its name when the dump gives no id (the
/// name is what the platform stores it under then).
pub fn pool_key(pool: &Pool) -> &str {
    pool.id.as_deref().unwrap_or(&pool.name)
}

/// The key of a group: its pool and id.
pub fn group_key(group: &Group) -> String {
    format!("{}/{}", group.user_pool_id, group.id)
}

/// The key of a membership: its pool, group and user.
pub fn member_key(member: &GroupMember) -> String {
    format!(
        "{}/{}/{}",
        member.user_pool_id, member.group_id, member.user_id
    )
}

/// A tenant's records, on disk.
pub struct TenantIndex {
    db: Connection,
    /// The schemas, by id.
    pub schemas: BTreeMap<String, Schema>,
    /// The pools, by key ([`pool_key`]).
    pub pools: BTreeMap<String, Pool>,
    /// The groups, by key ([`group_key`]).
    pub groups: BTreeMap<String, Group>,
    /// Users indexed.
    pub users: u64,
    /// Memberships indexed.
    pub members: u64,
    /// One-time codes seen (and dropped).
    pub codes: u64,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TenantIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantIndex")
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

/// The index's indexes, built after the first dump is read.
const INDEXES: &str = "
    CREATE UNIQUE INDEX IF NOT EXISTS users_id ON users (id);
    CREATE UNIQUE INDEX IF NOT EXISTS subs_key ON subs (user_id, kind, id);
    CREATE INDEX IF NOT EXISTS idents_exact ON idents (pool, type, exact);
    CREATE INDEX IF NOT EXISTS idents_lc ON idents (pool, type, lc);
    CREATE UNIQUE INDEX IF NOT EXISTS members_key ON members (key);";

/// Sub-record kinds in the index.
const CREDENTIAL: i64 = 1;
const IDENTIFIER: i64 = 2;
const ADDRESS: i64 = 3;

impl TenantIndex {
    /// An empty index.
    pub fn new() -> Result<TenantIndex, String> {
        let dir = crate::private::private_temp_dir("ferry-copy-")
            .map_err(|e| format!("cannot create the copy's index: {e}"))?;
        let path = dir.path().join("tenant.sqlite");
        crate::private::create_private_if_missing(&path)
            .map_err(|e| format!("cannot create the copy's index: {e}"))?;
        let db = Connection::open(&path).map_err(|e| e.to_string())?;
        db.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             PRAGMA locking_mode = EXCLUSIVE;
             CREATE TABLE users (id TEXT NOT NULL, pool TEXT NOT NULL, doc TEXT NOT NULL);
             CREATE TABLE subs (user_id TEXT NOT NULL, kind INTEGER NOT NULL, id TEXT NOT NULL,
                                doc TEXT NOT NULL);
             CREATE TABLE idents (pool TEXT NOT NULL, type TEXT NOT NULL, exact TEXT NOT NULL,
                                  lc TEXT NOT NULL, user_id TEXT NOT NULL);
             CREATE TABLE members (key TEXT NOT NULL, doc TEXT NOT NULL);",
        )
        .map_err(|e| e.to_string())?;
        Ok(TenantIndex {
            db,
            schemas: BTreeMap::new(),
            pools: BTreeMap::new(),
            groups: BTreeMap::new(),
            users: 0,
            members: 0,
            codes: 0,
            _dir: dir,
        })
    }

    /// Adds the records of the dump `reader` holds (a record seen before is
    /// kept as first seen). The error never quotes a value.
    pub fn add(&mut self, reader: impl Read) -> Result<(), String> {
        let tx = self.db.transaction().map_err(|e| e.to_string())?;
        let mut sink = Sink {
            tx: &tx,
            schemas: &mut self.schemas,
            pools: &mut self.pools,
            groups: &mut self.groups,
            users: 0,
            members: 0,
            codes: 0,
        };
        dump::read(reader, &mut sink)?;
        let (users, members, codes) = (sink.users, sink.members, sink.codes);
        // The indexes are built once the first dump is in (far cheaper than
        // inserting random ids into them one by one), and kept up after.
        tx.execute_batch(INDEXES)
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => {
                    "the dump holds a record twice (the same id)".to_string()
                }
                _ => e.to_string(),
            })?;
        tx.commit().map_err(|e| e.to_string())?;
        self.users += users;
        self.members += members;
        self.codes += codes;
        Ok(())
    }

    /// Up to `limit` users after `after` (from the first when `None`), in
    /// id order, with their sub-records.
    pub fn users_page(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<Entry>, String> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let rows: Vec<String> = {
            let mut users = self
                .db
                .prepare_cached("SELECT doc FROM users WHERE id > ?1 ORDER BY id LIMIT ?2")
                .map_err(|e| e.to_string())?;
            users
                .query_map(params![after, limit], |r| r.get(0))
                .and_then(Iterator::collect)
                .map_err(|e| e.to_string())?
        };
        rows.iter()
            .map(|doc| {
                let user: User = serde_json::from_str(doc).map_err(damaged)?;
                self.with_subs(user)
            })
            .collect()
    }

    /// The user `id` with its sub-records, if the tenant has it.
    pub fn entry(&self, id: Uuid) -> Result<Option<Entry>, String> {
        let doc: Option<String> = self
            .db
            .prepare_cached("SELECT doc FROM users WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row(params![id.to_string()], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| e.to_string())?;
        match doc {
            None => Ok(None),
            Some(doc) => {
                let user: User = serde_json::from_str(&doc).map_err(damaged)?;
                self.with_subs(user).map(Some)
            }
        }
    }

    /// `user` with its sub-records.
    fn with_subs(&self, user: User) -> Result<Entry, String> {
        let mut subs = self
            .db
            .prepare_cached("SELECT kind, doc FROM subs WHERE user_id = ?1 ORDER BY kind, id")
            .map_err(|e| e.to_string())?;
        let records: Vec<(i64, String)> = subs
            .query_map(params![user.id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(|e| e.to_string())?;
        let mut entry = Entry::new(user, Vec::new(), Vec::new(), Vec::new());
        for (kind, doc) in records {
            match kind {
                CREDENTIAL => entry
                    .credentials
                    .push(serde_json::from_str(&doc).map_err(damaged)?),
                IDENTIFIER => entry
                    .identifiers
                    .push(serde_json::from_str(&doc).map_err(damaged)?),
                _ => entry
                    .addresses
                    .push(serde_json::from_str(&doc).map_err(damaged)?),
            }
        }
        Ok(entry)
    }

    /// The users holding the identifier `value` of `kind` in `pool`,
    /// compared lower-cased when `case_insensitive`.
    pub fn owners(
        &self,
        pool: &str,
        kind: &str,
        value: &str,
        case_insensitive: bool,
    ) -> Result<Vec<Uuid>, String> {
        let sql = if case_insensitive {
            "SELECT DISTINCT user_id FROM idents WHERE pool = ?1 AND type = ?2 AND lc = ?3"
        } else {
            "SELECT DISTINCT user_id FROM idents WHERE pool = ?1 AND type = ?2 AND exact = ?3"
        };
        let probe = if case_insensitive {
            value.to_lowercase()
        } else {
            value.to_string()
        };
        let ids: Vec<String> = self
            .db
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_map(params![pool, kind, probe], |r| r.get(0))
                    .and_then(Iterator::collect)
            })
            .map_err(|e| e.to_string())?;
        ids.iter()
            .map(|id| Uuid::parse_str(id).map_err(|_| damaged("a user id")))
            .collect()
    }

    /// Up to `limit` memberships after the key `after`, in key order.
    pub fn members_page(&self, after: &str, limit: u32) -> Result<Vec<GroupMember>, String> {
        let docs: Vec<String> = self
            .db
            .prepare_cached("SELECT doc FROM members WHERE key > ?1 ORDER BY key LIMIT ?2")
            .and_then(|mut s| {
                s.query_map(params![after, limit], |r| r.get(0))
                    .and_then(Iterator::collect)
            })
            .map_err(|e| e.to_string())?;
        docs.iter()
            .map(|doc| serde_json::from_str(doc).map_err(damaged))
            .collect()
    }

    /// Whether the membership with `key` is indexed.
    pub fn has_member(&self, key: &str) -> Result<bool, String> {
        self.db
            .prepare_cached("SELECT 1 FROM members WHERE key = ?1")
            .and_then(|mut s| s.exists(params![key]))
            .map_err(|e| e.to_string())
    }

    /// A digest of each collection, over its records in key order (users
    /// as canonical export lines): two tenants with the same digests hold
    /// the same records, byte for byte. Each comes with its record count.
    pub fn digests(&self) -> Result<BTreeMap<String, (u64, String)>, String> {
        fn of<'a, T: Serialize + 'a>(
            records: impl Iterator<Item = &'a T>,
        ) -> Result<(u64, String), String> {
            let mut digest = Digester::default();
            for record in records {
                digest.json(record)?;
            }
            Ok(digest.finish())
        }
        let mut out = BTreeMap::new();
        out.insert("schemas".into(), of(self.schemas.values())?);
        out.insert("pools".into(), of(self.pools.values())?);
        out.insert("groups".into(), of(self.groups.values())?);
        let mut users = Digester::default();
        let mut line = Vec::new();
        let mut after = None;
        loop {
            let page = self.users_page(after, 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.user.id);
            for entry in page {
                line.clear();
                ExportLine::new(entry)
                    .write_to(&mut line)
                    .map_err(|e| e.to_string())?;
                users.add(&line);
            }
        }
        out.insert("users".into(), users.finish());
        let mut members = Digester::default();
        let mut key = String::new();
        loop {
            let page = self.members_page(&key, 1000)?;
            let Some(last) = page.last() else { break };
            key = member_key(last);
            for member in &page {
                members.json(member)?;
            }
        }
        out.insert("group_members".into(), members.finish());
        Ok(out)
    }
}

/// A running digest of records: how many, and a SHA-256 over each one's
/// length and bytes.
#[derive(Default)]
struct Digester {
    hasher: Sha256,
    n: u64,
}

impl Digester {
    fn add(&mut self, bytes: &[u8]) {
        self.hasher.update((bytes.len() as u64).to_be_bytes());
        self.hasher.update(bytes);
        self.n += 1;
    }

    fn json(&mut self, record: &impl Serialize) -> Result<(), String> {
        let bytes = serde_json::to_vec(record).map_err(|e| e.to_string())?;
        self.add(&bytes);
        Ok(())
    }

    fn finish(self) -> (u64, String) {
        (self.n, hex::encode(self.hasher.finalize()))
    }
}

/// A record of the index that no longer parses.
fn damaged(e: impl std::fmt::Display) -> String {
    format!("the copy's index is damaged: {e}")
}

/// Where the reader puts the records.
struct Sink<'a> {
    tx: &'a Transaction<'a>,
    schemas: &'a mut BTreeMap<String, Schema>,
    pools: &'a mut BTreeMap<String, Pool>,
    groups: &'a mut BTreeMap<String, Group>,
    users: u64,
    members: u64,
    codes: u64,
}

impl Sink<'_> {
    fn sub<R: Serialize>(
        &self,
        kind: i64,
        (user, id): (Uuid, Uuid),
        record: &R,
    ) -> Result<(), String> {
        let doc = serde_json::to_string(record).map_err(|e| e.to_string())?;
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO subs (user_id, kind, id, doc) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![user.to_string(), kind, id.to_string(), doc]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl DumpSink for Sink<'_> {
    fn wants(&self, _: Collection) -> bool {
        true
    }

    fn take(&mut self, record: DumpRecord) -> Result<(), String> {
        let sql = |e: rusqlite::Error| e.to_string();
        match record {
            DumpRecord::Schema(r) => {
                self.schemas.entry(r.id.clone()).or_insert(r);
            }
            DumpRecord::Pool(r) => {
                self.pools.entry(pool_key(&r).to_string()).or_insert(r);
            }
            DumpRecord::Group(r) => {
                self.groups.entry(group_key(&r)).or_insert(r);
            }
            DumpRecord::Member(r) => {
                let doc = serde_json::to_string(&r).map_err(|e| e.to_string())?;
                let added = self
                    .tx
                    .prepare_cached("INSERT OR IGNORE INTO members (key, doc) VALUES (?1, ?2)")
                    .and_then(|mut s| s.execute(params![member_key(&r), doc]))
                    .map_err(sql)?;
                self.members += added as u64;
            }
            DumpRecord::User(r) => {
                let doc = serde_json::to_string(&r).map_err(|e| e.to_string())?;
                let added = self
                    .tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO users (id, pool, doc) VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut s| s.execute(params![r.id.to_string(), r.user_pool_id, doc]))
                    .map_err(sql)?;
                self.users += added as u64;
            }
            DumpRecord::Credential(r) => self.sub(CREDENTIAL, (r.user_id, r.id), &r)?,
            DumpRecord::Identifier(r) => {
                self.sub(IDENTIFIER, (r.user_id, r.id), &r)?;
                self.tx
                    .prepare_cached(
                        "INSERT INTO idents (pool, type, exact, lc, user_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            r.user_pool_id,
                            r.kind.as_str(),
                            r.identifier,
                            r.identifier.to_lowercase(),
                            r.user_id.to_string()
                        ])
                    })
                    .map_err(sql)?;
            }
            DumpRecord::Address(r) => self.sub(ADDRESS, (r.user_id, r.id), &r)?,
            DumpRecord::Code => self.codes += 1,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::synthetic;

    #[test]
    fn every_collection_is_indexed_codes_are_counted_and_dropped() {
        let body = synthetic::users("t", "p", 0..3);
        let mut json = serde_json::to_value(&body).unwrap();
        json["codes"] = serde_json::json!([{"id": "c1", "code": "123456"}, {"id": "c2"}]);
        json["groups"] = serde_json::json!([{"id": "g", "tenant_id": "t", "user_pool_id": "p"}]);
        json["group_members"] = serde_json::json!([{"group_id": "g", "tenant_id": "t",
            "user_id": body.users[0].id, "user_pool_id": "p"}]);
        json["future_collection"] = serde_json::json!([1, 2]);
        let bytes = serde_json::to_vec(&json).unwrap();
        let mut index = TenantIndex::new().unwrap();
        index.add(&bytes[..]).unwrap();
        assert_eq!((index.users, index.members, index.codes), (3, 1, 2));
        assert_eq!(index.groups.len(), 1);
        let first = index.entry(body.users[0].id).unwrap().unwrap();
        assert_eq!(
            ExportLine::new(first),
            ExportLine::new(Entry::in_body(&body, &body.users[0]))
        );
        let page = index.users_page(None, 10).unwrap();
        assert_eq!(page.len(), 3);
        assert!(page.windows(2).all(|w| w[0].user.id < w[1].user.id));
        let email = &body.user_identifiers[0];
        assert_eq!(
            index
                .owners("p", "email", &email.identifier.to_uppercase(), true)
                .unwrap(),
            vec![email.user_id]
        );
        assert!(index
            .owners("p", "email", &email.identifier.to_uppercase(), false)
            .unwrap()
            .is_empty());
        // The same tenant twice has the same digests; one record more does not.
        let mut twin = TenantIndex::new().unwrap();
        twin.add(&bytes[..]).unwrap();
        assert_eq!(index.digests().unwrap(), twin.digests().unwrap());
        let more = serde_json::to_vec(&synthetic::users("t", "p", 3..4)).unwrap();
        twin.add(&more[..]).unwrap();
        let (a, b) = (index.digests().unwrap(), twin.digests().unwrap());
        assert_ne!(a["users"], b["users"]);
        assert_eq!(a["groups"], b["groups"]);
        // A dump that is not one is refused without quoting it.
        let err = TenantIndex::new()
            .unwrap()
            .add(&b"{\"users\": [{\"id\": \"secret-value\"}]}"[..])
            .unwrap_err();
        assert!(!err.contains("secret-value"), "{err}");
    }
}
