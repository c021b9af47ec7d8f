//! Rejected rows and the rejects file.
//!
//! A row that cannot be imported is a value, not an error: it carries its row
//! number, its user key when known, the stage that refused it, a precise
//! reason, and the original source record, so that the line can be fixed and
//! re-imported (`jq -c .source rejects.jsonl > fixed.jsonl`).
//!
//! The rejects file is created with mode 0600 ([`crate::private`]): source
//! records may hold password hashes. [`RejectsWriter`] is its one owner: the dry run creates
//! it, an import creates or resumes it (cut back to what its checkpoint
//! vouches for) and appends the lines of each batch the watermark passes.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::private::private_file;

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
    /// The destination pool's schemas refuse the user's `payload`,
    /// `metadata` or `business_metadata` (`--preflight`): found before
    /// sending, the reason names the fields.
    Preflight,
    /// The mapping leaves the row out on purpose (`skip_if`: a service
    /// account, say). Not an error: counted as `excluded`, not `rejected`.
    Excluded,
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

impl Rejection {
    /// The rejection as one line of the rejects file, newline included.
    pub fn to_line(&self) -> serde_json::Result<String> {
        let mut line = serde_json::to_string(self)?;
        line.push('\n');
        Ok(line)
    }

    /// The reason as a log line shows it: it quotes source values (or the
    /// target's words), which may hold a NUL, a carriage return or a
    /// terminal escape sequence, so control characters are escaped. The
    /// rejects file keeps the exact text (JSON escapes it there).
    pub fn reason_for_log(&self) -> EscapedControls<'_> {
        EscapedControls(&self.reason)
    }
}

/// Text from outside (a source, a target) shown with its control
/// characters escaped as Rust writes them (`\0`, `\r`, `\u{1b}`), so that
/// printing it cannot move the cursor, clear the screen, retitle the
/// terminal or cut a log line in two. Other characters, backslashes
/// included, are shown as they are.
#[derive(Debug, Clone, Copy)]
pub struct EscapedControls<'a>(pub &'a str);

impl std::fmt::Display for EscapedControls<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// The rejects file of a resumed run cannot be used as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RejectsError {
    /// The file is shorter than the checkpoint says it was.
    #[error(
        "the rejects file {} has {found} bytes but the checkpoint counts {expected}; \
         it was changed since the run stopped: restore it or start over with --restart",
        path.display()
    )]
    Shorter {
        /// The rejects file.
        path: PathBuf,
        /// Its length at the checkpoint's watermark.
        expected: u64,
        /// Its length now.
        found: u64,
    },
    /// The file could not be opened, cut back or written.
    #[error("cannot write the rejects file {}", path.display())]
    Io {
        /// The rejects file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
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
        let file = private_file(
            OpenOptions::new().write(true).create(true).truncate(true),
            path,
        )?;
        Ok(RejectsWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            len: 0,
        })
    }

    /// Opens the rejects file of a run for appending, cut back to
    /// `rejects_len` (its checkpoint's watermark; 0 for a new run, which
    /// creates the file): lines written for batches above the watermark
    /// before an interruption are dropped, they will be written again.
    pub fn resume(path: &Path, rejects_len: u64) -> Result<RejectsWriter, RejectsError> {
        let fail = |source| RejectsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = private_file(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(rejects_len == 0)
                .truncate(false),
            path,
        )
        .map_err(fail)?;
        let found = file.metadata().map_err(fail)?.len();
        if found < rejects_len {
            return Err(RejectsError::Shorter {
                path: path.to_path_buf(),
                expected: rejects_len,
                found,
            });
        }
        file.set_len(rejects_len).map_err(fail)?;
        file.seek(SeekFrom::End(0)).map_err(fail)?;
        Ok(RejectsWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            len: rejects_len,
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A failure to write this file, naming it.
    pub fn io_error(&self, source: std::io::Error) -> RejectsError {
        RejectsError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Appends lines already serialised ([`Rejection::to_line`]).
    pub fn append(&mut self, lines: &str) -> std::io::Result<()> {
        self.out.write_all(lines.as_bytes())?;
        self.len += lines.len() as u64;
        Ok(())
    }

    /// Appends one rejection.
    pub fn write(&mut self, rejection: &Rejection) -> std::io::Result<()> {
        let line = rejection.to_line().map_err(std::io::Error::other)?;
        self.append(&line)
    }

    /// Flushes to the OS and syncs to disk; returns the file's length.
    pub fn sync(&mut self) -> std::io::Result<u64> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        Ok(self.len)
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
    fn resuming_cuts_the_rejects_file_back_to_the_watermark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejects");
        std::fs::write(&path, "row 1: bad\nrow 7: half-writ").unwrap();
        let mut file = RejectsWriter::resume(&path, 11).unwrap();
        file.append("row 7: bad\n").unwrap();
        file.sync().unwrap();
        drop(file);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "row 1: bad\nrow 7: bad\n"
        );

        let err = RejectsWriter::resume(&path, 1000).unwrap_err();
        assert!(
            matches!(
                err,
                RejectsError::Shorter {
                    expected: 1000,
                    found: 22,
                    ..
                }
            ),
            "{err:?}"
        );
        // No rejects yet: a missing file is created.
        let fresh = dir.path().join("fresh");
        RejectsWriter::resume(&fresh, 0).unwrap();
        assert!(fresh.exists());
        assert!(matches!(
            RejectsWriter::resume(&dir.path().join("gone"), 5),
            Err(RejectsError::Io { .. })
        ));
    }

    #[test]
    fn logged_reasons_have_no_control_characters_left() {
        for (raw, shown) in [
            ("plain 'ü' text \\ kept", "plain 'ü' text \\ kept"),
            ("a\0b", "a\\0b"),
            ("\x1b[2J\x1b]0;title\x07", "\\u{1b}[2J\\u{1b}]0;title\\u{7}"),
            ("line\r\nforged", "line\\r\\nforged"),
            ("tab\there", "tab\\there"),
            ("c1 \u{9b}31m del \u{7f}", "c1 \\u{9b}31m del \\u{7f}"),
        ] {
            let mut rejection = rejection(1);
            rejection.reason = raw.into();
            let logged = rejection.reason_for_log().to_string();
            assert_eq!(logged, shown);
            assert!(!logged.chars().any(char::is_control), "{logged:?}");
            // The rejects file keeps the exact text.
            let line: Value = serde_json::from_str(&rejection.to_line().unwrap()).unwrap();
            assert_eq!(line["reason"], raw);
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
