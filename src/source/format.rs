//! Source formats: the one list of the formats ferry reads, and the one
//! function that chooses the format of an input.
//!
//! A format is a file under `src/source/` that implements
//! [`RowReader`] and declares a [`FormatSpec`] (both in `row.rs`: its name, the names
//! `--format` accepts, the file extensions that imply it, and how to open
//! it); adding a format is that file and a line in [`FORMATS`].
//!
//! Choosing the format of a file, without `--format`:
//! - a `.gz` at the end of the name is dropped first (`users.json.gz` is a
//!   `.json`); gzip itself is recognised by its content, see `input.rs`;
//! - an extension listed by one format is that format (`.csv`, `.jsonl`,
//!   `.ndjson`);
//! - `.json` is listed by two: the JSON document format claims a file whose
//!   first bytes are a document ([`document::is_document`]), JSON Lines takes
//!   the others (Auth0's export job writes NDJSON named `.json`);
//! - a directory is read in the format of its files (see `directory.rs`).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::str::FromStr;

use super::error::SourceError;
use super::input::{ByteStream, Input};
use super::row::{FormatSpec, RowReader};
use super::{csv, directory, document, jsonl};
use crate::contract::rules::MAX_ROW_BYTES;

/// Every format ferry reads, in the order they are listed to users.
const FORMATS: &[&FormatSpec] = &[
    &csv::FORMAT,
    &jsonl::FORMAT,
    &document::FORMAT,
    &csv::FORMAT_NO_HEADER,
];

/// How much of a file a `claims` test sees: a row at the limit and its line end.
const HEAD_BYTES: usize = MAX_ROW_BYTES + 2;

/// The format of a source: one of [`FORMATS`].
#[derive(Clone, Copy)]
pub struct Format(&'static FormatSpec);

impl Format {
    /// CSV with a header row.
    pub const CSV: Format = Format(&csv::FORMAT);
    /// CSV without a header row: columns named `1`, `2`, … by position.
    pub const CSV_NO_HEADER: Format = Format(&csv::FORMAT_NO_HEADER);
    /// JSON Lines: one object per line, blank lines ignored.
    pub const JSON_LINES: Format = Format(&jsonl::FORMAT);
    /// A JSON document holding a users array (`{"users": [...]}`, `[...]`).
    pub const JSON_DOCUMENT: Format = Format(&document::FORMAT);

    /// Every format, in the order they are listed to users.
    pub fn all() -> impl Iterator<Item = Format> {
        FORMATS.iter().map(|spec| Format(spec))
    }

    /// Its canonical name (`csv`, `jsonl`).
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The format a file name implies, from its extension, in any case (a
    /// trailing `.gz` dropped first); `None` when the name says nothing, or
    /// when only the content can tell (`.json`).
    pub fn from_path(path: &Path) -> Option<Format> {
        let mut candidates = candidates(path);
        let first = candidates.next()?;
        let shared = first.0.claims.is_some() || candidates.any(|f| f.0.claims.is_some());
        (!shared).then_some(first)
    }

    /// The format to read `input` with: `explicit` when given, else the file
    /// extension, and for an extension two formats share, the file's first
    /// bytes; a directory's from its files. Standard input needs an explicit
    /// format.
    pub fn resolve(input: &Input, explicit: Option<Format>) -> Result<Format, SourceError> {
        if let Some(format) = explicit {
            return Ok(format);
        }
        match input {
            Input::Stdin => Err(unknown_format(input)),
            Input::File(path) if path.is_dir() => directory::format_of(path),
            Input::File(path) => Format::of_file(path),
        }
    }

    /// The format of the file at `path`, from its name and, if need be, its
    /// first bytes.
    pub(super) fn of_file(path: &Path) -> Result<Format, SourceError> {
        let input = Input::File(path.to_path_buf());
        let mut claimants: Vec<Format> = candidates(path).collect();
        if claimants.is_empty() {
            return Err(unknown_format(&input));
        }
        if claimants.iter().all(|f| f.0.claims.is_none()) {
            return Ok(claimants[0]);
        }
        let head = super::input::head(&input, HEAD_BYTES)?;
        // A format with a test takes the file if the test says so; one
        // without takes what is left.
        claimants.sort_by_key(|f| f.0.claims.is_none());
        claimants
            .into_iter()
            .find(|f| f.0.claims.is_none_or(|claims| claims(&head)))
            .ok_or_else(|| unknown_format(&input))
    }

    /// A reader of `bytes` in this format.
    pub(super) fn reader(
        self,
        name: &str,
        bytes: ByteStream,
    ) -> Result<Box<dyn RowReader>, SourceError> {
        (self.0.open)(name, bytes)
    }
}

/// The formats that list the extension of `path` (a trailing `.gz` dropped).
fn candidates(path: &Path) -> impl Iterator<Item = Format> {
    let ext = source_extension(path);
    Format::all().filter(move |f| {
        ext.as_deref()
            .is_some_and(|ext| f.0.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext)))
    })
}

/// The extension that names the format of `path`: its last one, or the one
/// before a `.gz`.
pub(super) fn source_extension(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let name = match name.len().checked_sub(3) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".gz") => {
            &name[..cut]
        }
        _ => name,
    };
    Some(Path::new(name).extension()?.to_str()?.to_owned())
}

/// Whether `path` is named like a source file of some format.
pub(super) fn names_a_format(path: &Path) -> bool {
    candidates(path).next().is_some()
}

/// The error for an input whose format cannot be told.
fn unknown_format(input: &Input) -> SourceError {
    SourceError::UnknownFormat {
        input: input.name(),
        extensions: extension_list(),
        names: Format::all()
            .map(Format::name)
            .collect::<Vec<_>>()
            .join("|"),
    }
}

/// `*.csv, *.jsonl, *.ndjson or *.json`: every extension that names a format.
pub(super) fn extension_list() -> String {
    let mut all: Vec<String> = Vec::new();
    for ext in Format::all().flat_map(|f| f.0.extensions.iter()) {
        let ext = format!("*.{ext}");
        if !all.contains(&ext) {
            all.push(ext);
        }
    }
    match all.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => all.join(""),
    }
}

impl PartialEq for Format {
    fn eq(&self, other: &Format) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Format {}

impl Hash for Format {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Debug for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Format({})", self.0.name)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// Parses a format name (`csv`, `jsonl`, `ndjson`...), in any case.
impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::all()
            .find(|f| f.0.names.iter().any(|n| n.eq_ignore_ascii_case(s)))
            .ok_or_else(|| {
                let names: Vec<&str> = Format::all().map(Format::name).collect();
                format!("unknown format {s:?}: expected {}", names.join(" or "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_belongs_to_one_format_and_a_shared_extension_is_claimed() {
        let mut names = std::collections::HashSet::new();
        for format in Format::all() {
            assert!(format.0.names.contains(&format.name()), "{format}");
            for name in format.0.names {
                assert!(names.insert(name.to_ascii_lowercase()), "{name}");
                assert_eq!(name.parse::<Format>(), Ok(format));
            }
            for ext in format.0.extensions {
                let sharing: Vec<Format> = Format::all()
                    .filter(|f| f.0.extensions.contains(ext))
                    .collect();
                // Two formats at most per extension, one of them with a test.
                let tested = sharing.iter().filter(|f| f.0.claims.is_some()).count();
                match sharing.len() {
                    1 => {
                        let path = format!("users.{ext}");
                        assert_eq!(Format::from_path(Path::new(&path)), Some(format));
                        let gz = format!("users.{}.GZ", ext.to_ascii_uppercase());
                        assert_eq!(Format::from_path(Path::new(&gz)), Some(format));
                    }
                    2 => {
                        assert_eq!(tested, 1, "{ext}");
                        assert_eq!(Format::from_path(Path::new(&format!("u.{ext}"))), None);
                    }
                    n => panic!("{ext} is listed by {n} formats"),
                }
            }
        }
        assert_eq!(extension_list(), "*.csv, *.jsonl, *.ndjson or *.json");
        assert_eq!(
            source_extension(Path::new("a/b.csv.gz")).as_deref(),
            Some("csv")
        );
        assert_eq!(source_extension(Path::new("b.gz")), None);
        assert_eq!(
            source_extension(Path::new("b.tar.gz")).as_deref(),
            Some("tar")
        );
    }
}
