//! [`SourceReader`]: one source, opened in its format, as an iterator of rows.

use std::fmt;
use std::io::Read;

use tracing::debug;

use super::directory::{self, DirectoryReader};
use super::error::SourceError;
use super::format::Format;
use super::input::{ByteStream, Input};
use super::row::{Position, Row, RowReader};

/// A streaming reader of one source: an iterator of rows.
///
/// `Err` items are fatal I/O errors, after which the iterator ends; a bad row
/// is an `Ok` row with [`RowBody::Invalid`](super::RowBody::Invalid). The reader is `Send`, so it can
/// run on its own thread.
pub struct SourceReader {
    /// What is being read ("standard input", a path), for error messages.
    name: String,
    /// The format it is read as.
    format: Format,
    /// The file size (a directory's total), for progress; `None` for
    /// standard input and gzip, whose decompressed size is not known.
    total_size: Option<u64>,
    /// The format's parser.
    inner: Box<dyn RowReader>,
    /// Set after an I/O error so that the iterator ends.
    failed: bool,
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
        resume: Option<Position>,
    ) -> Result<SourceReader, SourceError> {
        if resume.is_some() && *input == Input::Stdin {
            return Err(SourceError::ResumeOnStdin);
        }
        let name = input.name();
        let mut reader = match input {
            Input::File(dir) if dir.is_dir() => SourceReader {
                total_size: directory::size_of(dir),
                inner: Box::new(DirectoryReader::open(dir, format)?),
                name,
                format,
                failed: false,
            },
            _ => SourceReader::start(name, ByteStream::open(input)?, format)?,
        };
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
        let inner = format.reader(&name, stream)?;
        Ok(SourceReader {
            name,
            format,
            total_size,
            inner,
            failed: false,
        })
    }

    /// Moves to `resume` (a file only) and numbers rows from there.
    fn skip_to(&mut self, input: &Input, resume: Position) -> Result<(), SourceError> {
        self.inner.skip_to(input, resume)
    }

    /// The column names, trimmed, in file order, for a format with a header
    /// row (CSV); `None` for self-describing records (JSON Lines).
    pub fn headers(&self) -> Option<&[String]> {
        self.inner.headers()
    }

    /// The absolute byte offset reached so far: the end of the last row read
    /// (or of the blank lines and header before it), for progress.
    pub fn bytes_read(&self) -> u64 {
        self.inner.bytes_read()
    }

    /// The size in bytes that positions count up to; `None` for standard
    /// input and gzip.
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
        match self.inner.next_row() {
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
