//! Directory sources: the export files of a folder, read one after the
//! other as one source (Keycloak's `kc.sh export --dir` writes
//! `<realm>-realm.json`, `<realm>-users-0.json`, `<realm>-users-1.json`, …).
//!
//! - **Members**: the regular files directly in the directory (symbolic
//!   links followed) whose name names a format, a `.gz` after it allowed
//!   (`*.csv`, `*.jsonl`, `*.ndjson`, `*.json`). Hidden files (a name starting
//!   with `.`) and every other file are not sources and are left out;
//!   subdirectories are not entered. A directory without members is an error.
//! - **Order**: by name, numbers compared by value, so `users-10.json` comes
//!   after `users-9.json` ([`natural_cmp`]).
//! - **Format**: `--format` applies to every member; without it each member's
//!   format is told from its name and content, and they must agree. Every
//!   member is opened once before any row is read, so a member that cannot be
//!   a source (or a CSV member whose columns differ from the first's) stops
//!   the run before it starts. A member with no users (a Keycloak realm file)
//!   simply has no rows.
//!
//! # Positions and resume
//!
//! One offset runs across the members: a row's offset is its offset in its
//! file (decompressed bytes for a gzipped one) plus the total length of the
//! members before it, so offsets are exact and increase from one file to the
//! next, and rows are numbered on across files. A resume skips the members
//! that end at or before the resume offset, a plain file by its size without
//! reading it, a gzipped one by reading it through (its decompressed length is
//! known only then), and resumes inside the member that holds the offset as
//! that file alone would.

use std::cmp::Ordering;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tracing::debug;

use super::error::SourceError;
use super::format::{extension_list, names_a_format, Format};
use super::input::{is_gzip, ByteStream, Input};
use super::row::{Position, Row, RowReader};

/// One file of a directory source.
#[derive(Debug, Clone)]
struct Member {
    /// Its path.
    path: PathBuf,
    /// Its size on disk: its length in positions, unless it is gzipped.
    size: u64,
    /// Whether it holds gzip data: its length is known only once read.
    gzip: bool,
}

impl Member {
    fn input(&self) -> Input {
        Input::File(self.path.clone())
    }
}

/// The source files of `dir`, in reading order (see the module documentation).
pub fn files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let hidden = name.as_deref().is_none_or(|n| n.starts_with('.'));
        // `metadata` follows symbolic links: a link to a file is a member.
        let is_file = fs::metadata(&path).is_ok_and(|m| m.is_file());
        if !hidden && is_file && names_a_format(&path) {
            files.push(path);
        } else {
            debug!(path = %path.display(), "Not a source file: left out of the directory source.");
        }
    }
    files.sort_by(|a, b| {
        let (a, b) = (a.to_string_lossy(), b.to_string_lossy());
        natural_cmp(&a, &b).then_with(|| a.cmp(&b))
    });
    Ok(files)
}

/// The members of `dir`, with their sizes; an error if there are none.
fn members(dir: &Path) -> Result<Vec<Member>, SourceError> {
    let name = dir.display().to_string();
    let io = |e| SourceError::io(&name, e);
    let mut members = Vec::new();
    for path in files(dir).map_err(io)? {
        let size = fs::metadata(&path).map_err(io)?.len();
        let gzip = is_gzip(&path).map_err(io)?;
        members.push(Member { path, size, gzip });
    }
    if members.is_empty() {
        return Err(SourceError::EmptyDirectory {
            input: name,
            extensions: extension_list(),
        });
    }
    Ok(members)
}

/// The format of a directory's members, which must all have the same one.
pub(super) fn format_of(dir: &Path) -> Result<Format, SourceError> {
    let members = members(dir)?;
    let first = Format::of_file(&members[0].path)?;
    for member in &members[1..] {
        let format = Format::of_file(&member.path)?;
        if format != first {
            return Err(SourceError::MixedDirectory {
                input: dir.display().to_string(),
                reason: format!(
                    "{} is {first}, {} is {format}",
                    members[0].path.display(),
                    member.path.display()
                ),
            });
        }
    }
    Ok(first)
}

/// The number of bytes a directory's positions count up to, when known
/// without reading: the total size of its members, none of them gzipped.
pub(super) fn size_of(dir: &Path) -> Option<u64> {
    let members = members(dir).ok()?;
    members.iter().map(|m| (!m.gzip).then_some(m.size)).sum()
}

/// Reads the members of a directory as one source.
pub(super) struct DirectoryReader {
    /// The directory, for errors.
    name: String,
    /// The format every member is read in.
    format: Format,
    /// The members in reading order.
    members: Vec<Member>,
    /// The member being read (`members.len()` once all are read).
    index: usize,
    /// Its reader; `None` once all are read.
    current: Option<Box<dyn RowReader>>,
    /// Where the member being read starts: the total length of those before it.
    base: u64,
    /// The offset reading resumes at (0: from the start).
    resume: u64,
    /// The number the next row gets.
    next_row: u64,
    /// The first member's column names, for a format with a header row.
    headers: Option<Vec<String>>,
}

impl DirectoryReader {
    /// Opens every member of `dir` as `format` once, checks that CSV
    /// members share their columns, and stands at the first row.
    pub(super) fn open(dir: &Path, format: Format) -> Result<DirectoryReader, SourceError> {
        let name = dir.display().to_string();
        let members = members(dir)?;
        let first = open_member(&members[0], format)?;
        let headers = first.headers().map(<[String]>::to_vec);
        for member in &members[1..] {
            let reader = open_member(member, format)?;
            if reader.headers().map(<[String]>::to_vec) != headers {
                return Err(SourceError::MixedDirectory {
                    input: name,
                    reason: format!(
                        "{} has other columns than {}",
                        member.path.display(),
                        members[0].path.display()
                    ),
                });
            }
        }
        Ok(DirectoryReader {
            name,
            format,
            members,
            index: 0,
            current: Some(first),
            base: 0,
            resume: 0,
            next_row: 1,
            headers,
        })
    }

    /// Opens the member at `index`, or the first after it that does not end
    /// before the resume offset, and moves it to that offset.
    fn enter(&mut self) -> Result<(), SourceError> {
        self.current = None;
        while let Some(member) = self.members.get(self.index) {
            let local = self.resume.saturating_sub(self.base);
            if local > 0 && !member.gzip && local >= member.size {
                self.base += member.size;
                self.index += 1;
                continue;
            }
            let mut reader = open_member(member, self.format)?;
            if local > 0 {
                let at = Position {
                    offset: local,
                    row: self.next_row,
                };
                reader.skip_to(&member.input(), at)?;
            }
            self.current = Some(reader);
            break;
        }
        Ok(())
    }

    /// The path of the member being read, for errors.
    fn member_name(&self) -> String {
        self.members
            .get(self.index)
            .map_or_else(|| self.name.clone(), |m| m.path.display().to_string())
    }
}

impl RowReader for DirectoryReader {
    fn skip_to(&mut self, _input: &Input, resume: Position) -> Result<(), SourceError> {
        self.resume = resume.offset;
        self.next_row = resume.row;
        self.index = 0;
        self.base = 0;
        self.enter()
    }

    fn headers(&self) -> Option<&[String]> {
        self.headers.as_deref()
    }

    fn bytes_read(&self) -> u64 {
        self.base + self.current.as_ref().map_or(0, |r| r.bytes_read())
    }

    fn next_row(&mut self) -> io::Result<Option<Row>> {
        loop {
            let Some(current) = self.current.as_mut() else {
                return Ok(None);
            };
            let next = match current.next_row() {
                Ok(next) => next,
                Err(e) => {
                    let what = format!("{}: {e}", self.member_name());
                    return Err(io::Error::new(e.kind(), what));
                }
            };
            if let Some(mut row) = next {
                row.row = self.next_row;
                row.offset += self.base;
                row.end += self.base;
                self.next_row += 1;
                return Ok(Some(row));
            }
            self.base += self.current.as_ref().map_or(0, |r| r.bytes_read());
            self.index += 1;
            self.enter().map_err(|e| {
                let kind = match &e {
                    SourceError::Io { source, .. } => source.kind(),
                    _ => io::ErrorKind::InvalidData,
                };
                io::Error::new(kind, e.to_string())
            })?;
        }
    }
}

/// Opens one member as `format`, at its first row.
fn open_member(member: &Member, format: Format) -> Result<Box<dyn RowReader>, SourceError> {
    let input = member.input();
    format.reader(&input.name(), ByteStream::open(&input)?)
}

/// Compares two names with their runs of digits compared as numbers:
/// `users-9` < `users-10` < `users-10b`. Leading zeros do not count
/// (`a01` and `a1` compare equal; the caller breaks such ties).
pub(super) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, ra) = split_digits(a);
                let (db, rb) = split_digits(b);
                let order = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

/// The leading digits of `s` without leading zeros, and the rest after them.
fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let digits = &s[..n];
    let zeros = digits.iter().take_while(|&&b| b == b'0').count();
    (&digits[zeros..], &s[n..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_names_compare_by_value() {
        let mut names = vec![
            "acme-users-10.json",
            "acme-users-9.json",
            "acme-realm.json",
            "acme-users-0.json",
            "acme-users-1.json",
            "acme-users-100.json",
            "acme-users-2.json.gz",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "acme-realm.json",
                "acme-users-0.json",
                "acme-users-1.json",
                "acme-users-2.json.gz",
                "acme-users-9.json",
                "acme-users-10.json",
                "acme-users-100.json",
            ]
        );
        assert_eq!(natural_cmp("a01", "a1"), Ordering::Equal);
        assert_eq!(natural_cmp("a1b", "a1"), Ordering::Greater);
        assert_eq!(natural_cmp("a9z", "a10a"), Ordering::Less);
    }
}
