//! Reading a `TenantDump` (the export of `GET …/configuration`) as a
//! stream: one record at a time is handed to a [`DumpSink`], never the whole
//! dump in memory, whatever the size of the tenant. The arrays a sink does
//! not want are skipped unread; `null` for an array is no records; a member
//! the dump does not define is skipped (the platform may add collections).

use std::io::{BufReader, Read};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::records::{
    Group, GroupMember, Pool, Schema, User, UserCredential, UserIdentifier, UserVerifiableAddress,
};

/// One record of a dump, as it is read.
#[derive(Debug)]
pub enum DumpRecord {
    /// A `Schema`.
    Schema(Schema),
    /// A `Pool`.
    Pool(Pool),
    /// A group (`InternalGroup`).
    Group(Group),
    /// A `GroupMember`.
    Member(GroupMember),
    /// A `User`.
    User(User),
    /// A `UserCredential`.
    Credential(UserCredential),
    /// A `UserIdentifier`.
    Identifier(UserIdentifier),
    /// A `UserVerifiableAddress`.
    Address(UserVerifiableAddress),
    /// A one-time `Code`, unparsed (secrets of the tenant: never kept).
    Code,
}

/// The arrays of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Collection {
    Schemas,
    Pools,
    Groups,
    GroupMembers,
    Users,
    Credentials,
    Identifiers,
    Addresses,
    Codes,
}

impl Collection {
    /// The array's member name in the dump.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Schemas => "schemas",
            Collection::Pools => "pools",
            Collection::Groups => "groups",
            Collection::GroupMembers => "group_members",
            Collection::Users => "users",
            Collection::Credentials => "user_credentials",
            Collection::Identifiers => "user_identifiers",
            Collection::Addresses => "user_verifiable_addresses",
            Collection::Codes => "codes",
        }
    }

    /// The collection named `name` in a dump.
    fn named(name: &str) -> Option<Collection> {
        [
            Collection::Schemas,
            Collection::Pools,
            Collection::Groups,
            Collection::GroupMembers,
            Collection::Users,
            Collection::Credentials,
            Collection::Identifiers,
            Collection::Addresses,
            Collection::Codes,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }
}

/// Where the records of a dump go.
pub trait DumpSink {
    /// Whether the records of `collection` are wanted (others are skipped unread).
    fn wants(&self, collection: Collection) -> bool;
    /// Takes one record; an error (which must not quote a value) ends the read.
    fn take(&mut self, record: DumpRecord) -> Result<(), String>;
}

/// The mark of a sink's error among the parser's.
const SINK: &str = "sink: ";

/// Reads the dump `reader` holds into `sink`. The error says where the dump
/// is not a `TenantDump` (line and column), never a value.
pub fn read(reader: impl Read, sink: &mut impl DumpSink) -> Result<(), String> {
    let mut json = serde_json::Deserializer::from_reader(BufReader::new(reader));
    de::Deserializer::deserialize_map(&mut json, Dump { sink }).map_err(|e| {
        // serde's own messages may quote a value: only the sink's are told.
        let told = e.to_string();
        match told.strip_prefix(SINK) {
            Some(said) => said.to_string(),
            None => format!(
                "the target's export is not a TenantDump (line {}, column {})",
                e.line(),
                e.column()
            ),
        }
    })?;
    json.end()
        .map_err(|_| "the target's export goes on after its TenantDump".to_string())
}

/// The dump's top-level object.
struct Dump<'a, S> {
    sink: &'a mut S,
}

impl<'de, S: DumpSink> Visitor<'de> for Dump<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a TenantDump object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match Collection::named(&key) {
                Some(collection) if self.sink.wants(collection) => {
                    map.next_value_seed(Records {
                        sink: &mut *self.sink,
                        collection,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// One of the dump's arrays.
struct Records<'a, S> {
    sink: &'a mut S,
    collection: Collection,
}

impl<'de, S: DumpSink> DeserializeSeed<'de> for Records<'_, S> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: DumpSink> Visitor<'de> for Records<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of records")
    }

    /// An array given as `null`: no records.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        fn each<'de, A: SeqAccess<'de>, R: serde::Deserialize<'de>>(
            seq: &mut A,
            sink: &mut impl DumpSink,
            wrap: fn(R) -> DumpRecord,
        ) -> Result<(), A::Error> {
            while let Some(record) = seq.next_element::<R>()? {
                sink.take(wrap(record))
                    .map_err(|e| de::Error::custom(format!("{SINK}{e}")))?;
            }
            Ok(())
        }
        let sink = self.sink;
        match self.collection {
            Collection::Schemas => each(&mut seq, sink, DumpRecord::Schema),
            Collection::Pools => each(&mut seq, sink, DumpRecord::Pool),
            Collection::Groups => each(&mut seq, sink, DumpRecord::Group),
            Collection::GroupMembers => each(&mut seq, sink, DumpRecord::Member),
            Collection::Users => each(&mut seq, sink, DumpRecord::User),
            Collection::Credentials => each(&mut seq, sink, DumpRecord::Credential),
            Collection::Identifiers => each(&mut seq, sink, DumpRecord::Identifier),
            Collection::Addresses => each(&mut seq, sink, DumpRecord::Address),
            Collection::Codes => each(&mut seq, sink, |_: Value| DumpRecord::Code),
        }
    }
}
