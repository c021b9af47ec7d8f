//! Password hashes from the source → the contract's `hashed_password`.
//!
//! A source hash is carried over, never recomputed: the target must verify
//! the password the user always had, so ferry only re-encodes what the source
//! stored into the shape the contract's encoding choices define
//! ([`crate::contract::choices`]). `password_algorithm`, when given, is
//! read first ([`digest::Named::parse`], the one place names are decided);
//! then:
//!
//! 1. Vendor formats that only their name tells apart are decoded by their
//!    own module: ASP.NET Identity blobs ([`aspnet`], `aspnet-identity`),
//!    Keycloak credentials ([`keycloak`], `keycloak`, which also reads the
//!    second password value, [`PasswordInput::params`]) and the
//!    `pbkdf2_sha256$…`/`pbkdf2_sha1$…` strings Clerk and Django encode
//!    differently under the same name ([`clerk`]).
//! 2. [`detect`] recognises self-describing strings: bcrypt modular crypt,
//!    PHC strings (argon2, pbkdf2 including passlib's adapted base64),
//!    Django's `algorithm$…` strings and LDAP `{SCHEME}` values.
//! 3. [`digest`] handles bare hex or base64 digests with a separate salt
//!    column, whose algorithm is named by `password_algorithm` (or inferred
//!    from the length for the SHA family).
//! 4. [`plaintext`] hashes a declared plaintext column with argon2id before
//!    the password leaves the mapper.
//!
//! Names `password_algorithm` accepts (case and punctuation ignored; the
//! full table is on [`digest::Named::parse`]): the digests `md5`, `sha1`,
//! `sha256`, `sha384`, `sha512`; the self-describing families `bcrypt`,
//! `argon2id`, `pbkdf2…`, `django`, `ldap`, `ssha…`; the vendors
//! `aspnet-identity` (`aspnet`, `aspnetcore-identity`), `keycloak`,
//! `pbkdf2_sha256`/`pbkdf2_sha1` (Clerk's or Django's),
//! `clerk_pbkdf2_sha256`/`clerk_pbkdf2_sha1`, `pbkdf2_sha256_django`; and
//! Clerk's other `password_hasher` names, which map onto these (`bcrypt`,
//! `argon2id`, `md5`, `sha256`) or are unsupported (`argon2i`,
//! `scrypt_firebase`, `bcrypt_sha256_django`, …).
//!
//! What the target cannot verify (scrypt, Firebase's modified scrypt
//! (`firebase-scrypt`, `firebase`, `scrypt_firebase`), HMAC with a key, MD4,
//! crypt(3), digests over salt ‖ password, argon2i/argon2d) is
//! [`Carried::Unsupported`] with a reason; [`UnsupportedPolicy`] decides
//! what becomes of such a user.
//! A malformed hash is an `Err`: the row is rejected whatever the policy.
//! So is a hash whose work factor is above the contract's bounds
//! ([`crate::contract::rules::check_work_factor`]): the target would spend it
//! on every sign-in attempt, and `ferry serve` refuses it with the same bound.
//!
//! Reasons never echo the hash, the salt or a plaintext password.

pub mod aspnet;
pub mod clerk;
pub mod detect;
pub mod digest;
pub mod keycloak;
pub mod options;
pub mod plaintext;

use time::OffsetDateTime;

use crate::contract::choices::encode_bytes;
use crate::contract::rules::check_work_factor;
use crate::contract::{DigestFunction, HashConfig, HashMethod, HashedPassword, ShaConfig};
pub use options::{Argon2Params, PasswordOptions, PasswordPolicy, SaltEncoding, UnsupportedPolicy};

/// The `expires_at` of a credential the user must reset (`--passwords
/// expire`, `--unsupported-hash expire`): the Unix epoch, well in the past
/// and distinct from the contract's "never expires" (1900-01-01).
pub const EXPIRED_AT: OffsetDateTime = time::macros::datetime!(1970-01-01 00:00:00 UTC);

/// What a source hash becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Carried {
    /// A hash the target verifies as the source did.
    Hash(HashedPassword),
    /// A format the target cannot verify; the reason names it.
    Unsupported(String),
}

/// The password columns of one source row (trimmed, empty ones `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordInput<'a> {
    /// `password_hash`.
    pub hash: Option<&'a str>,
    /// `password_salt`, for bare digests.
    pub salt: Option<&'a str>,
    /// `password_algorithm`, naming the algorithm of a bare digest or a
    /// vendor format ([`digest::Named::parse`]).
    pub algorithm: Option<&'a str>,
    /// A second vendor value that the hash needs, such as Keycloak's
    /// `credentialData` (iterations and algorithm) next to its `secretData`
    /// in `hash`. Formats that need none ignore it.
    pub params: Option<&'a str>,
    /// The declared plaintext column, when the mapping has one.
    pub plaintext: Option<&'a str>,
}

/// The credential to import for a user.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCredential {
    /// What goes into `payload.hashed_password`.
    pub hashed: HashedPassword,
    /// Import with `expires_at` = [`EXPIRED_AT`]: the user must reset it.
    pub expired: bool,
    /// Why the credential was replaced or expired, for a per-row warning.
    pub note: Option<String>,
}

/// What a row's password becomes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// The credential to import, if any.
    pub credential: Option<PlannedCredential>,
    /// The row's hash is in a format the target cannot verify, and
    /// `--unsupported-hash expire|drop` imports the user anyway: with an
    /// expired placeholder or without a credential. Either way the user must
    /// reset their password; the import report counts them.
    pub unverifiable: bool,
}

/// Whose credential it is: salts of hashed plaintexts and placeholders derive from it.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub tenant: &'a str,
    pub pool: &'a str,
    pub key: &'a str,
}

impl Owner<'_> {
    /// SHA-256 of `domain` and the owner (fields separated by NUL): a value
    /// unique to this user, the same on every run.
    pub(crate) fn digest(&self, domain: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::new()
            .chain_update(domain)
            .chain_update(self.tenant)
            .chain_update([0])
            .chain_update(self.pool)
            .chain_update([0])
            .chain_update(self.key)
            .finalize()
            .into()
    }
}

/// Decides the credential of one row under `options`; `Err(reason)` to
/// reject the row.
pub fn credential(
    options: &PasswordOptions,
    input: PasswordInput<'_>,
    owner: Owner<'_>,
) -> Result<Decision, String> {
    if options.policy == PasswordPolicy::None {
        return Ok(Decision::default());
    }
    let expired = options.policy == PasswordPolicy::Expire;
    let carried = match (input.hash, input.plaintext) {
        (Some(hash), _) => convert(
            hash,
            input.salt,
            input.algorithm,
            input.params,
            options.salt_encoding,
        )?,
        (None, Some(password)) => Carried::Hash(plaintext::hash(password, &options.argon2, owner)?),
        (None, None) => return Ok(Decision::default()),
    };
    match carried {
        Carried::Hash(mut hashed) => {
            options.target_salt.write_salt(&mut hashed);
            Ok(Decision {
                credential: Some(PlannedCredential {
                    hashed,
                    expired,
                    note: None,
                }),
                unverifiable: false,
            })
        }
        Carried::Unsupported(reason) => match options.unsupported {
            UnsupportedPolicy::Reject => Err(reason),
            UnsupportedPolicy::Drop => {
                tracing::warn!(key = owner.key, reason, "Password hash cannot be carried over; the user is imported without a credential.");
                Ok(Decision {
                    credential: None,
                    unverifiable: true,
                })
            }
            UnsupportedPolicy::Expire => {
                tracing::warn!(key = owner.key, reason, "Password hash cannot be carried over; the user is imported with an expired credential.");
                Ok(Decision {
                    credential: Some(PlannedCredential {
                        hashed: unusable(owner),
                        expired: true,
                        note: Some(reason),
                    }),
                    unverifiable: true,
                })
            }
        },
    }
}

/// Converts a source hash, with its salt, algorithm name and second vendor
/// value ([`PasswordInput::params`]). `Err` when it is malformed for the
/// format it claims to be, or when its work factor is above the contract's
/// bounds (the row is rejected).
pub fn convert(
    hash: &str,
    salt: Option<&str>,
    algorithm: Option<&str>,
    params: Option<&str>,
    salt_encoding: SaltEncoding,
) -> Result<Carried, String> {
    let carried = recognise(hash, salt, algorithm, params, salt_encoding)?;
    if let Carried::Hash(hashed) = &carried {
        check_work_factor(hashed).map_err(|too_high| format!("password_hash: {too_high}"))?;
    }
    Ok(carried)
}

/// What a source hash is, before its work factor is checked.
fn recognise(
    hash: &str,
    salt: Option<&str>,
    algorithm: Option<&str>,
    params: Option<&str>,
    salt_encoding: SaltEncoding,
) -> Result<Carried, String> {
    if hash.is_empty() {
        return Err("password_hash is empty".to_string());
    }
    let named = algorithm.map(digest::Named::parse);
    // An explicit name of an unverifiable algorithm wins; then a vendor
    // format the name selects; else a self-describing string decides; else
    // the name (or the length) does.
    match &named {
        Some(digest::Named::Unsupported(reason)) => {
            return Ok(Carried::Unsupported(reason.clone()))
        }
        Some(digest::Named::Vendor(vendor)) => {
            if let Some(found) = decode_vendor(*vendor, hash, params) {
                return found;
            }
        }
        _ => {}
    }
    if let Some(found) = detect::self_describing(hash) {
        return found;
    }
    match named {
        Some(digest::Named::Digest(kind)) => digest::convert(hash, salt, kind, salt_encoding),
        Some(digest::Named::SelfDescribing(name)) => Err(format!(
            "password_algorithm says '{name}' but password_hash is not in that format"
        )),
        Some(digest::Named::Vendor(_)) => Err(format!(
            "password_algorithm says '{}' but password_hash is not in that format",
            algorithm.map(str::trim).unwrap_or("")
        )),
        Some(digest::Named::Unsupported(reason)) => Ok(Carried::Unsupported(reason)),
        None => match digest::infer(hash) {
            Some(kind) => digest::convert(hash, salt, kind, salt_encoding),
            None => Ok(Carried::Unsupported(
                "the password_hash format is not recognised; name it in password_algorithm"
                    .to_string(),
            )),
        },
    }
}

/// Decodes a vendor format; `None` when the hash is not in the vendor's
/// own shape and is left to [`detect`] (a PHC string named `pbkdf2_sha256`).
fn decode_vendor(
    vendor: digest::Vendor,
    hash: &str,
    params: Option<&str>,
) -> Option<Result<Carried, String>> {
    match vendor {
        digest::Vendor::AspNetIdentity => Some(aspnet::convert(hash)),
        digest::Vendor::Keycloak => Some(keycloak::convert(hash, params)),
        digest::Vendor::Pbkdf2Clerk { function, clerk } => clerk::convert(hash, function, clerk),
    }
}

/// A hash no password matches, for a credential that is imported expired
/// because its source hash cannot be carried: SHA-256 with a 32-byte value
/// derived from the owner. Matching it would need a SHA-256 preimage.
fn unusable(owner: Owner<'_>) -> HashedPassword {
    let value = owner.digest(b"ferry: no usable password\0");
    HashedPassword {
        config: HashConfig {
            sha: Some(ShaConfig {
                function: DigestFunction::Sha256,
                salt: None,
                salt_length: 0,
                salt_after_digest_in_hash: false,
            }),
            ..HashConfig::only(HashMethod::Sha)
        },
        value: encode_bytes(&value),
    }
}

/// Builds the contract hash from a source hash, its salt and algorithm with
/// the default options (hex salts); `Err` when it cannot be carried.
pub fn hashed_password(
    hash: &str,
    salt: Option<&str>,
    algorithm: Option<&str>,
) -> Result<HashedPassword, String> {
    match convert(hash, salt, algorithm, None, SaltEncoding::Hex)? {
        Carried::Hash(hashed) => Ok(hashed),
        Carried::Unsupported(reason) => Err(reason),
    }
}

#[cfg(test)]
mod tests;
