//! Why a source cannot be read at all (row-level problems are rows, not errors).

use std::io;

/// Why a source cannot be read. Row-level problems are not errors: they are
/// [`RowBody::Invalid`] rows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Opening, seeking or reading failed.
    #[error("cannot read {input}: {source}")]
    Io {
        /// The file, or "standard input".
        input: String,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },
    /// Neither an explicit format nor the file extension says what the source is.
    #[error(
        "cannot tell the format of {input}: name it {extensions}, or give its format ({names})"
    )]
    UnknownFormat {
        /// The file, or "standard input".
        input: String,
        /// The extensions that name a format, for the message: `*.csv, *.jsonl or *.ndjson`.
        extensions: String,
        /// The format names, for the message: `csv|jsonl`.
        names: String,
    },
    /// A CSV source with no header row (an empty file, or only blank lines).
    #[error("{input} has no header row: a CSV source starts with a row of column names")]
    NoHeader {
        /// The file, or "standard input".
        input: String,
    },
    /// The CSV header row cannot be read as column names.
    #[error("the header row of {input} {reason}")]
    BadHeader {
        /// The file, or "standard input".
        input: String,
        /// What is wrong with it, e.g. "is not valid UTF-8 in column 3".
        reason: String,
    },
    /// Two header columns have the same name, so a value could not be found by name.
    #[error(
        "the header row of {input} names column {name:?} twice (columns {first} and {second})"
    )]
    DuplicateColumn {
        /// The file, or "standard input".
        input: String,
        /// The repeated name.
        name: String,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of the repeat.
        second: usize,
    },
    /// A header column with an empty name.
    #[error("the header row of {input} has an empty name in column {column}")]
    EmptyColumnName {
        /// The file, or "standard input".
        input: String,
        /// 1-based position of the empty name.
        column: usize,
    },
    /// The byte order mark says the file is not UTF-8.
    #[error("{input} is encoded as {encoding}; ferry reads UTF-8 only (convert it first, e.g. `iconv -f {encoding} -t UTF-8`)")]
    UnsupportedEncoding {
        /// The file, or "standard input".
        input: String,
        /// The encoding detected, e.g. "UTF-16LE".
        encoding: &'static str,
    },
    /// A JSON document source that does not start like a document.
    #[error("{input} is not a JSON document: it starts with `{found}`, not `[` (an array of users) or `{{` (an object with a users array)")]
    NotADocument {
        /// The file, or "standard input".
        input: String,
        /// The first byte that is not whitespace, escaped for printing.
        found: String,
    },
    /// A directory source with no source file in it.
    #[error(
        "the directory {input} holds no source file ({extensions}, optionally gzipped as .gz)"
    )]
    EmptyDirectory {
        /// The directory.
        input: String,
        /// The extensions that name a format, for the message.
        extensions: String,
    },
    /// A directory whose files are not all in one format, or whose CSV files
    /// do not all have the same columns.
    #[error("the files of {input} do not read alike: {reason}")]
    MixedDirectory {
        /// The directory.
        input: String,
        /// What differs, naming both files.
        reason: String,
    },
    /// A resume point was given for standard input, which cannot seek.
    #[error("standard input cannot be resumed: rerun with the source file as a path")]
    ResumeOnStdin,
}

impl SourceError {
    /// Whether the source is unusable as given (a missing file, an unknown
    /// format, a bad header: exit code 2), rather than failing while read.
    pub fn is_usage(&self) -> bool {
        match self {
            SourceError::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => true,
        }
    }
}

impl SourceError {
    /// An I/O failure on `input`.
    pub(super) fn io(input: &str, source: io::Error) -> SourceError {
        SourceError::Io {
            input: input.to_owned(),
            source,
        }
    }
}
