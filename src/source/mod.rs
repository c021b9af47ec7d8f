//! Sources: a user export read as a stream of rows.
//!
//! A source is a CSV file with a header row or a JSON Lines file, read from a
//! path or from standard input. [`SourceReader`] yields one [`Row`] at a time,
//! so memory stays bounded whatever the file size: the reader holds one
//! buffer of input and one row, and a row longer than
//! [`MAX_ROW_BYTES`](crate::contract::rules::MAX_ROW_BYTES) is skipped in
//! chunks (only a short prefix is kept, for the rejects file), never buffered
//! whole.
//!
//! Two kinds of problem are told apart:
//! - a row that cannot be a record (not UTF-8, not JSON, not an object, wrong
//!   field count, too long) is a value, [`RowBody::Invalid`] with a precise
//!   reason, and reading goes on with the next row;
//! - a file that cannot be a source at all (no header, a UTF-16 file,
//!   duplicate column names, an unknown format) or an I/O failure is a
//!   [`SourceError`], decided before any row is produced (except I/O, which
//!   can happen at any time and ends the stream).
//!
//! # Positions and resume
//!
//! Every row carries its 1-based data-row number and the absolute byte
//! offsets (from the first byte of the file, a BOM included) where it starts
//! and ends. The invariant the resume logic relies on: for any row `r` of a
//! full read, opening the same file with
//! `ResumePoint { offset: r.offset, row: r.row }` yields exactly the rows of
//! the full read from `r` on, with the same numbers, offsets and contents.
//! For CSV the header is read from the start of the file first, then the
//! reader seeks to the offset.

mod csv;
mod fields;
mod input;
mod jsonl;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tracing::debug;

pub use fields::Fields;

use self::csv::CsvReader;
use self::input::ByteStream;
use self::jsonl::JsonlReader;

/// How many bytes of an over-long row are kept as its `raw` text.
pub const RAW_PREFIX_BYTES: usize = 1024;

/// The format of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// JSON Lines: one object per line, blank lines ignored.
    JsonLines,
}

impl Format {
    /// The format a file name implies: `.csv`, `.jsonl` or `.ndjson`, in any case.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("csv") {
            Some(Format::Csv)
        } else if ext.eq_ignore_ascii_case("jsonl") || ext.eq_ignore_ascii_case("ndjson") {
            Some(Format::JsonLines)
        } else {
            None
        }
    }

    /// The format to read `input` with: `explicit` (from `--format`) when
    /// given, else the file extension. Standard input needs an explicit format.
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
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
        })
    }
}

/// Parses a `--format` value: `csv`, `jsonl` or `ndjson`, in any case.
impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "jsonl" | "ndjson" => Ok(Format::JsonLines),
            _ => Err(format!("unknown format {s:?}: expected csv or jsonl")),
        }
    }
}

/// Where a source is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-` on the command line); cannot be resumed by seeking.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    /// The input a command-line argument names: `-` is standard input.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(arg))
        }
    }

    /// A name for messages: the path, or "standard input".
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "standard input".to_owned(),
            Input::File(path) => path.display().to_string(),
        }
    }
}

/// Where to start reading again: the row that starts at byte `offset` is data row `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    /// Byte offset of the first row to read, from the start of the file (BOM included).
    pub offset: u64,
    /// Its 1-based data-row number.
    pub row: u64,
}

impl ResumePoint {
    /// The point that resumes at `row` itself.
    pub fn at(row: &Row) -> ResumePoint {
        ResumePoint {
            offset: row.offset,
            row: row.row,
        }
    }

    /// The point that resumes just after `row`.
    pub fn after(row: &Row) -> ResumePoint {
        ResumePoint {
            offset: row.end,
            row: row.row + 1,
        }
    }
}

/// One source row with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based number among data rows (the CSV header is not a data row; blank JSONL lines are not rows).
    pub row: u64,
    /// Byte offset where the row starts.
    pub offset: u64,
    /// Byte offset just past the row and its line terminator. Blank lines
    /// after it (skipped) are not included, so this is where the next row
    /// starts unless blank lines follow.
    pub end: u64,
    /// Its fields, or why it could not be read as a record.
    pub body: RowBody,
}

/// A row's content.
#[derive(Debug, Clone, PartialEq)]
pub enum RowBody {
    /// A record: column → value.
    Fields(Fields),
    /// Not a record; the reason and the raw text go to the rejects file.
    Invalid(InvalidRow),
}

/// A row that is not a record: not UTF-8, not JSON, wrong field count, too long.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRow {
    /// A precise reason, e.g. "has 3 fields, the header has 14".
    pub reason: String,
    /// The row as text (lossy UTF-8) without its line terminator, for the
    /// rejects file; only the first [`RAW_PREFIX_BYTES`] when the row is over
    /// the row size limit.
    pub raw: String,
}

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
    /// Neither `--format` nor the file extension says what the source is.
    #[error(
        "cannot tell the format of {input}: name it *.csv, *.jsonl or *.ndjson, or pass --format csv|jsonl"
    )]
    UnknownFormat {
        /// The file, or "standard input".
        input: String,
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
    fn io(input: &str, source: io::Error) -> SourceError {
        SourceError::Io {
            input: input.to_owned(),
            source,
        }
    }
}

/// A streaming reader of one source: an iterator of rows.
///
/// `Err` items are fatal I/O errors, after which the iterator ends; a bad row
/// is an `Ok` row with [`RowBody::Invalid`]. The reader is `Send`, so it can
/// run on its own thread.
pub struct SourceReader {
    /// What is being read ("standard input", a path), for error messages.
    name: String,
    /// The format it is read as.
    format: Format,
    /// The file size, for progress; `None` for standard input.
    total_size: Option<u64>,
    /// The format-specific parser.
    inner: Inner,
    /// Set after an I/O error so that the iterator ends.
    failed: bool,
}

/// The format-specific half of a [`SourceReader`].
enum Inner {
    Csv(CsvReader),
    Jsonl(JsonlReader),
}

impl SourceReader {
    /// Opens `input` as `format`. A CSV header is read and checked here, so
    /// a file that cannot be a source fails now, before any row. With
    /// `resume`, reading starts at `resume.offset` and rows are numbered from
    /// `resume.row`; an offset before the first data row starts at the first
    /// data row.
    pub fn open(
        input: &Input,
        format: Format,
        resume: Option<ResumePoint>,
    ) -> Result<SourceReader, SourceError> {
        if resume.is_some() && *input == Input::Stdin {
            return Err(SourceError::ResumeOnStdin);
        }
        let name = input.name();
        let mut reader = SourceReader::start(name, ByteStream::open(input)?, format)?;
        if let Some(resume) = resume {
            reader.skip_to(input, resume)?;
        }
        debug!(
            input = %reader.name,
            %format,
            resume_offset = resume.map(|r| r.offset),
            resume_row = resume.map(|r| r.row),
            "Opened source."
        );
        Ok(reader)
    }

    /// Reads a source from any byte stream, the way standard input is read
    /// (no size, no resume); `name` names it in errors. For tests and
    /// benchmarks that hold a source in memory.
    pub fn from_reader(
        name: &str,
        reader: impl Read + Send + 'static,
        format: Format,
    ) -> Result<SourceReader, SourceError> {
        let stream = ByteStream::start(Box::new(reader), None, name)?;
        SourceReader::start(name.to_owned(), stream, format)
    }

    /// A reader of `stream` positioned at its first data row.
    fn start(
        name: String,
        stream: ByteStream,
        format: Format,
    ) -> Result<SourceReader, SourceError> {
        let total_size = stream.total_size();
        let inner = match format {
            Format::Csv => Inner::Csv(CsvReader::open(&name, stream)?),
            Format::JsonLines => Inner::Jsonl(JsonlReader::open(stream)),
        };
        Ok(SourceReader {
            name,
            format,
            total_size,
            inner,
            failed: false,
        })
    }

    /// Moves to `resume` (a file only) and numbers rows from there.
    fn skip_to(&mut self, input: &Input, resume: ResumePoint) -> Result<(), SourceError> {
        match &mut self.inner {
            Inner::Csv(csv) => csv.skip_to(input, resume),
            Inner::Jsonl(jsonl) => jsonl.skip_to(input, resume),
        }
    }

    /// The CSV column names, trimmed, in file order; `None` for JSON Lines.
    pub fn headers(&self) -> Option<&[String]> {
        match &self.inner {
            Inner::Csv(csv) => Some(csv.headers()),
            Inner::Jsonl(_) => None,
        }
    }

    /// The absolute byte offset reached so far: the end of the last row read
    /// (or of the blank lines and header before it), for progress.
    pub fn bytes_read(&self) -> u64 {
        match &self.inner {
            Inner::Csv(csv) => csv.bytes_read(),
            Inner::Jsonl(jsonl) => jsonl.bytes_read(),
        }
    }

    /// The file size in bytes; `None` for standard input.
    pub fn total_size(&self) -> Option<u64> {
        self.total_size
    }

    /// The format being read.
    pub fn format(&self) -> Format {
        self.format
    }

    /// What is being read: the path, or "standard input".
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Iterator for SourceReader {
    type Item = Result<Row, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = match &mut self.inner {
            Inner::Csv(csv) => csv.next_row(),
            Inner::Jsonl(jsonl) => jsonl.next_row(),
        };
        match next {
            Ok(row) => row.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(SourceError::io(&self.name, e)))
            }
        }
    }
}

impl fmt::Debug for SourceReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceReader")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("bytes_read", &self.bytes_read())
            .finish_non_exhaustive()
    }
}

/// The reason for a row over the size limit.
fn too_long_reason(len: u64) -> String {
    format!(
        "is {len} bytes long, over the {}-byte limit for a row",
        crate::contract::rules::MAX_ROW_BYTES
    )
}

/// Lossy UTF-8 text of the first `limit` bytes of `bytes`, without a
/// character cut in half at the end.
fn lossy_prefix(bytes: &[u8], limit: usize) -> String {
    if bytes.len() <= limit {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut cut = &bytes[..limit];
    if let Err(e) = std::str::from_utf8(cut) {
        if e.error_len().is_none() {
            cut = &cut[..e.valid_up_to()];
        }
    }
    String::from_utf8_lossy(cut).into_owned()
}
