//! A dump whose records have every field the platform's description
//! defines (`codes` aside, which `ferry serve` refuses), all valid: what a
//! round trip through `PUT` and `GET /configuration` must keep whole.
//! [`super::spec::uncovered_fields`] proves it has every field.

use serde_json::{json, Value};

/// The pool every record of [`dump`] is in.
pub const POOL: &str = "full";
/// The user of [`dump`].
pub const USER: &str = "5f0c8a52-3b7e-4c1a-9d2e-7a1b2c3d4e5f";
/// A bcrypt hash (cost 4) of `correct horse battery staple`.
const BCRYPT: &str = "$2b$04$1RgTRg/rR0atxq8Jj6o29Ob.l.L13CPxeVghaDOA14m6C92iHBx.u";
const T0: &str = "2024-01-02T03:04:05Z";

fn otp() -> Value {
    json!({"length": 6, "ttl": "5m0s"})
}

/// The pool, with every setting.
pub fn pool(tenant: &str) -> Value {
    let mut pool = json!({
        "id": POOL, "tenant_id": tenant, "name": "Full", "description": "every field",
        "metadata": {"region": "eu", "tier": {"level": 2}},
        "payload_schema_id": "user_v0", "metadata_schema_id": "meta_v0",
        "business_metadata_schema_id": "biz_v0", "identifier_case_insensitive": true,
        "authentication_mechanisms": ["password", "otp", "email_otp", "sms_otp", "webauthn", "totp"],
        "preferred_authentication_mechanism": "password",
        "second_factor_authentication_mechanisms": ["totp"],
        "second_factor_preferred_authentication_mechanism": "totp",
        "second_factor_threshold": 0.5, "mfa_session_ttl": "1h0m0s",
        "otp_settings": {"activation": otp(), "authentication": otp(), "challenge": otp(),
            "enroll_webauthn": otp(), "reset_password": otp(), "reset_totp": otp(),
            "verify_address": otp()},
        "password_settings": {"expires_after": "2160h0m0s", "hashing_method": "bcrypt"}
    });
    extend(
        &mut pool,
        json!({
            "password_policy": {"capital_letters": 1, "digits": 1, "lowercase_letters": 1,
                "min_length": 8, "not_used_since": 3, "special_characters": 1, "strength": "fair"},
            "reset_credentials_settings": {"do_not_allow_users_to_self_reset_credentials": false},
            "public_registration_allowed": false, "badge_color": "#336699", "deleted": false,
            "system": false, "workspace_id": "default"
        }),
    );
    pool
}

/// A schema using every keyword the platform supports.
pub fn schema(tenant: &str) -> Value {
    let leaf = json!({"type": "string"});
    let mut keywords = json!({
        "type": "object", "title": "User", "description": "a user",
        "additionalProperties": false, "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100,
            "pattern": "^.+$", "hidden": false}},
        "patternProperties": {"^x-": leaf}, "propertyNames": {"maxLength": 64},
        "dependentRequired": {"name": ["family_name"]},
        "dependentSchemas": {"name": leaf},
        "minProperties": 1, "maxProperties": 50
    });
    extend(
        &mut keywords,
        json!({
            "allOf": [leaf], "anyOf": [leaf], "oneOf": [leaf], "not": {"type": "null"},
            "if": {"required": ["name"]}, "then": {"minProperties": 1}, "else": {"maxProperties": 9},
            "items": leaf, "contains": leaf, "minContains": 1, "maxContains": 3,
            "minItems": 0, "maxItems": 10, "uniqueItems": true
        }),
    );
    extend(
        &mut keywords,
        json!({
            "minimum": 0, "maximum": 10, "exclusiveMinimum": -1, "exclusiveMaximum": 11,
            "multipleOf": 1, "enum": ["a", "b"], "const": "a",
            "minLength": 1, "pattern": "^.+$", "hidden": false
        }),
    );
    json!({
        "id": "user_v0", "tenant_id": tenant, "name": "User", "description": "people",
        "system": false, "created_at": T0, "updated_at": T0, "schema": keywords
    })
}

/// Every record of the dump, for `tenant`.
pub fn dump(tenant: &str) -> Value {
    let at =
        |id: &str| json!({"id": id, "tenant_id": tenant, "user_pool_id": POOL, "user_id": USER});
    let mut credential = at("6f0c8a52-3b7e-4c1a-9d2e-7a1b2c3d4e5f");
    extend(
        &mut credential,
        json!({
            "type": "password", "state": "valid", "expires_at": "2030-01-01T00:00:00Z",
            "created_at": T0, "updated_at": T0,
            "payload": {"hashed_password": {"value": BCRYPT, "config": {
                "method": "bcrypt", "bcrypt": {"cost": 4},
                "pbkdf2": {"function": "SHA-256", "number_of_iterations": 1000, "key_length": 32,
                    "salt": "c2FsdA==", "salt_length": 4},
                "argon2": {"iterations": 2, "memory_in_kb": 19456, "parallelism": 1,
                    "key_length": 32, "salt": "c2FsdA==", "salt_length": 4},
                "sha": {"function": "SHA-256", "salt": "c2FsdA==", "salt_length": 4,
                    "salt_after_digest_in_hash": false},
                "md5": {"salt": "c2FsdA==", "salt_length": 4, "salt_after_digest_in_hash": true}
            }}}
        }),
    );
    let mut identifier = at("7f0c8a52-3b7e-4c1a-9d2e-7a1b2c3d4e5f");
    extend(
        &mut identifier,
        json!({
            "type": "email", "identifier": "Ann@Example.com", "identifier_lc": "ann@example.com",
            "metadata": {"source": "legacy"}, "created_at": T0, "updated_at": T0
        }),
    );
    let mut address = at("8f0c8a52-3b7e-4c1a-9d2e-7a1b2c3d4e5f");
    extend(
        &mut address,
        json!({
            "type": "mobile", "address": "+14155550100", "address_lc": "+14155550100",
            "status": "active", "verified": true, "verified_at": T0,
            "preferred_contact_method": "sms", "metadata": {"carrier": "x"},
            "created_at": T0, "updated_at": T0
        }),
    );
    json!({
        "pools": [pool(tenant)],
        "schemas": [schema(tenant)],
        "groups": [{"id": "staff", "tenant_id": tenant, "user_pool_id": POOL, "name": "Staff",
            "description": "everyone who works here", "path": "staff"}],
        "group_members": [{"group_id": "staff", "tenant_id": tenant, "user_id": USER,
            "user_pool_id": POOL}],
        "users": [{"id": USER, "tenant_id": tenant, "user_pool_id": POOL, "status": "active",
            "payload": {"name": "Ann", "tags": ["a", 1, null]}, "payload_schema_id": "user_v0",
            "metadata": {"groups": ["staff"]}, "metadata_schema_id": "meta_v0",
            "business_metadata": {"cost_centre": 7}, "business_metadata_schema_id": "biz_v0",
            "user_type": "standard",
            "created_at": T0, "updated_at": T0, "status_updated_at": T0}],
        "user_credentials": [credential],
        "user_identifiers": [identifier],
        "user_verifiable_addresses": [address],
    })
}

fn extend(record: &mut Value, fields: Value) {
    if let (Some(record), Value::Object(fields)) = (record.as_object_mut(), fields) {
        record.extend(fields);
    }
}
