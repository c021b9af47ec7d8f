//! Which sub-record ids exist, kept in memory by the writer thread.
//!
//! Credentials, identifiers and addresses are stored clustered by their user
//! (`PRIMARY KEY (user_pk, id)`), so writing a new user's sub-records appends
//! to the end of each table. A unique index on their random `id`s would send
//! every insert to a random page, and each such page costs a WAL frame and a
//! checkpoint write: measured on the 2-core benchmark box, those indexes took
//! two thirds of the writer's time. Instead, the writer keeps a set of 64-bit
//! fingerprints of every stored sub-record id:
//!
//! - fingerprint absent: the id is new, insert it;
//! - fingerprint present: look the id up under the record's own user (a
//!   primary-key lookup). Found: the record exists (kept, refused or
//!   overwritten by the mode). Not found: the id belongs to another user's or
//!   tenant's record, and the request is refused with 409.
//!
//! Fingerprints are SipHash-1-3 of the id with a key drawn at start, so
//! clients cannot craft collisions; an accidental collision (probability
//! about n / 2^64 per new id among n stored ones) would refuse a new record
//! as a duplicate, never store one. The set costs about 10 bytes per
//! sub-record (≈ 40 MB per million users with four sub-records each) and is
//! rebuilt from the tables at start.
//!
//! Changes made while a transaction is open are journaled in order and
//! undone, newest first, if it rolls back, so the set always matches what is
//! committed (a transaction may hold several requests, so one id can be
//! added, deleted by an `update` of its user, and added again). A deletion
//! of a user or a pool ([`super::delete`]) deletes the sub-records with
//! statements that return their ids, before the user, so the `ON DELETE
//! CASCADE` of a user's sub-records never removes one behind the set's back.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::fingerprint::FingerprintSet;

use rusqlite::Connection;
use uuid::Uuid;

/// The sub-record tables whose ids the set covers.
const TABLES: [&str; 3] = [
    "user_credentials",
    "user_identifiers",
    "user_verifiable_addresses",
];

/// Fingerprints of every stored sub-record id, with the open request's journal.
#[derive(Debug)]
pub struct SubRecordIds {
    /// Fingerprints of committed ids, plus those of the open transaction.
    set: FingerprintSet,
    /// The SipHash key of this process.
    key: RandomState,
    /// Changes made by the open transaction, oldest first.
    journal: Vec<Change>,
}

/// One change of the set by the open transaction.
#[derive(Debug, Clone, Copy)]
enum Change {
    Added(u64),
    Removed(u64),
}

impl SubRecordIds {
    /// Reads every stored sub-record id.
    pub fn load(conn: &Connection) -> rusqlite::Result<SubRecordIds> {
        let mut ids = SubRecordIds {
            set: FingerprintSet::default(),
            key: RandomState::new(),
            journal: Vec::new(),
        };
        for table in TABLES {
            let mut stmt = conn.prepare(&format!("SELECT id FROM {table}"))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let bytes = row.get_ref(0)?.as_blob()?;
                let fingerprint = ids.key.hash_one(bytes);
                ids.set.insert(fingerprint);
            }
        }
        Ok(ids)
    }

    /// The fingerprint of `id`.
    pub fn fingerprint(&self, id: Uuid) -> u64 {
        self.key.hash_one(&id.as_bytes()[..])
    }

    /// Whether an id with this fingerprint may be stored.
    pub fn contains(&self, fingerprint: u64) -> bool {
        self.set.contains(&fingerprint)
    }

    /// Notes a new id written by the open transaction.
    pub fn insert(&mut self, fingerprint: u64) {
        if self.set.insert(fingerprint) {
            self.journal.push(Change::Added(fingerprint));
        }
    }

    /// Notes an id deleted by the open transaction.
    pub fn remove_id(&mut self, id: &[u8]) {
        let fingerprint = self.key.hash_one(id);
        if self.set.remove(&fingerprint) {
            self.journal.push(Change::Removed(fingerprint));
        }
    }

    /// The open transaction committed: its changes stand.
    pub fn keep(&mut self) {
        self.journal.clear();
    }

    /// The open transaction rolled back: undo its changes, newest first.
    pub fn undo(&mut self) {
        for change in self.journal.drain(..).rev() {
            match change {
                Change::Added(fingerprint) => self.set.remove(&fingerprint),
                Change::Removed(fingerprint) => self.set.insert(fingerprint),
            };
        }
    }

    /// How many ids are known.
    pub fn len(&self) -> usize {
        self.set.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> SubRecordIds {
        SubRecordIds {
            set: FingerprintSet::default(),
            key: RandomState::new(),
            journal: Vec::new(),
        }
    }

    #[test]
    fn undo_restores_the_committed_set() {
        let mut ids = empty();
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        ids.insert(ids.fingerprint(a));
        ids.keep();
        ids.insert(ids.fingerprint(b));
        ids.remove_id(&a.as_bytes()[..]);
        assert!(!ids.contains(ids.fingerprint(a)));
        assert!(ids.contains(ids.fingerprint(b)));
        ids.undo();
        assert!(ids.contains(ids.fingerprint(a)));
        assert!(!ids.contains(ids.fingerprint(b)));
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn undo_replays_an_id_removed_and_added_again_newest_first() {
        // One transaction adds a new id, deletes it (an `update` of its
        // user) and adds it again: before it the id was not stored.
        let mut ids = empty();
        let a = Uuid::from_u128(1);
        ids.insert(ids.fingerprint(a));
        ids.remove_id(&a.as_bytes()[..]);
        ids.insert(ids.fingerprint(a));
        ids.undo();
        assert!(!ids.contains(ids.fingerprint(a)));
        // And the other way round: stored before, deleted, added again.
        ids.insert(ids.fingerprint(a));
        ids.keep();
        ids.remove_id(&a.as_bytes()[..]);
        ids.insert(ids.fingerprint(a));
        ids.remove_id(&a.as_bytes()[..]);
        ids.undo();
        assert!(ids.contains(ids.fingerprint(a)));
    }

    #[test]
    fn load_reads_every_table() {
        let conn = Connection::open_in_memory().unwrap();
        for (n, table) in TABLES.iter().enumerate() {
            conn.execute_batch(&format!("CREATE TABLE {table} (id BLOB)"))
                .unwrap();
            conn.execute(
                &format!("INSERT INTO {table} VALUES (?1)"),
                [&Uuid::from_u128(n as u128 + 1).as_bytes()[..]],
            )
            .unwrap();
        }
        assert_eq!(SubRecordIds::load(&conn).unwrap().len(), 3);
    }
}
