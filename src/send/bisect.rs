//! One batch into the target: its users sent as one body and, when the
//! target refuses the body (400, 413, 422, 409), split in halves until the
//! refused users are isolated. They become rejections with the target's
//! reason; the others are stored.
//!
//! Under `mode=fail` a single user refused with 409 is read back first: when
//! the target holds exactly the records sent (this migration stored them
//! before an interruption), the user counts as imported, not as refused.
//!
//! A batch ends as a [`Delivered`] (every row counted: imported, skipped or
//! rejected) or as a [`BatchStopped`] (the run must stop; nothing of the
//! batch is acknowledged, a resumed run sends it again).

use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::backoff::{seeded_rng, Backoff};
use super::client::{PutResponse, TargetClient};
use super::deliver::{Effort, Sender, StopReason, Verdict};
use super::gate::ThrottleGate;
use super::rate::UserRate;
use crate::batch::{encode, Batch};
use crate::contract::{ImportBody, ImportMode};
use crate::mapping::MappedUser;
use crate::reject::{Rejection, Stage};
use crate::report::Counts;
use crate::source::Position;

/// What every batch of a run shares on its way to the target.
#[derive(Debug)]
pub struct BatchSender {
    /// The run's client (one connection pool).
    client: Arc<TargetClient>,
    /// The run's throttle gate: one 429 slows every sender.
    gate: Arc<ThrottleGate>,
    /// The run's users-per-second limit, if any.
    rate: Option<Arc<UserRate>>,
    /// Per-request backoff and attempt limit.
    backoff: Backoff,
    /// `ignore`, `fail` or `update`.
    mode: ImportMode,
    /// Seed of the jitter, for reproducible runs; each body derives its own.
    seed: Option<u64>,
}

/// One batch, delivered: how each of its rows ended.
#[derive(Debug)]
pub struct Delivered {
    /// The batch's number.
    pub number: u64,
    /// Where the next batch starts.
    pub end: Position,
    /// Its rows: read = imported + skipped + rejected.
    pub counts: Counts,
    /// Its rejected rows (before sending and by the target), in row order.
    pub rejects: Vec<Rejection>,
    /// The requests each body took.
    pub efforts: Vec<Effort>,
    /// The target refused every user of the batch (two or more), all for
    /// this one reason: the sign of a cause common to every user (a pool
    /// whose schema they do not match) rather than of bad rows.
    pub wholly_refused: Option<String>,
}

/// A batch that could not be delivered: the run stops.
#[derive(Debug, thiserror::Error)]
#[error("batch {batch}: {reason}")]
pub struct BatchStopped {
    /// The batch's number.
    pub batch: u64,
    /// Why.
    pub reason: StopReason,
}

/// How the users of one body (or part of it) ended.
#[derive(Debug, Default)]
struct Part {
    /// Imported, skipped and (in `unverifiable_hash`) without a usable password.
    counts: Counts,
    /// The users the target refused.
    rejects: Vec<Rejection>,
}

impl Part {
    fn add(&mut self, other: Part) {
        self.counts.add(&other.counts);
        self.rejects.extend(other.rejects);
    }
}

impl BatchSender {
    /// The shared parts of a run's delivery.
    pub fn new(
        client: Arc<TargetClient>,
        backoff: Backoff,
        rate: Option<NonZeroU32>,
        mode: ImportMode,
        seed: Option<u64>,
    ) -> BatchSender {
        BatchSender {
            client,
            gate: Arc::new(ThrottleGate::new(backoff)),
            rate: rate.map(|r| Arc::new(UserRate::per_second(r))),
            backoff,
            mode,
            seed,
        }
    }

    /// Delivers `batch`: its users (bisecting on refusal), and accounts for its rows.
    pub async fn deliver(&self, batch: &Batch) -> Result<Delivered, BatchStopped> {
        let mut counts = Counts {
            read: batch.rows(),
            rejected: batch.rejected.len() as u64,
            ..Counts::default()
        };
        let mut rejects = batch.rejected.clone();
        let mut efforts = Vec::new();
        let mut wholly_refused = None;
        if !batch.users.is_empty() {
            let part = self
                .deliver_part(batch.number, &batch.users, batch.body.clone(), &mut efforts)
                .await
                .map_err(|reason| BatchStopped {
                    batch: batch.number,
                    reason,
                })?;
            counts.add(&Counts {
                rejected: part.rejects.len() as u64,
                ..part.counts
            });
            if batch.users.len() >= 2 && part.rejects.len() == batch.users.len() {
                wholly_refused = common_reason(&part.rejects);
            }
            rejects.extend(part.rejects);
        }
        rejects.sort_by_key(|r| r.row);
        Ok(Delivered {
            number: batch.number,
            end: batch.end,
            counts,
            rejects,
            efforts,
            wholly_refused,
        })
    }

    /// A sender for one body, with its own jitter (derived from the seed,
    /// the batch and the body's first row, so a seeded run is reproducible).
    fn sender(&self, batch: u64, first_row: u64) -> Sender {
        let seed = self
            .seed
            .map(|s| s ^ batch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ first_row);
        Sender::new(
            self.client.clone(),
            self.gate.clone(),
            self.rate.clone(),
            self.backoff,
            seeded_rng(seed),
        )
    }

    /// Sends `users` (serialised as `body`); on refusal, splits them in halves
    /// and sends each, down to single users, which are then rejected.
    fn deliver_part<'a>(
        &'a self,
        batch: u64,
        users: &'a [MappedUser],
        body: Bytes,
        efforts: &'a mut Vec<Effort>,
    ) -> BoxFuture<'a, Result<Part, StopReason>> {
        async move {
            let mut sender = self.sender(batch, users[0].row);
            let delivery = sender.deliver(body, users.len() as u32, self.mode).await;
            efforts.push(delivery.effort);
            match delivery.verdict {
                Verdict::Stored { users_existing } => Ok(stored(users, users_existing)),
                Verdict::Stop(stop) => Err(stop),
                Verdict::Split(response) | Verdict::Conflict(response) if users.len() == 1 => {
                    Ok(self.refused(&users[0], &response).await)
                }
                Verdict::Split(_) | Verdict::Conflict(_) => {
                    let (left, right) = users.split_at(users.len() / 2);
                    let mut part = Part::default();
                    for half in [left, right] {
                        let body = Bytes::from(encode(half.iter().map(|u| &u.records)));
                        part.add(self.deliver_part(batch, half, body, efforts).await?);
                    }
                    Ok(part)
                }
            }
        }
        .boxed()
    }

    /// One user the target refused with `response`: imported after all when
    /// it is a 409 under `fail` for records the target holds exactly, else rejected.
    async fn refused(&self, user: &MappedUser, response: &PutResponse) -> Part {
        if response.status == 409
            && self.mode == ImportMode::Fail
            && self.already_stored(user).await
        {
            return stored(std::slice::from_ref(user), Some(0));
        }
        Part {
            rejects: vec![target_rejection(user, response)],
            ..Part::default()
        }
    }

    /// Whether the target already holds exactly this user's records (sent by
    /// this migration before an interruption), found through the export.
    async fn already_stored(&self, user: &MappedUser) -> bool {
        let stored = match self
            .client
            .export_user(&user.records.user.user_pool_id, user.records.user.id)
            .await
        {
            Ok(Some(body)) => body,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read back a conflicting user; rejecting it.");
                return false;
            }
        };
        same_records(&stored, user)
    }
}

/// The reason all of `rejects` share, if they share one.
fn common_reason(rejects: &[Rejection]) -> Option<String> {
    let first = &rejects.first()?.reason;
    rejects
        .iter()
        .all(|r| &r.reason == first)
        .then(|| first.clone())
}

/// `users`, stored: `users_existing` of them (when the target says) were there already.
fn stored(users: &[MappedUser], users_existing: Option<u32>) -> Part {
    let n = users.len() as u64;
    let skipped = u64::from(users_existing.unwrap_or(0)).min(n);
    Part {
        counts: Counts {
            imported: n - skipped,
            skipped,
            unverifiable_hash: users.iter().filter(|u| u.unverifiable_hash).count() as u64,
            ..Counts::default()
        },
        rejects: Vec::new(),
    }
}

fn target_rejection(user: &MappedUser, response: &PutResponse) -> Rejection {
    Rejection {
        row: user.row,
        key: Some(user.key.clone()),
        stage: Stage::Target,
        reason: format!("target answered {}: {}", response.status, response.reason()),
        source: user.source.to_json(),
    }
}

/// Whether an export holds exactly the records of `user` (order aside).
fn same_records(stored: &ImportBody, user: &MappedUser) -> bool {
    fn by_id<T: Clone>(items: &[T], id: impl Fn(&T) -> uuid::Uuid) -> Vec<T> {
        let mut items = items.to_vec();
        items.sort_by_key(|item| id(item));
        items
    }
    let r = &user.records;
    stored.users.len() == 1
        && stored.users[0] == r.user
        && by_id(&stored.user_credentials, |c| c.id) == by_id(&r.credentials, |c| c.id)
        && by_id(&stored.user_identifiers, |c| c.id) == by_id(&r.identifiers, |c| c.id)
        && by_id(&stored.user_verifiable_addresses, |c| c.id) == by_id(&r.addresses, |c| c.id)
}
