//! Source formats: the one list of the formats ferry reads, and the one
//! function that chooses the format of an input.
//!
//! A format is a file under `src/source/` that implements
//! [`RowReader`] and declares a [`FormatSpec`] (both in `row.rs`: its name, the names
//! `--format` accepts, the file extensions that imply it, and how to open
//! it); adding a format is that file and a line in [`FORMATS`].

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::str::FromStr;

use super::error::SourceError;
use super::input::{ByteStream, Input};
use super::row::{FormatSpec, RowReader};
use super::{csv, jsonl};

/// Every format ferry reads, in the order they are listed to users.
const FORMATS: &[&FormatSpec] = &[&csv::FORMAT, &jsonl::FORMAT];

/// The format of a source: one of [`FORMATS`].
#[derive(Clone, Copy)]
pub struct Format(&'static FormatSpec);

impl Format {
    /// CSV with a header row.
    pub const CSV: Format = Format(&csv::FORMAT);
    /// JSON Lines: one object per line, blank lines ignored.
    pub const JSON_LINES: Format = Format(&jsonl::FORMAT);

    /// Every format, in the order they are listed to users.
    pub fn all() -> impl Iterator<Item = Format> {
        FORMATS.iter().map(|spec| Format(spec))
    }

    /// Its canonical name (`csv`, `jsonl`).
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The format a file name implies, from its extension, in any case.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        Format::all().find(|f| f.0.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext)))
    }

    /// The format to read `input` with: `explicit` when given, else the file
    /// extension. Standard input needs an explicit format.
    pub fn resolve(input: &Input, explicit: Option<Format>) -> Result<Format, SourceError> {
        if let Some(format) = explicit {
            return Ok(format);
        }
        let detected = match input {
            Input::Stdin => None,
            Input::File(path) => Format::from_path(path),
        };
        detected.ok_or_else(|| SourceError::UnknownFormat {
            input: input.name(),
            extensions: extension_list(),
            names: Format::all()
                .map(Format::name)
                .collect::<Vec<_>>()
                .join("|"),
        })
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

/// `*.csv, *.jsonl or *.ndjson`: every extension that names a format.
fn extension_list() -> String {
    let all: Vec<String> = Format::all()
        .flat_map(|f| f.0.extensions.iter().map(|e| format!("*.{e}")))
        .collect();
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
    fn every_name_and_extension_belongs_to_one_format() {
        let mut seen = std::collections::HashSet::new();
        for format in Format::all() {
            assert!(format.0.names.contains(&format.name()), "{format}");
            for name in format.0.names {
                assert!(
                    seen.insert(format!("name {}", name.to_ascii_lowercase())),
                    "{name}"
                );
                assert_eq!(name.parse::<Format>(), Ok(format));
            }
            for ext in format.0.extensions {
                assert!(
                    seen.insert(format!("ext {}", ext.to_ascii_lowercase())),
                    "{ext}"
                );
                let path = format!("users.{ext}");
                assert_eq!(Format::from_path(Path::new(&path)), Some(format));
            }
        }
        assert_eq!(extension_list(), "*.csv, *.jsonl or *.ndjson");
    }
}
