//! Matching source users with users the target already has, by identifier
//! (`ferry import --match-existing email|mobile|uid`): the stage of the
//! chain between a batch and its first `PUT`.
//!
//! For each user of a batch, each of its identifiers of the chosen type is
//! looked up with the platform's `POST …/system/pools/{ipID}/users/by_key`
//! (`{"identifier": ...}`, scope `identity`; 404: no such user), at most
//! [`LOOKUPS_IN_FLIGHT`] at a time per batch, each through the import's own
//! attempt loop ([`Sender::lookup`]: backoff, throttle gate, token renewal,
//! attempt limit). A lookup that cannot be answered stops the run like a
//! batch that cannot be delivered: the batch is not acknowledged.
//!
//! What the answers decide, per user ([`decide`]):
//! - no existing user, or only the user itself (the id ferry derives for
//!   it: a user this migration stored before): sent as mapped;
//! - one existing user under another id: the user is sent under that id
//!   ([`rewrite`]), counted `matched`; how the target treats it is the
//!   import's `--mode` (`update` replaces the existing user with the
//!   source's records as a set, `ignore` keeps it, `fail` refuses it);
//! - two or more existing users: rejected as ambiguous, never merged;
//! - an existing user another source row of this run was already sent
//!   under: rejected as a duplicate.
//!
//! A user found by the lookup counts only when it holds an identifier of
//! the chosen type with that value (compared lower-cased): the endpoint
//! searches every type.

use std::collections::HashSet;
use std::sync::Mutex;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

use super::deliver::{Effort, Sender, StopReason};
use super::retry::FatalReason;
use crate::contract::entry::SubRecord;
use crate::contract::records::IdentifierType;
use crate::mapping::ids::{IdScope, RecordKind};
use crate::mapping::MappedUser;
use crate::reject::{Rejection, Stage};

/// Lookups in flight at once for one batch (a run has up to its
/// concurrency of batches matching at once).
pub const LOOKUPS_IN_FLIGHT: usize = 8;

/// What a run matches on, shared by its batches.
#[derive(Debug)]
pub struct Matcher {
    /// The identifier type matched on.
    kind: IdentifierType,
    /// `POST …/users/by_key` of the run's pool.
    url: Url,
    /// Where the matched users' sub-record ids are derived.
    ids: IdScope,
    /// Existing users a source row of this run was sent under: a second
    /// row matching one of them is a duplicate.
    claimed: Mutex<HashSet<Uuid>>,
}

/// A batch's users after matching.
#[derive(Debug, Default)]
pub struct Matched {
    /// The users to send, matched ones rewritten, in batch order.
    pub users: Vec<MappedUser>,
    /// The users rejected (ambiguous, duplicate).
    pub rejects: Vec<Rejection>,
    /// Whether any user was rewritten or rejected (the body must be
    /// encoded again).
    pub changed: bool,
}

/// The part of a `UserWithData` answer matching reads.
#[derive(Debug, Deserialize)]
pub struct Found {
    /// The existing user's id.
    pub id: Uuid,
    /// Its identifiers.
    #[serde(default)]
    pub identifiers: Vec<FoundIdentifier>,
}

/// One identifier of an existing user.
#[derive(Debug, Deserialize)]
pub struct FoundIdentifier {
    /// Its type, as text (a real tenant may have types ferry does not know).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its value.
    pub identifier: String,
}

/// What the lookups say of one user.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// No other user holds its identifiers: send it as mapped.
    Unmatched,
    /// Send it under this existing user's id.
    Matched(Uuid),
    /// Its identifiers name these different existing users.
    Ambiguous(Vec<Uuid>),
}

impl Matcher {
    /// Matching on identifiers of `kind` through `url` (the pool's
    /// `users/by_key`), sub-record ids derived in `ids`' tenant and pool.
    pub fn new(kind: IdentifierType, url: Url, ids: IdScope) -> Matcher {
        Matcher {
            kind,
            url,
            ids,
            claimed: Mutex::new(HashSet::new()),
        }
    }

    /// Matches `users`: every lookup made (each with a sender from
    /// `sender`, given the user's row), then each user decided in order.
    /// `Err` when a lookup could not be answered: the run stops.
    pub async fn apply(
        &self,
        users: &[MappedUser],
        sender: impl Fn(u64) -> Sender,
        efforts: &mut Vec<Effort>,
    ) -> Result<Matched, StopReason> {
        let asks: Vec<(usize, u64, String)> = users
            .iter()
            .enumerate()
            .flat_map(|(i, user)| {
                let values = user.records.identifiers.iter();
                values
                    .filter(|id| id.kind == self.kind)
                    .map(move |id| (i, user.row, id.identifier.clone()))
            })
            .collect();
        let answers: Vec<(usize, Option<Uuid>, Effort)> = futures::stream::iter(asks)
            .map(|(i, row, value)| {
                let mut sender = sender(row);
                async move {
                    let mut effort = Effort::default();
                    let found = self.lookup(&mut sender, &value, &mut effort).await?;
                    Ok::<_, StopReason>((i, found, effort))
                }
            })
            .buffered(LOOKUPS_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut found: Vec<Vec<Uuid>> = vec![Vec::new(); users.len()];
        for (i, existing, effort) in answers {
            efforts.push(effort);
            found[i].extend(existing);
        }
        let mut matched = Matched::default();
        for (user, existing) in users.iter().zip(found) {
            self.place(user, &existing, &mut matched);
        }
        Ok(matched)
    }

    /// Decides `user` from the existing users its lookups found, into `matched`.
    fn place(&self, user: &MappedUser, existing: &[Uuid], matched: &mut Matched) {
        let reject = |reason: String| Rejection {
            row: user.row,
            key: Some(user.key.clone()),
            stage: Stage::Target,
            reason,
            source: user.source.to_json(),
        };
        match decide(user.records.user.id, existing) {
            Decision::Unmatched => matched.users.push(user.clone()),
            Decision::Ambiguous(ids) => {
                matched.changed = true;
                matched.rejects.push(reject(format!(
                    "its {} identifiers name {} different users at the target ({}): ambiguous, not matched",
                    self.kind.as_str(),
                    ids.len(),
                    ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ")
                )));
            }
            Decision::Matched(id) => {
                matched.changed = true;
                if !self.claim(id) {
                    matched.rejects.push(reject(format!(
                        "duplicate: it matches the user {id} at the target by {}, which another row of this run was already sent as",
                        self.kind.as_str()
                    )));
                    return;
                }
                let mut user = user.clone();
                rewrite(&mut user, id, &self.ids);
                matched.users.push(user);
            }
        }
    }

    /// Records that a row is sent as `id`; false when one already was.
    fn claim(&self, id: Uuid) -> bool {
        match self.claimed.lock() {
            Ok(mut claimed) => claimed.insert(id),
            // A panicked holder left the set as it was: use it.
            Err(poisoned) => poisoned.into_inner().insert(id),
        }
    }

    /// The existing user holding the identifier `value` of this matcher's
    /// type, if any.
    async fn lookup(
        &self,
        sender: &mut Sender,
        value: &str,
        effort: &mut Effort,
    ) -> Result<Option<Uuid>, StopReason> {
        let body = serde_json::json!({ "identifier": value }).to_string();
        let Some(got) = sender.lookup(&self.url, Bytes::from(body), effort).await? else {
            return Ok(None);
        };
        let found: Found = serde_json::from_slice(&got.body).map_err(|_| StopReason::Fatal {
            status: got.answer.status,
            reason: FatalReason::NotTheContract,
            detail: Some("the answer of users/by_key is not a user (UserWithData)".into()),
        })?;
        let lower = value.to_lowercase();
        let holds = found
            .identifiers
            .iter()
            .any(|i| i.kind == self.kind.as_str() && i.identifier.to_lowercase() == lower);
        Ok(holds.then_some(found.id))
    }
}

/// What the existing users found for a user whose own id is `own` mean.
pub fn decide(own: Uuid, existing: &[Uuid]) -> Decision {
    let mut others: Vec<Uuid> = existing.iter().copied().filter(|id| *id != own).collect();
    others.sort_unstable();
    others.dedup();
    let own_found = existing.contains(&own);
    match (others.len(), own_found) {
        (0, _) => Decision::Unmatched,
        (1, false) => Decision::Matched(others[0]),
        _ => {
            if own_found {
                others.push(own);
            }
            Decision::Ambiguous(others)
        }
    }
}

/// Sends `user` as the existing user `existing`: the user record's id and
/// every sub-record's `user_id` become `existing`, and each sub-record's id
/// is derived from `existing` and its own id ([`IdScope::matched`]), so a
/// re-run sends the same bytes. Everything else (status included) is the
/// source's.
pub fn rewrite(user: &mut MappedUser, existing: Uuid, ids: &IdScope) {
    user.records.relink(existing, |kind, id| {
        let kind = match kind {
            SubRecord::Credential => RecordKind::MatchedCredential,
            SubRecord::Identifier => RecordKind::MatchedIdentifier,
            SubRecord::Address => RecordKind::MatchedAddress,
        };
        ids.matched(kind, existing, id)
    });
    user.matched = true;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::contract::api::Endpoint;
    use crate::mapping::{Mapped, Mapper, MappingConfig, Target};
    use crate::send::backoff::{seeded_rng, Backoff};
    use crate::send::client::{ClientConfig, TargetClient};
    use crate::send::gate::ThrottleGate;
    use crate::send::testing::{Reply, Script, ScriptedTarget};
    use crate::send::token::ClientSecret;
    use crate::source::{Format, SourceReader};

    fn mapped(csv: &str) -> Vec<MappedUser> {
        let reader =
            SourceReader::from_reader("memory", std::io::Cursor::new(csv.to_owned()), Format::CSV)
                .unwrap();
        let mapping = MappingConfig::default().resolve(reader.headers()).unwrap();
        let target = Target {
            tenant: "t".into(),
            pool: "p".into(),
            import_time: time::macros::datetime!(2026-01-01 00:00:00 UTC),
        };
        let mut mapper = Mapper::new(target, mapping);
        reader
            .map(|row| match mapper.map_row(mapper.shape(row.unwrap())) {
                Mapped::User(user) => *user,
                Mapped::Rejected(r) => panic!("{r:?}"),
            })
            .collect()
    }

    #[test]
    fn a_matched_user_is_sent_under_the_existing_id_with_ids_derived_from_it() {
        let users = mapped("id,email,phone,password_hash,password_algorithm\n1,a@x.io,+15550100,$2b$10$abcdefghijklmnopqrstuuN0ZlQ3cGxzXnTPZy7xnE9wBwzNmcXK2,bcrypt\n");
        let ids = IdScope::new("t", "p");
        let existing = Uuid::from_u128(0x1234);
        let before = users[0].clone();
        let mut user = users[0].clone();
        rewrite(&mut user, existing, &ids);
        let records = &user.records;
        assert!(user.matched);
        assert_eq!(records.user.id, existing);
        assert!(!records.credentials.is_empty() && !records.identifiers.is_empty());
        assert!(!records.addresses.is_empty());
        let owners = records
            .credentials
            .iter()
            .map(|c| c.user_id)
            .chain(records.identifiers.iter().map(|i| i.user_id))
            .chain(records.addresses.iter().map(|a| a.user_id));
        assert!(owners.into_iter().all(|owner| owner == existing));
        for (new, old) in records.identifiers.iter().zip(&before.records.identifiers) {
            assert_eq!(
                new.id,
                ids.matched(RecordKind::MatchedIdentifier, existing, old.id)
            );
            assert_ne!(new.id, old.id);
            assert_eq!(new.identifier, old.identifier, "values are the source's");
        }
        assert_eq!(
            records.credentials[0].id,
            ids.matched(
                RecordKind::MatchedCredential,
                existing,
                before.records.credentials[0].id
            )
        );
        assert_eq!(records.user.status, before.records.user.status);
        // Deterministic: the same match gives the same records.
        let mut again = before.clone();
        rewrite(&mut again, existing, &ids);
        assert_eq!(again.records, user.records);
        // Another existing user gives other sub-record ids.
        let mut other = before;
        rewrite(&mut other, Uuid::from_u128(0x5678), &ids);
        assert_ne!(other.records.identifiers[0].id, records.identifiers[0].id);
    }

    /// A matcher on email and a sender factory against `target`, with
    /// millisecond backoffs.
    fn against(target: &ScriptedTarget) -> (Matcher, impl Fn(u64) -> Sender) {
        let config = ClientConfig::new(target.base(), "t", "ferry", ClientSecret::new("secret"));
        let client = Arc::new(TargetClient::new(config).unwrap());
        let backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(4), 5).unwrap();
        let gate = Arc::new(ThrottleGate::new(backoff));
        let url = client.url(Endpoint::UserByKey, "p", "").unwrap();
        let matcher = Matcher::new(IdentifierType::Email, url, IdScope::new("t", "p"));
        let sender = move |row| {
            Sender::new(
                client.clone(),
                gate.clone(),
                None,
                backoff,
                seeded_rng(Some(row)),
            )
        };
        (matcher, sender)
    }

    fn found(id: Uuid, kind: &str, identifier: &str) -> Reply {
        Reply::json(
            200,
            serde_json::json!({
                "id": id, "status": "active", "credentials": [],
                "identifiers": [{"type": kind, "identifier": identifier}],
                "verifiable_addresses": [],
            }),
        )
    }

    #[tokio::test]
    async fn a_lookup_that_fails_for_now_is_retried_with_the_import_policy() {
        let existing = Uuid::from_u128(0xabc);
        let script = Script {
            by_key: [
                Reply::status(503),
                Reply::Drop,
                Reply::status(500),
                found(existing, "email", "A@X.IO"),
            ]
            .into(),
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let (matcher, sender) = against(&target);
        let users = mapped("id,email\n1,a@x.io\n");
        let mut efforts = Vec::new();
        let matched = matcher.apply(&users, &sender, &mut efforts).await.unwrap();
        assert!(matched.changed && matched.rejects.is_empty());
        assert_eq!(matched.users[0].records.user.id, existing);
        assert!(matched.users[0].matched);
        let retries: Vec<String> = efforts[0].retries.iter().map(|c| c.label()).collect();
        assert_eq!(retries, ["503", "connection-closed", "500"]);
        assert_eq!(efforts[0].attempts, 4);
    }

    #[tokio::test]
    async fn ambiguous_other_typed_and_duplicate_matches_are_not_merged() {
        let (a, b) = (Uuid::from_u128(0xa), Uuid::from_u128(0xb));
        // User 1 has two emails, held by two users: ambiguous. User 2's
        // email is another user's uid: no match. User 3's email is a's: a
        // match, and user 4's second lookup finds a again: a duplicate.
        let script = Script {
            by_key: [found(a, "email", "one@x.io"), found(b, "email", "two@x.io")].into(),
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let (matcher, sender) = against(&target);
        let mut users = mapped("id,email\n1,one@x.io\n");
        let mut second = users[0].records.identifiers[0].clone();
        second.identifier = "two@x.io".into();
        users[0].records.identifiers.push(second);
        let mut efforts = Vec::new();
        let matched = matcher.apply(&users, &sender, &mut efforts).await.unwrap();
        assert!(matched.users.is_empty());
        assert!(
            matched.rejects[0].reason.contains("ambiguous"),
            "{:?}",
            matched.rejects
        );

        let script = Script {
            by_key: [found(b, "uid", "c@x.io")].into(),
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let (matcher, sender) = against(&target);
        let users = mapped("id,email\n2,c@x.io\n");
        let matched = matcher.apply(&users, &sender, &mut efforts).await.unwrap();
        assert!(!matched.changed);
        assert_eq!(matched.users[0].records, users[0].records);

        let script = Script {
            by_key: [found(a, "email", "d@x.io"), found(a, "email", "e@x.io")].into(),
            ..Script::default()
        };
        let target = ScriptedTarget::start(script).await;
        let (matcher, sender) = against(&target);
        let first = mapped("id,email\n3,d@x.io\n");
        let matched = matcher.apply(&first, &sender, &mut efforts).await.unwrap();
        assert_eq!(matched.users[0].records.user.id, a);
        let again = mapped("id,email\n4,e@x.io\n");
        let matched = matcher.apply(&again, &sender, &mut efforts).await.unwrap();
        assert!(matched.users.is_empty());
        assert!(matched.rejects[0].reason.starts_with("duplicate"));
    }

    #[test]
    fn lookups_decide_unmatched_matched_or_ambiguous() {
        let own = Uuid::from_u128(1);
        let (a, b) = (Uuid::from_u128(2), Uuid::from_u128(3));
        assert_eq!(decide(own, &[]), Decision::Unmatched);
        assert_eq!(decide(own, &[own, own]), Decision::Unmatched);
        assert_eq!(decide(own, &[a]), Decision::Matched(a));
        assert_eq!(decide(own, &[a, a]), Decision::Matched(a));
        assert_eq!(decide(own, &[b, a]), Decision::Ambiguous(vec![a, b]));
        assert_eq!(decide(own, &[own, a]), Decision::Ambiguous(vec![a, own]));
    }
}
