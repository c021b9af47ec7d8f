//! Sources: a user export read as a stream of rows.
//!
//! A source is a file, a directory of files, or standard input, in one of
//! the formats listed in [`format`]: a CSV file with a header row, a JSON
//! Lines file, or a JSON document holding a users array; any of them may be
//! gzipped (recognised by its content, decompressed as it is read).
//! [`SourceReader`] yields one [`Row`] at a time,
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
//! `Position { offset: r.offset, row: r.row }` yields exactly the rows of
//! the full read from `r` on, with the same numbers, offsets and contents.
//! For CSV the header is read from the start of the file first, then the
//! reader seeks to the offset.
//!
//! Where seeking cannot work, the reader goes forward instead and the
//! invariant still holds: offsets in a gzipped file count decompressed bytes
//! and a resume decompresses up to the offset; a JSON document is scanned
//! from its start, skipping the elements before the offset; a directory's
//! offsets run on across its files (see `directory.rs`).

//!
//! # Layout
//!
//! - [`format`]: the list of formats and the choice of one for an input;
//! - `row.rs`: [`Row`], [`Position`] and the `RowReader` trait every format implements;
//! - one file per format: `csv.rs`, `jsonl.rs`, `document.rs`;
//! - `input.rs`: [`Input`] and the byte stream under every parser (gzip, BOM);
//! - `directory.rs`: a directory of files read as one source;
//! - [`Fields`] (`fields.rs`, over the JSON member index of `members.rs`): a record's values;
//! - `reader.rs`: [`SourceReader`], a format's reader as an iterator of rows.

mod csv;
mod directory;
mod document;
mod error;
mod fields;
pub mod format;
mod input;
mod jsonl;
mod members;
mod reader;
mod row;

#[cfg(test)]
mod tests;

pub use directory::files as directory_files;
pub use error::SourceError;
pub use fields::{json_text, Fields, SharedHeader, ValueKind};
pub use format::Format;
pub use input::Input;
pub use members::{raw_elements, raw_member, raw_str, same_text};
pub use reader::SourceReader;
pub use row::{InvalidRow, Position, Row, RowBody, RAW_PREFIX_BYTES};
