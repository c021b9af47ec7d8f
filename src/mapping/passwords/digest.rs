//! Bare salted digests: a hex or base64 digest in `password_hash`, its salt
//! in `password_salt` (hex, base64 or plain text as the mapping declares),
//! and the algorithm in `password_algorithm`.
//!
//! The target digests password ‖ salt, so only sources that did the same can
//! be carried; a name that says the source digested salt ‖ password
//! (`sha256_salt_password`, `salt_sha256`) is reported as unsupported.
//! Without a name, a hex digest of 40, 64, 96 or 128 digits is taken as
//! SHA-1, SHA-256, SHA-384 or SHA-512; 32 digits stays ambiguous (MD5, MD4
//! and NTLM look alike) and must be named.
//!
//! [`Named::parse`] is also where every other `password_algorithm` is
//! decided (its doc has the table): self-describing families, the vendor
//! formats ([`Vendor`]: `aspnet-identity`, `keycloak`, Clerk's and Django's
//! `pbkdf2_sha256`/`pbkdf2_sha1`), and the names of what the target cannot
//! verify, Firebase's modified scrypt (`firebase-scrypt`, `firebase`,
//! `scrypt_firebase`) and Clerk's `bcrypt_sha256_django`, `bcrypt_peppered`,
//! `phpass`, `awscognito` and `sha256_salted` among them.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};

use super::{Carried, SaltEncoding};
use crate::contract::choices::encode_bytes;
use crate::contract::{
    DigestFunction, HashConfig, HashMethod, HashedPassword, Md5Config, ShaConfig,
};

/// Standard base64 that accepts input with or without padding.
pub(super) const BASE64_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A digest algorithm the target verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestKind {
    Md5,
    Sha(DigestFunction),
}

impl DigestKind {
    /// Digest length in bytes.
    pub fn size(self) -> usize {
        match self {
            DigestKind::Md5 => 16,
            DigestKind::Sha(DigestFunction::Sha1) => 20,
            DigestKind::Sha(DigestFunction::Sha256) => 32,
            DigestKind::Sha(DigestFunction::Sha384) => 48,
            DigestKind::Sha(DigestFunction::Sha512) => 64,
        }
    }

    /// The name in reasons.
    pub fn name(self) -> &'static str {
        match self {
            DigestKind::Md5 => "MD5",
            DigestKind::Sha(DigestFunction::Sha1) => "SHA-1",
            DigestKind::Sha(DigestFunction::Sha256) => "SHA-256",
            DigestKind::Sha(DigestFunction::Sha384) => "SHA-384",
            DigestKind::Sha(DigestFunction::Sha512) => "SHA-512",
        }
    }

    /// The contract hash of `digest` with `salt` either separate or inside
    /// the value (`embedded`: appended after the digest, LDAP's layout).
    pub fn hashed(self, digest_and_salt: &[u8], salt: &[u8], embedded: bool) -> HashedPassword {
        let (salt_field, salt_length) = match (embedded, salt.is_empty()) {
            (true, _) => (None, salt.len() as u32),
            (false, true) => (None, 0),
            (false, false) => (Some(encode_bytes(salt)), salt.len() as u32),
        };
        let mut config = match self {
            DigestKind::Md5 => HashConfig::only(HashMethod::Md5),
            DigestKind::Sha(_) => HashConfig::only(HashMethod::Sha),
        };
        match self {
            DigestKind::Md5 => {
                config.md5 = Some(Md5Config {
                    salt: salt_field,
                    salt_length,
                    salt_after_digest_in_hash: embedded,
                })
            }
            DigestKind::Sha(function) => {
                config.sha = Some(ShaConfig {
                    function,
                    salt: salt_field,
                    salt_length,
                    salt_after_digest_in_hash: embedded,
                })
            }
        }
        HashedPassword {
            config,
            value: encode_bytes(digest_and_salt),
        }
    }
}

/// What a `password_algorithm` value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A digest over password ‖ salt.
    Digest(DigestKind),
    /// A family whose strings describe themselves (bcrypt, argon2, pbkdf2,
    /// Django, LDAP): the string decides.
    SelfDescribing(String),
    /// A vendor's own encoding, which only its name tells apart: the
    /// vendor's module decodes it ([`Vendor`]).
    Vendor(Vendor),
    /// Something the target cannot verify, with the reason.
    Unsupported(String),
}

/// A vendor format that `password_algorithm` selects. These are not
/// recognisable from the string alone (an ASP.NET blob is plain base64, a
/// Keycloak credential is JSON that would pass for an LDAP `{SCHEME}`), so
/// their decoders run before [`super::detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// ASP.NET Identity's `PasswordHasher` blob ([`super::aspnet`]):
    /// `aspnet-identity`, `aspnet`, `aspnetcore-identity`.
    AspNetIdentity,
    /// Keycloak's `secretData` and `credentialData` ([`super::keycloak`]): `keycloak`.
    Keycloak,
    /// A `pbkdf2_sha256$…` or `pbkdf2_sha1$…` string under a name Clerk and
    /// Django share (`pbkdf2_sha256`, `pbkdf2_sha1`) but encode differently
    /// ([`super::clerk`]); `clerk` is set when the name was Clerk's alone
    /// (`clerk_pbkdf2_sha256`, `clerk_pbkdf2_sha1`).
    Pbkdf2Clerk {
        /// The HMAC's digest: SHA-256 or SHA-1.
        function: DigestFunction,
        /// Named `clerk_…`: the string is Clerk's, whatever it looks like.
        clerk: bool,
    },
}

/// Why Firebase hashes cannot be carried, whichever name they come under.
pub const FIREBASE_SCRYPT: &str = "Firebase's modified scrypt cannot be verified by the target; \
the user must reset the password (--unsupported-hash expire|drop imports them anyway)";

impl Named {
    /// Parses a `password_algorithm` value. Case, `-`, `_`, spaces and
    /// punctuation are ignored: `SHA-256`, `sha256`, `salted_sha256` and
    /// `sha256(password+salt)` are the same.
    ///
    /// | names | become |
    /// |---|---|
    /// | `md5`, `sha1`, `sha`, `sha256`, `sha384`, `sha512` (also `salted_…`, `…_password_salt`) | [`Named::Digest`] of password ‖ salt |
    /// | `bcrypt`, `argon2`, `argon2id`, `argon2i`, `argon2d`, `pbkdf2`, `pbkdf2-sha512` and other `pbkdf2…` (but the four below), `pbkdf2_sha256_django`, `django`, `ldap`, `ssha…`, `smd5`, `phc` | [`Named::SelfDescribing`]: the string decides |
    /// | `aspnet-identity`, `aspnet`, `aspnetcore-identity` | [`Vendor::AspNetIdentity`] |
    /// | `keycloak` | [`Vendor::Keycloak`] |
    /// | `pbkdf2_sha256`, `pbkdf2_sha1` (also `pbkdf2-sha256`, `pbkdf2-sha1`), `clerk_pbkdf2_sha256`, `clerk_pbkdf2_sha1` | [`Vendor::Pbkdf2Clerk`] for `pbkdf2_sha…$` strings; any other string under these names is self-describing |
    /// | `firebase-scrypt`, `firebase`, `scrypt-firebase`, `scrypt_firebase`, any `…scrypt…`, `hmac…`, `md4`, `ntlm`, `crypt`, `des`, digests of salt ‖ password, and Clerk's `bcrypt_sha256_django`, `bcrypt_peppered`, `phpass`, `awscognito`, `sha256_salted` | [`Named::Unsupported`] |
    ///
    /// Any other name is unsupported too: ferry never guesses a format.
    pub fn parse(name: &str) -> Named {
        let compact: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .flat_map(|c| c.to_lowercase())
            .collect();
        let shown = name.trim();
        if let Some(vendor) = Vendor::parse(&compact) {
            return Named::Vendor(vendor);
        }
        for (prefix, kind) in [
            ("md5", DigestKind::Md5),
            ("sha1", DigestKind::Sha(DigestFunction::Sha1)),
            ("sha256", DigestKind::Sha(DigestFunction::Sha256)),
            ("sha384", DigestKind::Sha(DigestFunction::Sha384)),
            ("sha512", DigestKind::Sha(DigestFunction::Sha512)),
            ("sha", DigestKind::Sha(DigestFunction::Sha1)),
        ] {
            let bare = compact.strip_prefix("salted").unwrap_or(&compact);
            if let Some(rest) = bare.strip_prefix(prefix) {
                match rest {
                    "" | "passwordsalt" | "passsalt" | "pwsalt" => return Named::Digest(kind),
                    "saltpassword" | "saltpass" | "saltpw" | "saltfirst" => {
                        return Named::Unsupported(salt_first(kind))
                    }
                    _ => {}
                }
            }
            if compact == format!("salt{prefix}") {
                return Named::Unsupported(salt_first(kind));
            }
        }
        let self_describing = [
            "bcrypt", "2a", "2b", "2y", "argon2", "argon2id", "argon2i", "argon2d", "pbkdf2",
            "django", "ldap", "ssha", "ssha256", "ssha384", "ssha512", "smd5", "phc",
        ];
        if self_describing.contains(&compact.as_str()) || compact.starts_with("pbkdf2") {
            return Named::SelfDescribing(shown.to_string());
        }
        let unsupported =
            |why: &str| Named::Unsupported(format!("password algorithm '{shown}': {why}"));
        match compact.as_str() {
            "firebasescrypt" | "firebase" | "scryptfirebase" => unsupported(FIREBASE_SCRYPT),
            c if c.contains("scrypt") => unsupported(
                "scrypt hashes (Firebase's modified scrypt too) cannot be verified by the target",
            ),
            "bcryptsha256django" | "bcryptsha256" => unsupported(
                "Django's bcrypt_sha256 (bcrypt over a SHA-256 of the password) cannot be verified by the target",
            ),
            "bcryptpeppered" => unsupported(
                "bcrypt with a pepper appended to the password cannot be verified by the target",
            ),
            "phpass" => unsupported(
                "phpass portable hashes (iterated MD5, $P$/$H$) cannot be verified by the target",
            ),
            "awscognito" | "cognito" => unsupported(
                "Amazon Cognito does not export password hashes; the user must reset the password",
            ),
            "sha256salted" => unsupported(
                "it does not say whether the salt came before or after the password; \
                 name the order (sha256_password_salt is password ‖ salt, which the target verifies)",
            ),
            c if c.starts_with("hmac") => unsupported(
                "HMAC digests need the source's secret key, which the target does not have",
            ),
            "md4" | "ntlm" | "nthash" => unsupported("MD4 hashes cannot be verified by the target"),
            "crypt" | "des" | "descrypt" | "crypt3" => {
                unsupported("crypt(3) DES hashes cannot be verified by the target")
            }
            _ => unsupported("not a hash format ferry knows"),
        }
    }
}

impl Vendor {
    /// The vendor a compacted name (lower-case letters and digits) selects.
    fn parse(compact: &str) -> Option<Vendor> {
        let clerk = |function, clerk| Vendor::Pbkdf2Clerk { function, clerk };
        Some(match compact {
            "aspnetidentity" | "aspnet" | "aspnetcoreidentity" => Vendor::AspNetIdentity,
            "keycloak" => Vendor::Keycloak,
            "pbkdf2sha256" => clerk(DigestFunction::Sha256, false),
            "pbkdf2sha1" => clerk(DigestFunction::Sha1, false),
            "clerkpbkdf2sha256" => clerk(DigestFunction::Sha256, true),
            "clerkpbkdf2sha1" => clerk(DigestFunction::Sha1, true),
            _ => return None,
        })
    }
}

fn salt_first(kind: DigestKind) -> String {
    format!(
        "{} over salt ‖ password cannot be verified by the target, which digests password ‖ salt",
        kind.name()
    )
}

/// The SHA digest a bare hex string of this length must be, if any.
pub fn infer(hash: &str) -> Option<DigestKind> {
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let function = match hash.len() {
        40 => DigestFunction::Sha1,
        64 => DigestFunction::Sha256,
        96 => DigestFunction::Sha384,
        128 => DigestFunction::Sha512,
        _ => return None,
    };
    Some(DigestKind::Sha(function))
}

/// Converts a bare digest and its salt column.
pub fn convert(
    hash: &str,
    salt: Option<&str>,
    kind: DigestKind,
    salt_encoding: SaltEncoding,
) -> Result<Carried, String> {
    let digest = decode_digest(hash, kind.size()).ok_or_else(|| {
        format!(
            "password_hash is not a hex or base64 {} digest ({} bytes)",
            kind.name(),
            kind.size()
        )
    })?;
    let salt = match salt {
        None => Vec::new(),
        Some(text) => decode_salt(text, salt_encoding)?,
    };
    Ok(Carried::Hash(kind.hashed(&digest, &salt, false)))
}

/// Hex (exactly twice the length) or base64 of exactly `len` bytes.
fn decode_digest(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() == 2 * len {
        if let Ok(bytes) = hex::decode(text) {
            return Some(bytes);
        }
    }
    BASE64_ANY_PAD
        .decode(text)
        .ok()
        .filter(|bytes| bytes.len() == len)
}

/// Decodes `password_salt` as the mapping declares it.
pub fn decode_salt(text: &str, encoding: SaltEncoding) -> Result<Vec<u8>, String> {
    match encoding {
        SaltEncoding::Hex => hex::decode(text).map_err(|_| "password_salt is not hex".to_string()),
        SaltEncoding::Base64 => BASE64_ANY_PAD
            .decode(text)
            .map_err(|_| "password_salt is not base64".to_string()),
        SaltEncoding::Plain => Ok(text.as_bytes().to_vec()),
    }
}
