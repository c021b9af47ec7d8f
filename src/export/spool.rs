//! The pool's users from the dump, on disk, handed out in id order.
//!
//! Every answer of the dump (ferry serve's pages, or the whole dump of a
//! target that does not page it, streamed to an unnamed temporary file as
//! it arrives) is parsed as a stream — one record at a time, never the
//! whole `TenantDump` — into an index on disk: a SQLite database in a
//! private temporary directory (0700/0600, removed with the index: it holds
//! password hashes), as the join file's ([`crate::mapping::join`]). Only
//! the users of the exported pool and their sub-records are kept. The index
//! then hands out the pool's users in id order (the order of the UUIDs'
//! bytes, which is the order of their hyphenated lower-case text, and the
//! platform's `systemListUsers` order), a page at a time, each with its
//! sub-records: memory holds one page whatever the size of the tenant, and
//! the order does not depend on the order the target stored the users in
//! (concurrent imports store them in any order).

use std::io::Read;

use rusqlite::{params, Connection, Transaction};
use serde::Serialize;
use uuid::Uuid;

use crate::contract::dump::{self, Collection, DumpRecord, DumpSink};
use crate::contract::entry::Entry;
use crate::contract::line::ExportLine;
use crate::contract::User;

/// Which array of the dump a record comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Credential,
    Identifier,
    Address,
}

impl Kind {
    /// The kind's number in the index.
    fn code(self) -> i64 {
        match self {
            Kind::User => 0,
            Kind::Credential => 1,
            Kind::Identifier => 2,
            Kind::Address => 3,
        }
    }
}

/// The users of one pool of a whole dump, on disk.
pub struct DumpIndex {
    /// The index.
    db: Connection,
    /// The pool whose records are kept.
    pool: String,
    /// Users indexed.
    users: u64,
    /// Its private directory, removed with it.
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for DumpIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpIndex").finish_non_exhaustive()
    }
}

impl DumpIndex {
    /// An empty index of the users of pool `pool`.
    pub fn new(pool: &str) -> Result<DumpIndex, String> {
        let dir = crate::private::private_temp_dir("ferry-export-")
            .map_err(|e| format!("cannot create the export's index: {e}"))?;
        let path = dir.path().join("dump.sqlite");
        crate::private::create_private_if_missing(&path)
            .map_err(|e| format!("cannot create the export's index: {e}"))?;
        let db = Connection::open(&path).map_err(|e| e.to_string())?;
        db.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;
             CREATE TABLE users (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE subs (user_id TEXT NOT NULL, kind INTEGER NOT NULL, id TEXT NOT NULL,
                                doc TEXT NOT NULL, PRIMARY KEY (user_id, kind, id)) WITHOUT ROWID;",
        )
        .map_err(|e| e.to_string())?;
        Ok(DumpIndex {
            db,
            pool: pool.to_string(),
            users: 0,
            _dir: dir,
        })
    }

    /// Adds the pool's records of the dump (or page of it) `reader` holds.
    /// A record seen before is kept as first seen. The error says what is
    /// wrong, never a value.
    pub fn add(&mut self, reader: impl Read) -> Result<(), String> {
        let tx = self.db.transaction().map_err(|e| e.to_string())?;
        let added = {
            let mut sink = Sink {
                tx: &tx,
                pool: &self.pool,
                users: 0,
            };
            dump::read(reader, &mut sink)?;
            sink.users
        };
        tx.commit().map_err(|e| e.to_string())?;
        self.users += added;
        Ok(())
    }

    /// Users indexed.
    pub fn len(&self) -> u64 {
        self.users
    }

    /// Whether no user is indexed.
    pub fn is_empty(&self) -> bool {
        self.users == 0
    }

    /// Up to `limit` users after the user id `after` (from the first when
    /// `None`), in id order, with their sub-records.
    pub fn page(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<ExportLine>, String> {
        let bad = |e: serde_json::Error| format!("the export's index is damaged: {e}");
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let mut users = self
            .db
            .prepare_cached("SELECT id, doc FROM users WHERE id > ?1 ORDER BY id LIMIT ?2")
            .map_err(|e| e.to_string())?;
        let rows: Vec<(String, String)> = users
            .query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(|e| e.to_string())?;
        let mut subs = self
            .db
            .prepare_cached("SELECT kind, doc FROM subs WHERE user_id = ?1")
            .map_err(|e| e.to_string())?;
        let mut page = Vec::with_capacity(rows.len());
        for (id, doc) in rows {
            let user: User = serde_json::from_str(&doc).map_err(bad)?;
            let mut entry = Entry::new(user, Vec::new(), Vec::new(), Vec::new());
            let records: Vec<(i64, String)> = subs
                .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(Iterator::collect)
                .map_err(|e| e.to_string())?;
            for (kind, doc) in records {
                match kind {
                    1 => entry
                        .credentials
                        .push(serde_json::from_str(&doc).map_err(bad)?),
                    2 => entry
                        .identifiers
                        .push(serde_json::from_str(&doc).map_err(bad)?),
                    _ => entry
                        .addresses
                        .push(serde_json::from_str(&doc).map_err(bad)?),
                }
            }
            page.push(ExportLine::new(entry));
        }
        Ok(page)
    }
}

/// Where the reader puts the records of the pool.
struct Sink<'a> {
    tx: &'a Transaction<'a>,
    pool: &'a str,
    /// Users added (not seen before).
    users: u64,
}

impl Sink<'_> {
    /// Keeps `record` of `kind` when it is of the pool.
    fn keep<R: Serialize>(
        &mut self,
        kind: Kind,
        (pool, user, id): (&str, Uuid, Uuid),
        record: &R,
    ) -> Result<(), String> {
        if pool != self.pool {
            return Ok(());
        }
        let doc = serde_json::to_string(record).map_err(|e| e.to_string())?;
        let done = match kind {
            Kind::User => self
                .tx
                .prepare_cached("INSERT OR IGNORE INTO users (id, doc) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![id.to_string(), doc])),
            _ => self
                .tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO subs (user_id, kind, id, doc) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| {
                    s.execute(params![user.to_string(), kind.code(), id.to_string(), doc])
                }),
        };
        let added = done.map_err(|e| e.to_string())?;
        if kind == Kind::User {
            self.users += added as u64;
        }
        Ok(())
    }
}

impl DumpSink for Sink<'_> {
    fn wants(&self, collection: Collection) -> bool {
        matches!(
            collection,
            Collection::Users
                | Collection::Credentials
                | Collection::Identifiers
                | Collection::Addresses
        )
    }

    fn take(&mut self, record: DumpRecord) -> Result<(), String> {
        match record {
            DumpRecord::User(r) => self.keep(Kind::User, (&r.user_pool_id, r.id, r.id), &r),
            DumpRecord::Credential(r) => {
                self.keep(Kind::Credential, (&r.user_pool_id, r.user_id, r.id), &r)
            }
            DumpRecord::Identifier(r) => {
                self.keep(Kind::Identifier, (&r.user_pool_id, r.user_id, r.id), &r)
            }
            DumpRecord::Address(r) => {
                self.keep(Kind::Address, (&r.user_pool_id, r.user_id, r.id), &r)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::synthetic;

    #[cfg(unix)]
    #[test]
    fn the_index_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let index = DumpIndex::new("main").unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(index._dir.path()), 0o700);
        assert_eq!(mode(&index._dir.path().join("dump.sqlite")), 0o600);
    }

    #[test]
    fn dumps_give_the_pools_lines_in_id_order_a_page_at_a_time() {
        let mut body = synthetic::users("acme", "other", 0..2);
        let main = synthetic::users("acme", "main", 2..9);
        body.users.extend(main.users.clone());
        body.user_credentials.extend(main.user_credentials.clone());
        body.user_identifiers.extend(main.user_identifiers.clone());
        body.user_verifiable_addresses
            .extend(main.user_verifiable_addresses.clone());
        body.users.reverse();
        let mut json = serde_json::to_value(&body).unwrap();
        json["groups"] = serde_json::json!([{"unread": true}]);
        let bytes = serde_json::to_vec(&json).unwrap();
        let mut index = DumpIndex::new("main").unwrap();
        index.add(&bytes[..]).unwrap();
        // A page seen twice (a dump read again) changes nothing.
        index.add(&bytes[..]).unwrap();
        assert_eq!(index.len(), 7);
        let mut expected: Vec<ExportLine> = main
            .users
            .iter()
            .map(|u| ExportLine::new(Entry::in_body(&main, u)))
            .collect();
        expected.sort_by_key(|l| l.user.id);
        let first = index.page(None, 3).unwrap();
        let rest = index.page(Some(first[2].user.id), 10).unwrap();
        let got: Vec<ExportLine> = first.into_iter().chain(rest).collect();
        assert_eq!(got, expected);
        let mut broken = DumpIndex::new("main").unwrap();
        assert!(broken.add(&b"{\"users\": [1]}"[..]).is_err());
        assert!(broken.add(&b"{\"users\": null}"[..]).is_ok());
    }
}
