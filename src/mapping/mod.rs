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

pub mod config;
pub mod ids;
pub mod passwords;

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
pub use config::{Field, KeyPolicy, Mapping, MappingConfig, MappingError};
use ids::{IdScope, RecordKind};

/// Read access to a record's columns; implemented by source [`Fields`].
pub trait Lookup {
    /// The value of `column`, `None` when absent.
    fn get(&self, column: &str) -> Option<Cow<'_, str>>;
}

impl Lookup for Fields {
    fn get(&self, column: &str) -> Option<Cow<'_, str>> {
        Fields::get(self, column)
    }
}

impl Lookup for std::collections::BTreeMap<&str, &str> {
    fn get(&self, column: &str) -> Option<Cow<'_, str>> {
        std::collections::BTreeMap::get(self, column).map(|v| Cow::Borrowed(*v))
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
        }
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
            fields.for_each_with_value(|name| {
                if !mapping.reads(name) {
                    out.push(unmapped.number(name));
                }
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
                let mapped = self.map_source(&fields);
                let fields = self.redact(fields);
                match mapped {
                    Ok((user, records)) => Mapped::User(Box::new(MappedUser {
                        row: row.row,
                        key: user.key,
                        records,
                        source: fields,
                        unverifiable_hash: user.password.unverifiable,
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
        let fingerprints = [
            Some((Tag::Key, user.key.as_str())),
            user.email.as_ref().map(|e| (Tag::Email, e.lower.as_str())),
            user.phone.as_ref().map(|p| (Tag::Phone, p.number.as_str())),
        ];
        for (tag, value) in fingerprints.iter().flatten() {
            if self.seen.contains(&fingerprint(*tag, value)) {
                let what = match tag {
                    Tag::Key => format!("user key '{value}'"),
                    Tag::Email => format!("email '{value}'"),
                    Tag::Phone => format!("phone '{value}'"),
                };
                return Err((
                    Some(user.key),
                    format!("{what} was already used by an earlier row"),
                ));
            }
        }
        for (tag, value) in fingerprints.iter().flatten() {
            self.seen.insert(fingerprint(*tag, value));
        }
        let records = self.build(&user);
        Ok((user, records))
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
            metadata: (!source.groups.is_empty()).then(|| source.metadata()),
            metadata_schema_id: None,
            business_metadata: None,
            business_metadata_schema_id: None,
            user_type: None,
            created_at: Some(created),
            updated_at: Some(now),
            status_updated_at: Some(now),
        };
        let mut identifiers: Vec<UserIdentifier> = Vec::with_capacity(2);
        let mut addresses = Vec::with_capacity(2);
        let contacts = [
            source.email.as_ref().map(|e| {
                (
                    &e.address,
                    &e.lower,
                    e.verified,
                    IdentifierType::Email,
                    AddressType::Email,
                )
            }),
            source.phone.as_ref().map(|p| {
                (
                    &p.number,
                    &p.number,
                    p.verified,
                    IdentifierType::Mobile,
                    AddressType::Mobile,
                )
            }),
        ];
        for (value, lower, verified, id_type, address_type) in contacts.into_iter().flatten() {
            let (id_kind, address_kind) = match id_type {
                IdentifierType::Email => (RecordKind::EmailIdentifier, RecordKind::EmailAddress),
                _ => (RecordKind::MobileIdentifier, RecordKind::MobileAddress),
            };
            // Which of the user's identifiers of this type it is (see ids.rs).
            let ordinal = identifiers.iter().filter(|i| i.kind == id_type).count();
            identifiers.push(UserIdentifier {
                id: self.ids.contact(id_kind, &source.key, ordinal),
                tenant_id: tenant.clone(),
                user_pool_id: pool.clone(),
                user_id,
                kind: id_type,
                identifier: value.clone(),
                identifier_lc: lower.clone(),
                metadata: None,
                created_at: created,
                updated_at: now,
            });
            addresses.push(UserVerifiableAddress {
                id: self.ids.contact(address_kind, &source.key, ordinal),
                tenant_id: tenant.clone(),
                user_pool_id: pool.clone(),
                user_id,
                kind: address_type,
                address: value.clone(),
                address_lc: lower.clone(),
                status: AddressStatus::Active,
                verified,
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
    Email,
    Phone,
}

fn fingerprint(tag: Tag, value: &str) -> u64 {
    // SipHash with fixed keys: deterministic within a run, well distributed.
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    tag.hash(&mut hasher);
    value.hash(&mut hasher);
    hasher.finish()
}

/// An email of the source, validated.
#[derive(Debug)]
struct Email {
    address: String,
    lower: String,
    verified: bool,
}

/// A phone of the source, normalised to E.164.
#[derive(Debug)]
struct Phone {
    number: String,
    verified: bool,
}

/// A source user after validation, before records are built.
#[derive(Debug)]
struct SourceUser {
    key: String,
    email: Option<Email>,
    phone: Option<Phone>,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    status: UserStatus,
    created_at: Option<OffsetDateTime>,
    groups: Vec<String>,
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
        plaintext: plaintext.as_deref(),
    };
    let owner = passwords::Owner {
        tenant: &target.tenant,
        pool: &target.pool,
        key,
    };
    passwords::credential(options, input, owner)
}

impl SourceUser {
    fn read(
        mapping: &Mapping,
        target: &Target,
        fields: &impl Lookup,
    ) -> Result<SourceUser, Refusal> {
        let reader = FieldReader { mapping, fields };
        let email_raw = reader
            .limited(Field::Email, rules::MAX_EMAIL_BYTES)
            .map_err(|r| (None, r))?;
        let key = match mapping.key() {
            KeyPolicy::Column(column) => reader.column(column).map(|k| k.into_owned()),
            _ => email_raw.as_deref().map(str::to_lowercase),
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
        let refuse = |reason: String| (Some(key.clone()), reason);
        let email = match email_raw {
            None => None,
            Some(address) => {
                rules::check_email(&address)
                    .map_err(|why| refuse(format!("email '{address}' is invalid: {why}")))?;
                let verified = reader.flag(Field::EmailVerified).map_err(refuse)?;
                Some(Email {
                    lower: address.to_lowercase(),
                    address: address.into_owned(),
                    verified,
                })
            }
        };
        let phone = match reader.limited(Field::Phone, 64).map_err(refuse)? {
            None => None,
            Some(raw) => {
                let number = rules::normalize_phone(&raw).ok_or_else(|| {
                    refuse(format!(
                        "phone '{raw}' is not an E.164 number (+ and 8 to 15 digits)"
                    ))
                })?;
                Some(Phone {
                    number,
                    verified: reader.flag(Field::PhoneVerified).map_err(refuse)?,
                })
            }
        };
        let name = |field| {
            reader
                .limited(field, MAX_NAME_BYTES)
                .map(|v| v.map(Cow::into_owned))
                .map_err(refuse)
        };
        let (given_name, family_name, name) = (
            name(Field::GivenName)?,
            name(Field::FamilyName)?,
            name(Field::Name)?,
        );
        let status = match reader.limited(Field::Status, 64).map_err(refuse)? {
            None => UserStatus::Active,
            Some(text) => UserStatus::parse(&text).ok_or_else(|| {
                refuse(format!(
                    "status '{text}' is not one of active, inactive, deleted, new"
                ))
            })?,
        };
        let created_at = match reader.limited(Field::CreatedAt, 64).map_err(refuse)? {
            None => None,
            Some(text) => Some(parse_time(&text).ok_or_else(|| {
                refuse(format!("created_at '{text}' is not a time (RFC 3339, 'YYYY-MM-DD HH:MM:SS', a date or Unix seconds)"))
            })?),
        };
        let groups = reader.groups().map_err(refuse)?;
        let password = read_password(&reader, mapping, target, &key).map_err(refuse)?;
        Ok(SourceUser {
            key,
            email,
            phone,
            given_name,
            family_name,
            name,
            status,
            created_at,
            groups,
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
        payload
    }

    fn metadata(&self) -> Map<String, Value> {
        let groups = self.groups.iter().cloned().map(Value::String).collect();
        Map::from_iter([("groups".to_string(), Value::Array(groups))])
    }
}

/// Reads mapped fields of one record: constants first, then the column, then the default.
struct FieldReader<'a, L> {
    mapping: &'a Mapping,
    fields: &'a L,
}

impl<'a, L: Lookup> FieldReader<'a, L> {
    /// The trimmed, non-empty value of a source column.
    fn column(&self, column: &str) -> Option<Cow<'a, str>> {
        non_empty(self.fields.get(column)?)
    }

    /// The value of a field, `None` when empty everywhere.
    fn value(&self, field: Field) -> Option<Cow<'a, str>> {
        if let Some(constant) = self.mapping.constant(field) {
            return non_empty(Cow::Borrowed(constant));
        }
        self.mapping
            .column(field)
            .and_then(|column| self.column(column))
            .or_else(|| {
                self.mapping
                    .default_value(field)
                    .and_then(|d| non_empty(Cow::Borrowed(d)))
            })
    }

    /// The value of a field, refused when over `limit` bytes (the value is not echoed).
    fn limited(&self, field: Field, limit: usize) -> Result<Option<Cow<'a, str>>, String> {
        match self.value(field) {
            Some(v) if v.len() > limit => Err(format!(
                "{} is {} bytes, over the {limit}-byte limit",
                field.name(),
                v.len()
            )),
            other => Ok(other),
        }
    }

    /// A boolean flag; empty is false.
    fn flag(&self, field: Field) -> Result<bool, String> {
        let Some(text) = self.limited(field, 16)? else {
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
