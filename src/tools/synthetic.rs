//! Synthetic users with all their records, for benchmarks, tests and
//! rehearsals against the reference server.
//!
//! User `n` has key `user-n`, an email identifier `User.n@Example.com`, a
//! verified email address, a mobile address, and a salted SHA-256 password
//! hash of `password-n` (H(password ‖ salt), salt embedded after the digest,
//! as [`crate::contract::choices`] defines). Ids are derived with
//! [`crate::mapping::ids`], so the same range always gives the same body and
//! a resend is a true duplicate.

use std::ops::Range;

use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::OffsetDateTime;

use crate::contract::choices::encode_bytes;
use crate::contract::records::{
    AddressStatus, AddressType, CredentialPayload, CredentialState, CredentialType, DigestFunction,
    HashConfig, HashMethod, HashedPassword, IdentifierType, ImportBody, Object,
    PreferredContactMethod, ShaConfig, User, UserCredential, UserIdentifier, UserStatus,
    UserVerifiableAddress,
};
use crate::mapping::ids::{IdScope, RecordKind};

/// The fixed time every synthetic record was "created".
const CREATED: OffsetDateTime = datetime!(2024-01-15 09:30:00 UTC);

/// Users `range` of `tenant`/`pool`, each with one credential, one
/// identifier and two addresses.
pub fn users(tenant: &str, pool: &str, range: Range<u64>) -> ImportBody {
    let scope = IdScope::new(tenant, pool);
    let mut body = ImportBody::default();
    for n in range {
        add_user(&mut body, &scope, tenant, pool, n);
    }
    body
}

fn add_user(body: &mut ImportBody, scope: &IdScope, tenant: &str, pool: &str, n: u64) {
    let key = format!("user-{n}");
    let user_id = scope.user(&key);
    let email = format!("User.{n}@Example.com");
    let email_lc = email.to_lowercase();
    let mobile = format!("+1555{:07}", n % 10_000_000);
    let mut payload = Object::new();
    payload.insert("name".into(), format!("User {n}").into());
    payload.insert("given_name".into(), "User".into());
    payload.insert("family_name".into(), n.to_string().into());
    let mut metadata = Object::new();
    metadata.insert("groups".into(), serde_json::json!(["imported"]));
    body.users.push(User {
        id: user_id,
        tenant_id: tenant.into(),
        user_pool_id: pool.into(),
        status: UserStatus::Active,
        payload: Some(payload),
        payload_schema_id: None,
        metadata: Some(metadata),
        metadata_schema_id: None,
        business_metadata: None,
        business_metadata_schema_id: None,
        user_type: None,
        created_at: Some(CREATED),
        updated_at: Some(CREATED),
        status_updated_at: None,
    });
    body.user_credentials.push(UserCredential {
        id: scope.password(&key),
        tenant_id: tenant.into(),
        user_pool_id: pool.into(),
        user_id,
        kind: CredentialType::Password,
        payload: CredentialPayload {
            hashed_password: Some(password_hash(n)),
            other: Object::new(),
        },
        state: Some(CredentialState::Valid),
        expires_at: None,
        created_at: CREATED,
        updated_at: CREATED,
    });
    body.user_identifiers.push(UserIdentifier {
        id: scope.contact(RecordKind::EmailIdentifier, &key, 0),
        tenant_id: tenant.into(),
        user_pool_id: pool.into(),
        user_id,
        kind: IdentifierType::Email,
        identifier: email.clone(),
        identifier_lc: email_lc.clone(),
        metadata: None,
        created_at: CREATED,
        updated_at: CREATED,
    });
    body.user_verifiable_addresses.push(UserVerifiableAddress {
        id: scope.contact(RecordKind::EmailAddress, &key, 0),
        tenant_id: tenant.into(),
        user_pool_id: pool.into(),
        user_id,
        kind: AddressType::Email,
        address: email,
        address_lc: email_lc,
        status: AddressStatus::Active,
        verified: true,
        verified_at: Some(CREATED),
        preferred_contact_method: None,
        metadata: None,
        created_at: CREATED,
        updated_at: CREATED,
    });
    body.user_verifiable_addresses.push(UserVerifiableAddress {
        id: scope.contact(RecordKind::MobileAddress, &key, 0),
        tenant_id: tenant.into(),
        user_pool_id: pool.into(),
        user_id,
        kind: AddressType::Mobile,
        address: mobile.clone(),
        address_lc: mobile,
        status: AddressStatus::Active,
        verified: false,
        verified_at: None,
        preferred_contact_method: Some(PreferredContactMethod::Sms),
        metadata: None,
        created_at: CREATED,
        updated_at: CREATED,
    });
}

/// SHA-256 of `password-n` ‖ salt, with the 8-byte salt after the digest.
fn password_hash(n: u64) -> HashedPassword {
    let salt = n.to_be_bytes();
    let mut hasher = Sha256::new();
    hasher.update(format!("password-{n}").as_bytes());
    hasher.update(salt);
    let mut value = hasher.finalize().to_vec();
    value.extend_from_slice(&salt);
    HashedPassword {
        config: HashConfig {
            method: HashMethod::Sha,
            bcrypt: None,
            pbkdf2: None,
            argon2: None,
            sha: Some(ShaConfig {
                function: DigestFunction::Sha256,
                salt: None,
                salt_length: 8,
                salt_after_digest_in_hash: true,
            }),
            md5: None,
        },
        value: encode_bytes(&value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::validate;

    #[test]
    fn synthetic_users_pass_validation() {
        let body = users("demo", "default", 0..50);
        assert_eq!(body.users.len(), 50);
        assert_eq!(body.user_verifiable_addresses.len(), 100);
        let bytes = serde_json::to_vec(&body).unwrap();
        let parsed = validate::parse(&bytes).unwrap();
        assert_eq!(parsed, body);
        assert!(validate::validate(
            "demo",
            parsed,
            crate::contract::choices::SaltConvention::Text
        )
        .is_ok());
    }
}
