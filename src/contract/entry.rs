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

    /// Whether `self` and `other` have the same content (record order and
    /// timestamps aside).
    pub fn same_content(&self, other: &Entry) -> bool {
        self.clone().without_times() == other.clone().without_times()
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
}
