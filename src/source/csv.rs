//! CSV sources: a header row, then one record per row.
//!
//! Parsing is done by `csv-core`, the engine of the `csv` crate, driven
//! directly rather than through `csv::Reader` for two reasons:
//! - **bounded memory**: `csv::Reader` buffers a whole record before handing
//!   it over, so one unbalanced quote would make the rest of a 1 GB file one
//!   record in memory. Here the output buffer stops growing once a row is over
//!   [`MAX_ROW_BYTES`]: the rest of that row is parsed and discarded, and it
//!   becomes an invalid row with a short prefix as its text;
//! - **exact offsets**: every consumed byte goes through [`ByteStream`], and
//!   the line terminators `csv-core` would skip before a record (blank lines)
//!   are skipped here first, so a row's `offset` is its first byte.
//!
//! The dialect is `csv-core`'s default, the same as the `csv` crate's: comma
//! delimiter, `"` quotes with `""` as an escaped quote, quoted fields may hold
//! commas, quotes and line breaks; `\n`, `\r\n` and `\r` end a row; empty
//! lines are skipped and not counted. Rows may have any number of fields (an
//! unequal count is a per-row rejection, not a parse failure).
//!
//! Header names are trimmed of surrounding whitespace and must be non-empty
//! and unique.
//!
//! # One stray quote costs one row
//!
//! A record can only cross a line break inside a quoted field, so a quote
//! opened by mistake (`u100,"Smith`) makes the parser read the following
//! lines as part of that field. Left alone, it would swallow the rest of the
//! file into one rejected row. Instead, a record that spans several physical
//! lines and then fails, because it has the wrong number of fields, would go
//! over [`MAX_ROW_BYTES`], or still has its quote open at the end of the
//! file, is rejected as its *first physical line* alone, with the reason
//! "unterminated quote", and reading starts again at the next line with a
//! fresh parser. To make that possible without seeking, the parser is fed at
//! most one line at a time and a multi-line record no further than the size
//! limit, so every byte after its first line is still in the row buffer and
//! can be put back ([`ByteStream::unread`]). A record that spans lines and
//! is valid (a quoted field holding a line break) is read whole, as before.
//! Offsets stay exact: the rejected row ends where its first line ends, and
//! the next row starts there (or after the blank lines that follow).

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use csv_core::ReadRecordResult;
use memchr::memchr2;

use super::error::SourceError;
use super::fields::{Fields, Header};
use super::input::{ByteStream, Input};
use super::row::{
    lossy_prefix, too_long_reason, FormatSpec, InvalidRow, Position, Row, RowBody, RowReader,
    RAW_PREFIX_BYTES,
};
use crate::contract::rules::MAX_ROW_BYTES;

/// The CSV format: `--format csv`, `*.csv`.
pub(super) const FORMAT: FormatSpec = FormatSpec {
    name: "csv",
    names: &["csv"],
    extensions: &["csv"],
    claims: None,
    open: |name, bytes| Ok(Box::new(CsvReader::open(name, bytes)?)),
};

/// CSV without a header row (`--format csv-noheader`; a mapping with
/// `[source] csv_columns` reads CSV so): every row's columns are named by
/// their 1-based position, `1`, `2`, …, and the mapping names them by the
/// row's width (Firebase's `auth:export` CSV).
pub(super) const FORMAT_NO_HEADER: FormatSpec = FormatSpec {
    name: "csv-noheader",
    names: &["csv-noheader"],
    extensions: &[],
    claims: None,
    open: |_name, bytes| Ok(Box::new(CsvReader::headerless(bytes))),
};

/// How many bytes of a row are kept as its raw text: a whole row at the size
/// limit, with its line terminator.
const RAW_CAP: usize = MAX_ROW_BYTES + 2;

/// Reads the rows of a CSV source.
pub(super) struct CsvReader {
    /// The source bytes and the offset reached.
    bytes: ByteStream,
    /// The parser state machine; kept across the header and a resume seek so
    /// that it never strips a BOM-like prefix from a data row. Boxed: its
    /// transition table is large.
    core: Box<csv_core::Reader>,
    /// The checked column names, shared with every record.
    header: Arc<Header>,
    /// Without a header row: the positional header of each row width seen.
    positional: Option<HashMap<usize, Arc<Header>>>,
    /// The number the next row gets.
    next_row: u64,
    /// Reused buffer of the current record's field bytes (unescaped).
    out: Vec<u8>,
    /// Reused buffer of where each field ends in `out`.
    ends: Vec<usize>,
    /// Reused buffer of the current row's raw bytes, up to [`RAW_CAP`].
    raw: Vec<u8>,
}

/// Where one record lies in the file and what the buffers hold of it.
struct Span {
    /// Offset of its first byte.
    start: u64,
    /// Offset just past its terminator.
    end: u64,
    /// Its length without the terminator.
    len: u64,
    /// Bytes of `out` that hold its fields (unless `overflow`).
    nout: usize,
    /// Entries of `ends` that hold its field ends: its field count (unless `overflow`).
    nend: usize,
    /// The row is over the limit; `out` and `ends` hold nothing useful.
    overflow: bool,
    /// Length of its first physical line in `raw`, terminator included, when
    /// the record spans several lines; `raw` then holds all of the record.
    first_line: Option<usize>,
    /// The span is the first line of a record whose quote never closed (see
    /// the module documentation); `out` and `ends` hold nothing useful.
    unterminated: bool,
}

/// The reason for the first line of a record whose quote never closed.
const UNTERMINATED: &str = "unterminated quote";

impl CsvReader {
    /// Reads and checks the header of `bytes` (a source named `name`).
    pub(super) fn open(name: &str, bytes: ByteStream) -> Result<CsvReader, SourceError> {
        let mut reader = CsvReader {
            bytes,
            core: Box::new(csv_core::Reader::new()),
            header: Arc::new(Header::new(Vec::new())),
            positional: None,
            next_row: 1,
            out: vec![0; 1024],
            ends: vec![0; 32],
            raw: Vec::new(),
        };
        let names = reader.read_header(name)?;
        reader.header = Arc::new(Header::new(names));
        Ok(reader)
    }

    /// A reader of CSV without a header row: see [`FORMAT_NO_HEADER`].
    pub(super) fn headerless(bytes: ByteStream) -> CsvReader {
        CsvReader {
            bytes,
            core: Box::new(csv_core::Reader::new()),
            header: Arc::new(Header::new(Vec::new())),
            positional: Some(HashMap::new()),
            next_row: 1,
            out: vec![0; 1024],
            ends: vec![0; 32],
            raw: Vec::new(),
        }
    }

    /// The header records of `width` fields have: the header row's, or
    /// without one the positional names (see [`FORMAT_NO_HEADER`]).
    fn header_for(&mut self, width: usize) -> Arc<Header> {
        match &mut self.positional {
            None => Arc::clone(&self.header),
            Some(by_width) => Arc::clone(by_width.entry(width).or_insert_with(|| {
                Arc::new(Header::new((1..=width).map(|i| i.to_string()).collect()))
            })),
        }
    }

    /// Reads the first record as column names and checks them.
    fn read_header(&mut self, name: &str) -> Result<Vec<String>, SourceError> {
        let span = self
            .read_record()
            .map_err(|e| SourceError::io(name, e))?
            .ok_or_else(|| SourceError::NoHeader {
                input: name.to_owned(),
            })?;
        let bad = |reason: String| SourceError::BadHeader {
            input: name.to_owned(),
            reason,
        };
        if span.unterminated {
            return Err(bad(format!("has an {UNTERMINATED}")));
        }
        if span.overflow || span.len > MAX_ROW_BYTES as u64 {
            return Err(bad(format!("is longer than {MAX_ROW_BYTES} bytes")));
        }
        let ends = &self.ends[..span.nend];
        let text = std::str::from_utf8(&self.out[..span.nout]).map_err(|e| {
            let (column, _) = locate(ends, e.valid_up_to());
            bad(format!("is not valid UTF-8 in column {}", column + 1))
        })?;
        let names: Vec<String> = split_fields(text, ends)
            .map(|name| name.trim().to_owned())
            .collect();
        check_names(name, &names)?;
        Ok(names)
    }

    /// The body of the record the buffers hold: its fields, or why it is invalid.
    fn body(&mut self, span: &Span) -> RowBody {
        let header = self.header_for(span.nend);
        let columns = header.names().len();
        if span.unterminated {
            let keep = if span.overflow {
                RAW_PREFIX_BYTES
            } else {
                RAW_CAP
            };
            let raw = &self.raw[..self.raw.len().min(span.len as usize)];
            return invalid(UNTERMINATED.to_owned(), raw, keep);
        }
        if span.overflow || span.len > MAX_ROW_BYTES as u64 {
            return invalid(too_long_reason(span.len), &self.raw, RAW_PREFIX_BYTES);
        }
        let raw = &self.raw[..span.len as usize];
        if span.nend != columns {
            let reason = format!(
                "has {} field{}, the header has {columns}",
                span.nend,
                if span.nend == 1 { "" } else { "s" }
            );
            return invalid(reason, raw, RAW_CAP);
        }
        let ends = &self.ends[..span.nend];
        match std::str::from_utf8(&self.out[..span.nout]) {
            Ok(text) => RowBody::Fields(Fields::csv(header, text, ends)),
            Err(e) => {
                let (column, at) = locate(ends, e.valid_up_to());
                let reason = format!(
                    "column {:?} (field {}) is not valid UTF-8 at byte {} of the field",
                    header.names()[column],
                    column + 1,
                    at + 1
                );
                invalid(reason, raw, RAW_CAP)
            }
        }
    }

    /// Reads one record into the reused buffers; `None` at the end of the
    /// file. A record whose quote never closes comes back as its first line,
    /// `unterminated`, with the rest of what was read put back.
    fn read_record(&mut self) -> io::Result<Option<Span>> {
        if !self.skip_blank_lines()? {
            return Ok(None);
        }
        let start = self.bytes.offset();
        self.raw.clear();
        let (mut nout, mut nend, mut overflow) = (0, 0, false);
        // Bytes of the record consumed when its first line ended inside a quote.
        let mut first_line: Option<usize> = None;
        let (last, at_eof) = loop {
            let consumed = (self.bytes.offset() - start) as usize;
            if first_line.is_some() && consumed >= RAW_CAP {
                // Several lines and already over the limit: the quote is stray.
                return Ok(Some(self.cut_to_first_line(start, first_line)));
            }
            let buf = self.bytes.fill_buf()?;
            if buf.is_empty() {
                if self.quote_open_at_end(&mut nout, &mut nend) {
                    let span = match first_line {
                        Some(_) => self.cut_to_first_line(start, first_line),
                        None => self.unterminated_line(start, overflow, 0),
                    };
                    return Ok(Some(span));
                }
                break (None, true);
            }
            // One line at a time, so that every line break the record crosses
            // is seen; a multi-line record no further than the limit, so that
            // all of it stays in `raw`.
            let mut cut = memchr2(b'\n', b'\r', buf).map_or(buf.len(), |i| i + 1);
            if first_line.is_some() {
                cut = cut.min(RAW_CAP - consumed);
            }
            let chunk = &buf[..cut];
            let (res, nin, o, e) =
                self.core
                    .read_record(chunk, &mut self.out[nout..], &mut self.ends[nend..]);
            let last = nin.checked_sub(1).map(|i| chunk[i]);
            let crossed_line = nin == cut && matches!(last, Some(b'\n' | b'\r'));
            let room = RAW_CAP - self.raw.len();
            self.raw.extend_from_slice(&chunk[..nin.min(room)]);
            self.bytes.consume(nin);
            (nout, nend) = (nout + o, nend + e);
            overflow |= self.bytes.offset() - start > RAW_CAP as u64;
            if overflow {
                // Past the limit: keep parsing to find the row's end, keep nothing.
                (nout, nend) = (0, 0);
            }
            if crossed_line && !matches!(res, ReadRecordResult::Record) {
                if overflow {
                    // One line over the limit that ends inside a quote.
                    return Ok(Some(self.unterminated_line(start, overflow, 1)));
                }
                first_line.get_or_insert(consumed + nin);
            }
            match res {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull if !overflow => grow(&mut self.out),
                ReadRecordResult::OutputEndsFull if !overflow => grow(&mut self.ends),
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
                ReadRecordResult::Record => break (last, false),
                // Not reached: `skip_blank_lines` saw a byte that starts a record.
                ReadRecordResult::End => return Ok(None),
            }
        };
        // The terminator is the last byte consumed, unless the file ended the row.
        let mut len = self.bytes.offset() - start;
        if !at_eof && last.is_some() {
            len -= 1;
        }
        if last == Some(b'\r') && !at_eof {
            self.skip_lf()?;
        }
        Ok(Some(Span {
            start,
            end: self.bytes.offset(),
            len,
            nout,
            nend,
            overflow,
            first_line,
            unterminated: false,
        }))
    }

    /// At the end of the input, with a record in progress: whether it is
    /// inside a quoted field. The parser is shown a line break: outside a
    /// quote that ends the record (as the end of the input would), inside one
    /// it is just more of the field. The buffers then hold the record as the
    /// end of the input would have left it.
    fn quote_open_at_end(&mut self, nout: &mut usize, nend: &mut usize) -> bool {
        let mut input: &[u8] = b"\n";
        loop {
            let (res, nin, o, e) =
                self.core
                    .read_record(input, &mut self.out[*nout..], &mut self.ends[*nend..]);
            input = &input[nin..];
            (*nout, *nend) = (*nout + o, *nend + e);
            match res {
                ReadRecordResult::InputEmpty => return true,
                ReadRecordResult::Record | ReadRecordResult::End => return false,
                ReadRecordResult::OutputFull => grow(&mut self.out),
                ReadRecordResult::OutputEndsFull => grow(&mut self.ends),
            }
        }
    }

    /// The first line of a multi-line record that failed, as an
    /// `unterminated` span; the bytes after that line (all in `raw`) are put
    /// back and the parser starts afresh, so the next record is the next line.
    fn cut_to_first_line(&mut self, start: u64, first_line: Option<usize>) -> Span {
        let consumed = self.raw.len();
        debug_assert_eq!(consumed as u64, self.bytes.offset() - start);
        let mut line = first_line.unwrap_or(consumed).min(consumed);
        if self.raw[..line].ends_with(b"\r") && self.raw.get(line) == Some(&b'\n') {
            line += 1;
        }
        self.bytes.unread(&self.raw[line..consumed]);
        self.raw.truncate(line);
        self.core.reset();
        let len = trim_terminator(&self.raw).len() as u64;
        Span {
            start,
            end: start + line as u64,
            len,
            nout: 0,
            nend: 0,
            overflow: false,
            first_line: None,
            unterminated: true,
        }
    }

    /// Everything read of the record as one `unterminated` line, ended by a
    /// `terminator` of that many bytes: a single line over the limit whose
    /// quote is open at its end, or one that the input ends. The parser starts
    /// afresh.
    fn unterminated_line(&mut self, start: u64, overflow: bool, terminator: u64) -> Span {
        self.core.reset();
        let end = self.bytes.offset();
        Span {
            start,
            end,
            len: end - start - terminator,
            nout: 0,
            nend: 0,
            overflow,
            first_line: None,
            unterminated: true,
        }
    }

    /// Skips line terminators before a record (`csv-core` would skip them
    /// too), so that the record starts at the current offset. Returns whether
    /// any input is left.
    fn skip_blank_lines(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.bytes.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let n = buf
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            let rest = buf.len() - n;
            self.bytes.consume(n);
            if rest > 0 {
                return Ok(true);
            }
        }
    }

    /// After a row ended by `\r`, takes the `\n` of a `\r\n` into the row
    /// (and into `raw`, which then still holds every byte of a multi-line row).
    fn skip_lf(&mut self) -> io::Result<()> {
        if self.bytes.fill_buf()?.first() == Some(&b'\n') {
            self.bytes.consume(1);
            self.raw.push(b'\n');
        }
        Ok(())
    }
}

impl RowReader for CsvReader {
    /// Moves to `resume`, after the header has been read. The parser state
    /// is kept: after a record it is ready for the next one, wherever it is.
    fn skip_to(&mut self, input: &Input, resume: Position) -> Result<(), SourceError> {
        self.bytes.skip_to(input, resume.offset)?;
        self.next_row = resume.row;
        Ok(())
    }

    fn headers(&self) -> Option<&[String]> {
        match self.positional {
            None => Some(self.header.names()),
            Some(_) => None,
        }
    }

    fn bytes_read(&self) -> u64 {
        self.bytes.offset()
    }

    fn next_row(&mut self) -> io::Result<Option<Row>> {
        let Some(mut span) = self.read_record()? else {
            return Ok(None);
        };
        let columns = match self.positional {
            None => self.header.names().len(),
            // Without a header any width is a record; the mapping checks it.
            Some(_) => span.nend,
        };
        if span.first_line.is_some() && !span.overflow && span.nend != columns {
            // Several lines and the wrong field count: the quote is stray.
            span = self.cut_to_first_line(span.start, span.first_line);
        }
        let row = self.next_row;
        self.next_row += 1;
        Ok(Some(Row {
            row,
            offset: span.start,
            end: span.end,
            body: self.body(&span),
        }))
    }
}

/// `line` without its line terminator (`\n`, `\r\n` or `\r`).
fn trim_terminator(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Doubles a reused buffer.
fn grow<T: Default + Clone>(buf: &mut Vec<T>) {
    let len = buf.len().max(1) * 2;
    buf.resize(len, T::default());
}

/// An invalid row with the first `keep` bytes of `raw` as its text.
fn invalid(reason: String, raw: &[u8], keep: usize) -> RowBody {
    RowBody::Invalid(InvalidRow {
        reason,
        raw: lossy_prefix(raw, keep),
    })
}

/// The 0-based field holding byte `pos` of a record, and `pos` within that field.
fn locate(ends: &[usize], pos: usize) -> (usize, usize) {
    let field = ends.partition_point(|&end| end <= pos);
    let start = field.checked_sub(1).map_or(0, |i| ends[i]);
    (field, pos - start)
}

/// The fields of a record: `text` cut at `ends`.
fn split_fields<'a>(text: &'a str, ends: &'a [usize]) -> impl Iterator<Item = &'a str> + 'a {
    ends.iter().scan(0, move |start, &end| {
        let field = &text[*start..end];
        *start = end;
        Some(field)
    })
}

/// Checks that the header names are non-empty and unique.
fn check_names(source: &str, names: &[String]) -> Result<(), SourceError> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(SourceError::EmptyColumnName {
                input: source.to_owned(),
                column: i + 1,
            });
        }
        if let Some(first) = seen.insert(name, i) {
            return Err(SourceError::DuplicateColumn {
                input: source.to_owned(),
                name: name.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A reader of `data` held in memory.
    fn reader(data: Vec<u8>) -> CsvReader {
        let stream = ByteStream::start(Box::new(Cursor::new(data)), None, "memory").unwrap();
        CsvReader::open("memory", stream).unwrap()
    }

    #[test]
    fn huge_rows_do_not_grow_the_buffers_past_twice_the_limit() {
        // An unclosed quote (one 5 MB field), then 5 MB of commas (many fields).
        let mut data = b"a,b\nx,\"".to_vec();
        data.extend(std::iter::repeat_n(b'y', 5_000_000));
        let mut data2 = b"a,b\n".to_vec();
        data2.extend(std::iter::repeat_n(b',', 5_000_000));
        data2.extend_from_slice(b"\nu,v\n");
        for data in [data, data2] {
            let len = data.len();
            let mut csv = reader(data);
            let mut rows = Vec::new();
            while let Some(row) = csv.next_row().unwrap() {
                rows.push(row);
            }
            assert!(matches!(rows[0].body, RowBody::Invalid(_)));
            assert_eq!(rows.last().unwrap().end as usize, len);
            assert!(csv.out.len() <= 2 * RAW_CAP + 2, "{}", csv.out.len());
            assert!(csv.ends.len() <= 2 * RAW_CAP + 2, "{}", csv.ends.len());
            assert!(csv.raw.capacity() <= 2 * RAW_CAP, "{}", csv.raw.capacity());
        }
    }

    #[test]
    fn locate_finds_the_field_and_position() {
        // Fields "ab", "", "cde".
        let ends = [2, 2, 5];
        assert_eq!(locate(&ends, 0), (0, 0));
        assert_eq!(locate(&ends, 1), (0, 1));
        assert_eq!(locate(&ends, 2), (2, 0));
        assert_eq!(locate(&ends, 4), (2, 2));
    }

    #[test]
    fn split_fields_cuts_at_ends() {
        let fields: Vec<&str> = split_fields("abcde", &[2, 2, 5]).collect();
        assert_eq!(fields, vec!["ab", "", "cde"]);
    }
}
