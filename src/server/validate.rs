//! Parsing and validating an import body, before the database is touched.
//!
//! Parsing takes a fast path first: the whole body straight into the
//! contract's [`ImportBody`]. Only when that fails is the body parsed again
//! with `serde_path_to_error`, which finds the array, the record index and the
//! field of the first problem; a valid body is therefore parsed once.
//!
//! The contract's types have exactly the fields of the platform's
//! description and refuse any other ([`crate::contract::records`]), so a
//! field the description does not define, at the top of the body or inside
//! any record, is a 400 that names it (`details.field`), as is a collection
//! it does not define.
//!
//! [`validate`] then checks what types cannot: every record names the URL's
//! tenant (403 otherwise), ids are unique per array, identifiers and addresses
//! follow the contract's rules ([`crate::contract::rules`]) with `*_lc` their
//! lower-cased value, sub-records of a user in the same request share its
//! pool, and password hashes are well formed ([`super::hashcheck`]). `codes`
//! is refused whole: one-time codes are secrets of the old tenant. What
//! needs the stored data (pools exist, `user_id` of a stored user, a
//! membership's group, conflicts) is checked by the store inside the
//! request's transaction.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::hashcheck;
use super::rejection::{RecordRef, Rejection, RejectionKind};
use crate::contract::choices::SaltConvention;
use crate::contract::records::{
    AddressType, CredentialType, Group, GroupMember, IdentifierType, ImportBody, Pool,
    PreferredContactMethod, Schema, UserCredential, UserIdentifier, UserVerifiableAddress,
};
use crate::contract::rules::{check_email, is_e164, is_printable_ascii_token, MAX_FIELD_BYTES};
use crate::contract::strict::{self, Strict};

/// Array names of the import body.
pub const POOLS: &str = "pools";
/// Array names of the import body.
pub const USERS: &str = "users";
/// Array names of the import body.
pub const CREDENTIALS: &str = "user_credentials";
/// Array names of the import body.
pub const IDENTIFIERS: &str = "user_identifiers";
/// Array names of the import body.
pub const ADDRESSES: &str = "user_verifiable_addresses";
/// Array names of the import body.
pub const SCHEMAS: &str = "schemas";
/// Array names of the import body.
pub const GROUPS: &str = "groups";
/// Array names of the import body.
pub const GROUP_MEMBERS: &str = "group_members";
/// Array names of the import body: refused whenever it holds a record.
pub const CODES: &str = "codes";

/// An import body that passed every check that does not need the database.
#[derive(Debug)]
pub struct ValidBatch {
    /// The records, as parsed.
    pub body: ImportBody,
    /// Every pool the records use, with the first record that uses it (named
    /// in the 404 if the pool does not exist).
    pub pools_used: Vec<(String, RecordRef)>,
}

/// Parses a body; on failure, names the array, index and field of the problem.
/// Records are read as JSON objects only ([`strict`]).
pub fn parse(bytes: &[u8]) -> Result<ImportBody, Rejection> {
    strict::from_slice(bytes).map_err(|_| locate_parse_error(bytes))
}

/// Parses again, tracking the path, to say where the first problem is.
fn locate_parse_error(bytes: &[u8]) -> Rejection {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let err = match serde_path_to_error::deserialize::<_, ImportBody>(Strict(&mut de)) {
        Err(err) => err,
        Ok(_) => match de.end() {
            Err(end) => return invalid_json(None, None, end.to_string()),
            Ok(()) => return invalid_json(None, None, "cannot be parsed".to_owned()),
        },
    };
    let mut array = None;
    let mut index = None;
    let mut fields = Vec::new();
    for segment in err.path().iter() {
        match segment {
            serde_path_to_error::Segment::Map { key } if array.is_none() => {
                array = Some(key.clone())
            }
            serde_path_to_error::Segment::Seq { index: i } if index.is_none() => index = Some(*i),
            serde_path_to_error::Segment::Map { key } => fields.push(key.clone()),
            serde_path_to_error::Segment::Seq { index: i } => fields.push(i.to_string()),
            serde_path_to_error::Segment::Enum { variant } => fields.push(variant.clone()),
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    let message = err.inner().to_string();
    // A key at the top of the body is a field, not an array of records.
    if index.is_none() {
        if let Some(top) = array.take() {
            fields.insert(0, top);
        }
    }
    // A field name is never secret: name a missing or an unknown one.
    let named = missing_field(&message).or_else(|| unknown_field(&message));
    if let Some(name) = named {
        if fields.last().map(String::as_str) != Some(name) {
            fields.push(name.to_owned());
        }
    }
    let field = (!fields.is_empty()).then(|| fields.join("."));
    let secret = array.as_deref() == Some(CREDENTIALS)
        && field.as_deref().is_some_and(|f| f.starts_with("payload"));
    let reason = if secret && named.is_none() {
        // serde quotes the offending value; a credential payload's values are secret.
        "has an invalid type or value (not echoed: credential payloads are secret)".to_owned()
    } else {
        message
    };
    let record = array.zip(index).map(|(array, index)| RecordRef {
        array,
        index,
        id: None,
    });
    invalid_json(record, field, reason)
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

/// The field serde's `deny_unknown_fields` names: "unknown field `x`, expected ...".
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

fn invalid_json(record: Option<RecordRef>, field: Option<String>, reason: String) -> Rejection {
    Rejection {
        kind: RejectionKind::Invalid,
        record,
        field,
        reason,
    }
}

/// Checks a parsed body against the contract for tenant `tenant`; see the module docs.
pub fn validate(
    tenant: &str,
    mut body: ImportBody,
    salt: SaltConvention,
) -> Result<ValidBatch, Rejection> {
    refuse_codes(&body)?;
    derive_lower_cased(&mut body);
    check_tenants(tenant, &body)?;
    check_pools(&body.pools)?;
    check_schemas(&body.schemas)?;
    let user_pools = check_users(&body)?;
    let links = Links { user_pools };
    check_credentials(&body.user_credentials, &links, salt)?;
    check_identifiers(&body.user_identifiers, &links)?;
    check_addresses(&body.user_verifiable_addresses, &links)?;
    check_groups(&body.groups)?;
    check_group_members(&body.group_members, &links)?;
    let pools_used = pools_used(&body);
    Ok(ValidBatch { body, pools_used })
}

/// 400 for a body with one-time codes: they are secrets of the old tenant
/// (an activation or reset code mailed to a user there), so a new tenant
/// has no use for them, and a migration should not carry them. An empty
/// `codes` array carries nothing and is accepted.
fn refuse_codes(body: &ImportBody) -> Result<(), Rejection> {
    if body.codes.is_empty() {
        return Ok(());
    }
    Err(Rejection {
        kind: RejectionKind::Invalid,
        record: Some(RecordRef {
            array: CODES.to_owned(),
            index: 0,
            id: None,
        }),
        field: None,
        reason: "is refused: one-time codes are secrets of the old tenant and are not imported"
            .to_owned(),
    })
}

/// Fills the `identifier_lc` and `address_lc` a body leaves out (or empty)
/// with the lower-cased value. The platform's 2022 description has no `*_lc`
/// fields and its migration guide's sample sends none; the 2025 description
/// requires them. A value that is given is checked, never replaced.
fn derive_lower_cased(body: &mut ImportBody) {
    for record in &mut body.user_identifiers {
        if record.identifier_lc.is_empty() {
            record.identifier_lc = record.identifier.to_lowercase();
        }
    }
    for record in &mut body.user_verifiable_addresses {
        if record.address_lc.is_empty() {
            record.address_lc = record.address.to_lowercase();
        }
    }
}

/// 403 for the first record whose `tenant_id` is not the URL's tenant.
fn check_tenants(tenant: &str, body: &ImportBody) -> Result<(), Rejection> {
    let wrong = |array: &str, index: usize, id: String| {
        Rejection::field(
            RejectionKind::WrongTenant,
            RecordRef::new(array, index, id),
            "tenant_id",
            "names another tenant than the request's URL",
        )
    };
    for (i, pool) in body.pools.iter().enumerate() {
        if pool.tenant_id != tenant {
            return Err(wrong(POOLS, i, pool_id(pool).to_owned()));
        }
    }
    for (i, user) in body.users.iter().enumerate() {
        if user.tenant_id != tenant {
            return Err(wrong(USERS, i, user.id.to_string()));
        }
    }
    for (i, record) in body.user_credentials.iter().enumerate() {
        if record.tenant_id != tenant {
            return Err(wrong(CREDENTIALS, i, record.id.to_string()));
        }
    }
    for (i, record) in body.user_identifiers.iter().enumerate() {
        if record.tenant_id != tenant {
            return Err(wrong(IDENTIFIERS, i, record.id.to_string()));
        }
    }
    for (i, record) in body.user_verifiable_addresses.iter().enumerate() {
        if record.tenant_id != tenant {
            return Err(wrong(ADDRESSES, i, record.id.to_string()));
        }
    }
    for (i, record) in body.schemas.iter().enumerate() {
        if record.tenant_id != tenant {
            return Err(wrong(SCHEMAS, i, record.id.clone()));
        }
    }
    for (i, record) in body.groups.iter().enumerate() {
        if record.tenant_id != tenant {
            return Err(wrong(GROUPS, i, record.id.clone()));
        }
    }
    for (i, record) in body.group_members.iter().enumerate() {
        if record.tenant_id != tenant {
            return Err(wrong(GROUP_MEMBERS, i, record.user_id.to_string()));
        }
    }
    Ok(())
}

/// The id a pool is stored under: its `id`, or its `name` when the id is absent.
pub fn pool_id(pool: &Pool) -> &str {
    pool.id.as_deref().unwrap_or(&pool.name)
}

fn check_pools(pools: &[Pool]) -> Result<(), Rejection> {
    let mut seen = HashSet::new();
    for (i, pool) in pools.iter().enumerate() {
        let id = pool_id(pool);
        let at = || RecordRef::new(POOLS, i, id);
        if pool.name.is_empty() {
            return Err(invalid(at(), "name", "is empty"));
        }
        if !is_valid_pool_id(id) {
            return Err(invalid(
                at(),
                "id",
                "must be 1 to 128 characters of letters, digits, '-', '_' and '.'",
            ));
        }
        if !seen.insert(id) {
            return Err(invalid(at(), "id", "appears twice in the request"));
        }
    }
    Ok(())
}

fn check_schemas(schemas: &[Schema]) -> Result<(), Rejection> {
    let mut seen = HashSet::new();
    for (i, schema) in schemas.iter().enumerate() {
        let at = || RecordRef::new(SCHEMAS, i, schema.id.as_str());
        check_key(&schema.id, at)?;
        if schema.name.is_empty() {
            return Err(invalid(at(), "name", "is empty"));
        }
        if !seen.insert(schema.id.as_str()) {
            return Err(invalid(at(), "id", "appears twice in the request"));
        }
    }
    Ok(())
}

fn check_groups(groups: &[Group]) -> Result<(), Rejection> {
    let mut seen = HashSet::new();
    for (i, group) in groups.iter().enumerate() {
        let at = || RecordRef::new(GROUPS, i, group.id.as_str());
        check_key(&group.id, at)?;
        if group.user_pool_id.is_empty() {
            return Err(invalid(at(), "user_pool_id", "is empty"));
        }
        if !seen.insert((group.user_pool_id.as_str(), group.id.as_str())) {
            return Err(invalid(
                at(),
                "id",
                "appears twice in the pool in the request",
            ));
        }
    }
    Ok(())
}

fn check_group_members(members: &[GroupMember], links: &Links<'_>) -> Result<(), Rejection> {
    let mut seen = HashSet::new();
    for (i, member) in members.iter().enumerate() {
        let at = || RecordRef::new(GROUP_MEMBERS, i, member.user_id);
        check_key(&member.group_id, at).map_err(|mut r| {
            r.field = Some("group_id".to_owned());
            r
        })?;
        links.check(at, member.user_id, &member.user_pool_id)?;
        if !seen.insert((member.user_id, member.group_id.as_str())) {
            return Err(invalid(
                at(),
                "group_id",
                "names a group the user is in twice in the request",
            ));
        }
    }
    Ok(())
}

/// A text key (of a schema, a group): not empty, and not longer than any field.
fn check_key(key: &str, at: impl Fn() -> RecordRef) -> Result<(), Rejection> {
    if key.is_empty() {
        Err(invalid(at(), "id", "is empty"))
    } else if key.len() > MAX_FIELD_BYTES {
        Err(invalid(at(), "id", "is longer than 4096 bytes"))
    } else {
        Ok(())
    }
}

/// Pool ids appear in URLs and query strings: the same alphabet as tenant ids.
fn is_valid_pool_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Checks users and returns the pool of each user of the request.
fn check_users(body: &ImportBody) -> Result<HashMap<Uuid, &str>, Rejection> {
    let mut pools = HashMap::with_capacity(body.users.len());
    for (i, user) in body.users.iter().enumerate() {
        let at = || RecordRef::new(USERS, i, user.id);
        check_id(user.id, at)?;
        if user.user_pool_id.is_empty() {
            return Err(invalid(at(), "user_pool_id", "is empty"));
        }
        if pools.insert(user.id, user.user_pool_id.as_str()).is_some() {
            return Err(invalid(at(), "id", "appears twice in the request"));
        }
    }
    Ok(pools)
}

/// What sub-records are checked against: the users of the request.
struct Links<'a> {
    /// Pool of each user of the request.
    user_pools: HashMap<Uuid, &'a str>,
}

impl Links<'_> {
    /// A sub-record of a user of the request must be in that user's pool.
    /// A `user_id` not in the request is checked by the store.
    fn check(
        &self,
        at: impl Fn() -> RecordRef,
        user_id: Uuid,
        pool: &str,
    ) -> Result<(), Rejection> {
        match self.user_pools.get(&user_id) {
            Some(user_pool) if *user_pool != pool => Err(invalid(
                at(),
                "user_pool_id",
                "differs from the pool of the user it belongs to",
            )),
            _ => Ok(()),
        }
    }
}

fn check_credentials(
    records: &[UserCredential],
    links: &Links<'_>,
    salt: SaltConvention,
) -> Result<(), Rejection> {
    let mut ids = HashSet::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let at = || RecordRef::new(CREDENTIALS, i, record.id);
        check_id(record.id, at)?;
        if !ids.insert(record.id) {
            return Err(invalid(at(), "id", "appears twice in the request"));
        }
        links.check(at, record.user_id, &record.user_pool_id)?;
        match (&record.kind, &record.payload.hashed_password) {
            (CredentialType::Password, None) => {
                return Err(invalid(
                    at(),
                    "payload.hashed_password",
                    "is required for a password credential",
                ))
            }
            (_, Some(hash)) => hashcheck::check(hash, salt).map_err(|(field, reason)| {
                invalid(at(), format!("payload.hashed_password.{field}"), reason)
            })?,
            (_, None) => {}
        }
    }
    Ok(())
}

fn check_identifiers(records: &[UserIdentifier], links: &Links<'_>) -> Result<(), Rejection> {
    let mut ids = HashSet::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let at = || RecordRef::new(IDENTIFIERS, i, record.id);
        check_id(record.id, at)?;
        if !ids.insert(record.id) {
            return Err(invalid(at(), "id", "appears twice in the request"));
        }
        links.check(at, record.user_id, &record.user_pool_id)?;
        let rule = match record.kind {
            IdentifierType::Email => check_email(&record.identifier).err(),
            IdentifierType::Mobile => (!is_e164(&record.identifier))
                .then_some("is not an E.164 number (+ and 8 to 15 digits)"),
            IdentifierType::Uid | IdentifierType::External => {
                (!is_printable_ascii_token(&record.identifier))
                    .then_some("must be printable ASCII without spaces")
            }
            IdentifierType::Federated => record.identifier.is_empty().then_some("is empty"),
        };
        if let Some(reason) = rule {
            return Err(invalid(at(), "identifier", reason));
        }
        if record.identifier.len() > MAX_FIELD_BYTES {
            return Err(invalid(at(), "identifier", "is longer than 4096 bytes"));
        }
        if !is_lowercase_of(&record.identifier, &record.identifier_lc) {
            return Err(invalid(
                at(),
                "identifier_lc",
                "is not the lower-cased identifier",
            ));
        }
    }
    Ok(())
}

fn check_addresses(records: &[UserVerifiableAddress], links: &Links<'_>) -> Result<(), Rejection> {
    let mut ids = HashSet::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let at = || RecordRef::new(ADDRESSES, i, record.id);
        check_id(record.id, at)?;
        if !ids.insert(record.id) {
            return Err(invalid(at(), "id", "appears twice in the request"));
        }
        links.check(at, record.user_id, &record.user_pool_id)?;
        let rule = match record.kind {
            AddressType::Email => check_email(&record.address).err(),
            AddressType::Mobile => (!is_e164(&record.address))
                .then_some("is not an E.164 number (+ and 8 to 15 digits)"),
        };
        if let Some(reason) = rule {
            return Err(invalid(at(), "address", reason));
        }
        if !is_lowercase_of(&record.address, &record.address_lc) {
            return Err(invalid(
                at(),
                "address_lc",
                "is not the lower-cased address",
            ));
        }
        if record.kind == AddressType::Email && record.preferred_contact_method.is_some() {
            let method = record.preferred_contact_method.map(|m| match m {
                PreferredContactMethod::Sms => "sms",
                PreferredContactMethod::Voice => "voice",
            });
            return Err(invalid(
                at(),
                "preferred_contact_method",
                format!(
                    "is {} but an email address has no contact method",
                    method.unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// The nil UUID is not an id.
fn check_id(id: Uuid, at: impl Fn() -> RecordRef) -> Result<(), Rejection> {
    if id.is_nil() {
        Err(invalid(at(), "id", "is the nil UUID"))
    } else {
        Ok(())
    }
}

/// Whether `lc` is `value` lower-cased; ASCII (the common case) without allocating.
fn is_lowercase_of(value: &str, lc: &str) -> bool {
    if value.is_ascii() {
        value.len() == lc.len()
            && value
                .bytes()
                .zip(lc.bytes())
                .all(|(v, l)| v.to_ascii_lowercase() == l)
    } else {
        value.to_lowercase() == lc
    }
}

/// Every distinct pool the records use, in order of first use.
fn pools_used(body: &ImportBody) -> Vec<(String, RecordRef)> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut used = Vec::new();
    let users = body
        .users
        .iter()
        .map(|r| (r.user_pool_id.as_str(), USERS, r.id));
    let credentials = body
        .user_credentials
        .iter()
        .map(|r| (r.user_pool_id.as_str(), CREDENTIALS, r.id));
    let identifiers = body
        .user_identifiers
        .iter()
        .map(|r| (r.user_pool_id.as_str(), IDENTIFIERS, r.id));
    let addresses = body
        .user_verifiable_addresses
        .iter()
        .map(|r| (r.user_pool_id.as_str(), ADDRESSES, r.id));
    for (index, (pool, array, id)) in users.enumerate() {
        note_pool(&mut seen, &mut used, pool, || {
            RecordRef::new(array, index, id)
        });
    }
    for (index, (pool, array, id)) in credentials.enumerate() {
        note_pool(&mut seen, &mut used, pool, || {
            RecordRef::new(array, index, id)
        });
    }
    for (index, (pool, array, id)) in identifiers.enumerate() {
        note_pool(&mut seen, &mut used, pool, || {
            RecordRef::new(array, index, id)
        });
    }
    for (index, (pool, array, id)) in addresses.enumerate() {
        note_pool(&mut seen, &mut used, pool, || {
            RecordRef::new(array, index, id)
        });
    }
    for (index, group) in body.groups.iter().enumerate() {
        note_pool(&mut seen, &mut used, &group.user_pool_id, || {
            RecordRef::new(GROUPS, index, group.id.as_str())
        });
    }
    for (index, member) in body.group_members.iter().enumerate() {
        note_pool(&mut seen, &mut used, &member.user_pool_id, || {
            RecordRef::new(GROUP_MEMBERS, index, member.user_id)
        });
    }
    used
}

fn note_pool<'a>(
    seen: &mut HashSet<&'a str>,
    used: &mut Vec<(String, RecordRef)>,
    pool: &'a str,
    at: impl FnOnce() -> RecordRef,
) {
    if seen.insert(pool) {
        used.push((pool.to_owned(), at()));
    }
}

fn invalid(at: RecordRef, field: impl Into<String>, reason: impl Into<String>) -> Rejection {
    Rejection::field(RejectionKind::Invalid, at, field, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn user(id: &str) -> Value {
        json!({"id": id, "tenant_id": "t", "user_pool_id": "default", "status": "active"})
    }

    const U1: &str = "5f0c8a52-3b7e-4c1a-9d2e-7a1b2c3d4e5f";
    const I1: &str = "6f0c8a52-3b7e-4c1a-9d2e-7a1b2c3d4e5f";

    fn identifier(kind: &str, value: &str, lc: &str) -> Value {
        json!({"id": I1, "tenant_id": "t", "user_pool_id": "default", "user_id": U1,
               "type": kind, "identifier": value, "identifier_lc": lc,
               "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"})
    }

    fn check(body: Value) -> Result<ValidBatch, Rejection> {
        let body = parse(body.to_string().as_bytes())?;
        validate("t", body, SaltConvention::Base64)
    }

    #[test]
    fn lower_cased_values_the_body_leaves_out_are_derived_and_given_ones_checked() {
        let mut without = identifier("email", "Ann@Example.com", "");
        without.as_object_mut().unwrap().remove("identifier_lc");
        let address = json!({"id": "7f0c8a52-3b7e-4c1a-9d2e-7a1b2c3d4e5f", "tenant_id": "t",
            "user_pool_id": "default", "user_id": U1, "type": "email",
            "address": "Ann@Example.com", "status": "active", "verified": true,
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"});
        let batch = check(json!({"users": [user(U1)], "user_identifiers": [without],
            "user_verifiable_addresses": [address]}))
        .unwrap();
        assert_eq!(
            batch.body.user_identifiers[0].identifier_lc,
            "ann@example.com"
        );
        assert_eq!(
            batch.body.user_verifiable_addresses[0].address_lc,
            "ann@example.com"
        );
        let wrong = identifier("email", "Ann@Example.com", "bob@example.com");
        let err = check(json!({"users": [user(U1)], "user_identifiers": [wrong]})).unwrap_err();
        assert!(format!("{err:?}").contains("identifier_lc"), "{err:?}");
    }

    #[test]
    fn parse_errors_name_array_index_and_field() {
        let mut bad = user(U1);
        bad["status"] = json!("sleeping");
        let r = check(json!({"users": [user(I1), bad]})).unwrap_err();
        assert_eq!(r.kind, RejectionKind::Invalid);
        assert_eq!(
            r.record.as_ref().map(|r| (r.array.as_str(), r.index)),
            Some(("users", 1))
        );
        assert_eq!(r.field.as_deref(), Some("status"));

        let mut missing = user(U1);
        missing.as_object_mut().unwrap().remove("user_pool_id");
        let r = check(json!({"users": [missing]})).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("user_pool_id"));

        let r = check(json!({"users": [user("not-a-uuid")]})).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("id"));

        let r = parse(b"{\"users\": [").unwrap_err();
        assert_eq!(r.kind, RejectionKind::Invalid);
    }

    #[test]
    fn credential_payload_values_are_not_echoed() {
        let body = json!({"user_credentials": [{
            "id": I1, "tenant_id": "t", "user_pool_id": "default", "user_id": U1,
            "type": "password",
            "payload": {"hashed_password": {"config": {"method": "sha"}, "value": ["TOPSECRETHASH"]}},
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}]});
        let r = check(body).unwrap_err();
        assert!(!r.to_string().contains("TOPSECRETHASH"), "{r}");
        assert_eq!(r.record.map(|r| r.array), Some(CREDENTIALS.to_owned()));
    }

    #[test]
    fn costly_hashes_are_refused_with_the_bound() {
        let credential = |iterations: u32| {
            json!({"user_credentials": [{
                "id": I1, "tenant_id": "t", "user_pool_id": "default", "user_id": U1,
                "type": "password",
                "payload": {"hashed_password": {
                    "config": {"method": "pbkdf2", "pbkdf2": {
                        "function": "SHA-256", "number_of_iterations": iterations,
                        "key_length": 4, "salt": "c2FsdA==", "salt_length": 4}},
                    "value": "aGFzaA=="}},
                "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}]})
        };
        assert!(check(credential(10_000_000)).is_ok());
        let r = check(credential(u32::MAX)).unwrap_err();
        assert_eq!(r.kind, RejectionKind::Invalid);
        assert_eq!(
            r.field.as_deref(),
            Some("payload.hashed_password.config.pbkdf2.number_of_iterations")
        );
        assert!(r.reason.contains("bound of 10000000"), "{r}");
    }

    #[test]
    fn wrong_tenant_is_403_kind() {
        let mut other = user(U1);
        other["tenant_id"] = json!("someone-else");
        let r = check(json!({"users": [other]})).unwrap_err();
        assert_eq!(r.kind, RejectionKind::WrongTenant);
        assert_eq!(r.field.as_deref(), Some("tenant_id"));
    }

    #[test]
    fn identifier_rules() {
        let ok = json!({"users": [user(U1)], "user_identifiers": [identifier("email", "Jane@Example.com", "jane@example.com")]});
        assert!(check(ok).is_ok());
        for (kind, value, lc, field) in [
            ("email", "not-an-email", "not-an-email", "identifier"),
            (
                "email",
                "Jane@Example.com",
                "Jane@Example.com",
                "identifier_lc",
            ),
            ("mobile", "+1 415 555 0100", "+1 415 555 0100", "identifier"),
            ("uid", "has space", "has space", "identifier"),
        ] {
            let body =
                json!({"users": [user(U1)], "user_identifiers": [identifier(kind, value, lc)]});
            let r = check(body).unwrap_err();
            assert_eq!(r.field.as_deref(), Some(field), "{kind} {value}");
            assert!(!r.to_string().contains(value), "{r}");
        }
    }

    #[test]
    fn duplicates_and_pool_mismatch() {
        let r = check(json!({"users": [user(U1), user(U1)]})).unwrap_err();
        assert_eq!(r.record.map(|r| r.index), Some(1));
        let mut ident = identifier("uid", "jdoe", "jdoe");
        ident["user_pool_id"] = json!("other");
        let r = check(json!({"users": [user(U1)], "user_identifiers": [ident]})).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("user_pool_id"));
    }

    #[test]
    fn pools_used_are_collected_once() {
        let batch = check(json!({"users": [user(U1), user(I1)]})).unwrap();
        assert_eq!(batch.pools_used.len(), 1);
        assert_eq!(batch.pools_used[0].0, "default");
    }
}
