//! The backup journal of a copy: before a destination record is replaced,
//! its current state is appended; every record the copy creates is listed
//! before it is sent. `ferry rollback` reads it backwards.
//!
//! One file per run, `DIR/copy-<start time>.jsonl` (`--backup DIR`, on by
//! default; the directory is created 0700, the file 0600: replaced users
//! carry their password hashes). Its first line says what the destination
//! held before the run (a digest per collection, [`TenantIndex::digests`]),
//! so a rollback can prove the destination is back as it was. Lines are
//! appended and synced before the request they describe is sent, so a run
//! killed at any point leaves a journal that covers everything it wrote.
//!
//! [`TenantIndex::digests`]: super::index::TenantIndex::digests

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::plan::{Action, Kind, Write};

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Line {
    /// The first line: the run and the destination's state before it.
    Start {
        /// When the run started (RFC 3339).
        started: String,
        /// The destination tenant.
        tenant: String,
        /// Records and digest per collection at the destination before the run.
        before: BTreeMap<String, (u64, String)>,
    },
    /// A record the copy created (a user: its id and pool only).
    Created { collection: Kind, record: Value },
    /// A record as the destination held it before the copy replaced it.
    Replaced { collection: Kind, record: Value },
}

/// The journal of one run, open for appending.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Creates the journal of a run started at `started` in `dir`.
    pub fn create(
        dir: &Path,
        started: OffsetDateTime,
        tenant: &str,
        before: BTreeMap<String, (u64, String)>,
    ) -> std::io::Result<Journal> {
        crate::private::private_dir(dir)?;
        let stamp = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            started.year(),
            u8::from(started.month()),
            started.day(),
            started.hour(),
            started.minute(),
            started.second()
        );
        let mut path = dir.join(format!("copy-{stamp}.jsonl"));
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = dir.join(format!("copy-{stamp}-{n}.jsonl"));
        }
        let file = crate::private::private_file(
            OpenOptions::new().create_new(true).append(true),
            &path,
        )?;
        let mut journal = Journal { file, path };
        let started = started
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        journal.append(&[Line::Start {
            started,
            tenant: tenant.to_string(),
            before,
        }])?;
        Ok(journal)
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the lines of `writes` (about to be sent) and syncs them.
    pub fn record(&mut self, writes: &[Write]) -> std::io::Result<()> {
        let mut lines = Vec::with_capacity(writes.len());
        for w in writes {
            let parse = |doc: &str| serde_json::from_str::<Value>(doc).map_err(std::io::Error::other);
            lines.push(match (w.action, &w.before) {
                (Action::Update, Some(before)) => Line::Replaced {
                    collection: w.kind,
                    record: parse(before)?,
                },
                _ => Line::Created {
                    collection: w.kind,
                    record: created(w.kind, parse(&w.doc)?),
                },
            });
        }
        self.append(&lines)
    }

    fn append(&mut self, lines: &[Line]) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut bytes, line).map_err(std::io::Error::other)?;
            bytes.push(b'\n');
        }
        self.file.write_all(&bytes)?;
        self.file.sync_data()
    }
}

/// What a created record's line keeps: a user's id and pool only (its
/// hashes are of no use to undo it), any other record whole.
fn created(kind: Kind, doc: Value) -> Value {
    match kind {
        Kind::Users => serde_json::json!({
            "id": doc["user"]["id"],
            "user_pool_id": doc["user"]["user_pool_id"],
        }),
        _ => doc,
    }
}

/// The journals of `path`: the file itself, or every `copy-*.jsonl` of
/// the directory, oldest first.
pub fn journals(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("copy-") && n.ends_with(".jsonl"))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// The lines of the journal `path`. A last line cut short (a run killed
/// while appending it) was never followed by its request: it is dropped.
pub fn read(path: &Path) -> Result<Vec<Line>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = Vec::new();
    let mut texts = BufReader::new(file).lines().peekable();
    let mut n = 0;
    while let Some(text) = texts.next() {
        n += 1;
        let text = text.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        match serde_json::from_str(&text) {
            Ok(line) => lines.push(line),
            Err(_) if texts.peek().is_none() => break,
            Err(_) => return Err(format!("{} line {n} is not a journal line", path.display())),
        }
    }
    match lines.first() {
        Some(Line::Start { .. }) => Ok(lines),
        _ => Err(format!("{} is not a ferry copy journal", path.display())),
    }
}
