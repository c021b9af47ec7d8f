//! Batches: mapped users grouped into request bodies.
//!
//! A [`Batch`] is the unit the sender sends, retries, acknowledges and
//! checkpoints. It owns its serialised body as [`Bytes`], so the sender hands
//! it to the HTTP client (and re-sends it) without copying or re-serialising;
//! it also keeps the users' records, so a batch the target refuses can be
//! split and re-encoded ([`encode`]) to isolate the bad users.
//!
//! Batches tile the source: batch *n* covers every row from where batch *n-1*
//! ended to where batch *n+1* starts, so the rows rejected while mapping
//! travel with the batch they fall in, and a checkpoint that says "every batch
//! below *n* is done" can resume reading at `batch n`'s start offset. A batch
//! is closed when the next user arrives (or the source ends), so rejected rows
//! after its last user belong to it; only a source without a single valid
//! user yields a batch without users.

use bytes::Bytes;
use serde::Serialize;

use crate::mapping::{Mapped, MappedUser, Mapper, UserRecords};
use crate::reject::Rejection;
use crate::source::{Position, Row, SourceError};

/// Default users per request, the platform guide's maximum.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// The number of a run's first batch: batches are numbered from 1, in
/// source order, in the dry run's file names, the logs and the checkpoint.
pub const FIRST_BATCH: u64 = 1;
/// Largest batch size accepted.
pub const MAX_BATCH_SIZE: usize = 1000;

/// One request's worth of users, with the rows it covers.
#[derive(Debug, Clone)]
pub struct Batch {
    /// 1-based, in source order.
    pub number: u64,
    /// The users of the body, in source order.
    pub users: Vec<MappedUser>,
    /// Rows of this batch's range that were rejected before sending.
    pub rejected: Vec<Rejection>,
    /// The request body (the four arrays); empty when there are no users.
    pub body: Bytes,
    /// Where this batch's first row starts.
    pub start: Position,
    /// Where the next batch's first row starts.
    pub end: Position,
}

impl Batch {
    /// Source rows the batch covers (users and rejections).
    pub fn rows(&self) -> u64 {
        self.end.row - self.start.row
    }
}

/// Serialises users into a request body: `{"users":[...],"user_credentials":[...],
/// "user_identifiers":[...],"user_verifiable_addresses":[...]}`, records in user order.
pub fn encode<'a, I>(users: I) -> Vec<u8>
where
    I: IntoIterator<Item = &'a UserRecords>,
    I::IntoIter: Clone,
{
    let users = users.into_iter();
    let mut out = Vec::with_capacity(users.clone().count() * 2048);
    out.extend_from_slice(b"{\"users\":");
    write_array(&mut out, users.clone().map(|r| &r.user));
    out.extend_from_slice(b",\"user_credentials\":");
    write_array(&mut out, users.clone().flat_map(|r| &r.credentials));
    out.extend_from_slice(b",\"user_identifiers\":");
    write_array(&mut out, users.clone().flat_map(|r| &r.identifiers));
    out.extend_from_slice(b",\"user_verifiable_addresses\":");
    write_array(&mut out, users.flat_map(|r| &r.addresses));
    out.push(b'}');
    out
}

fn write_array<T: Serialize>(out: &mut Vec<u8>, items: impl Iterator<Item = T>) {
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Serialising our own record types into a Vec cannot fail: no maps with
        // non-string keys, no I/O.
        if let Err(e) = serde_json::to_writer(&mut *out, &item) {
            unreachable!("serialising a record failed: {e}");
        }
    }
    out.push(b']');
}

/// Groups mapped rows into batches; an iterator over `Result<Batch, SourceError>`.
pub struct Batcher<I> {
    /// Source rows.
    rows: I,
    /// Validates and maps each row.
    mapper: Mapper,
    /// Users per batch.
    size: usize,
    /// Number of the batch being filled.
    number: u64,
    /// Where the next row starts (and its number).
    position: Position,
    /// The batch being filled.
    open: Open,
    /// Whether the source is exhausted.
    done: bool,
}

/// A batch being filled.
#[derive(Default)]
struct Open {
    users: Vec<MappedUser>,
    rejected: Vec<Rejection>,
    start: Option<Position>,
}

impl<I: Iterator<Item = Result<Row, SourceError>>> Batcher<I> {
    /// Batches `rows` (which start at `from`, batch number `first_number`) into batches of `size` users.
    pub fn new(
        rows: I,
        mapper: Mapper,
        size: usize,
        from: Position,
        first_number: u64,
    ) -> Batcher<I> {
        Batcher {
            rows,
            mapper,
            size,
            number: first_number,
            position: from,
            open: Open::default(),
            done: false,
        }
    }

    fn close(&mut self, end: Position) -> Batch {
        let open = std::mem::take(&mut self.open);
        let body = if open.users.is_empty() {
            Bytes::new()
        } else {
            Bytes::from(encode(open.users.iter().map(|u| &u.records)))
        };
        let batch = Batch {
            number: self.number,
            start: open.start.unwrap_or(end),
            end,
            users: open.users,
            rejected: open.rejected,
            body,
        };
        self.number += 1;
        batch
    }
}

impl<I: Iterator<Item = Result<Row, SourceError>>> Iterator for Batcher<I> {
    type Item = Result<Batch, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let row = match self.rows.next() {
                Some(Ok(row)) => row,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    let open = &self.open;
                    let any = !open.users.is_empty() || !open.rejected.is_empty();
                    return any.then(|| Ok(self.close(self.position)));
                }
            };
            let here = Position::at(&row);
            self.position = Position::after(&row);
            let mut closed = None;
            match self.mapper.map_row(row) {
                Mapped::User(user) => {
                    if self.open.users.len() == self.size {
                        closed = Some(self.close(here));
                    }
                    self.open.start.get_or_insert(here);
                    self.open.users.push(*user);
                }
                Mapped::Rejected(rejection) => {
                    self.open.start.get_or_insert(here);
                    self.open.rejected.push(rejection);
                }
            }
            if closed.is_some() {
                return closed.map(Ok);
            }
        }
        None
    }
}
