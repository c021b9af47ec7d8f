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
use std::path::Path;

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
    /// Buffered writer over the file.
    out: BufWriter<File>,
    /// Bytes written so far, including what was in the file when opened.
    len: u64,
}

impl RejectsWriter {
    /// Creates (or truncates) the rejects file with mode 0600. (A resumed
    /// import reopens its rejects file with [`crate::checkpoint::resume_rejects_file`].)
    pub fn create(path: &Path) -> std::io::Result<RejectsWriter> {
        let file = private_file(
            OpenOptions::new().write(true).create(true).truncate(true),
            path,
        )?;
        Ok(RejectsWriter {
            out: BufWriter::new(file),
            len: 0,
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
}

/// Opens `path` with `options`, mode 0600: rejects may hold password hashes.
/// `mode` only applies when the file is created, so an existing one is tightened too.
pub fn private_file(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = options.mode(0o600).open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
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
}
