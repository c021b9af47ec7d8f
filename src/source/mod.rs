//! Sources: a user export read as a stream of rows.
//!
//! INTERFACE STUB — to be implemented (see the types' docs). Memory stays
//! bounded whatever the file size: one row at a time.

use std::borrow::Cow;
use std::path::PathBuf;

/// The format of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// JSON Lines: one object per line, blank lines ignored.
    JsonLines,
}

/// Where a source is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-` on the command line); cannot be resumed by seeking.
    Stdin,
    /// A file.
    File(PathBuf),
}

/// Where to start reading again: the row that starts at byte `offset` is data row `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    /// Byte offset of the first row to read, from the start of the file (BOM included).
    pub offset: u64,
    /// Its 1-based data-row number.
    pub row: u64,
}

/// One source row with its position.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based number among data rows (the CSV header is not a data row; blank JSONL lines are not rows).
    pub row: u64,
    /// Byte offset where the row starts.
    pub offset: u64,
    /// Byte offset just past the row (where the next one starts).
    pub end: u64,
    /// Its fields, or why it could not be read as a record.
    pub body: RowBody,
}

/// A row's content.
#[derive(Debug, Clone)]
pub enum RowBody {
    Fields(Fields),
    Invalid(InvalidRow),
}

/// A row that is not a record: not UTF-8, not JSON, wrong field count, too long.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRow {
    /// A precise reason, e.g. "has 3 fields, the header has 14".
    pub reason: String,
    /// The row as text (lossy UTF-8), for the rejects file.
    pub raw: String,
}

/// The fields of one record.
#[derive(Debug, Clone)]
pub struct Fields {
    _todo: (),
}

impl Fields {
    /// The value of `column`; `None` when the column is absent (or JSON `null`).
    /// JSON scalars come as their text, arrays of scalars joined with `;`.
    pub fn get(&self, _column: &str) -> Option<Cow<'_, str>> {
        todo!()
    }

    /// The record as a JSON object (column → value), for the rejects file.
    pub fn to_json(&self) -> serde_json::Value {
        todo!()
    }
}

/// TEMPORARY STUB (replaced by the real reader).
#[derive(Debug, thiserror::Error)]
#[error("stub")]
pub struct SourceError;

impl SourceError {
    pub fn is_io(&self) -> bool {
        false
    }
}

impl Format {
    pub fn from_path(_p: &std::path::Path) -> Option<Format> {
        todo!()
    }
}

/// TEMPORARY STUB.
pub struct SourceReader;

impl SourceReader {
    pub fn open(
        _i: &Input,
        _f: Format,
        _r: Option<ResumePoint>,
    ) -> Result<SourceReader, SourceError> {
        todo!()
    }
    pub fn headers(&self) -> Option<&[String]> {
        todo!()
    }
    pub fn bytes_read(&self) -> u64 {
        todo!()
    }
}

impl Iterator for SourceReader {
    type Item = Result<Row, SourceError>;
    fn next(&mut self) -> Option<Self::Item> {
        todo!()
    }
}
