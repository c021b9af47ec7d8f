//! Rejected rows and the rejects file.
//!
//! A row that cannot be imported is a value, not an error: it carries its row
//! number, its user key when known, the stage that refused it, a precise
//! reason, and the original source record, so that the line can be fixed and
//! re-imported (`jq -c .source rejects.jsonl > fixed.jsonl`).
//!
//! The rejects file is created with mode 0600: source records may hold
//! password hashes.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// Which stage refused a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The row could not be read as a record (encoding, JSON, column count, size).
    Source,
    /// The record did not pass ferry's validation or mapping.
    Mapping,
    /// The target refused the user.
    Target,
}

/// One rejected row: a line of the rejects file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    /// 1-based data-row number in the source.
    pub row: u64,
    /// The user key, when it could be read.
    pub key: Option<String>,
    /// Which stage refused the row.
    pub stage: Stage,
    /// Why, precisely enough to fix the row.
    pub reason: String,
    /// The original record (an object), or the raw row text when it was not a record.
    pub source: Value,
}

/// Appends rejections to a JSON Lines file.
#[derive(Debug)]
pub struct RejectsWriter {
    /// Where the file is, for messages.
    path: PathBuf,
    /// Buffered writer over the file.
    out: BufWriter<File>,
    /// Bytes written so far, including what was in the file when opened.
    len: u64,
}

impl RejectsWriter {
    /// Creates (or truncates) the rejects file with mode 0600.
    pub fn create(path: &Path) -> std::io::Result<RejectsWriter> {
        RejectsWriter::open_at(path, 0)
    }

    /// Opens the rejects file keeping its first `len` bytes (what a checkpoint
    /// vouches for) and dropping anything written after them.
    pub fn open_at(path: &Path, len: u64) -> std::io::Result<RejectsWriter> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(len == 0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        #[cfg(unix)]
        {
            // `mode` only applies when the file is created; tighten an existing one too.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.set_len(len)?;
        let mut out = BufWriter::new(file);
        std::io::Seek::seek(&mut out, std::io::SeekFrom::Start(len))?;
        Ok(RejectsWriter {
            path: path.to_path_buf(),
            out,
            len,
        })
    }

    /// Appends one rejection.
    pub fn write(&mut self, rejection: &Rejection) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(rejection).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// Flushes to the OS and syncs to disk; returns the file's length.
    pub fn sync(&mut self) -> std::io::Result<u64> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        Ok(self.len)
    }

    /// Bytes in the file once flushed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(row: u64) -> Rejection {
        Rejection {
            row,
            key: Some(format!("k{row}")),
            stage: Stage::Mapping,
            reason: "email 'x' is invalid: has no '@'".into(),
            source: serde_json::json!({"id": format!("k{row}"), "email": "x"}),
        }
    }

    #[test]
    fn lines_are_json_and_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejects.jsonl");
        let mut w = RejectsWriter::create(&path).unwrap();
        w.write(&rejection(3)).unwrap();
        w.write(&rejection(9)).unwrap();
        let len = w.sync().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len() as u64, len);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["row"], 3);
        assert_eq!(lines[1]["stage"], "mapping");
        assert_eq!(lines[1]["source"]["id"], "k9");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn reopening_at_a_length_drops_what_came_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejects.jsonl");
        let mut w = RejectsWriter::create(&path).unwrap();
        w.write(&rejection(1)).unwrap();
        let vouched = w.sync().unwrap();
        w.write(&rejection(2)).unwrap();
        w.sync().unwrap();
        drop(w);
        let mut w = RejectsWriter::open_at(&path, vouched).unwrap();
        w.write(&rejection(5)).unwrap();
        w.sync().unwrap();
        let rows: Vec<u64> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["row"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(rows, vec![1, 5]);
    }
}
