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
use std::io::{BufRead, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
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
        let file =
            crate::private::private_file(OpenOptions::new().create_new(true).append(true), &path)?;
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

    /// Opens the journal at `path` to append to it, as a resumed copy
    /// does; a last line cut short (a run killed while appending it, so
    /// its request was never sent) is cut off first.
    pub fn reopen(path: &Path) -> std::io::Result<Journal> {
        let mut file =
            crate::private::private_file(OpenOptions::new().read(true).append(true), path)?;
        let complete = complete_len(&mut file)?;
        file.set_len(complete)?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the lines of `writes` (about to be sent) and syncs them.
    pub fn record(&mut self, writes: &[Write]) -> std::io::Result<()> {
        let mut lines = Vec::with_capacity(writes.len());
        for w in writes {
            let parse =
                |doc: &str| serde_json::from_str::<Value>(doc).map_err(std::io::Error::other);
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

/// The length of `file` up to the end of its last complete line.
fn complete_len(file: &mut File) -> std::io::Result<u64> {
    let mut end = file.metadata()?.len();
    let mut buf = vec![0; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(at) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
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

/// The lines of a journal, read as a stream. A last line cut short (a
/// run killed while appending it) was never followed by its request: it
/// ends the journal. A damaged line before the last is an error.
pub struct Reader {
    path: PathBuf,
    texts: std::iter::Peekable<std::io::Lines<BufReader<File>>>,
    n: u64,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("path", &self.path)
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

/// What a line is, read without its record.
#[derive(Deserialize)]
struct Head {
    op: String,
    #[serde(default)]
    collection: Option<Kind>,
}

impl Reader {
    /// Opens the journal `path`; its first line must be a [`Line::Start`],
    /// which is returned with the reader.
    pub fn open(path: &Path) -> Result<(Line, Reader), String> {
        let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut reader = Reader {
            path: path.to_path_buf(),
            texts: BufReader::with_capacity(256 * 1024, file)
                .lines()
                .peekable(),
            n: 0,
        };
        match reader.next_text()? {
            Some(text) => match serde_json::from_str(&text) {
                Ok(start @ Line::Start { .. }) => Ok((start, reader)),
                _ => Err(format!("{} is not a ferry copy journal", path.display())),
            },
            None => Err(format!("{} is not a ferry copy journal", path.display())),
        }
    }

    /// The next line's text, `None` at the end (or at a torn last line).
    fn next_text(&mut self) -> Result<Option<String>, String> {
        let Some(text) = self.texts.next() else {
            return Ok(None);
        };
        self.n += 1;
        let text = text.map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let whole = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
        match (whole, self.texts.peek().is_none()) {
            (true, _) => Ok(Some(text)),
            (false, true) => Ok(None),
            (false, false) => Err(self.damaged()),
        }
    }

    fn damaged(&self) -> String {
        format!(
            "{} line {} is not a journal line",
            self.path.display(),
            self.n
        )
    }

    /// The records of the next lines that are `op` (`created`, `replaced`)
    /// of `collection`, at most `limit`; empty at the end.
    pub fn records(
        &mut self,
        op: &str,
        collection: Kind,
        limit: usize,
    ) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(text) = self.next_text()? else { break };
            let head: Head = serde_json::from_str(&text).map_err(|_| self.damaged())?;
            if head.op != op || head.collection != Some(collection) {
                continue;
            }
            match serde_json::from_str(&text).map_err(|_| self.damaged())? {
                Line::Created { record, .. } | Line::Replaced { record, .. } => out.push(record),
                Line::Start { .. } => return Err(self.damaged()),
            }
        }
        Ok(out)
    }

    /// Reads to the end: whether every line is a journal line.
    pub fn check(mut self) -> Result<u64, String> {
        while let Some(text) = self.next_text()? {
            serde_json::from_str::<Line>(&text).map_err(|_| self.damaged())?;
        }
        Ok(self.n)
    }
}

/// Every line of the journal `path` (for tests and small journals: a
/// rollback streams with [`Reader`]).
pub fn read(path: &Path) -> Result<Vec<Line>, String> {
    let (start, mut reader) = Reader::open(path)?;
    let mut lines = vec![start];
    while let Some(text) = reader.next_text()? {
        lines.push(serde_json::from_str(&text).map_err(|_| reader.damaged())?);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_is_private_read_back_and_survives_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let backup = dir.path().join("backup");
        let started = time::macros::datetime!(2026-12-01 20:15:00 UTC);
        let before = BTreeMap::from([("users".to_string(), (2, "ab".to_string()))]);
        let mut journal = Journal::create(&backup, started, "prod", before.clone()).unwrap();
        assert!(journal.path().ends_with("copy-20261201T201500Z.jsonl"));
        let write = |action, before: Option<&str>| Write {
            kind: Kind::Groups,
            action,
            id: "p/g".into(),
            doc: r#"{"id":"g","tenant_id":"prod","user_pool_id":"p"}"#.into(),
            before: before.map(str::to_string),
        };
        let old = r#"{"id":"g","tenant_id":"prod","user_pool_id":"p","name":"Old"}"#;
        journal
            .record(&[
                write(Action::Create, None),
                write(Action::Update, Some(old)),
            ])
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&backup), 0o700);
            assert_eq!(mode(journal.path()), 0o600);
        }
        // A second run in the same second gets a file of its own.
        let second = Journal::create(&backup, started, "prod", before.clone()).unwrap();
        assert_ne!(second.path(), journal.path());
        assert_eq!(journals(&backup).unwrap().len(), 2);
        let path = journal.path().to_path_buf();
        drop(journal);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"op\":\"created\",\"coll")
            .unwrap();
        let lines = read(&path).unwrap();
        assert_eq!(lines.len(), 3);
        // A resumed run appends after the last whole line, the torn one cut off.
        let mut resumed = Journal::reopen(&path).unwrap();
        resumed.record(&[write(Action::Create, None)]).unwrap();
        drop(resumed);
        let lines = read(&path).unwrap();
        assert_eq!(lines.len(), 4);
        assert!(matches!(
            &lines[3],
            Line::Created {
                collection: Kind::Groups,
                ..
            }
        ));
        assert!(matches!(&lines[0], Line::Start { tenant, .. } if tenant == "prod"));
        assert!(matches!(&lines[2], Line::Replaced { record, .. } if record["name"] == "Old"));
        assert!(std::fs::read(&path).unwrap().ends_with(b"}\n"));
        // A damaged line in the middle is an error, not skipped.
        let text =
            std::fs::read_to_string(&path)
                .unwrap()
                .replacen("\"op\":\"created\"", "\"op\":", 1);
        std::fs::write(&path, text).unwrap();
        assert!(read(&path).is_err());
    }
}
