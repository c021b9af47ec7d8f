//! A user's entry: the user with every credential, identifier and address
//! it has. The platform imports a user as one entry ("full entries update");
//! comparing two entries tells whether a user at the target is the user a
//! request brings.
//!
//! Two entries have the same content when they are equal but for the
//! records' `created_at`, `updated_at` and `status_updated_at`: a re-run of
//! the same source stamps the times the source lacks with its own import
//! time, and that alone is not a change of the user.

use time::OffsetDateTime;
use uuid::Uuid;

use super::records::{ImportBody, User, UserCredential, UserIdentifier, UserVerifiableAddress};

/// A user and its sub-records, in any order (the mapping's own for
/// [`crate::mapping::UserRecords`], the store's for an entry read back).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The user.
    pub user: User,
    /// Its credentials.
    pub credentials: Vec<UserCredential>,
    /// Its identifiers.
    pub identifiers: Vec<UserIdentifier>,
    /// Its verifiable addresses.
    pub addresses: Vec<UserVerifiableAddress>,
}

/// The kinds of an entry's sub-records, for [`Entry::relink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubRecord {
    /// A `UserCredential`.
    Credential,
    /// A `UserIdentifier`.
    Identifier,
    /// A `UserVerifiableAddress`.
    Address,
}

impl Entry {
    /// The entry of `user` with its sub-records, in any order.
    pub fn new(
        user: User,
        credentials: Vec<UserCredential>,
        identifiers: Vec<UserIdentifier>,
        addresses: Vec<UserVerifiableAddress>,
    ) -> Entry {
        Entry {
            user,
            credentials,
            identifiers,
            addresses,
        }
    }

    /// The entry `body` holds for `user`: the user and the body's
    /// sub-records that name it.
    pub fn in_body(body: &ImportBody, user: &User) -> Entry {
        fn of<R: Clone>(records: &[R], user: Uuid, owner: fn(&R) -> Uuid) -> Vec<R> {
            records
                .iter()
                .filter(|r| owner(r) == user)
                .cloned()
                .collect()
        }
        Entry::new(
            user.clone(),
            of(&body.user_credentials, user.id, |c| c.user_id),
            of(&body.user_identifiers, user.id, |i| i.user_id),
            of(&body.user_verifiable_addresses, user.id, |a| a.user_id),
        )
    }

    /// Gives the entry the user id `user`: the user record's `id` and every
    /// sub-record's `user_id`, and each sub-record the id `sub_id` gives
    /// for its kind and its present id. Nothing else changes.
    pub fn relink(&mut self, user: Uuid, mut sub_id: impl FnMut(SubRecord, Uuid) -> Uuid) {
        self.user.id = user;
        for c in &mut self.credentials {
            (c.id, c.user_id) = (sub_id(SubRecord::Credential, c.id), user);
        }
        for i in &mut self.identifiers {
            (i.id, i.user_id) = (sub_id(SubRecord::Identifier, i.id), user);
        }
        for a in &mut self.addresses {
            (a.id, a.user_id) = (sub_id(SubRecord::Address, a.id), user);
        }
    }

    /// Whether `self` and `other` have the same content (record order and
    /// timestamps aside).
    pub fn same_content(&self, other: &Entry) -> bool {
        self.clone().without_times() == other.clone().without_times()
    }

    /// Where `self` (the source's) and `other` (the target's) differ, as
    /// field paths, times and record order aside: `user.status`,
    /// `identifiers[<id>].identifier`, `credentials[<id>]: not at the target`,
    /// `addresses[<id>]: only at the target`. Empty when they have the same
    /// content.
    pub fn differences(&self, other: &Entry) -> Vec<String> {
        let (ours, theirs) = (self.clone().without_times(), other.clone().without_times());
        let mut found = Vec::new();
        field_differences(
            "user",
            &as_value(&ours.user),
            &as_value(&theirs.user),
            &mut found,
        );
        record_differences(
            "credentials",
            &ours.credentials,
            &theirs.credentials,
            |c| c.id,
            &mut found,
        );
        record_differences(
            "identifiers",
            &ours.identifiers,
            &theirs.identifiers,
            |i| i.id,
            &mut found,
        );
        record_differences(
            "addresses",
            &ours.addresses,
            &theirs.addresses,
            |a| a.id,
            &mut found,
        );
        found
    }

    /// The entry in id order, with its bookkeeping times blanked.
    fn without_times(mut self) -> Entry {
        const BLANK: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;
        self.credentials.sort_by_key(|c| c.id);
        self.identifiers.sort_by_key(|i| i.id);
        self.addresses.sort_by_key(|a| a.id);
        self.user.created_at = None;
        self.user.updated_at = None;
        self.user.status_updated_at = None;
        for c in &mut self.credentials {
            (c.created_at, c.updated_at) = (BLANK, BLANK);
        }
        for i in &mut self.identifiers {
            (i.created_at, i.updated_at) = (BLANK, BLANK);
        }
        for a in &mut self.addresses {
            (a.created_at, a.updated_at) = (BLANK, BLANK);
        }
        self
    }
}

/// A record as JSON, to compare it member by member.
fn as_value(record: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or(serde_json::Value::Null)
}

/// The members of two records (`prefix.member`) whose values differ.
fn field_differences(
    prefix: &str,
    ours: &serde_json::Value,
    theirs: &serde_json::Value,
    found: &mut Vec<String>,
) {
    let empty = serde_json::Map::new();
    let (a, b) = (
        ours.as_object().unwrap_or(&empty),
        theirs.as_object().unwrap_or(&empty),
    );
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        if a.get(name) != b.get(name) {
            found.push(format!("{prefix}.{name}"));
        }
    }
}

/// The differences of two sets of sub-records, matched by id.
fn record_differences<R: serde::Serialize>(
    name: &str,
    ours: &[R],
    theirs: &[R],
    id: fn(&R) -> Uuid,
    found: &mut Vec<String>,
) {
    for record in ours {
        let at = format!("{name}[{}]", id(record));
        match theirs.iter().find(|t| id(t) == id(record)) {
            None => found.push(format!("{at}: not at the target")),
            Some(other) => field_differences(&at, &as_value(record), &as_value(other), found),
        }
    }
    for record in theirs {
        if !ours.iter().any(|o| id(o) == id(record)) {
            found.push(format!("{name}[{}]: only at the target", id(record)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::synthetic;

    fn body() -> ImportBody {
        synthetic::users("demo", "default", 0..3)
    }

    #[test]
    fn an_entry_is_its_user_and_the_records_that_name_it() {
        let body = body();
        let entry = Entry::in_body(&body, &body.users[1]);
        assert_eq!(entry.credentials.len(), 1);
        assert!(entry
            .identifiers
            .iter()
            .all(|i| i.user_id == body.users[1].id));
        assert_eq!(entry.addresses.len(), 2);
    }

    #[test]
    fn times_do_not_make_a_change_and_anything_else_does() {
        let body = body();
        let entry = Entry::in_body(&body, &body.users[0]);
        let mut later = entry.clone();
        later.user.updated_at = Some(OffsetDateTime::now_utc());
        later.identifiers[0].created_at = OffsetDateTime::now_utc();
        assert!(entry.same_content(&later));
        let mut reordered = entry.clone();
        reordered.addresses.reverse();
        assert!(entry.same_content(&reordered), "order is not content");
        let mut renamed = entry.clone();
        renamed.identifiers[0].identifier_lc = "other@example.com".into();
        assert!(!entry.same_content(&renamed));
        let mut fewer = entry.clone();
        fewer.addresses.pop();
        assert!(!entry.same_content(&fewer));
        let mut blocked = entry.clone();
        blocked.user.status = crate::contract::records::UserStatus::Inactive;
        assert!(!entry.same_content(&blocked));
    }

    #[test]
    fn differences_name_the_fields_and_records_that_differ() {
        let body = body();
        let entry = Entry::in_body(&body, &body.users[0]);
        let mut later = entry.clone();
        later.user.updated_at = Some(OffsetDateTime::now_utc());
        later.addresses.reverse();
        assert!(entry.differences(&later).is_empty());
        let mut changed = entry.clone();
        changed.user.status = crate::contract::records::UserStatus::Inactive;
        changed.identifiers[0].identifier = "Other@Example.com".into();
        let gone = changed.addresses.pop().unwrap();
        let mut extra = gone.clone();
        extra.id = Uuid::from_u128(7);
        changed.addresses.push(extra);
        let id = entry.identifiers[0].id;
        assert_eq!(
            entry.differences(&changed),
            [
                "user.status".to_string(),
                format!("identifiers[{id}].identifier"),
                format!("addresses[{}]: not at the target", gone.id),
                format!("addresses[{}]: only at the target", Uuid::from_u128(7)),
            ]
        );
    }
}
