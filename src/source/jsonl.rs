//! JSON Lines sources: one JSON object per line.
//!
//! A line is the bytes up to `\n`, with a trailing `\r` dropped (CRLF files
//! read the same as LF ones). Lines of only whitespace are skipped and not
//! counted as rows. A line that is not UTF-8, not JSON, or JSON but not an
//! object is an invalid row with the reason; reading goes on.
//!
//! A line is parsed straight from the read buffer when it fits there (the
//! usual case, no copy). A line that straddles two reads is gathered in a
//! reused buffer, but never more than [`MAX_ROW_BYTES`] of it: past that,
//! the line is read on in chunks up to its newline and dropped, its first
//! [`RAW_PREFIX_BYTES`] kept as its text. Memory stays bounded even for a
//! 1 GB line.

use std::io;

use memchr::memchr;
use serde_json::Value;

use super::error::SourceError;
use super::fields::Fields;
use super::input::{ByteStream, Input};
use super::members::{index_object, Member};
use super::row::{
    lossy_prefix, too_long_reason, FormatSpec, InvalidRow, Position, Row, RowBody, RowReader,
    RAW_PREFIX_BYTES,
};
use crate::contract::rules::MAX_ROW_BYTES;

/// The JSON Lines format: `--format jsonl` (or `ndjson`), `*.jsonl`,
/// `*.ndjson`, and `*.json` when it is not a JSON document (Auth0's export
/// job writes NDJSON named `.json`).
pub(super) const FORMAT: FormatSpec = FormatSpec {
    name: "jsonl",
    names: &["jsonl", "ndjson"],
    extensions: &["jsonl", "ndjson", "json"],
    claims: None,
    open: |_name, bytes| Ok(Box::new(JsonlReader::open(bytes))),
};

/// How many bytes of a straddling line are gathered: a line at the size
/// limit, with a trailing `\r`.
const LINE_CAP: usize = MAX_ROW_BYTES + 1;

/// Reads the rows of a JSON Lines source.
pub(super) struct JsonlReader {
    /// The source bytes and the offset reached.
    bytes: ByteStream,
    /// The number the next row gets.
    next_row: u64,
    /// Reused buffer for a line that straddles two reads, up to [`LINE_CAP`].
    line: Vec<u8>,
    /// Reused buffer of the members of the object being read.
    members: Vec<Member>,
}

/// A line gathered by [`JsonlReader::read_straddling_line`].
struct Gathered {
    /// Its length without the line terminator.
    len: u64,
    /// Whether it holds only whitespace.
    blank: bool,
}

impl JsonlReader {
    /// A reader of `bytes` from its first row.
    pub(super) fn open(bytes: ByteStream) -> JsonlReader {
        JsonlReader {
            bytes,
            next_row: 1,
            line: Vec::new(),
            members: Vec::new(),
        }
    }

    /// Reads a line that does not fit the read buffer, up to and including
    /// its `\n` (or the end of the file), keeping at most [`LINE_CAP`] bytes.
    fn read_straddling_line(&mut self) -> io::Result<Gathered> {
        self.line.clear();
        let (mut len, mut blank, mut last) = (0u64, true, None);
        loop {
            let buf = self.bytes.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let newline = memchr(b'\n', buf);
            let chunk = &buf[..newline.unwrap_or(buf.len())];
            let room = LINE_CAP.saturating_sub(self.line.len());
            self.line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            blank = blank && is_blank(chunk);
            len += chunk.len() as u64;
            last = chunk.last().copied().or(last);
            let taken = chunk.len() + usize::from(newline.is_some());
            self.bytes.consume(taken);
            if newline.is_some() {
                break;
            }
        }
        if last == Some(b'\r') {
            len -= 1;
        }
        Ok(Gathered { len, blank })
    }
}

impl RowReader for JsonlReader {
    fn skip_to(&mut self, input: &Input, resume: Position) -> Result<(), SourceError> {
        self.bytes.skip_to(input, resume.offset)?;
        self.next_row = resume.row;
        Ok(())
    }

    fn bytes_read(&self) -> u64 {
        self.bytes.offset()
    }

    fn next_row(&mut self) -> io::Result<Option<Row>> {
        loop {
            let start = self.bytes.offset();
            let buf = self.bytes.fill_buf()?;
            if buf.is_empty() {
                return Ok(None);
            }
            let body = if let Some(i) = memchr(b'\n', buf) {
                // Fast path: the whole line is in the buffer.
                let content = trim_cr(&buf[..i]);
                let members = &mut self.members;
                let body = (!is_blank(content))
                    .then(|| record_body(content, content.len() as u64, members));
                self.bytes.consume(i + 1);
                body
            } else {
                let line = self.read_straddling_line()?;
                let kept = &self.line[..self.line.len().min(line.len as usize)];
                (!line.blank).then(|| record_body(kept, line.len, &mut self.members))
            };
            if let Some(body) = body {
                let row = self.next_row;
                self.next_row += 1;
                return Ok(Some(Row {
                    row,
                    offset: start,
                    end: self.bytes.offset(),
                    body,
                }));
            }
        }
    }
}

/// The body of a JSON record of `len` bytes whose first bytes are `content`
/// (all of them when it is within the size limit): a JSON Lines line, or an
/// element of a JSON document's users array. `members` is scratch space.
pub(super) fn record_body(content: &[u8], len: u64, members: &mut Vec<Member>) -> RowBody {
    if len > MAX_ROW_BYTES as u64 {
        return invalid(
            too_long_reason(len),
            lossy_prefix(content, RAW_PREFIX_BYTES),
        );
    }
    let text = match std::str::from_utf8(content) {
        Ok(text) => text,
        Err(e) => {
            let reason = format!("is not valid UTF-8 at byte {}", e.valid_up_to() + 1);
            return invalid(reason, String::from_utf8_lossy(content).into_owned());
        }
    };
    if text.trim_start().starts_with('{') {
        match index_object(text, members) {
            Ok(()) => RowBody::Fields(Fields::json(text, members)),
            Err(e) => invalid(format!("is not valid JSON: {e}"), text.to_owned()),
        }
    } else {
        // Not an object: say what it is, if it is JSON at all.
        let reason = match serde_json::from_str::<Value>(text) {
            Ok(other) => format!("is a JSON {}, not an object", kind(&other)),
            Err(e) => format!("is not valid JSON: {e}"),
        };
        invalid(reason, text.to_owned())
    }
}

/// An invalid row.
fn invalid(reason: String, raw: String) -> RowBody {
    RowBody::Invalid(InvalidRow { reason, raw })
}

/// The name of a JSON value's type, for reasons.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `line` without a trailing `\r`.
fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether `bytes` are all ASCII whitespace (or none).
fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn a_huge_line_is_skipped_in_bounded_memory() {
        let mut data = b"{\"id\":\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5_000_000));
        data.extend_from_slice(b"\"}\n{\"id\":\"u2\"}\n");
        let stream = ByteStream::start(Box::new(Cursor::new(data)), None, "memory").unwrap();
        let mut jsonl = JsonlReader::open(stream);
        let first = jsonl.next_row().unwrap().unwrap();
        assert!(matches!(first.body, RowBody::Invalid(_)));
        let second = jsonl.next_row().unwrap().unwrap();
        assert!(matches!(second.body, RowBody::Fields(_)));
        assert!(
            jsonl.line.capacity() <= 2 * LINE_CAP,
            "{}",
            jsonl.line.capacity()
        );
    }
}
