//! Records of the import body, the token answer and the error body.
//!
//! Optional fields are skipped when absent so that a serialised record holds
//! exactly what was set, and free-form objects (`payload`, `metadata`) are
//! `serde_json::Map`s, whose keys serialise in sorted order: the same record
//! always gives the same bytes.
//!
//! Every record type of the dump (the platform's `TenantDump` of the 2025
//! description, `spec/platform/identitysystem-2025-04.yaml`) has exactly the
//! fields its definition has, and refuses any other
//! (`deny_unknown_fields`): a field the platform does not define would be
//! dropped by a real tenant, so a rehearsal must not take it silently. A
//! test holds the types to the description (`tests/spec_conformance.rs`).
//! Where ferry needs more than the description requires (an `id` to match a
//! group by), the field is required here and the docs say so.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

pub use super::identity_schema::{Schema, SupportedJsonSchema};

/// A free-form JSON object (`payload`, `metadata`, ...).
pub type Object = Map<String, Value>;

/// The body of an import (`PUT` of [`crate::contract::api::CONFIGURATION`]),
/// and of the export (`GET` on the same path): the platform's `TenantDump`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// Pools to create; ferry's importer never sends any (the pool must exist).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<Pool>,
    /// Identity schemas of the tenant, which pools and users name by
    /// `payload_schema_id` and `metadata_schema_id`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<Schema>,
    /// Groups of users of a pool (the dump's `InternalGroup`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Which user is in which group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_members: Vec<GroupMember>,
    /// One record per user.
    #[serde(default)]
    pub users: Vec<User>,
    /// Credentials (passwords), linked to their user by `user_id`.
    #[serde(default)]
    pub user_credentials: Vec<UserCredential>,
    /// Sign-in identifiers (email, mobile, ...), linked by `user_id`.
    #[serde(default)]
    pub user_identifiers: Vec<UserIdentifier>,
    /// Contact addresses with their verification state, linked by `user_id`.
    #[serde(default)]
    pub user_verifiable_addresses: Vec<UserVerifiableAddress>,
    /// One-time codes (activation, password reset, ...) of the old tenant,
    /// as the dump's `Code` records, unparsed: `ferry serve` refuses any (they
    /// are secrets of the old tenant, of no use at a new one) and never
    /// exports them, so they are never serialised.
    #[serde(default, skip_serializing)]
    pub codes: Vec<Value>,
}

/// How the target treats records that already exist (matched by `id`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    /// Keep the existing record, insert the new ones. A resent batch is harmless.
    #[default]
    Ignore,
    /// Reject the whole request if any record already exists.
    Fail,
    /// Overwrite existing records with the request's full entries.
    Update,
}

impl ImportMode {
    /// The value of the `mode` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Ignore => "ignore",
            ImportMode::Fail => "fail",
            ImportMode::Update => "update",
        }
    }
}

impl std::fmt::Display for ImportMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ImportMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ignore" => Ok(ImportMode::Ignore),
            "fail" => Ok(ImportMode::Fail),
            "update" => Ok(ImportMode::Update),
            other => Err(format!(
                "unknown mode '{other}' (expected ignore, fail or update)"
            )),
        }
    }
}

/// A user pool of a tenant, with its settings (the dump's `Pool`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Pool id; the reference server uses short names such as `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The tenant the pool belongs to.
    pub tenant_id: String,
    /// Display name; also the id the reference server stores a pool under when
    /// `id` is absent.
    pub name: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form technical attributes of the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Object>,
    /// Id of the schema the pool's users' `payload` follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_schema_id: Option<String>,
    /// Id of the schema the pool's users' `metadata` follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_schema_id: Option<String>,
    /// Id of the schema the pool's users' `business_metadata` follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_metadata_schema_id: Option<String>,
    /// Whether identifiers are compared on their lower-cased form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier_case_insensitive: Option<bool>,
    /// How users of the pool may sign in: `password`, `otp`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_mechanisms: Option<Vec<AuthenticationMechanism>>,
    /// The mechanism offered first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_authentication_mechanism: Option<AuthenticationMechanism>,
    /// Second factors users of the pool may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor_authentication_mechanisms: Option<Vec<AuthenticationMechanism>>,
    /// The second factor offered first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor_preferred_authentication_mechanism: Option<AuthenticationMechanism>,
    /// The risk score from which a second factor is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor_threshold: Option<f64>,
    /// How long a second-factor session lasts (a Go duration, `1h0m0s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_session_ttl: Option<String>,
    /// Lengths and lifetimes of the pool's one-time passwords.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_settings: Option<OtpSettings>,
    /// Password handling of the pool, such as its `hashing_method`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_settings: Option<PasswordSettings>,
    /// Rules the pool's passwords must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
    /// Whether users may reset their own credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_credentials_settings: Option<ResetCredentialsSettings>,
    /// Whether anyone may register in the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_registration_allowed: Option<bool>,
    /// Colour of the pool's badge in the admin portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub badge_color: Option<String>,
    /// Whether the pool is marked deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// Whether the pool is a system pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<bool>,
    /// The workspace the pool is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
}

/// A way to sign in (the dump's `AuthenticationMechanisms` items).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticationMechanism {
    Totp,
    Password,
    Otp,
    EmailOtp,
    SmsOtp,
    Webauthn,
}

/// One kind of one-time password: its length and lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpConfig {
    /// Digits of the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<i64>,
    /// How long a code is valid (a Go duration, `5m0s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// The one-time passwords of a pool, by purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpSettings {
    /// Account activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<OtpConfig>,
    /// Sign-in with a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<OtpConfig>,
    /// A second-factor challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<OtpConfig>,
    /// Enrolment of a WebAuthn key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enroll_webauthn: Option<OtpConfig>,
    /// Password reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_password: Option<OtpConfig>,
    /// TOTP reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_totp: Option<OtpConfig>,
    /// Address verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_address: Option<OtpConfig>,
}

/// The hashing method a pool uses for new passwords (no `md5`: the
/// platform verifies MD5 hashes it imported but never makes one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolHashingMethod {
    Bcrypt,
    Pbkdf2,
    Argon2,
    Sha,
}

/// Password handling of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    /// How long a password is valid (a Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<String>,
    /// The method new passwords are hashed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashing_method: Option<PoolHashingMethod>,
}

/// How strong a pool wants its passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordStrength {
    Any,
    Weak,
    Fair,
    Strong,
    VeryStrong,
}

/// Rules a pool's passwords must meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Least number of capital letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capital_letters: Option<u64>,
    /// Least number of digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<u64>,
    /// Least number of lower-case letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowercase_letters: Option<u64>,
    /// Least length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// How many earlier passwords a new one must differ from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_used_since: Option<u64>,
    /// Least number of special characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_characters: Option<u64>,
    /// Least strength.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strength: Option<PasswordStrength>,
}

/// Whether users of a pool may reset their own credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetCredentialsSettings {
    /// Self-service reset is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_not_allow_users_to_self_reset_credentials: Option<bool>,
}

/// A group of users of a pool (the dump's `InternalGroup`). The description
/// requires only `user_pool_id`; `ferry serve` also requires `id`, which
/// memberships name the group by, and `tenant_id`, which it checks like
/// every record's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's id, unique in its pool.
    pub id: String,
    /// The tenant of the pool.
    pub tenant_id: String,
    /// The pool the group belongs to.
    pub user_pool_id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the group sits in the pool's tree of groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A user's membership of a group (the dump's `GroupMember`). The
/// description requires none of its fields; `ferry serve` requires all four:
/// a membership is the pair of its group and its user, in their pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMember {
    /// The group (its `id`, in the membership's pool).
    pub group_id: String,
    /// The tenant of the pool.
    pub tenant_id: String,
    /// The member.
    pub user_id: Uuid,
    /// The pool of the group and of the user.
    pub user_pool_id: String,
}

/// Lifecycle state of a user. Only `active` users can sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Inactive,
    Deleted,
    New,
}

impl UserStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Inactive => "inactive",
            UserStatus::Deleted => "deleted",
            UserStatus::New => "new",
        }
    }

    /// Parses a wire name, case-insensitively (source exports vary).
    pub fn parse(s: &str) -> Option<UserStatus> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Some(UserStatus::Active),
            "inactive" => Some(UserStatus::Inactive),
            "deleted" => Some(UserStatus::Deleted),
            "new" => Some(UserStatus::New),
            _ => None,
        }
    }
}

/// A user: the anchor the other three record sets link to by `user_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The user id, which the other record sets link to by `user_id`; ferry
    /// derives it from the source key, so a resent user is the same user.
    pub id: Uuid,
    /// The tenant the user belongs to.
    pub tenant_id: String,
    /// The pool the user belongs to.
    pub user_pool_id: String,
    /// Whether the user may sign in (only `active` users can).
    pub status: UserStatus,
    /// Profile: `name`, `given_name`, `family_name`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Object>,
    /// Id of the schema `payload` follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_schema_id: Option<String>,
    /// Technical attributes: `groups`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Object>,
    /// Id of the schema `metadata` follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_schema_id: Option<String>,
    /// Attributes the business side keeps about the user, free-form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_metadata: Option<Object>,
    /// Id of the schema `business_metadata` follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_metadata_schema_id: Option<String>,
    /// The kind of user; the description gives it no type, so any JSON
    /// value, kept as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<Value>,
    /// When the user was created, kept from the source system.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
    /// When the user last changed.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
    /// When `status` last changed.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_updated_at: Option<OffsetDateTime>,
}

/// Kind of a sign-in identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentifierType {
    Email,
    Mobile,
    Uid,
    External,
    Federated,
}

impl IdentifierType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierType::Email => "email",
            IdentifierType::Mobile => "mobile",
            IdentifierType::Uid => "uid",
            IdentifierType::External => "external",
            IdentifierType::Federated => "federated",
        }
    }
}

/// An identifier a user signs in with. Unique per pool on `identifier_lc`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserIdentifier {
    /// The identifier record's id (deterministic, like every id ferry sends).
    pub id: Uuid,
    /// The tenant of the user.
    pub tenant_id: String,
    /// The pool of the user.
    pub user_pool_id: String,
    /// The user who signs in with it.
    pub user_id: Uuid,
    /// The identifier's kind (`type` on the wire): email, mobile, ...
    #[serde(rename = "type")]
    pub kind: IdentifierType,
    /// The identifier as the user types it.
    pub identifier: String,
    /// The identifier lower-cased: what uniqueness in a pool is checked on.
    /// Absent from the 2022 description: `ferry serve` derives it then.
    #[serde(default)]
    pub identifier_lc: String,
    /// Free-form attributes of the identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Object>,
    /// When the identifier was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the identifier last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Kind of a verifiable address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressType {
    Email,
    Mobile,
}

impl AddressType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressType::Email => "email",
            AddressType::Mobile => "mobile",
        }
    }
}

/// Whether an address may be used for contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressStatus {
    Active,
    Inactive,
}

/// How a mobile address prefers to be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreferredContactMethod {
    Sms,
    Voice,
}

/// A contact address and whether its owner proved control of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserVerifiableAddress {
    /// The address record's id.
    pub id: Uuid,
    /// The tenant of the user.
    pub tenant_id: String,
    /// The pool of the user.
    pub user_pool_id: String,
    /// The user the address belongs to.
    pub user_id: Uuid,
    /// Email or mobile (`type` on the wire).
    #[serde(rename = "type")]
    pub kind: AddressType,
    /// The address as given.
    pub address: String,
    /// The address lower-cased. Absent from the 2022 description: `ferry
    /// serve` derives it then.
    #[serde(default)]
    pub address_lc: String,
    /// Whether the address may be used for contact.
    pub status: AddressStatus,
    /// Whether the user proved control of the address; a migration keeps what
    /// the source knew, so users need not verify again.
    pub verified: bool,
    /// When the address was verified.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub verified_at: Option<OffsetDateTime>,
    /// How a mobile address prefers to be reached (SMS or voice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_contact_method: Option<PreferredContactMethod>,
    /// Free-form attributes of the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Object>,
    /// When the address was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the address last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Kind of a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialType {
    Password,
    Webauthn,
    Totp,
}

/// Whether a credential may be used as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    Valid,
    MustBeReset,
    MustBeChanged,
}

/// A credential. Passwords carry `payload.hashed_password`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCredential {
    /// The credential record's id.
    pub id: Uuid,
    /// The tenant of the user.
    pub tenant_id: String,
    /// The pool of the user.
    pub user_pool_id: String,
    /// The user the credential signs in.
    pub user_id: Uuid,
    /// Password, WebAuthn or TOTP (`type` on the wire).
    #[serde(rename = "type")]
    pub kind: CredentialType,
    /// The secret material: for a password, its hash with the parameters to
    /// verify it.
    pub payload: CredentialPayload,
    /// Whether the credential may be used as it is, or must be reset or changed
    /// first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CredentialState>,
    /// Unset or `1900-01-01T00:00:00Z`: never expires. In the past: expired.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// When the credential was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the credential last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The payload of a credential.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CredentialPayload {
    /// Present for `password` credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashed_password: Option<HashedPassword>,
    /// Whatever else the payload holds (webauthn, totp), kept as it came.
    #[serde(flatten)]
    pub other: Object,
}

/// A password hash with the parameters needed to verify it.
/// Encodings are fixed in [`crate::contract::choices`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashedPassword {
    /// The method and the parameters the hash was made with.
    pub config: HashConfig,
    /// The hash, encoded as [`crate::contract::choices`] fixes for its method.
    pub value: String,
}

/// Hashing method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashMethod {
    Bcrypt,
    Pbkdf2,
    Argon2,
    Sha,
    Md5,
}

/// Which configuration block applies is given by `method`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashConfig {
    /// The hashing method; its block below holds the parameters.
    pub method: HashMethod,
    /// Parameters when `method` is `bcrypt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bcrypt: Option<BcryptConfig>,
    /// Parameters when `method` is `pbkdf2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pbkdf2: Option<Pbkdf2Config>,
    /// Parameters when `method` is `argon2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argon2: Option<Argon2Config>,
    /// Parameters when `method` is `sha`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<ShaConfig>,
    /// Parameters when `method` is `md5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<Md5Config>,
}

impl HashConfig {
    /// A config with only `method` set; the caller fills in its block.
    pub fn only(method: HashMethod) -> HashConfig {
        HashConfig {
            method,
            bcrypt: None,
            pbkdf2: None,
            argon2: None,
            sha: None,
            md5: None,
        }
    }

    /// The salt fields of the block `method` names: `salt`, `salt_length`
    /// and `salt_after_digest_in_hash` (false for the blocks without it);
    /// no salt for bcrypt (its salt is in its string) or a missing block.
    pub fn salt(&self) -> (Option<&str>, u32, bool) {
        match self.method {
            HashMethod::Bcrypt => None,
            HashMethod::Pbkdf2 => self
                .pbkdf2
                .as_ref()
                .map(|c| (c.salt.as_deref(), c.salt_length, false)),
            HashMethod::Argon2 => self
                .argon2
                .as_ref()
                .map(|c| (c.salt.as_deref(), c.salt_length, false)),
            HashMethod::Sha => self.sha.as_ref().map(|c| {
                (
                    c.salt.as_deref(),
                    c.salt_length,
                    c.salt_after_digest_in_hash,
                )
            }),
            HashMethod::Md5 => self.md5.as_ref().map(|c| {
                (
                    c.salt.as_deref(),
                    c.salt_length,
                    c.salt_after_digest_in_hash,
                )
            }),
        }
        .unwrap_or((None, 0, false))
    }

    /// The salt fields of the block `method` names; `None` for bcrypt
    /// (its salt is in the modular-crypt string) or a missing block.
    pub fn salt_mut(&mut self) -> Option<SaltFields<'_>> {
        match self.method {
            HashMethod::Bcrypt => None,
            HashMethod::Pbkdf2 => self.pbkdf2.as_mut().map(|c| SaltFields {
                salt: &mut c.salt,
                salt_length: &mut c.salt_length,
                after_digest: None,
            }),
            HashMethod::Argon2 => self.argon2.as_mut().map(|c| SaltFields {
                salt: &mut c.salt,
                salt_length: &mut c.salt_length,
                after_digest: None,
            }),
            HashMethod::Sha => self.sha.as_mut().map(|c| SaltFields {
                salt: &mut c.salt,
                salt_length: &mut c.salt_length,
                after_digest: Some(&mut c.salt_after_digest_in_hash),
            }),
            HashMethod::Md5 => self.md5.as_mut().map(|c| SaltFields {
                salt: &mut c.salt,
                salt_length: &mut c.salt_length,
                after_digest: Some(&mut c.salt_after_digest_in_hash),
            }),
        }
    }
}

/// The salt fields of one hash block ([`HashConfig::salt_mut`]).
#[derive(Debug)]
pub struct SaltFields<'a> {
    /// `salt`.
    pub salt: &'a mut Option<String>,
    /// `salt_length`.
    pub salt_length: &'a mut u32,
    /// `salt_after_digest_in_hash`, for the blocks that have it (sha, md5).
    pub after_digest: Option<&'a mut bool>,
}

/// Digest function names as the contract spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DigestFunction {
    #[serde(rename = "SHA-1")]
    Sha1,
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "SHA-384")]
    Sha384,
    #[serde(rename = "SHA-512")]
    Sha512,
}

/// Parameters of a bcrypt hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BcryptConfig {
    /// The work factor (log2 of the rounds), as in the hash string.
    pub cost: u32,
}

/// Parameters of a PBKDF2 hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pbkdf2Config {
    /// The HMAC digest function.
    pub function: DigestFunction,
    /// Rounds of HMAC.
    pub number_of_iterations: u32,
    /// Length of the derived key (the digest in `value`), in bytes.
    pub key_length: u32,
    /// The salt; absent when it travels inside `value` (see `salt_length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// Length of the salt in bytes; without `salt`, where to split it off the
    /// decoded `value`.
    #[serde(default)]
    pub salt_length: u32,
}

/// Parameters of an argon2id hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argon2Config {
    /// Passes over memory (argon2's `t`).
    pub iterations: u32,
    /// Memory used, in KiB (argon2's `m`).
    pub memory_in_kb: u32,
    /// Lanes (argon2's `p`).
    pub parallelism: u32,
    /// Length of the derived key (the digest in `value`), in bytes.
    pub key_length: u32,
    /// The salt; absent when it travels inside `value` (see `salt_length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// Length of the salt in bytes; without `salt`, where to split it off the
    /// decoded `value`.
    #[serde(default)]
    pub salt_length: u32,
}

/// Parameters of a salted SHA hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShaConfig {
    /// The digest function.
    pub function: DigestFunction,
    /// The salt; absent when it travels inside `value` (see `salt_length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// Length of the salt in bytes; without `salt`, where to split it off the
    /// decoded `value`.
    #[serde(default)]
    pub salt_length: u32,
    /// Whether an embedded salt follows the digest in `value` (LDAP `{SSHA}`
    /// style) instead of preceding it.
    #[serde(default)]
    pub salt_after_digest_in_hash: bool,
}

/// Parameters of a salted MD5 hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Md5Config {
    /// The salt; absent when it travels inside `value` (see `salt_length`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// Length of the salt in bytes; without `salt`, where to split it off the
    /// decoded `value`.
    #[serde(default)]
    pub salt_length: u32,
    /// Whether an embedded salt follows the digest in `value` instead of
    /// preceding it.
    #[serde(default)]
    pub salt_after_digest_in_hash: bool,
}

/// The answer of the token endpoint. Its `Debug` never shows the token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The bearer token for the `Authorization` header; never logged.
    pub access_token: String,
    /// `bearer`, in any case; the client refuses any other type.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The scopes granted, space-separated.
    #[serde(default)]
    pub scope: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The error body every non-2xx answer carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A sentence for people.
    pub error: String,
    /// The answer's HTTP status, repeated in the body.
    pub status_code: u16,
    /// A stable machine-readable code, e.g. `invalid_record`.
    pub error_code: String,
    /// Where the problem is: `array`, `index`, `field`, `id`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::api::SCOPE_MANAGE;

    #[test]
    fn token_debug_hides_the_token() {
        let answer = TokenResponse {
            access_token: "s3cr3t-token".into(),
            token_type: "bearer".into(),
            expires_in: 3600,
            scope: SCOPE_MANAGE.into(),
        };
        let shown = format!("{answer:?}");
        assert!(
            !shown.contains("s3cr3t-token") && shown.contains("3600"),
            "{shown}"
        );
    }
}
