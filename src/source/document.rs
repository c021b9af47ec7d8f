//! JSON document sources: one JSON document that holds the users as an array.
//!
//! The shapes the identity systems people leave write:
//! - an object with a `users` member, in any case: Firebase's
//!   `auth:export` (`{"users": [...]}`), Keycloak's `kc.sh export`
//!   (`{"realm": "...", "users": [...]}`), Cognito's `list-users`
//!   (`{"Users": [...], "NextToken": ...}`);
//! - a bare array of users (`[{...}, ...]`): Okta's List Users, Auth0's
//!   bulk-import shape.
//!
//! The array is found by its **name**, not by its shape: a top-level member
//! named `users` (compared ASCII-case-insensitively) whose value is an array.
//! The first array of objects would be the wrong one in a Keycloak realm
//! file, which holds `roles`, `groups` and `clients` arrays too. Every other
//! top-level member is skipped while scanning, whatever its size. A document
//! with no such member (a Keycloak `<realm>-realm.json` exported with its users
//! in other files) has no rows; `"users": null` too.
//!
//! Each element of the array becomes one row exactly as a JSON Lines line
//! would: the same [`RowBody`], the same reasons (an element that is not an
//! object, not valid JSON or over [`MAX_ROW_BYTES`] is an invalid row and
//! reading goes on with the next element). Elements are cut out of the
//! stream by a small scanner that only follows strings and bracket depth, so
//! the document is never held in memory: one element at a time, at most
//! [`MAX_ROW_BYTES`] of it (the rest of a longer one is scanned and dropped).
//! What cannot be a document at all (it does not start with `[` or `{`) is a
//! [`SourceError`] when opened; a document that breaks its structure later
//! (it ends inside the array, a missing comma, `"users": 5`, trailing data)
//! is a read error naming the byte offset, which ends the stream.
//!
//! # Positions and resume
//!
//! A row's `offset` is the first byte of its element and `end` the byte just
//! after it (the commas and whitespace between elements belong to no row).
//! The parser's place inside the document cannot be recovered by seeking, so
//! a resume reads the document from its start again and scans, without
//! building rows, every element that starts before the resume offset: the
//! positions are the same as in a full read, and no row is lost or repeated.

use std::io;

use memchr::memchr2;
use tracing::warn;

use super::error::SourceError;
use super::input::{ByteStream, Input};
use super::jsonl::record_body;
use super::members::Member;
use super::row::{FormatSpec, Position, Row, RowReader};
use crate::contract::rules::MAX_ROW_BYTES;

/// The JSON document format: `--format json`, `*.json` when its content is a
/// document (see [`is_document`]).
pub(super) const FORMAT: FormatSpec = FormatSpec {
    name: "json",
    names: &["json", "json-document"],
    extensions: &["json"],
    claims: Some(is_document),
    open: |name, bytes| Ok(Box::new(DocumentReader::open(name, bytes)?)),
};

/// The name of the top-level member that holds the users, in any case.
const USERS: &str = "users";

/// How many bytes of an element are kept: one at the size limit, and one more
/// to tell that it is over.
const ELEMENT_CAP: usize = MAX_ROW_BYTES + 1;

/// How many bytes of a member's key are kept to compare it with [`USERS`]
/// (escapes included); a longer key is another member.
const KEY_CAP: usize = 64;

/// Whether the first bytes of a `.json` file (`head`, a BOM already dropped)
/// are a JSON document rather than JSON Lines (Auth0's export job writes
/// NDJSON named `.json`):
/// - `[` first: a document (an array of users);
/// - `{` first: the first line is scanned as the start of a document. It is
///   one when a `users` array opens on it (`{"users": [` on a line of its
///   own, or a whole document on one line), when the line ends with the
///   object still open (a pretty-printed document), or when the line is
///   longer than a row can be. A line that holds a whole object without a
///   users array is a JSON Lines record, and so is a line that is broken
///   JSON (a bad first row of a JSON Lines file, rejected as such);
/// - anything else (an empty file too): JSON Lines, whose rows are then
///   rejected for what they are.
pub(super) fn is_document(head: &[u8]) -> bool {
    let text = head.trim_ascii_start();
    match text.first() {
        Some(b'[') => true,
        Some(b'{') => {
            let newline = memchr::memchr(b'\n', text);
            if newline.is_none() && head.len() > MAX_ROW_BYTES {
                return true;
            }
            let line = text[..newline.unwrap_or(text.len())].to_vec();
            let Ok(stream) = ByteStream::start(Box::new(io::Cursor::new(line)), None, "head")
            else {
                return false;
            };
            let Ok(mut reader) = DocumentReader::open("head", stream) else {
                return false;
            };
            match reader.advance_to_element() {
                Ok(_) => reader.found_users,
                Err(e) => reader.found_users || e.kind() == io::ErrorKind::UnexpectedEof,
            }
        }
        _ => false,
    }
}

/// Where the scanner is in the document's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Inside the top-level object, before a member (or its end).
    Members {
        /// No member read yet: `}` may follow, a comma may not.
        first: bool,
    },
    /// Inside the users array, before an element (or its end).
    Elements {
        /// No element read yet: `]` may follow, a comma may not.
        first: bool,
        /// The array is the document itself, not a member of an object.
        top_level: bool,
    },
    /// After the top-level value: only whitespace may follow.
    Done,
}

/// Reads the rows of a JSON document source.
pub(super) struct DocumentReader {
    /// The source bytes and the offset reached.
    bytes: ByteStream,
    /// Where the scanner is.
    place: Place,
    /// The number the next row gets.
    next_row: u64,
    /// Elements that start before this offset are scanned, not returned: the
    /// resume point.
    skip_before: u64,
    /// Whether a users array was found (or the warning that there is none
    /// was given).
    found_users: bool,
    /// What is being read, for the warning.
    name: String,
    /// Reused buffer of the element being read, up to [`ELEMENT_CAP`] bytes.
    element: Vec<u8>,
    /// Reused buffer of the members of the object being read.
    members: Vec<Member>,
}

impl DocumentReader {
    /// Opens `bytes` (a source named `name`) and checks that it starts like a
    /// document: an array, or an object. An empty source is a document with
    /// no users.
    pub(super) fn open(name: &str, bytes: ByteStream) -> Result<DocumentReader, SourceError> {
        let mut reader = DocumentReader {
            bytes,
            place: Place::Done,
            next_row: 1,
            skip_before: 0,
            found_users: false,
            name: name.to_owned(),
            element: Vec::new(),
            members: Vec::new(),
        };
        let first = reader
            .peek_non_blank()
            .map_err(|e| SourceError::io(name, e))?;
        reader.place = match first {
            Some(b'[') => {
                // A bare array is the users array.
                reader.found_users = true;
                Place::Elements {
                    first: true,
                    top_level: true,
                }
            }
            Some(b'{') => Place::Members { first: true },
            None => {
                reader.found_users = true;
                return Ok(reader);
            }
            Some(other) => {
                return Err(SourceError::NotADocument {
                    input: name.to_owned(),
                    found: char::from(other).escape_default().to_string(),
                })
            }
        };
        if first.is_some() {
            reader.bytes.consume(1);
        }
        Ok(reader)
    }

    /// Skips JSON whitespace; the next byte (not consumed), `None` at the end.
    fn peek_non_blank(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buf = self.bytes.fill_buf()?;
            let Some(&last) = buf.last() else {
                return Ok(None);
            };
            match buf.iter().position(|b| !is_blank(*b)) {
                Some(i) => {
                    let byte = buf[i];
                    self.bytes.consume(i);
                    return Ok(Some(byte));
                }
                None => {
                    debug_assert!(is_blank(last));
                    let n = buf.len();
                    self.bytes.consume(n);
                }
            }
        }
    }

    /// Reads the value that starts at the current byte to its end, keeping
    /// its first `keep` bytes in `element`; returns its length.
    fn read_value(&mut self, keep: usize) -> io::Result<u64> {
        self.element.clear();
        let mut scan = Scan::default();
        let mut len = 0u64;
        loop {
            let buf = self.bytes.fill_buf()?;
            if buf.is_empty() {
                return Err(self.ends("ends inside a value"));
            }
            let (n, done) = scan.step(buf);
            let room = keep.saturating_sub(self.element.len());
            self.element.extend_from_slice(&buf[..n.min(room)]);
            self.bytes.consume(n);
            len += n as u64;
            if done {
                return Ok(len);
            }
        }
    }

    /// Checks that the next byte can start a value, and returns it.
    fn value_start(&mut self, what: &str) -> io::Result<u8> {
        match self.peek_non_blank()? {
            None => Err(self.ends(&format!("ends before {what}"))),
            Some(b @ (b',' | b':' | b']' | b'}')) => {
                Err(self.broken(&format!("has `{}` where {what} should be", char::from(b))))
            }
            Some(b) => Ok(b),
        }
    }

    /// Reads one top-level member; enters the users array if it is one.
    fn read_member(&mut self) -> io::Result<()> {
        if self.value_start("a member name")? != b'"' {
            return Err(self.broken("has a member name that is not a string"));
        }
        self.read_value(KEY_CAP + 1)?;
        let is_users = self.element.len() <= KEY_CAP
            && serde_json::from_slice::<String>(&self.element)
                .is_ok_and(|key| key.eq_ignore_ascii_case(USERS));
        match self.peek_non_blank()? {
            Some(b':') => {}
            None => return Err(self.ends("ends after a member name")),
            Some(_) => return Err(self.broken("has a member name without `:` after it")),
        }
        self.bytes.consume(1);
        let start = self.value_start("a member's value")?;
        if is_users && start == b'[' {
            self.bytes.consume(1);
            self.found_users = true;
            self.place = Place::Elements {
                first: true,
                top_level: false,
            };
            return Ok(());
        }
        self.read_value(0)?;
        if is_users && start != b'n' {
            // `null` is no users; a string, number or object cannot be users.
            return Err(self.broken("has a users member that is not an array"));
        }
        Ok(())
    }

    /// After a member or an element: a comma, or the end of its container.
    /// Returns whether the container ended.
    fn after_item(&mut self, close: u8) -> io::Result<bool> {
        match self.peek_non_blank()? {
            Some(b',') => {
                self.bytes.consume(1);
                Ok(false)
            }
            Some(b) if b == close => {
                self.bytes.consume(1);
                Ok(true)
            }
            None => Err(self.ends("ends early")),
            Some(b) => Err(self.broken(&format!(
                "has `{}` where `,` or `{}` should be",
                char::from(b),
                char::from(close)
            ))),
        }
    }

    /// Consumes `close` if it is the next byte: an empty container.
    fn close_if(&mut self, close: u8) -> io::Result<bool> {
        let closes = self.peek_non_blank()? == Some(close);
        if closes {
            self.bytes.consume(1);
        }
        Ok(closes)
    }

    /// Moves through the structure until an element starts (returns true) or
    /// the document ends (false).
    fn advance_to_element(&mut self) -> io::Result<bool> {
        loop {
            match self.place {
                Place::Members { first } => {
                    let end = if first {
                        self.close_if(b'}')?
                    } else {
                        self.after_item(b'}')?
                    };
                    if end {
                        self.place = Place::Done;
                        continue;
                    }
                    self.place = Place::Members { first: false };
                    self.read_member()?;
                }
                Place::Elements { first, top_level } => {
                    let end = if first {
                        self.close_if(b']')?
                    } else {
                        self.after_item(b']')?
                    };
                    if end {
                        // After the users member, the object's other members.
                        self.place = if top_level {
                            Place::Done
                        } else {
                            Place::Members { first: false }
                        };
                        continue;
                    }
                    self.value_start("an element")?;
                    self.place = Place::Elements {
                        first: false,
                        top_level,
                    };
                    return Ok(true);
                }
                Place::Done => {
                    if let Some(b) = self.peek_non_blank()? {
                        let what = format!("has `{}` after its end", char::from(b));
                        return Err(self.broken(&what));
                    }
                    return Ok(false);
                }
            }
        }
    }

    /// A read error: the document is broken at the current offset.
    fn broken(&self, what: &str) -> io::Error {
        self.broken_as(io::ErrorKind::InvalidData, what)
    }

    /// A read error: the document ends before its structure does.
    fn ends(&self, what: &str) -> io::Error {
        self.broken_as(io::ErrorKind::UnexpectedEof, what)
    }

    /// A read error of `kind` at the current offset.
    fn broken_as(&self, kind: io::ErrorKind, what: &str) -> io::Error {
        io::Error::new(
            kind,
            format!(
                "the JSON document {what} at byte {} (if it is JSON Lines, give --format jsonl)",
                self.bytes.offset()
            ),
        )
    }
}

impl RowReader for DocumentReader {
    /// Scans (does not seek) to `resume`: see the module documentation.
    fn skip_to(&mut self, _input: &Input, resume: Position) -> Result<(), SourceError> {
        self.skip_before = resume.offset;
        self.next_row = resume.row;
        Ok(())
    }

    fn bytes_read(&self) -> u64 {
        self.bytes.offset()
    }

    fn next_row(&mut self) -> io::Result<Option<Row>> {
        loop {
            if !self.advance_to_element()? {
                if !self.found_users {
                    self.found_users = true;
                    warn!(input = %self.name, "The JSON document has no users array: it has no rows.");
                }
                return Ok(None);
            }
            let offset = self.bytes.offset();
            if offset < self.skip_before {
                self.read_value(0)?;
                continue;
            }
            let len = self.read_value(ELEMENT_CAP)?;
            let body = record_body(&self.element, len, &mut self.members);
            let row = self.next_row;
            self.next_row += 1;
            return Ok(Some(Row {
                row,
                offset,
                end: self.bytes.offset(),
                body,
            }));
        }
    }
}

/// JSON whitespace.
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// The state of the scan of one value: enough to find where it ends, no more
/// (the value itself is checked when it is parsed as a record).
#[derive(Debug, Default)]
struct Scan {
    /// Open `[` and `{` not yet closed.
    depth: u32,
    /// Inside a string.
    in_string: bool,
    /// Just after a backslash in a string.
    escaped: bool,
    /// Inside a number, `true`, `false` or `null`, which ends at the first
    /// delimiter (not part of it).
    scalar: bool,
}

impl Scan {
    /// Scans `buf`, the next bytes of the value: how many of them belong to
    /// it, and whether the value ends there.
    fn step(&mut self, buf: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < buf.len() {
            if self.escaped {
                self.escaped = false;
                i += 1;
                continue;
            }
            if self.in_string {
                let Some(j) = memchr2(b'"', b'\\', &buf[i..]) else {
                    return (buf.len(), false);
                };
                i += j;
                if buf[i] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                i += 1;
                continue;
            }
            let byte = buf[i];
            if self.scalar {
                if is_blank(byte) || matches!(byte, b',' | b']' | b'}') {
                    return (i, true);
                }
                i += 1;
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return (i + 1, true);
                    }
                }
                _ if self.depth == 0 => {
                    self.scalar = true;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        (buf.len(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_told_from_json_lines_by_their_first_line() {
        let documents: [&[u8]; 7] = [
            b"[{\"id\":1}]",
            b"  \n[\n",
            b"{\"users\": [\n{\"localId\":\"a\"}\n]}",
            b"{\n  \"realm\" : \"acme\",\n  \"users\" : [ ]\n}",
            b"{\"Users\":[{\"Username\":\"a\"}],\"NextToken\":null}",
            b"{\"users\":[{\"id\":1}]}\n",
            b"{\"realm\":\"a\",\"users\":[{\"id\":1,}]}",
        ];
        for head in documents {
            assert!(is_document(head), "{}", String::from_utf8_lossy(head));
        }
        let lines: [&[u8]; 6] = [
            b"{\"user_id\":\"auth0|1\",\"email\":\"a@x.io\"}\n{\"user_id\":\"auth0|2\"}\n",
            b"{\"user_id\":\"auth0|1\"}",
            b"{\"id\":1,}\n{\"id\":2}\n",
            b"",
            b"\"text\"\n",
            b"{\"id\":1,\"users\":5}\n",
        ];
        for head in lines {
            assert!(!is_document(head), "{}", String::from_utf8_lossy(head));
        }
    }

    #[test]
    fn the_scanner_finds_where_each_kind_of_value_ends() {
        let cases: [(&[u8], usize); 7] = [
            (b"\"a\\\"]\" ,", 6),
            (b"{\"a\":[1,{\"b\":\"}\"}]} ]", 19),
            (b"12.5e3,", 6),
            (b"true]", 4),
            (b"null}", 4),
            (b"[[], {}] ", 8),
            (b"-1\n", 2),
        ];
        for (text, end) in cases {
            // Whole, and one byte at a time.
            assert_eq!(Scan::default().step(text), (end, true), "{text:?}");
            let mut scan = Scan::default();
            let mut at = 0;
            loop {
                let (n, done) = scan.step(&text[at..at + 1]);
                at += n;
                if done {
                    break;
                }
            }
            assert_eq!(at, end, "{text:?} byte by byte");
        }
    }
}
