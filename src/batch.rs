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

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;

use crate::mapping::{Mapped, MappedUser, Mapper, UserRecords};
use crate::preflight::Preflight;
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
    /// Users of this batch's range left out because the target holds them
    /// as the source has them (a repair sends only the others): skipped.
    pub unchanged: u64,
    /// The request body (the four arrays); empty when there are no users.
    pub body: Bytes,
    /// Where this batch's first row starts.
    pub start: Position,
    /// Where the next batch's first row starts.
    pub end: Position,
    /// Source columns of this batch's rows that the mapping neither reads
    /// nor ignores, with how many rows held a value in each.
    pub unmapped: BTreeMap<String, u64>,
}

impl Batch {
    /// Source rows the batch covers (users, rejections and unchanged users).
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
    /// The unmapped columns of the row being batched (reused).
    row_unmapped: Vec<usize>,
    /// Only these users are batched, when set (a repair's).
    only: Option<std::sync::Arc<UserSet>>,
    /// The destination pool's schemas, when the run checks users against
    /// them (`--preflight`): a user they refuse is rejected, not batched.
    preflight: Option<std::sync::Arc<Preflight>>,
}

/// A set of user ids, sorted: the users a repair sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSet(Vec<uuid::Uuid>);

impl UserSet {
    /// The set of `ids`.
    pub fn new(mut ids: Vec<uuid::Uuid>) -> UserSet {
        ids.sort_unstable();
        ids.dedup();
        UserSet(ids)
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: uuid::Uuid) -> bool {
        self.0.binary_search(&id).is_ok()
    }

    /// How many ids it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A batch being filled.
#[derive(Default)]
struct Open {
    users: Vec<MappedUser>,
    rejected: Vec<Rejection>,
    unchanged: u64,
    start: Option<Position>,
    /// Rows with a value in each unmapped column, by its number.
    unmapped: Vec<u64>,
}

impl<I: Iterator<Item = Result<Row, SourceError>>> Batcher<I> {
    /// Batches `rows` (which start at `from`, batch number `first_number`) into batches of `size` users.
    /// The join index of the run, when it has one (for its report).
    pub fn join(&self) -> Option<std::sync::Arc<crate::mapping::join::JoinIndex>> {
        self.mapper.join().cloned()
    }

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
            row_unmapped: Vec::new(),
            only: None,
            preflight: None,
        }
    }

    /// The same batcher, rejecting the users `preflight` refuses
    /// ([`Stage::Preflight`](crate::reject::Stage), the fields named)
    /// instead of batching them.
    pub fn preflight(mut self, preflight: Option<std::sync::Arc<Preflight>>) -> Batcher<I> {
        self.preflight = preflight.filter(|p| !p.is_empty());
        self
    }

    /// The same batcher, batching only the users of `only` (the others are
    /// counted as unchanged).
    pub fn only(mut self, only: Option<std::sync::Arc<UserSet>>) -> Batcher<I> {
        self.only = only;
        self
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
            unchanged: open.unchanged,
            body,
            unmapped: open
                .unmapped
                .iter()
                .enumerate()
                .filter(|(_, rows)| **rows > 0)
                .map(|(number, rows)| (self.mapper.unmapped_name(number).to_string(), *rows))
                .collect(),
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
                    let any =
                        !open.users.is_empty() || !open.rejected.is_empty() || open.unchanged > 0;
                    return any.then(|| Ok(self.close(self.position)));
                }
            };
            let here = Position::at(&row);
            self.position = Position::after(&row);
            let row = self.mapper.shape(row);
            self.row_unmapped.clear();
            self.mapper.unmapped_of(&row, &mut self.row_unmapped);
            let mut closed = None;
            let mapped = match (self.mapper.map_row(row), &self.preflight) {
                // Users a repair leaves out are counted unchanged, not checked.
                (Mapped::User(user), Some(preflight))
                    if (self.only.as_ref()).is_none_or(|o| o.contains(user.records.user.id)) =>
                {
                    preflight_user(preflight, user)
                }
                (mapped, _) => mapped,
            };
            match mapped {
                Mapped::User(user)
                    if self
                        .only
                        .as_ref()
                        .is_some_and(|only| !only.contains(user.records.user.id)) =>
                {
                    self.open.start.get_or_insert(here);
                    self.open.unchanged += 1;
                }
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
            // After the close: the row belongs to the batch it opens.
            for &number in &self.row_unmapped {
                let counts = &mut self.open.unmapped;
                if counts.len() <= number {
                    counts.resize(number + 1, 0);
                }
                counts[number] += 1;
            }
            if closed.is_some() {
                return closed.map(Ok);
            }
        }
        None
    }
}

/// `user`, or its rejection when `preflight` refuses it: the fields and
/// why, never their values.
pub fn preflight_user(preflight: &Preflight, user: Box<MappedUser>) -> Mapped {
    let violations = preflight.check(&user.records.user);
    if violations.is_empty() {
        return Mapped::User(user);
    }
    let reasons: Vec<String> = violations.iter().map(ToString::to_string).collect();
    Mapped::Rejected(Rejection {
        row: user.row,
        key: Some(user.key.clone()),
        stage: crate::reject::Stage::Preflight,
        reason: format!(
            "pool {}'s schemas refuse the user: {}",
            preflight.pool(),
            reasons.join("; ")
        ),
        source: user.source.to_json(),
    })
}

/// Of `users`, those to be imported `inactive`.
pub fn inactive_users(users: &[MappedUser]) -> u64 {
    users
        .iter()
        .filter(|u| u.records.user.status == crate::contract::UserStatus::Inactive)
        .count() as u64
}

/// Of `rows`, those the mapping left out on purpose ([`Stage::Excluded`]).
pub fn excluded_rows(rows: &[Rejection]) -> u64 {
    rows.iter()
        .filter(|r| r.stage == crate::reject::Stage::Excluded)
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{MappingConfig, Target};
    use crate::source::{Format, SourceReader};

    /// The batches of `csv` (ids and emails), `size` users each.
    fn batches(csv: &str, size: usize) -> Vec<Batch> {
        let reader =
            SourceReader::from_reader("memory", std::io::Cursor::new(csv.to_owned()), Format::CSV)
                .unwrap();
        let mapping = MappingConfig::default().resolve(reader.headers()).unwrap();
        let target = Target {
            tenant: "t".into(),
            pool: "p".into(),
            import_time: time::macros::datetime!(2026-01-01 00:00:00 UTC),
        };
        let start = Position {
            offset: reader.bytes_read(),
            row: 1,
        };
        Batcher::new(
            reader,
            Mapper::new(target, mapping),
            size,
            start,
            FIRST_BATCH,
        )
        .map(Result::unwrap)
        .collect()
    }

    #[test]
    fn batches_tile_the_source_and_carry_the_rows_rejected_in_their_range() {
        // Rows 3, 7 and 8 are bad (no key, a bad email, no key).
        let csv = "id,email\n1,a@x.io\n2,b@x.io\n,c@x.io\n4,d@x.io\n5,e@x.io\n6,f@x.io\n7,nope\n,h@x.io\n";
        let all = batches(csv, 2);
        let numbers: Vec<u64> = all.iter().map(|b| b.number).collect();
        assert_eq!(numbers, [1, 2, 3]);
        let users: Vec<Vec<u64>> = all
            .iter()
            .map(|b| b.users.iter().map(|u| u.row).collect())
            .collect();
        assert_eq!(users, [vec![1, 2], vec![4, 5], vec![6]]);
        let rejected: Vec<Vec<u64>> = all
            .iter()
            .map(|b| b.rejected.iter().map(|r| r.row).collect())
            .collect();
        // A batch closes when the next user arrives, so the rows rejected
        // after its last user belong to it: row 3 to the first, 7 and 8 to the last.
        assert_eq!(rejected, [vec![3], vec![], vec![7, 8]]);
        // Each batch starts where the previous one ended; the last ends at the end.
        assert_eq!(all[0].start.row, 1);
        for pair in all.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert_eq!(all[2].end.offset, csv.len() as u64);
        assert_eq!(all.iter().map(Batch::rows).sum::<u64>(), 8);
        // The body holds exactly the batch's users.
        let body: serde_json::Value = serde_json::from_slice(&all[1].body).unwrap();
        assert_eq!(body["users"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_source_without_a_valid_user_is_one_batch_without_a_body() {
        let all = batches("id,email\n,a@x.io\n2,bad\n", 100);
        assert_eq!(all.len(), 1);
        assert!(all[0].users.is_empty() && all[0].body.is_empty());
        assert_eq!(all[0].rejected.len(), 2);
        assert_eq!(all[0].rows(), 2);
        assert!(batches("id,email\n", 100).is_empty());
    }

    #[test]
    fn encode_writes_the_four_arrays_in_user_order() {
        let all = batches("id,email\n1,a@x.io\n2,b@x.io\n", 10);
        let users = &all[0].users;
        let body: serde_json::Value =
            serde_json::from_slice(&encode(users.iter().rev().map(|u| &u.records))).unwrap();
        let ids: Vec<&serde_json::Value> = body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| &u["id"])
            .collect();
        let expected: Vec<serde_json::Value> = users
            .iter()
            .rev()
            .map(|u| serde_json::json!(u.records.user.id))
            .collect();
        assert_eq!(ids, expected.iter().collect::<Vec<_>>());
        for key in [
            "user_credentials",
            "user_identifiers",
            "user_verifiable_addresses",
        ] {
            assert!(body[key].is_array(), "{key}");
        }
        assert_eq!(encode(std::iter::empty()), b"{\"users\":[],\"user_credentials\":[],\"user_identifiers\":[],\"user_verifiable_addresses\":[]}");
    }
}
