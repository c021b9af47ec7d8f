//! One batch into the target: its users sent as one body and, when the
//! target refuses the body (400, 413, 422, 409), split in halves until the
//! refused users are isolated. They become rejections with the target's
//! reason; the others are stored.
//!
//! A stored body's users are counted from what the target says of them
//! (see [`crate::report::Counts`]): new ones are imported; ones it had with
//! other content are updated (`update`) or kept (`ignore`); ones it had
//! exactly as sent are imported when this migration may have stored them
//! itself (a resent batch), skipped otherwise.
//!
//! Under `mode=fail` a single user refused with 409 is read back first: when
//! the target holds exactly the records sent, the user is counted as one the
//! target had unchanged (imported when this migration may have stored it,
//! else skipped), not as refused.
//!
//! With `--match-existing`, a batch's users are first matched with the
//! users the target already has ([`super::matching`]): matched users are
//! rewritten under the existing ids (the body encoded again), ambiguous and
//! duplicate matches rejected, and only then is the body sent.
//!
//! A batch ends as a [`Delivered`] (every row counted) or as a
//! [`BatchStopped`] (the run must stop; nothing of the batch is
//! acknowledged, a resumed run sends it again).

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::backoff::{seeded_rng, Backoff};
use super::client::{Existing, PutResponse, TargetClient};
use super::deliver::{Effort, Sender, StopReason, Verdict};
use super::gate::ThrottleGate;
use super::matching::Matcher;
use super::rate::UserRate;
use crate::batch::{encode, Batch};
use crate::contract::entry::Entry;
use crate::contract::{ImportBody, ImportMode};
use crate::mapping::MappedUser;
use crate::reject::{Rejection, Stage};
use crate::report::Counts;
use crate::source::Position;

/// Mixed into the jitter seed of a lookup's sender, so that a lookup and
/// the batch's first `PUT` do not wait alike.
const LOOKUP_SEED: u64 = 0x6d61_7463_6865_6421;

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
    /// Batches up to this number may have been sent by an earlier run of
    /// this migration (the checkpoint's `sent_through`; 0: none).
    sent_before: u64,
    /// Matches users with those the target already has before a batch is
    /// sent (`--match-existing`), if asked to.
    matcher: Option<Matcher>,
}

/// One batch, delivered: how each of its rows ended.
#[derive(Debug)]
pub struct Delivered {
    /// The batch's number.
    pub number: u64,
    /// Where the next batch starts.
    pub end: Position,
    /// Its rows: every one read ended as one outcome.
    pub counts: Counts,
    /// Its rejected rows (before sending and by the target), in row order.
    pub rejects: Vec<Rejection>,
    /// The requests each body took.
    pub efforts: Vec<Effort>,
    /// The target refused every user of the batch (two or more), all for
    /// this one reason: the sign of a cause common to every user (a pool
    /// whose schema they do not match) rather than of bad rows.
    pub wholly_refused: Option<String>,
    /// The batch's unmapped source columns ([`Batch::unmapped`]).
    pub unmapped: std::collections::BTreeMap<String, u64>,
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
    /// The stored users' outcomes and (in `unverifiable_hash`) those without a usable password.
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
            sent_before: 0,
            matcher: None,
        }
    }

    /// The same sender, matching each batch's users with `matcher` first.
    pub fn matching(mut self, matcher: Option<Matcher>) -> BatchSender {
        self.matcher = matcher;
        self
    }

    /// The same sender for a run that resumes a migration whose earlier runs
    /// may have sent batches up to `batch`.
    pub fn resuming(mut self, batch: u64) -> BatchSender {
        self.sent_before = batch;
        self
    }

    /// Delivers `batch`: its users (bisecting on refusal), and accounts for its rows.
    pub async fn deliver(&self, batch: &Batch) -> Result<Delivered, BatchStopped> {
        let excluded = crate::batch::excluded_rows(&batch.rejected);
        let mut counts = Counts {
            read: batch.rows(),
            rejected: batch.rejected.len() as u64 - excluded,
            excluded,
            skipped: batch.unchanged,
            ..Counts::default()
        };
        let mut rejects = batch.rejected.clone();
        let mut efforts = Vec::new();
        let mut wholly_refused = None;
        let stopped = |reason| BatchStopped {
            batch: batch.number,
            reason,
        };
        let (users, body) = match &self.matcher {
            Some(matcher) if !batch.users.is_empty() => {
                let sender = |row| self.sender(batch.number, row ^ LOOKUP_SEED);
                let matched = matcher
                    .apply(&batch.users, sender, &mut efforts)
                    .await
                    .map_err(stopped)?;
                counts.rejected += matched.rejects.len() as u64;
                rejects.extend(matched.rejects);
                let body = match matched.changed {
                    true => Bytes::from(encode(matched.users.iter().map(|u| &u.records))),
                    false => batch.body.clone(),
                };
                (Cow::Owned(matched.users), body)
            }
            _ => (Cow::Borrowed(&batch.users[..]), batch.body.clone()),
        };
        if !users.is_empty() {
            let part = self
                .deliver_part(batch.number, &users, body, &mut efforts)
                .await
                .map_err(stopped)?;
            counts.add(&Counts {
                rejected: part.rejects.len() as u64,
                ..part.counts
            });
            if users.len() >= 2 && part.rejects.len() == users.len() {
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
            unmapped: batch.unmapped.clone(),
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
            let resent = Resent::judge(batch <= self.sent_before, efforts);
            match delivery.verdict {
                Verdict::Stored { existing } => Ok(stored(users, existing, self.mode, resent)),
                Verdict::Stop(stop) => Err(stop),
                Verdict::Split(response) | Verdict::Conflict(response) if users.len() == 1 => {
                    Ok(self.refused(&users[0], &response, resent).await)
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

    /// One user the target refused with `response`: under `fail`, a 409 for
    /// records the target holds exactly as sent is not a conflict (the user
    /// is imported or skipped, as [`stored`] counts a user the target had
    /// unchanged); anything else is rejected.
    async fn refused(&self, user: &MappedUser, response: &PutResponse, resent: Resent) -> Part {
        if response.status == 409
            && self.mode == ImportMode::Fail
            && self.already_stored(user).await
        {
            let unchanged = Existing {
                users: 1,
                changed: 0,
            };
            return stored(
                std::slice::from_ref(user),
                Some(unchanged),
                self.mode,
                resent,
            );
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

/// Whether this migration may have stored a body before the answer that
/// stored it now: then users the target holds exactly as sent may be its own
/// earlier write, not users that were there before the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resent {
    /// The first time this body (or its batch) can have reached the target.
    First,
    /// An earlier run may have sent the batch, or an earlier request of
    /// this batch in this run may have been stored without a success
    /// coming back.
    Maybe,
}

impl Resent {
    /// `sent_before`: an earlier run may have sent the batch; `efforts`:
    /// the batch's requests so far in this run.
    fn judge(sent_before: bool, efforts: &[Effort]) -> Resent {
        let lost_answer = efforts
            .iter()
            .flat_map(|e| &e.retries)
            .any(|cause| cause.may_have_stored());
        if sent_before || lost_answer {
            Resent::Maybe
        } else {
            Resent::First
        }
    }
}

/// `users`, stored, counted from what the target said of those it already
/// had (`existing`; a target that says nothing has every user imported).
fn stored(
    users: &[MappedUser],
    existing: Option<Existing>,
    mode: ImportMode,
    resent: Resent,
) -> Part {
    Part {
        counts: Counts {
            unverifiable_hash: users.iter().filter(|u| u.unverifiable_hash).count() as u64,
            inactive: crate::batch::inactive_users(users),
            matched: users.iter().filter(|u| u.matched).count() as u64,
            ..stored_counts(users.len() as u64, existing, mode, resent)
        },
        rejects: Vec::new(),
    }
}

/// The outcomes of `n` stored users (see [`Counts`] for what each means).
fn stored_counts(n: u64, existing: Option<Existing>, mode: ImportMode, resent: Resent) -> Counts {
    let Existing {
        users: had,
        changed,
    } = existing.unwrap_or_default();
    let had = u64::from(had).min(n);
    let changed = u64::from(changed).min(had);
    let same = had - changed;
    let (own, skipped) = match resent {
        Resent::Maybe => (same, 0),
        Resent::First => (0, same),
    };
    let (updated, kept) = match mode {
        ImportMode::Update => (changed, 0),
        ImportMode::Ignore | ImportMode::Fail => (0, changed),
    };
    Counts {
        imported: n - had + own,
        updated,
        kept,
        skipped,
        ..Counts::default()
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

/// Whether an export holds exactly the records of `user` (order and
/// timestamps aside: see [`Entry::same_content`]).
fn same_records(stored: &ImportBody, user: &MappedUser) -> bool {
    stored.users.len() == 1 && Entry::in_body(stored, &stored.users[0]).same_content(&user.records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::retry::{RetryCause, TransportKind};

    fn had(users: u32, changed: u32) -> Option<Existing> {
        Some(Existing { users, changed })
    }

    /// (imported, updated, kept, skipped) of 10 stored users.
    fn outcome(
        existing: Option<Existing>,
        mode: ImportMode,
        resent: Resent,
    ) -> (u64, u64, u64, u64) {
        let c = stored_counts(10, existing, mode, resent);
        (c.imported, c.updated, c.kept, c.skipped)
    }

    #[test]
    fn stored_users_are_counted_from_what_the_target_says_and_what_was_sent_before() {
        use ImportMode::{Ignore, Update};
        use Resent::{First, Maybe};
        assert_eq!(
            outcome(None, Ignore, First),
            (10, 0, 0, 0),
            "a target that says nothing"
        );
        assert_eq!(outcome(had(0, 0), Ignore, First), (10, 0, 0, 0));
        assert_eq!(outcome(had(4, 1), Ignore, First), (6, 0, 1, 3));
        assert_eq!(outcome(had(4, 1), Update, First), (6, 1, 0, 3));
        // Resent: users stored exactly as sent are this migration's own.
        assert_eq!(outcome(had(4, 1), Ignore, Maybe), (9, 0, 1, 0));
        assert_eq!(outcome(had(10, 0), Update, Maybe), (10, 0, 0, 0));
        // A target that claims more than it was sent claims no more than that.
        assert_eq!(outcome(had(50, 70), Update, First), (0, 10, 0, 0));
        for existing in [None, had(3, 2), had(10, 10), had(99, 1)] {
            for mode in [Ignore, Update, ImportMode::Fail] {
                for resent in [First, Maybe] {
                    let c = Counts {
                        read: 10,
                        ..stored_counts(10, existing, mode, resent)
                    };
                    assert!(c.adds_up(), "{existing:?} {mode} {resent:?}: {c:?}");
                }
            }
        }
    }

    #[test]
    fn a_batch_is_resent_when_sent_before_or_when_an_answer_may_have_been_lost() {
        let effort = |causes: &[RetryCause]| Effort {
            retries: causes.to_vec(),
            ..Effort::default()
        };
        assert_eq!(Resent::judge(false, &[]), Resent::First);
        assert_eq!(Resent::judge(true, &[]), Resent::Maybe);
        let shed = [RetryCause::Throttled(429), RetryCause::Throttled(503)];
        let unsent = [RetryCause::Transport(TransportKind::Connect)];
        assert_eq!(
            Resent::judge(false, &[effort(&shed), effort(&unsent)]),
            Resent::First
        );
        for lost in [
            RetryCause::Transport(TransportKind::Timeout),
            RetryCause::Transport(TransportKind::Closed),
            RetryCause::ServerError(502),
        ] {
            assert_eq!(
                Resent::judge(false, &[effort(&shed), effort(&[lost])]),
                Resent::Maybe,
                "{lost:?}"
            );
        }
    }
}
