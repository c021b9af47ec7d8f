//! Mapping: one source row → one user and its credentials, identifiers and
//! addresses, or a rejection with a precise reason.
//!
//! The mapper is deterministic: the same row, mapping, tenant, pool and import
//! time always give the same records, because every id comes from [`ids`] and
//! every timestamp the source lacks is the one import time fixed at the start
//! of the run. Validation never stops the run: a bad row becomes a
//! [`Rejection`] value.
//!
//! Duplicates are decided by the first row that maps cleanly: a later row with
//! the same user key, email or phone is rejected. To keep memory small at
//! millions of rows, the mapper remembers 64-bit fingerprints of what it has
//! seen, not the values; two different values share a fingerprint with a
//! probability of about n²/2⁶⁵ (1 in 40,000 for 30 million values), in which
//! case the later row is reported as a duplicate.

pub mod canonical;
pub mod config;
pub mod ids;
pub mod join;
pub mod passwords;
pub mod path;
pub mod shape;
pub mod transform;

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use crate::fingerprint::FingerprintSet;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::contract::rules::{self, MAX_FIELD_BYTES, MAX_GROUPS, MAX_KEY_BYTES, MAX_NAME_BYTES};
use crate::contract::{
    AddressStatus, AddressType, CredentialPayload, CredentialType, IdentifierType, User,
    UserCredential, UserIdentifier, UserStatus, UserVerifiableAddress,
};
use crate::reject::{Rejection, Stage};
use crate::source::{Fields, Row, RowBody, SharedHeader};
use config::{Attribute, Condition, IdentifierRule, Rule, VerifiedRule};
pub use config::{Field, KeyPolicy, Mapping, MappingConfig, MappingError};
use ids::{IdScope, RecordKind};
use path::Found;

/// Read access to a record's columns; implemented by source [`Fields`].
pub trait Lookup {
    /// The value of `column` as text, `None` when absent.
    fn get(&self, column: &str) -> Option<Cow<'_, str>>;
    /// The value of `column` typed as the source has it (a CSV cell is a
    /// string), `None` when absent or null.
    fn value(&self, column: &str) -> Option<Value>;
    /// What kind of value the source holds in `column`.
    fn kind(&self, column: &str) -> ValueKind;
    /// The value of `column` as a path finds it: in a JSON record its raw
    /// text, decoded only when used; `None` when absent or null.
    fn found(&self, column: &str) -> Option<Found<'_>> {
        self.value(column).map(Found::Value)
    }
    /// The names of the record's columns.
    fn names(&self) -> Vec<String>;
}

pub use crate::source::ValueKind;

impl Lookup for Fields {
    fn get(&self, column: &str) -> Option<Cow<'_, str>> {
        Fields::get(self, column)
    }
    fn value(&self, column: &str) -> Option<Value> {
        Fields::value(self, column)
    }
    fn kind(&self, column: &str) -> ValueKind {
        Fields::kind(self, column)
    }
    fn found(&self, column: &str) -> Option<Found<'_>> {
        match Fields::raw(self, column) {
            Some("null") => None,
            Some(raw) => Some(Found::Raw(raw)),
            None if self.is_csv() => Fields::value(self, column).map(Found::Value),
            None => None,
        }
    }
    fn names(&self) -> Vec<String> {
        self.columns().into_iter().map(str::to_string).collect()
    }
}

impl Lookup for std::collections::BTreeMap<&str, &str> {
    fn get(&self, column: &str) -> Option<Cow<'_, str>> {
        std::collections::BTreeMap::get(self, column).map(|v| Cow::Borrowed(*v))
    }
    fn value(&self, column: &str) -> Option<Value> {
        std::collections::BTreeMap::get(self, column).map(|v| Value::String(v.to_string()))
    }
    fn kind(&self, column: &str) -> ValueKind {
        match std::collections::BTreeMap::get(self, column) {
            Some(_) => ValueKind::Text,
            None => ValueKind::Absent,
        }
    }
    fn names(&self) -> Vec<String> {
        self.keys().map(|k| k.to_string()).collect()
    }
}

/// The four record sets of one source user: the contract's user entry, in
/// the order the mapping makes the records.
pub type UserRecords = crate::contract::entry::Entry;

/// A source row that mapped cleanly.
#[derive(Debug, Clone)]
pub struct MappedUser {
    /// 1-based data-row number in the source.
    pub row: u64,
    /// The user key the ids derive from.
    pub key: String,
    /// What is sent to the target.
    pub records: UserRecords,
    /// The source record, kept so a user the target refuses can be written to the rejects file.
    pub source: Fields,
    /// The row's password hash cannot be verified by the target; the user
    /// goes without a usable password (`--unsupported-hash expire|drop`).
    pub unverifiable_hash: bool,
    /// Sent under the id of a user the target already had, found by
    /// identifier (`--match-existing`; see `crate::send::matching`).
    pub matched: bool,
}

/// What became of one row.
#[derive(Debug, Clone)]
pub enum Mapped {
    User(Box<MappedUser>),
    Rejected(Rejection),
}

/// Where and when records are made: everything besides the row that shapes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Tenant id, written into every record.
    pub tenant: String,
    /// Pool id, written into every record.
    pub pool: String,
    /// The import time: every timestamp the source lacks.
    pub import_time: OffsetDateTime,
}

/// Maps rows, remembering what it has seen to reject duplicates.
#[derive(Debug)]
pub struct Mapper {
    /// Tenant, pool and import time.
    target: Target,
    /// Derives ids in the target's tenant and pool.
    ids: IdScope,
    /// Columns, constants, defaults and the key policy.
    mapping: Mapping,
    /// Fingerprints of user keys, emails and phones of rows already mapped.
    seen: FingerprintSet,
    /// Source columns seen that the mapping does not account for.
    unmapped: Unmapped,
    /// The join file's index, when the run has one.
    join: Option<std::sync::Arc<join::JoinIndex>>,
}

/// The source columns the mapping does not account for, as rows show them:
/// each name once, numbered in the order first seen.
#[derive(Debug, Default)]
struct Unmapped {
    /// Names by number.
    names: Vec<String>,
    /// Number by name.
    numbers: std::collections::HashMap<String, usize>,
    /// For the CSV header seen last (held, so that it stays the same
    /// header): the positions of its unmapped columns with their numbers,
    /// worked out once per header.
    plan: Option<(SharedHeader, Vec<(usize, usize)>)>,
    /// For JSON records, which repeat their keys in the same order: each
    /// column with a value of the record seen last, by position, with its
    /// number when unmapped (`None` when the mapping accounts for it).
    recent: Vec<(String, Option<usize>)>,
}

impl Unmapped {
    /// The number of `name`, given one the first time it is seen.
    fn number(&mut self, name: &str) -> usize {
        if let Some(&n) = self.numbers.get(name) {
            return n;
        }
        let n = self.names.len();
        self.names.push(name.to_string());
        self.numbers.insert(name.to_string(), n);
        n
    }

    /// The number of `name` when `mapping` does not account for it, `name`
    /// being the `position`th column with a value of a JSON record: decided
    /// once while records repeat the same columns at the same positions.
    #[inline]
    fn at(&mut self, position: usize, name: &str, mapping: &Mapping) -> Option<usize> {
        if let Some((known, number)) = self.recent.get(position) {
            if crate::source::same_text(known, name) {
                return *number;
            }
        }
        let number = (!mapping.reads(name)).then(|| self.number(name));
        self.recent.truncate(position);
        self.recent.push((name.to_string(), number));
        number
    }
}

/// What the rejects file holds in place of a plaintext password.
pub const REDACTED: &str = "[redacted]";
/// What the rejects file holds in place of an unreadable row of a source with plaintext passwords.
const WITHHELD_ROW: &str = "[row withheld: the source has a plaintext password column]";

/// Why a row is rejected, with the key when it was read.
type Refusal = (Option<String>, String);

impl Mapper {
    pub fn new(target: Target, mapping: Mapping) -> Mapper {
        Mapper {
            ids: IdScope::new(&target.tenant, &target.pool),
            target,
            mapping,
            seen: FingerprintSet::default(),
            unmapped: Unmapped::default(),
            join: None,
        }
    }

    /// The same mapper, joining each row with its record of `index`.
    pub fn with_join(mut self, index: std::sync::Arc<join::JoinIndex>) -> Mapper {
        self.join = Some(index);
        self
    }

    /// The join index, when the run has one.
    pub fn join(&self) -> Option<&std::sync::Arc<join::JoinIndex>> {
        self.join.as_ref()
    }

    /// Adds to `out` the number ([`Mapper::unmapped_name`]) of every column
    /// of `row` that holds a value and that the mapping neither reads nor
    /// ignores. Costs nothing per row for a CSV source whose columns are all
    /// accounted for.
    pub fn unmapped_of(&mut self, row: &Row, out: &mut Vec<usize>) {
        let RowBody::Fields(fields) = &row.body else {
            return;
        };
        if !fields.is_csv() {
            let (mapping, unmapped) = (&self.mapping, &mut self.unmapped);
            let mut position = 0;
            fields.for_each_with_value(|name| {
                out.extend(unmapped.at(position, name, mapping));
                position += 1;
            });
            return;
        }
        let planned = matches!(&self.unmapped.plan, Some((header, _)) if fields.has_header(header));
        if !planned {
            let Some(header) = fields.shared_header() else {
                return;
            };
            let mut plan = Vec::new();
            for (position, name) in header.names().iter().enumerate() {
                if !self.mapping.reads(name) {
                    plan.push((position, self.unmapped.number(name)));
                }
            }
            self.unmapped.plan = Some((header, plan));
        }
        if let Some((_, plan)) = &self.unmapped.plan {
            for &(position, number) in plan {
                if fields.has_value_at(position) {
                    out.push(number);
                }
            }
        }
    }

    /// The name of the unmapped column numbered `number` by [`Mapper::unmapped_of`].
    pub fn unmapped_name(&self, number: usize) -> &str {
        self.unmapped.names.get(number).map_or("", String::as_str)
    }

    /// The row as the mapping's rules read it ([`shape`]): call before
    /// [`Mapper::unmapped_of`] and [`Mapper::map_row`].
    pub fn shape(&self, row: Row) -> Row {
        let row = self.mapping.shape().apply(row);
        match &self.join {
            Some(index) => self.joined(index, row),
            None => row,
        }
    }

    /// The row with its join record as a member (see [`join`]).
    fn joined(&self, index: &join::JoinIndex, row: Row) -> Row {
        let RowBody::Fields(fields) = &row.body else {
            return row;
        };
        let key_path = index
            .key_path()
            .or_else(|| self.mapping.key_rule().map(|r| &r.path));
        let key = key_path
            .and_then(|path| path.values(fields).into_iter().next())
            .and_then(|v| transform::scalar_text(&v).map(|t| t.trim().to_string()));
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return row;
        };
        let record = match index.take(&key) {
            Ok(Some(record)) => record,
            Ok(None) => return row,
            Err(reason) => {
                let body = RowBody::Invalid(crate::source::InvalidRow {
                    reason: format!("cannot look the row up in the join file: {reason}"),
                    raw: String::new(),
                });
                return Row { body, ..row };
            }
        };
        let Value::Object(mut object) = fields.to_json() else {
            return row;
        };
        object.insert(index.member().to_string(), record);
        Row {
            body: RowBody::Fields(Fields::from_json_object(object)),
            ..row
        }
    }

    /// The resolved mapping.
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Maps one source row.
    pub fn map_row(&mut self, row: Row) -> Mapped {
        match row.body {
            RowBody::Invalid(invalid) => Mapped::Rejected(Rejection {
                row: row.row,
                key: None,
                stage: Stage::Source,
                reason: invalid.reason,
                source: match self.plaintext_column() {
                    // The raw text may hold a plaintext password: never written out.
                    Some(_) => Value::String(WITHHELD_ROW.to_string()),
                    None => Value::String(invalid.raw),
                },
            }),
            RowBody::Fields(fields) => {
                if let Some(canonical::Records::Ferry { new_ids }) = self.mapping.records() {
                    return self.map_canonical(row.row, fields, new_ids);
                }
                let left_out = match skip_reason(&self.mapping, self.target.import_time, &fields) {
                    Ok(None) => None,
                    Ok(Some(reason)) => Some((Stage::Excluded, reason)),
                    Err(reason) => Some((Stage::Mapping, reason)),
                };
                if let Some((stage, reason)) = left_out {
                    return Mapped::Rejected(Rejection {
                        row: row.row,
                        key: None,
                        stage,
                        reason,
                        source: self.redact(fields).to_json(),
                    });
                }
                let mapped = self.map_source(&fields);
                let fields = self.redact(fields);
                match mapped {
                    Ok((user, records)) => Mapped::User(Box::new(MappedUser {
                        row: row.row,
                        key: user.key,
                        records,
                        source: fields,
                        unverifiable_hash: user.password.unverifiable,
                        matched: false,
                    })),
                    Err((key, reason)) => Mapped::Rejected(Rejection {
                        row: row.row,
                        key,
                        stage: Stage::Mapping,
                        reason,
                        source: fields.to_json(),
                    }),
                }
            }
        }
    }

    /// The declared plaintext password column, if any.
    fn plaintext_column(&self) -> Option<&str> {
        self.mapping.passwords().plaintext_column.as_deref()
    }

    /// The record with its plaintext password replaced by [`REDACTED`], so
    /// that the rejects file never holds it.
    fn redact(&self, fields: Fields) -> Fields {
        let Some(column) = self.plaintext_column() else {
            return fields;
        };
        if fields.get(column).is_none() {
            return fields;
        }
        match fields.to_json() {
            Value::Object(mut object) => {
                object.insert(column.to_string(), Value::String(REDACTED.to_string()));
                Fields::from_json_object(object)
            }
            _ => Fields::from_pairs([(column, REDACTED)]),
        }
    }

    /// Validates a record and builds its four record sets.
    pub fn map_fields(&mut self, fields: &impl Lookup) -> Result<(String, UserRecords), Refusal> {
        self.map_source(fields)
            .map(|(user, records)| (user.key, records))
    }

    /// Validates a record, checks it for duplicates and builds its records.
    fn map_source(&mut self, fields: &impl Lookup) -> Result<(SourceUser, UserRecords), Refusal> {
        let user = SourceUser::read(&self.mapping, &self.target, fields)?;
        let fingerprints: Vec<(Tag, &str)> = std::iter::once((Tag::Key, user.key.as_str()))
            .chain(
                user.contacts
                    .iter()
                    .map(|c| (Tag::Identifier(c.kind), c.lower.as_str())),
            )
            .collect();
        if let Err(reason) = self.claim(&fingerprints) {
            return Err((Some(user.key), reason));
        }
        let records = self.build(&user);
        Ok((user, records))
    }

    /// Remembers the key and identifiers of a row, or says which an earlier
    /// row already used (the row is then a duplicate, and nothing is
    /// remembered of it).
    fn claim(&mut self, fingerprints: &[(Tag, &str)]) -> Result<(), String> {
        for (tag, value) in fingerprints {
            if self.seen.contains(&fingerprint(*tag, value)) {
                let what = match tag {
                    Tag::Key => format!("user key '{value}'"),
                    Tag::Identifier(IdentifierType::Mobile) => format!("phone '{value}'"),
                    Tag::Identifier(kind) => format!("{} '{value}'", kind.as_str()),
                };
                return Err(format!("{what} was already used by an earlier row"));
            }
        }
        for (tag, value) in fingerprints {
            self.seen.insert(fingerprint(*tag, value));
        }
        Ok(())
    }

    /// Maps a line of ferry's own export ([`canonical`]): decoded, checked
    /// for duplicates, moved to the target's tenant and pool.
    fn map_canonical(&mut self, row: u64, fields: Fields, new_ids: bool) -> Mapped {
        let source = fields.to_json();
        let rejected = |key: Option<String>, reason: String| {
            Mapped::Rejected(Rejection {
                row,
                key,
                stage: Stage::Mapping,
                reason,
                source: source.clone(),
            })
        };
        let line = match canonical::decode(&source) {
            Ok(line) => line,
            Err(reason) => return rejected(None, reason),
        };
        let key = line.user.id.to_string();
        let lowered: Vec<(Tag, String)> = line
            .identifiers
            .iter()
            .map(|i| {
                let lower = match i.identifier_lc.is_empty() {
                    true => i.identifier.to_lowercase(),
                    false => i.identifier_lc.clone(),
                };
                (Tag::Identifier(i.kind), lower)
            })
            .collect();
        let fingerprints: Vec<(Tag, &str)> = std::iter::once((Tag::Key, key.as_str()))
            .chain(lowered.iter().map(|(tag, value)| (*tag, value.as_str())))
            .collect();
        if let Err(reason) = self.claim(&fingerprints) {
            return rejected(Some(key), reason);
        }
        let records = canonical::rewrite(
            line,
            (&self.target.tenant, &self.target.pool),
            &self.ids,
            new_ids,
        );
        Mapped::User(Box::new(MappedUser {
            row,
            key,
            records,
            source: fields,
            unverifiable_hash: false,
            matched: false,
        }))
    }

    fn build(&self, source: &SourceUser) -> UserRecords {
        let now = self.target.import_time;
        let created = source.created_at.unwrap_or(now);
        let (tenant, pool) = (&self.target.tenant, &self.target.pool);
        let user_id = self.ids.user(&source.key);
        let user = User {
            id: user_id,
            tenant_id: tenant.clone(),
            user_pool_id: pool.clone(),
            status: source.status,
            payload: Some(source.payload()),
            payload_schema_id: None,
            metadata: source.metadata(),
            metadata_schema_id: None,
            business_metadata: (!source.business_metadata.is_empty())
                .then(|| source.business_metadata.clone()),
            business_metadata_schema_id: None,
            user_type: None,
            created_at: Some(created),
            updated_at: Some(now),
            status_updated_at: Some(now),
        };
        let mut identifiers: Vec<UserIdentifier> = Vec::with_capacity(source.contacts.len());
        let mut addresses = Vec::with_capacity(2);
        for contact in &source.contacts {
            let (id_kind, address) = match contact.kind {
                IdentifierType::Email => (
                    RecordKind::EmailIdentifier,
                    Some((RecordKind::EmailAddress, AddressType::Email)),
                ),
                IdentifierType::Mobile => (
                    RecordKind::MobileIdentifier,
                    Some((RecordKind::MobileAddress, AddressType::Mobile)),
                ),
                IdentifierType::Uid => (RecordKind::UidIdentifier, None),
                IdentifierType::External => (RecordKind::ExternalIdentifier, None),
                IdentifierType::Federated => (RecordKind::FederatedIdentifier, None),
            };
            // Which of the user's identifiers of this type it is (see ids.rs).
            let ordinal = identifiers
                .iter()
                .filter(|i| i.kind == contact.kind)
                .count();
            identifiers.push(UserIdentifier {
                id: self.ids.contact(id_kind, &source.key, ordinal),
                tenant_id: tenant.clone(),
                user_pool_id: pool.clone(),
                user_id,
                kind: contact.kind,
                identifier: contact.value.clone(),
                identifier_lc: contact.lower.clone(),
                metadata: None,
                created_at: created,
                updated_at: now,
            });
            let Some((address_kind, address_type)) = address else {
                continue;
            };
            addresses.push(UserVerifiableAddress {
                id: self.ids.contact(address_kind, &source.key, ordinal),
                tenant_id: tenant.clone(),
                user_pool_id: pool.clone(),
                user_id,
                kind: address_type,
                address: contact.value.clone(),
                address_lc: contact.lower.clone(),
                status: AddressStatus::Active,
                verified: contact.verified,
                verified_at: None,
                preferred_contact_method: None,
                metadata: None,
                created_at: created,
                updated_at: now,
            });
        }
        let credentials = source
            .password
            .credential
            .iter()
            .map(|planned| UserCredential {
                id: self.ids.password(&source.key),
                tenant_id: tenant.clone(),
                user_pool_id: pool.clone(),
                user_id,
                kind: CredentialType::Password,
                payload: CredentialPayload {
                    hashed_password: Some(planned.hashed.clone()),
                    other: Map::new(),
                },
                state: None,
                expires_at: planned.expired.then_some(passwords::EXPIRED_AT),
                created_at: created,
                updated_at: now,
            })
            .collect();
        UserRecords {
            user,
            credentials,
            identifiers,
            addresses,
        }
    }
}

/// What a fingerprint is of, so that equal text in different roles differs.
#[derive(Debug, Clone, Copy, Hash)]
enum Tag {
    Key,
    Identifier(IdentifierType),
}

fn fingerprint(tag: Tag, value: &str) -> u64 {
    // SipHash with fixed keys: deterministic within a run, well distributed.
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    tag.hash(&mut hasher);
    value.hash(&mut hasher);
    hasher.finish()
}

/// A sign-in identifier of the source, validated: an email or phone also
/// becomes a verifiable address.
#[derive(Debug)]
struct Contact {
    kind: IdentifierType,
    /// As the source has it (a phone normalised to E.164).
    value: String,
    /// What the target compares: lower-cased.
    lower: String,
    verified: bool,
}

/// A source user after validation, before records are built.
#[derive(Debug)]
struct SourceUser {
    key: String,
    /// The `email` and `phone` fields first, then the mapping's identifier
    /// rules in order; each (type, value) once.
    contacts: Vec<Contact>,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    status: UserStatus,
    created_at: Option<OffsetDateTime>,
    groups: Vec<String>,
    /// Custom attributes, by set.
    payload: Map<String, Value>,
    metadata: Map<String, Value>,
    business_metadata: Map<String, Value>,
    password: passwords::Decision,
}

/// The credential of a row under the mapping's password options.
fn read_password<L: Lookup>(
    reader: &FieldReader<'_, L>,
    mapping: &Mapping,
    target: &Target,
    key: &str,
) -> Result<passwords::Decision, String> {
    let options = mapping.passwords();
    if options.policy == passwords::PasswordPolicy::None {
        return Ok(passwords::Decision::default());
    }
    let hash = reader.limited(Field::PasswordHash, MAX_FIELD_BYTES)?;
    let salt = reader.limited(Field::PasswordSalt, MAX_FIELD_BYTES)?;
    let algorithm = reader.limited(Field::PasswordAlgorithm, 64)?;
    let params = reader.limited(Field::PasswordParams, MAX_FIELD_BYTES)?;
    let plaintext = match &options.plaintext_column {
        Some(column) => reader.column(column),
        None => None,
    };
    if plaintext
        .as_ref()
        .is_some_and(|p| p.len() > MAX_FIELD_BYTES)
    {
        return Err(format!(
            "the plaintext password is over the {MAX_FIELD_BYTES}-byte limit"
        ));
    }
    let input = passwords::PasswordInput {
        hash: hash.as_deref(),
        salt: salt.as_deref(),
        algorithm: algorithm.as_deref(),
        params: params.as_deref(),
        plaintext: plaintext.as_deref(),
    };
    let owner = passwords::Owner {
        tenant: &target.tenant,
        pool: &target.pool,
        key,
    };
    passwords::credential(options, input, owner)
}

/// Why a row is left out by the mapping's `skip_if`, if it is.
pub(crate) fn skip_reason(
    mapping: &Mapping,
    now: OffsetDateTime,
    fields: &impl Lookup,
) -> Result<Option<String>, String> {
    for condition in mapping.skip_if() {
        if holds(condition, now, fields)? {
            return Ok(Some(condition.reason.clone()));
        }
    }
    Ok(None)
}

/// Whether a condition holds for a record.
fn holds(condition: &Condition, now: OffsetDateTime, fields: &impl Lookup) -> Result<bool, String> {
    for value in condition.path.values(fields) {
        let value = transform::apply_all(&condition.transforms, value, now)
            .map_err(|why| format!("{}: the value {why}", condition.path))?;
        let Some(value) = value else { continue };
        let yes = if condition.equals.is_empty() {
            transform::truthy(&value)
        } else {
            transform::scalar_text(&value).is_some_and(|t| condition.equals.iter().any(|e| *e == t))
        };
        if yes {
            return Ok(true);
        }
    }
    Ok(false)
}

impl SourceUser {
    fn read(
        mapping: &Mapping,
        target: &Target,
        fields: &impl Lookup,
    ) -> Result<SourceUser, Refusal> {
        let reader = FieldReader {
            mapping,
            fields,
            now: target.import_time,
        };
        let email_raw = reader
            .limited(Field::Email, rules::MAX_EMAIL_BYTES)
            .map_err(|r| (None, r))?;
        let key = match mapping.key_rule() {
            Some(rule) => reader.key(rule).map_err(|r| (None, r))?,
            None => email_raw.as_deref().map(str::to_lowercase),
        };
        let Some(key) = key else {
            let what = match mapping.key() {
                KeyPolicy::Column(column) => format!("user key (column '{column}') is missing; the mapping's 'key' (or 'key_email = true') says where else it is"),
                _ => "user key is missing: the row has no email to key on".to_string(),
            };
            return Err((None, what));
        };
        if key.len() > MAX_KEY_BYTES {
            return Err((
                None,
                format!(
                    "user key is {} bytes, over the {MAX_KEY_BYTES}-byte limit",
                    key.len()
                ),
            ));
        }
        if let Some(c) = key.chars().find(|c| c.is_control()) {
            return Err((
                None,
                format!("user key holds the control character U+{:04X}", c as u32),
            ));
        }
        let refuse = |reason: String| (Some(key.clone()), reason);
        let mut contacts: Vec<Contact> = Vec::new();
        if let Some(address) = email_raw {
            let verified = reader.flag(Field::EmailVerified).map_err(refuse)?;
            push_contact(&mut contacts, IdentifierType::Email, &address, verified)
                .map_err(refuse)?;
        }
        if let Some(raw) = reader.limited(Field::Phone, 64).map_err(refuse)? {
            let verified = reader.flag(Field::PhoneVerified).map_err(refuse)?;
            push_contact(&mut contacts, IdentifierType::Mobile, &raw, verified).map_err(refuse)?;
        }
        for rule in mapping.identifiers() {
            for (value, verified) in reader.identifier_values(rule).map_err(refuse)? {
                push_contact(&mut contacts, rule.kind, &value, verified).map_err(refuse)?;
            }
        }
        let name = |field| reader.name(field).map_err(refuse);
        let (given_name, family_name, name) = (
            name(Field::GivenName)?,
            name(Field::FamilyName)?,
            name(Field::Name)?,
        );
        let mut status = match reader.limited(Field::Status, 64).map_err(refuse)? {
            None => UserStatus::Active,
            Some(text) => UserStatus::parse(&text).ok_or_else(|| {
                refuse(format!(
                    "status '{text}' is not one of active, inactive, deleted, new"
                ))
            })?,
        };
        if status != UserStatus::Deleted && status != UserStatus::Inactive {
            for condition in mapping.inactive_if() {
                if holds(condition, target.import_time, fields).map_err(refuse)? {
                    status = UserStatus::Inactive;
                    break;
                }
            }
        }
        let created_at = reader.created_at().map_err(refuse)?;
        let groups = reader.groups().map_err(refuse)?;
        let mut sets = [Map::new(), Map::new(), Map::new()];
        for attribute in mapping.attributes() {
            let set = &mut sets[attribute.into as usize];
            reader.attribute(attribute, set).map_err(refuse)?;
        }
        let [payload, metadata, business_metadata] = sets;
        let password = read_password(&reader, mapping, target, &key).map_err(refuse)?;
        Ok(SourceUser {
            key,
            contacts,
            given_name,
            family_name,
            name,
            status,
            created_at,
            groups,
            payload,
            metadata,
            business_metadata,
            password,
        })
    }

    fn payload(&self) -> Map<String, Value> {
        let mut payload = Map::new();
        let composed = match (&self.given_name, &self.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        };
        let parts = [
            ("name", self.name.clone().or(composed)),
            ("given_name", self.given_name.clone()),
            ("family_name", self.family_name.clone()),
        ];
        for (key, value) in parts {
            if let Some(value) = value {
                payload.insert(key.to_string(), Value::String(value));
            }
        }
        for (key, value) in &self.payload {
            payload.entry(key.clone()).or_insert_with(|| value.clone());
        }
        payload
    }

    /// `groups` and the metadata attributes; `None` when there are neither.
    fn metadata(&self) -> Option<Map<String, Value>> {
        if self.groups.is_empty() && self.metadata.is_empty() {
            return None;
        }
        let mut metadata = Map::new();
        if !self.groups.is_empty() {
            let groups = self.groups.iter().cloned().map(Value::String).collect();
            metadata.insert("groups".to_string(), Value::Array(groups));
        }
        for (key, value) in &self.metadata {
            metadata.entry(key.clone()).or_insert_with(|| value.clone());
        }
        Some(metadata)
    }
}

/// Validates an identifier of `kind` and adds it, once per (type, value).
fn push_contact(
    contacts: &mut Vec<Contact>,
    kind: IdentifierType,
    raw: &str,
    verified: bool,
) -> Result<(), String> {
    let raw = raw.trim();
    if raw.len() > MAX_FIELD_BYTES {
        return Err(format!(
            "a {} identifier is {} bytes, over the {MAX_FIELD_BYTES}-byte limit",
            kind.as_str(),
            raw.len()
        ));
    }
    let (value, lower) = match kind {
        IdentifierType::Email => {
            rules::check_email(raw).map_err(|why| format!("email '{raw}' is invalid: {why}"))?;
            (raw.to_string(), raw.to_lowercase())
        }
        IdentifierType::Mobile => {
            let number = rules::normalize_phone(raw).ok_or_else(|| {
                format!("phone '{raw}' is not an E.164 number (+ and 8 to 15 digits)")
            })?;
            (number.clone(), number)
        }
        IdentifierType::Uid | IdentifierType::External => {
            if !rules::is_printable_ascii_token(raw) {
                return Err(format!(
                    "{} identifier '{}' is not printable ASCII without spaces",
                    kind.as_str(),
                    crate::reject::EscapedControls(raw)
                ));
            }
            (raw.to_string(), raw.to_lowercase())
        }
        IdentifierType::Federated => {
            if raw.chars().any(char::is_control) {
                return Err(format!(
                    "federated identifier '{}' holds control characters",
                    crate::reject::EscapedControls(raw)
                ));
            }
            (raw.to_string(), raw.to_lowercase())
        }
    };
    match contacts
        .iter_mut()
        .find(|c| c.kind == kind && c.lower == lower)
    {
        // The same address listed twice (primary and in a list): verified if either says so.
        Some(known) => known.verified |= verified,
        None => contacts.push(Contact {
            kind,
            value,
            lower,
            verified,
        }),
    }
    Ok(())
}

/// The earliest and latest creation time ferry accepts: a time outside is
/// a misread value (seconds read as milliseconds, a zero date), not a user
/// created then.
const CREATED_RANGE: (i32, i32) = (1900, 2200);

/// A creation time, read as [`parse_time`] does, within [`CREATED_RANGE`].
fn read_created_at(text: &str) -> Result<OffsetDateTime, String> {
    let t = parse_time(text).ok_or_else(|| {
        format!("created_at '{text}' is not a time (RFC 3339, 'YYYY-MM-DD HH:MM:SS', a date or Unix seconds)")
    })?;
    if !in_created_range(&t) {
        let (first, last) = CREATED_RANGE;
        return Err(format!(
            "created_at '{text}' is in the year {}, outside {first}–{last}: probably a misread value",
            t.year()
        ));
    }
    Ok(t)
}

/// Whether `t` is within [`CREATED_RANGE`].
fn in_created_range(t: &OffsetDateTime) -> bool {
    let (first, last) = CREATED_RANGE;
    (first..=last).contains(&t.year())
}

/// Reads mapped fields of one record: constants first, then the column, then the default.
struct FieldReader<'a, L> {
    mapping: &'a Mapping,
    fields: &'a L,
    /// The import time, for transforms that compare with it.
    now: OffsetDateTime,
}

impl<'a, L: Lookup> FieldReader<'a, L> {
    /// The trimmed, non-empty value of a source column.
    fn column(&self, column: &str) -> Option<Cow<'a, str>> {
        non_empty(self.fields.get(column)?)
    }

    /// The text a rule gives: a plain column's text as it is; otherwise
    /// every value the path finds, transformed and mapped, as text (several
    /// joined with `;`, as a list of groups is written).
    fn rule_text(&self, rule: &Rule) -> Result<Option<Cow<'a, str>>, String> {
        if rule.is_plain() {
            return Ok(self.column(rule.path.text()));
        }
        let mut text: Option<String> = None;
        for value in rule.path.values(self.fields) {
            let Some(value) = self.transformed(rule, value)? else {
                continue;
            };
            // Scalars as written, arrays of scalars joined with `;`.
            let Some(found) = trimmed_text(value) else {
                continue;
            };
            match &mut text {
                None => text = Some(found),
                Some(text) => {
                    text.push(';');
                    text.push_str(&found);
                }
            }
        }
        Ok(text.map(Cow::Owned))
    }

    /// A value through the rule's transforms and map.
    fn transformed(&self, rule: &Rule, value: Value) -> Result<Option<Value>, String> {
        let value = transform::apply_all(&rule.transforms, value, self.now)
            .map_err(|why| format!("{}: the value {why}", rule.path))?;
        let Some(value) = value else {
            return Ok(None);
        };
        if rule.map.is_empty() {
            return Ok(Some(value));
        }
        let text = transform::scalar_text(&value).unwrap_or_default();
        match rule.map.get(text.as_ref()).or_else(|| rule.map.get("*")) {
            Some(mapped) => Ok(Some(Value::String(mapped.clone()))),
            None => Err(format!(
                "{} '{}' is none of the values the mapping lists ({})",
                rule.path,
                crate::reject::EscapedControls(&text),
                rule.map.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// The user key: text, never a number or a structure (a number's
    /// spelling can change between exports, and with it every id).
    fn key(&self, rule: &Rule) -> Result<Option<String>, String> {
        if rule.is_plain() {
            let kind = self.fields.kind(rule.path.text());
            if !matches!(kind, ValueKind::Text | ValueKind::Absent) {
                return Err(format!(
                    "the user key ('{}') is a JSON {}, not text",
                    rule.path,
                    kind.name()
                ));
            }
        }
        Ok(self.rule_text(rule)?.map(Cow::into_owned))
    }

    /// The value of a field, `None` when empty everywhere.
    fn value(&self, field: Field) -> Result<Option<Cow<'a, str>>, String> {
        if let Some(constant) = self.mapping.constant(field) {
            return Ok(non_empty(Cow::Borrowed(constant)));
        }
        let found = match self.mapping.rule(field) {
            Some(rule) => self.rule_text(rule)?,
            None => None,
        };
        Ok(found.or_else(|| {
            self.mapping
                .default_value(field)
                .and_then(|d| non_empty(Cow::Borrowed(d)))
        }))
    }

    /// The value of a field, refused when over `limit` bytes (the value is not echoed).
    fn limited(&self, field: Field, limit: usize) -> Result<Option<Cow<'a, str>>, String> {
        within(field, limit, self.value(field)?)
    }

    /// A name: text without control characters, never an object or array.
    fn name(&self, field: Field) -> Result<Option<String>, String> {
        let value = self.value(field)?;
        // A JSON object or array reads as text starting with `{` or `[`:
        // only then is the source asked what it holds (once per row, not
        // once per name).
        let structured = value.as_deref().is_some_and(|v| v.starts_with(['{', '[']))
            && self
                .mapping
                .rule(field)
                .filter(|r| r.is_plain())
                .is_some_and(|r| self.fields.kind(r.path.text()) == ValueKind::Structured);
        if structured {
            let path = self.mapping.column(field).unwrap_or_default();
            return Err(format!(
                "{} ('{path}') is a JSON object or array, not a name",
                field.name()
            ));
        }
        let Some(value) = within(field, MAX_NAME_BYTES, value)? else {
            return Ok(None);
        };
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(format!(
                "{} holds the control character U+{:04X}",
                field.name(),
                c as u32
            ));
        }
        Ok(Some(value.into_owned()))
    }

    /// The creation time. A rule that reads one value through the `time`
    /// transform alone gives the time it reads, not that time written out
    /// as text to be read again; anything else, a refusal included, goes
    /// the way of every field, and is worded so.
    fn created_at(&self) -> Result<Option<OffsetDateTime>, String> {
        let field = Field::CreatedAt;
        if let Some(rule) = self.mapping.rule(field) {
            let direct = self.mapping.constant(field).is_none()
                && rule.transforms == [transform::Transform::Time]
                && rule.map.is_empty();
            if direct {
                // A string is read where it lies; other values (numbers,
                // `{"$date": …}`) go the way of every field.
                if let [found] = rule.path.found(self.fields).as_slice() {
                    let read = found
                        .string()
                        .and_then(|text| transform::read_time_text(&text).ok());
                    if let Some(t) = read.filter(in_created_range) {
                        return Ok(Some(t));
                    }
                }
            }
        }
        match self.limited(field, 64)? {
            None => Ok(None),
            Some(text) => read_created_at(&text).map(Some),
        }
    }

    /// A boolean flag; empty is false.
    fn flag(&self, field: Field) -> Result<bool, String> {
        let Some(text) = self.limited(field, 64)? else {
            return Ok(false);
        };
        match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" => Ok(true),
            "false" | "f" | "no" | "n" | "0" => Ok(false),
            _ => Err(format!(
                "{} '{text}' is not a boolean (true/false, yes/no, 1/0)",
                field.name()
            )),
        }
    }

    /// `;`-separated groups, trimmed, empty ones dropped, duplicates removed (first kept).
    fn groups(&self) -> Result<Vec<String>, String> {
        let Some(text) = self.limited(Field::Groups, MAX_FIELD_BYTES)? else {
            return Ok(Vec::new());
        };
        let mut groups: Vec<String> = Vec::new();
        for group in text.split(';').map(str::trim).filter(|g| !g.is_empty()) {
            if !groups.iter().any(|g| g == group) {
                groups.push(group.to_string());
            }
        }
        if groups.len() > MAX_GROUPS {
            return Err(format!(
                "groups has {} entries, over the limit of {MAX_GROUPS}",
                groups.len()
            ));
        }
        Ok(groups)
    }

    /// The identifiers an identifier rule finds, each with its verified flag.
    fn identifier_values(&self, rule: &IdentifierRule) -> Result<Vec<(String, bool)>, String> {
        // Read once, when the rule finds something.
        let mut read = None;
        let mut verified = || {
            *read.get_or_insert_with(|| match &rule.verified {
                VerifiedRule::Always(b) => *b,
                VerifiedRule::Path(path) => path
                    .values(self.fields)
                    .first()
                    .is_some_and(transform::truthy),
            })
        };
        let mut out = Vec::new();
        for found in rule.path.found(self.fields) {
            // Without transforms, the value is read as found (its members
            // decoded only when the rule uses them).
            let found = match rule.transforms.is_empty() {
                true => found,
                false => {
                    let Some(value) = found.into_value() else {
                        continue;
                    };
                    let value = transform::apply_all(&rule.transforms, value, self.now)
                        .map_err(|why| format!("{}: the value {why}", rule.path))?;
                    match value {
                        None => continue,
                        Some(value) => Found::Value(value),
                    }
                }
            };
            // A list (a transform's split, an array) is one value per element.
            let items = match found.is_list() {
                true => found.elements(),
                false => smallvec::smallvec![found],
            };
            for item in items {
                let left_out = rule.unless.iter().any(|(member, texts)| {
                    member
                        .found_in(&item)
                        .iter()
                        .any(|v| v.text().is_some_and(|t| texts.iter().any(|x| *x == t)))
                });
                if left_out {
                    continue;
                }
                let text = match &rule.template {
                    Some(template) => template.fill(&item).map(Cow::Owned),
                    None if item.is_structured() => {
                        return Err(format!(
                            "{}: a {} identifier is an object; the rule's 'value' template says which members make it",
                            rule.path,
                            rule.kind.as_str()
                        ))
                    }
                    None => item.text(),
                };
                let text = text.filter(|t| {
                    !t.trim().is_empty()
                        && !rule.unless_prefix.iter().any(|p| t.starts_with(p.as_str()))
                });
                if let Some(text) = text {
                    out.push((text.into_owned(), verified()));
                }
            }
        }
        Ok(out)
    }

    /// Adds a custom attribute to its set, typed as the source has it.
    fn attribute(&self, attribute: &Attribute, set: &mut Map<String, Value>) -> Result<(), String> {
        let rule = &attribute.rule;
        if rule.path.text() == ALL_COLUMNS {
            // Every column whose name has the prefix, as the source has it.
            let prefix = rule.prefix.as_deref().unwrap_or_default();
            for name in self.fields.names() {
                if !name.starts_with(prefix) {
                    continue;
                }
                let Some(value) = self.fields.value(&name) else {
                    continue;
                };
                if let Some(value) = self.transformed(rule, value)? {
                    if !is_blank(&value) {
                        set.insert(name, value);
                    }
                }
            }
            return Ok(());
        }
        let mut found = Vec::new();
        for value in rule.path.values(self.fields) {
            if let Some(value) = self.transformed(rule, value)? {
                found.push(value);
            }
        }
        let value = match found.len() {
            0 => return Ok(()),
            1 => found.remove(0),
            _ if rule.path.is_many() => Value::Array(found),
            _ => found.remove(0),
        };
        if attribute.name != "*" {
            if !is_blank(&value) {
                set.insert(attribute.name.clone(), value);
            }
            return Ok(());
        }
        let Value::Object(members) = value else {
            return Err(format!(
                "{}: '*' merges an object's members, and the value is not an object",
                rule.path
            ));
        };
        for (name, value) in members {
            if rule
                .prefix
                .as_ref()
                .is_some_and(|p| !name.starts_with(p.as_str()))
            {
                continue;
            }
            if !is_blank(&value) {
                set.insert(name, value);
            }
        }
        Ok(())
    }
}

/// `value` of `field`, refused when over `limit` bytes (the value is not echoed).
fn within<'a>(
    field: Field,
    limit: usize,
    value: Option<Cow<'a, str>>,
) -> Result<Option<Cow<'a, str>>, String> {
    match value {
        Some(v) if v.len() > limit => Err(format!(
            "{} is {} bytes, over the {limit}-byte limit",
            field.name(),
            v.len()
        )),
        other => Ok(other),
    }
}

/// The path of an attribute rule that reads every column with its `prefix`.
pub const ALL_COLUMNS: &str = "*";

/// The text of a value as [`crate::source::json_text`] gives it, trimmed;
/// `None` when it has none or only blanks. A string is moved, not copied.
fn trimmed_text(value: Value) -> Option<String> {
    if let Value::String(text) = value {
        let trimmed = text.trim();
        return match (trimmed.is_empty(), trimmed.len() == text.len()) {
            (true, _) => None,
            (false, true) => Some(text),
            (false, false) => Some(trimmed.to_string()),
        };
    }
    let text = crate::source::json_text(&value)?;
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// A value that carries nothing: null or blank text.
fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn non_empty(value: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let trimmed_len = value.trim().len();
    if trimmed_len == 0 {
        return None;
    }
    Some(match value {
        Cow::Borrowed(v) => Cow::Borrowed(v.trim()),
        Cow::Owned(v) if trimmed_len == v.len() => Cow::Owned(v),
        Cow::Owned(v) => Cow::Owned(v.trim().to_string()),
    })
}

/// Parses a source timestamp: RFC 3339, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`
/// (taken as UTC), a date `YYYY-MM-DD` (midnight UTC), or Unix seconds.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    if !text.is_empty() && text.len() <= 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        return OffsetDateTime::from_unix_timestamp(text.parse().ok()?).ok();
    }
    let naive = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let naive_t =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) =
        PrimitiveDateTime::parse(text, naive).or_else(|_| PrimitiveDateTime::parse(text, naive_t))
    {
        return Some(t.assume_utc());
    }
    let date = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, date)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

#[cfg(test)]
mod tests;
