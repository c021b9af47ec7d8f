//! The canonical export line: one user of a pool with all its sub-records,
//! as `ferry export` writes it and `ferry import --from ferry` reads it.
//!
//! ```json
//! {"user":{...},"credentials":[...],"identifiers":[...],"verifiable_addresses":[...]}
//! ```
//!
//! - `user` is the dump's `User` record, `credentials`, `identifiers` and
//!   `verifiable_addresses` its `UserCredential`, `UserIdentifier` and
//!   `UserVerifiableAddress` records (every one naming the user by
//!   `user_id`), exactly as the target holds them: ids, tenant, pool,
//!   timestamps and password hashes included.
//! - The four members come in that order, each record's fields in the order
//!   of its type in [`super::records`], free-form objects with their keys
//!   sorted, the sub-records sorted by id: the same user always gives the
//!   same bytes, so two exports of the same data are byte-identical.
//! - Every member is required and no other is allowed (a line is refused,
//!   not half read). `credentials` is `[]` in an export made with
//!   `--without-credentials`.

use std::io::Write;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entry::Entry;
use super::records::{User, UserCredential, UserIdentifier, UserVerifiableAddress};

/// One user with its sub-records: a line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportLine {
    /// The user record.
    pub user: User,
    /// Its credentials (password hashes), by id.
    pub credentials: Vec<UserCredential>,
    /// Its identifiers, by id.
    pub identifiers: Vec<UserIdentifier>,
    /// Its verifiable addresses, by id.
    pub verifiable_addresses: Vec<UserVerifiableAddress>,
}

impl ExportLine {
    /// The line of `entry`, its sub-records sorted by id.
    pub fn new(entry: Entry) -> ExportLine {
        let Entry {
            user,
            mut credentials,
            mut identifiers,
            mut addresses,
        } = entry;
        credentials.sort_by_key(|c| c.id);
        identifiers.sort_by_key(|i| i.id);
        addresses.sort_by_key(|a| a.id);
        ExportLine {
            user,
            credentials,
            identifiers,
            verifiable_addresses: addresses,
        }
    }

    /// The user and its sub-records as an entry.
    pub fn into_entry(self) -> Entry {
        Entry::new(
            self.user,
            self.credentials,
            self.identifiers,
            self.verifiable_addresses,
        )
    }

    /// Appends the line, with its newline, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(&mut *out, self)?;
        // Writing into a Vec cannot fail.
        let _ = out.write_all(b"\n");
        Ok(())
    }

    /// The sub-record of this line that names another user than its
    /// `user`, as `member[index]`, if any.
    pub fn foreign_record(&self) -> Option<String> {
        let id = self.user.id;
        let owners: [(&str, Vec<Uuid>); 3] = [
            (
                "credentials",
                self.credentials.iter().map(|c| c.user_id).collect(),
            ),
            (
                "identifiers",
                self.identifiers.iter().map(|i| i.user_id).collect(),
            ),
            (
                "verifiable_addresses",
                self.verifiable_addresses
                    .iter()
                    .map(|a| a.user_id)
                    .collect(),
            ),
        ];
        owners.iter().find_map(|(member, owners)| {
            owners
                .iter()
                .position(|owner| *owner != id)
                .map(|index| format!("{member}[{index}]"))
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The lines of the users of pool `pool` in `body`, in the body's user
    /// order, each with the body's sub-records that name it. Sub-records of
    /// users the body does not hold (or of another pool) are left out.
    pub(crate) fn lines_of(body: ImportBody, pool: &str) -> Vec<ExportLine> {
        let mut lines: Vec<ExportLine> = Vec::new();
        let mut index: HashMap<Uuid, usize> = HashMap::new();
        for user in body.users {
            if user.user_pool_id == pool {
                index.insert(user.id, lines.len());
                lines.push(ExportLine {
                    user,
                    credentials: Vec::new(),
                    identifiers: Vec::new(),
                    verifiable_addresses: Vec::new(),
                });
            }
        }
        for credential in body.user_credentials {
            if let Some(&i) = index.get(&credential.user_id) {
                lines[i].credentials.push(credential);
            }
        }
        for identifier in body.user_identifiers {
            if let Some(&i) = index.get(&identifier.user_id) {
                lines[i].identifiers.push(identifier);
            }
        }
        for address in body.user_verifiable_addresses {
            if let Some(&i) = index.get(&address.user_id) {
                lines[i].verifiable_addresses.push(address);
            }
        }
        lines
            .into_iter()
            .map(|line| ExportLine::new(line.into_entry()))
            .collect()
    }

    use crate::contract::ImportBody;
    use crate::tools::synthetic;

    #[test]
    fn a_body_becomes_one_sorted_line_per_user_of_the_pool() {
        let mut body = synthetic::users("demo", "default", 0..3);
        let mut other = synthetic::users("demo", "other", 3..4);
        body.users.append(&mut other.users);
        body.user_identifiers.append(&mut other.user_identifiers);
        body.user_identifiers.reverse();
        let lines = lines_of(body.clone(), "default");
        assert_eq!(lines.len(), 3);
        for (line, user) in lines.iter().zip(&body.users) {
            assert_eq!(line.user.id, user.id, "the body's order");
            assert_eq!(line.foreign_record(), None);
            assert!(line.identifiers.windows(2).all(|w| w[0].id < w[1].id));
            assert!(!line.identifiers.is_empty());
        }
    }

    #[test]
    fn the_same_user_always_gives_the_same_bytes() {
        let body = synthetic::users("demo", "default", 0..2);
        let line = lines_of(body.clone(), "default").remove(0);
        let mut shuffled = line.clone();
        shuffled.identifiers.reverse();
        shuffled.verifiable_addresses.reverse();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        line.write_to(&mut a).unwrap();
        ExportLine::new(shuffled.into_entry())
            .write_to(&mut b)
            .unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with(b"{\"user\":{") && a.ends_with(b"}\n"));
        let back: ExportLine = serde_json::from_slice(&a).unwrap();
        assert_eq!(back, line);
    }

    #[test]
    fn a_record_of_another_user_is_named() {
        let body = synthetic::users("demo", "default", 0..2);
        let mut line = lines_of(body, "default").remove(0);
        line.verifiable_addresses[1].user_id = Uuid::nil();
        assert_eq!(
            line.foreign_record().as_deref(),
            Some("verifiable_addresses[1]")
        );
        let unknown = serde_json::json!({"user": line.user, "credentials": [], "identifiers": [],
            "verifiable_addresses": [], "groups": []});
        assert!(serde_json::from_value::<ExportLine>(unknown).is_err());
    }
}
