//! Joining a second file into the source's records (`--join FILE` with a
//! mapping's `[join]`): Auth0's password-hash export into its profiles,
//! ASP.NET Identity's user roles into its users.
//!
//! The join file is read once, before the first row, into an index on disk
//! (a SQLite database in a private temporary directory, mode 0700/0600: it
//! holds what the file holds, password hashes included, and is removed when
//! the run ends), never into memory: a join file of millions of records
//! costs a few hundred bytes of memory. Each record's key is the first of
//! the mapping's `on` templates that fills from it. A source row then finds
//! its record by its key (the user key, or `[join] key`), and the record
//! appears in the row as the member `as` names, for the mapping's paths
//! (`hash.passwordHash`).
//!
//! Nothing is guessed: a row without a record is imported without what the
//! join would have given (a profile without a hash: a social or passwordless
//! user) and counted; a record no row asked for, a record without a key and
//! a second record with a key already seen (unless `many`) are counted and
//! left out. [`JoinIndex::report`] gives the counts for the summary.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::JoinRule;
use super::path::Found;
use crate::source::{Format, Input, RowBody, SourceReader};

/// The counts of a join, for the summary and the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinReport {
    /// What the join file holds ("password hashes").
    pub describes: String,
    /// Records read from the join file.
    pub records: u64,
    /// Source rows that found their record.
    pub matched: u64,
    /// Source rows without a record.
    pub rows_without_record: u64,
    /// Records no source row asked for (counted after the run; a resumed
    /// run counts the rows it read itself).
    pub records_without_row: u64,
    /// Records none of the `on` templates made a key of, or not readable.
    pub records_without_key: u64,
    /// Records whose key an earlier record had (not `many`): left out.
    pub duplicate_keys: u64,
}

impl JoinReport {
    /// The summary's sentence.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "joined {}: {} of {} records matched a row; {} rows had none",
            self.describes, self.matched, self.records, self.rows_without_record
        );
        if self.records_without_row > 0 {
            text.push_str(&format!(
                "; {} records match no row (left out)",
                self.records_without_row
            ));
        }
        if self.records_without_key > 0 {
            text.push_str(&format!(
                "; {} records have no key (left out)",
                self.records_without_key
            ));
        }
        if self.duplicate_keys > 0 {
            text.push_str(&format!(
                "; {} records repeat an earlier record's key (left out)",
                self.duplicate_keys
            ));
        }
        text
    }
}

/// An error building the index: the join file cannot be read or indexed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("--join {path}: {message}")]
    File { path: String, message: String },
    #[error("--join was given but the mapping has no [join] section saying how its records meet the source's")]
    NoRule,
    #[error("the mapping's [join] needs a file: give it with --join FILE")]
    NoFile,
}

/// The on-disk index of a join file.
pub struct JoinIndex {
    rule: JoinRule,
    /// The database; a mutex because the mapper that asks is on one thread
    /// and the report is read on another.
    db: Mutex<Connection>,
    /// The private directory the database lives in (0700, `tempfile`),
    /// removed on drop.
    _dir: tempfile::TempDir,
    records: u64,
    records_without_key: u64,
    duplicate_keys: u64,
    matched: AtomicU64,
    rows_without_record: AtomicU64,
}

impl std::fmt::Debug for JoinIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinIndex")
            .field("describes", &self.rule.describes)
            .field("records", &self.records)
            .finish()
    }
}

impl JoinIndex {
    /// Reads `path` (any source format ferry reads) into an index by `rule`.
    pub fn build(path: &Path, rule: &JoinRule) -> Result<JoinIndex, JoinError> {
        let fail = |message: String| JoinError::File {
            path: path.display().to_string(),
            message,
        };
        let input = Input::File(path.to_path_buf());
        let format = Format::resolve(&input, None).map_err(|e| fail(e.to_string()))?;
        let reader = SourceReader::open(&input, format, None).map_err(|e| fail(e.to_string()))?;
        let dir = crate::private::private_temp_dir("ferry-join-")
            .map_err(|e| fail(format!("cannot create its index: {e}")))?;
        let db_path = dir.path().join("join.sqlite");
        let db = crate::private::create_private_if_missing(&db_path)
            .map_err(|e| e.to_string())
            .and_then(|_| Connection::open(&db_path).map_err(|e| e.to_string()))
            .map_err(|e| fail(format!("cannot create its index: {e}")))?;
        let mut index = JoinIndex {
            rule: rule.clone(),
            db: Mutex::new(db),
            _dir: dir,
            records: 0,
            records_without_key: 0,
            duplicate_keys: 0,
            matched: AtomicU64::new(0),
            rows_without_record: AtomicU64::new(0),
        };
        index.fill(reader).map_err(fail)?;
        Ok(index)
    }

    fn fill(&mut self, reader: SourceReader) -> Result<(), String> {
        let db = self
            .db
            .get_mut()
            .map_err(|_| "the index is poisoned".to_string())?;
        db.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
             CREATE TABLE records (key TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL,
                                   used INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (key, seq));",
        )
        .map_err(|e| e.to_string())?;
        let tx = db.transaction().map_err(|e| e.to_string())?;
        {
            let mut insert = tx
                .prepare("INSERT INTO records (key, seq, record) VALUES (?1, ?2, ?3)")
                .map_err(|e| e.to_string())?;
            let mut count = tx
                .prepare("SELECT COUNT(*) FROM records WHERE key = ?1")
                .map_err(|e| e.to_string())?;
            for row in reader {
                let row = row.map_err(|e| e.to_string())?;
                self.records += 1;
                let RowBody::Fields(fields) = row.body else {
                    self.records_without_key += 1;
                    continue;
                };
                let record = fields.to_json();
                let found = Found::Borrowed(&record);
                let Some(key) = self.rule.on.iter().find_map(|t| t.fill(&found)) else {
                    self.records_without_key += 1;
                    continue;
                };
                let seen: i64 = count
                    .query_row(params![key], |r| r.get(0))
                    .map_err(|e| e.to_string())?;
                if seen > 0 && !self.rule.many {
                    self.duplicate_keys += 1;
                    continue;
                }
                insert
                    .execute(params![key, seen, record.to_string()])
                    .map_err(|e| e.to_string())?;
            }
        }
        tx.commit().map_err(|e| e.to_string())
    }

    /// The member name the joined record appears under.
    pub fn member(&self) -> &str {
        &self.rule.member
    }

    /// The source path a row's join key is read from, if not the user key.
    pub fn key_path(&self) -> Option<&super::path::SourcePath> {
        self.rule.key.as_ref()
    }

    /// The record for `key` (an array of them for `many`), marked used;
    /// `None` when there is none. Counts the row either way.
    pub fn take(&self, key: &str) -> Result<Option<Value>, String> {
        let found = self.lookup(key)?;
        let counter = match found {
            Some(_) => &self.matched,
            None => &self.rows_without_record,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(found)
    }

    fn lookup(&self, key: &str) -> Result<Option<Value>, String> {
        let db = self
            .db
            .lock()
            .map_err(|_| "the join index is poisoned".to_string())?;
        let mut select = db
            .prepare_cached("SELECT record FROM records WHERE key = ?1 ORDER BY seq")
            .map_err(|e| e.to_string())?;
        let texts: Vec<String> = select
            .query_map(params![key], |r| r.get(0))
            .map_err(|e| e.to_string())?
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        if texts.is_empty() {
            return Ok(None);
        }
        db.prepare_cached("UPDATE records SET used = 1 WHERE key = ?1")
            .and_then(|mut s| s.execute(params![key]))
            .map_err(|e| e.to_string())?;
        let mut values = texts
            .iter()
            .map(|t| serde_json::from_str::<Value>(t).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(match self.rule.many {
            true => Value::Array(values),
            false => values.swap_remove(0),
        }))
    }

    /// The counts so far.
    pub fn report(&self) -> JoinReport {
        let unused = self
            .db
            .lock()
            .ok()
            .and_then(|db| {
                db.query_row("SELECT COUNT(*) FROM records WHERE used = 0", [], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .ok()
                .flatten()
            })
            .unwrap_or(0);
        JoinReport {
            describes: self.rule.describes.clone(),
            records: self.records,
            matched: self.matched.load(Ordering::Relaxed),
            rows_without_record: self.rows_without_record.load(Ordering::Relaxed),
            records_without_row: unused.max(0) as u64,
            records_without_key: self.records_without_key,
            duplicate_keys: self.duplicate_keys,
        }
    }
}
