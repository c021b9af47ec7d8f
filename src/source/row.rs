//! Rows and positions: what every source format yields, and the seam a
//! format implements ([`RowReader`]).

use std::io;

use serde::{Deserialize, Serialize};

use super::error::SourceError;
use super::fields::Fields;
use super::input::{ByteStream, Input};

/// How many bytes of an over-long row are kept as its `raw` text.
pub const RAW_PREFIX_BYTES: usize = 1024;

/// A place in a source: the row that starts at byte `offset` is data row
/// `row`. Where a batch starts and ends, where a checkpoint resumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Byte offset of the row, from the start of the file (BOM included):
    /// where to seek. Written `byte` in checkpoints.
    #[serde(rename = "byte")]
    pub offset: u64,
    /// Its 1-based data-row number.
    pub row: u64,
}

impl Position {
    /// The point that resumes at `row` itself.
    pub fn at(row: &Row) -> Position {
        Position {
            offset: row.offset,
            row: row.row,
        }
    }

    /// The point that resumes just after `row`.
    pub fn after(row: &Row) -> Position {
        Position {
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

/// The parser of one source format over a [`ByteStream`]: the seam every
/// format implements (one file each under `src/source/`, registered in
/// [`super::format`]).
///
/// The contract, which [`super::SourceReader`] and resume rely on: rows come
/// in file order, numbered from 1 (or from the resume row), each with the
/// exact byte offsets where it starts and ends; after [`RowReader::skip_to`]
/// a reader yields exactly the rows a full read yields from that position.
pub(super) trait RowReader: Send {
    /// Moves to `resume` (a file only; the header, if any, was read first)
    /// and numbers rows from there.
    fn skip_to(&mut self, input: &Input, resume: Position) -> Result<(), SourceError>;

    /// The column names, trimmed, in file order, for formats that have a
    /// header row; `None` for self-describing records.
    fn headers(&self) -> Option<&[String]> {
        None
    }

    /// The absolute byte offset reached: the end of the last row read (or of
    /// the blank lines and header before it).
    fn bytes_read(&self) -> u64;

    /// The next row, `None` at the end of the input. An `Err` is an I/O
    /// failure; a row that is not a record is an `Ok` [`RowBody::Invalid`].
    fn next_row(&mut self) -> io::Result<Option<Row>>;
}

/// Opens a format's reader over `bytes` (a source named `name` in errors),
/// positioned at its first data row; reads and checks a header if the format
/// has one.
pub(super) type Open = fn(name: &str, bytes: ByteStream) -> Result<Box<dyn RowReader>, SourceError>;

/// What ferry knows of one format.
pub(super) struct FormatSpec {
    /// Its canonical name, as printed (`csv`, `jsonl`).
    pub(super) name: &'static str,
    /// Every name it is given by (the canonical one included), matched in any case.
    pub(super) names: &'static [&'static str],
    /// File extensions that imply it, without the dot, matched in any case
    /// (after a `.gz`). An extension may be listed by two formats when the
    /// first has a `claims` test: `json` is a document or JSON Lines.
    pub(super) extensions: &'static [&'static str],
    /// For a format that shares an extension: whether a file's first bytes
    /// (decompressed, a BOM dropped, up to a row and a bit) are this format.
    /// `None`: the extension alone decides.
    pub(super) claims: Option<fn(head: &[u8]) -> bool>,
    /// How to open its reader.
    pub(super) open: Open,
}

/// The reason for a row over the size limit.
pub(super) fn too_long_reason(len: u64) -> String {
    format!(
        "is {len} bytes long, over the {}-byte limit for a row",
        crate::contract::rules::MAX_ROW_BYTES
    )
}

/// Lossy UTF-8 text of the first `limit` bytes of `bytes`, without a
/// character cut in half at the end.
pub(super) fn lossy_prefix(bytes: &[u8], limit: usize) -> String {
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
