//! Self-describing hash strings, recognised by their prefix:
//!
//! | source | example | becomes |
//! |---|---|---|
//! | bcrypt | `$2b$12$…` (`$2a$`, `$2y$`) | `bcrypt`, the string as it is |
//! | PHC argon2 | `$argon2id$v=19$m=…,t=…,p=…$salt$hash` | `argon2` |
//! | PHC pbkdf2 | `$pbkdf2-sha256$29000$salt$hash` (passlib, adapted base64), `$pbkdf2$…` (SHA-1), `$pbkdf2-sha512$i=…,l=…$…` | `pbkdf2` |
//! | Django | `pbkdf2_sha256$iterations$salt$hash`, `pbkdf2_sha1$…`, `argon2$argon2id$…`, `bcrypt$$2b$…` (`bcrypt$` then the bcrypt string) | `pbkdf2`, `argon2`, `bcrypt` |
//! | LDAP | `{SSHA}`, `{SSHA256}`, `{SSHA384}`, `{SSHA512}`, `{SMD5}` (salt after the digest), `{SHA}`, `{SHA256}`, `{SHA512}`, `{MD5}`, `{CRYPT}$2b$…`, `{ARGON2}$argon2id$…` | `sha`/`md5` with `salt_after_digest_in_hash`, or the inner format |
//!
//! Recognised but unverifiable by the target, so [`Carried::Unsupported`]:
//! argon2i/argon2d and argon2 version 0x10, scrypt (`$scrypt$`, `$s0$`,
//! `$7$`, Django `scrypt$`), md5-crypt/sha-crypt/yescrypt (`$1$`, `$5$`,
//! `$6$`, `$y$`, `$apr1$`), crypt(3) DES (`{CRYPT}` without `$`), `{MD4}`,
//! bcrypt's `$2x$`, and Django's salt-first `sha1$`/`md5$` and `bcrypt_sha256$`.
//!
//! Formats that do not describe themselves are decoded before this module
//! when `password_algorithm` names them ([`super::digest::Vendor`]): ASP.NET
//! Identity blobs ([`super::aspnet`]), Keycloak credentials
//! ([`super::keycloak`], which comes back here for an extension's bcrypt or
//! other self-describing value), and Django-shaped `pbkdf2_sha256$…` /
//! `pbkdf2_sha1$…` strings named `pbkdf2_sha256`/`pbkdf2_sha1`, which Clerk
//! encodes differently ([`super::clerk`]; named `pbkdf2_sha256_django`, or
//! not named, they are Django's and read here).

use base64::Engine;

use super::digest::{DigestKind, BASE64_ANY_PAD};
use super::Carried;
use crate::contract::choices::encode_bytes;
use crate::contract::{
    Argon2Config, BcryptConfig, DigestFunction, HashConfig, HashMethod, HashedPassword,
    Pbkdf2Config,
};

/// Longest key or digest accepted from a source hash, in bytes.
pub(super) const MAX_KEY: usize = 1024;

/// Recognises a self-describing string: `None` when it is not one (a bare
/// digest), else what it becomes or why it is malformed.
pub fn self_describing(hash: &str) -> Option<Result<Carried, String>> {
    if let Some(rest) = hash.strip_prefix('{') {
        return Some(ldap(rest));
    }
    if hash.starts_with('$') {
        return Some(modular(hash));
    }
    django(hash)
}

fn unsupported(reason: &str) -> Result<Carried, String> {
    Ok(Carried::Unsupported(reason.to_string()))
}

/// `$id$…` strings: bcrypt, PHC and the crypt(3) family.
fn modular(hash: &str) -> Result<Carried, String> {
    let id = hash[1..].split('$').next().unwrap_or("");
    match id {
        "2a" | "2b" | "2y" => bcrypt(hash),
        "2x" | "2" => unsupported(
            "bcrypt $2x$ and $2$ hashes (old, buggy variants) cannot be verified by the target",
        ),
        "argon2id" => argon2(hash),
        "argon2i" | "argon2d" => {
            unsupported("the target verifies argon2id only, and this hash is argon2i or argon2d")
        }
        "pbkdf2" => pbkdf2_phc(hash, DigestFunction::Sha1),
        "pbkdf2-sha1" => pbkdf2_phc(hash, DigestFunction::Sha1),
        "pbkdf2-sha256" => pbkdf2_phc(hash, DigestFunction::Sha256),
        "pbkdf2-sha512" => pbkdf2_phc(hash, DigestFunction::Sha512),
        "scrypt" | "s0" | "7" => unsupported("scrypt hashes cannot be verified by the target"),
        "1" | "apr1" | "md5" => unsupported("md5-crypt hashes cannot be verified by the target"),
        "5" | "6" => unsupported("sha-crypt hashes ($5$, $6$) cannot be verified by the target"),
        "y" | "gy" => unsupported("yescrypt hashes cannot be verified by the target"),
        _ => unsupported("this modular crypt format ($id$…) is not one the target verifies"),
    }
}

/// `$2b$NN$` + 53 characters of bcrypt's base64.
fn bcrypt(hash: &str) -> Result<Carried, String> {
    let bytes = hash.as_bytes();
    let cost = hash
        .get(4..6)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u32>().ok());
    let body_ok = bytes.len() == 60
        && bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    match cost {
        Some(cost) if body_ok && (4..=31).contains(&cost) => {
            let mut config = HashConfig::only(HashMethod::Bcrypt);
            config.bcrypt = Some(BcryptConfig { cost });
            Ok(Carried::Hash(HashedPassword {
                config,
                value: hash.to_string(),
            }))
        }
        _ => Err(
            "password_hash is not a well-formed bcrypt string ($2b$, cost 04-31, 60 characters)"
                .to_string(),
        ),
    }
}

/// `$argon2id$v=19$m=…,t=…,p=…$salt$hash`, salt and hash in unpadded base64.
fn argon2(hash: &str) -> Result<Carried, String> {
    let malformed = || "password_hash is not a well-formed argon2id PHC string".to_string();
    let parts: Vec<&str> = hash.split('$').collect();
    let (version, params, salt, digest) = match parts.as_slice() {
        ["", _, v, p, s, d] if v.starts_with("v=") => (Some(&v[2..]), *p, *s, *d),
        ["", _, p, s, d] => (None, *p, *s, *d),
        _ => return Err(malformed()),
    };
    if version != Some("19") {
        return unsupported(
            "argon2 version 0x10 hashes cannot be verified by the target (it uses version 0x13)",
        );
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for pair in params.split(',') {
        let (name, value) = pair.split_once('=').ok_or_else(malformed)?;
        let value = || value.parse::<u32>().map_err(|_| malformed());
        match name {
            "m" => m = Some(value()?),
            "t" => t = Some(value()?),
            "p" => p = Some(value()?),
            "keyid" | "data" => {
                return unsupported("argon2 hashes with a secret key or associated data cannot be verified by the target")
            }
            _ => return Err(malformed()),
        }
    }
    let (Some(memory_in_kb), Some(iterations), Some(parallelism)) = (m, t, p) else {
        return Err(malformed());
    };
    let salt = BASE64_ANY_PAD.decode(salt).map_err(|_| malformed())?;
    let digest = BASE64_ANY_PAD.decode(digest).map_err(|_| malformed())?;
    let params = Argon2Cost {
        iterations,
        memory_in_kb,
        parallelism,
    };
    argon2_hash(params, &salt, &digest).ok_or_else(malformed)
}

/// The cost parameters of an argon2id hash, as its source stored them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Argon2Cost {
    /// Passes over the memory (`t`).
    pub iterations: u32,
    /// Memory in KiB (`m`).
    pub memory_in_kb: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

/// The contract's argon2id hash of `digest` made with `salt` and `cost`;
/// `None` when argon2 itself would refuse them (a salt under 8 bytes, a key
/// under 4 or over [`MAX_KEY`] bytes, no pass or lane, less than 8 KiB of
/// memory per lane), so such a hash can never have verified a password.
/// The one place every argon2 source becomes a contract hash.
pub(super) fn argon2_hash(cost: Argon2Cost, salt: &[u8], digest: &[u8]) -> Option<Carried> {
    let sane = salt.len() >= 8
        && (4..=MAX_KEY).contains(&digest.len())
        && cost.iterations >= 1
        && cost.parallelism >= 1
        && u64::from(cost.memory_in_kb) >= 8 * u64::from(cost.parallelism);
    if !sane {
        return None;
    }
    let mut config = HashConfig::only(HashMethod::Argon2);
    config.argon2 = Some(Argon2Config {
        iterations: cost.iterations,
        memory_in_kb: cost.memory_in_kb,
        parallelism: cost.parallelism,
        key_length: digest.len() as u32,
        salt: Some(encode_bytes(salt)),
        salt_length: salt.len() as u32,
    });
    Some(Carried::Hash(HashedPassword {
        config,
        value: encode_bytes(digest),
    }))
}

/// passlib's adapted base64: the standard alphabet with `.` for `+`, no padding.
/// PHC's own base64 (no `.`) decodes the same way.
fn ab64(text: &str) -> Option<Vec<u8>> {
    BASE64_ANY_PAD.decode(text.replace('.', "+")).ok()
}

/// `$pbkdf2-sha256$ROUNDS$salt$hash` (passlib) or `$pbkdf2-sha256$i=ROUNDS,l=LEN$salt$hash` (PHC).
fn pbkdf2_phc(hash: &str, function: DigestFunction) -> Result<Carried, String> {
    let malformed = || "password_hash is not a well-formed PHC pbkdf2 string".to_string();
    let parts: Vec<&str> = hash.split('$').collect();
    let ["", _, params, salt, digest] = parts.as_slice() else {
        return Err(malformed());
    };
    let mut rounds = None;
    if params.bytes().all(|b| b.is_ascii_digit()) {
        rounds = params.parse::<u32>().ok();
    } else {
        for pair in params.split(',') {
            match pair.split_once('=') {
                Some(("i", v)) => rounds = v.parse::<u32>().ok(),
                Some(("l", _)) => {} // the digest's own length decides
                _ => return Err(malformed()),
            }
        }
    }
    let rounds = rounds.filter(|r| *r > 0).ok_or_else(malformed)?;
    let salt = ab64(salt).ok_or_else(malformed)?;
    let digest = ab64(digest).ok_or_else(malformed)?;
    pbkdf2_hash(function, rounds, &salt, &digest).ok_or_else(malformed)
}

/// The contract's pbkdf2 hash of `digest` (the derived key) made with
/// `salt` and `rounds` of HMAC-`function`; `None` for no rounds or a key
/// of no or more than [`MAX_KEY`] bytes. The one place every pbkdf2 source
/// becomes a contract hash.
pub(super) fn pbkdf2_hash(
    function: DigestFunction,
    rounds: u32,
    salt: &[u8],
    digest: &[u8],
) -> Option<Carried> {
    if !(1..=MAX_KEY).contains(&digest.len()) || rounds == 0 {
        return None;
    }
    let mut config = HashConfig::only(HashMethod::Pbkdf2);
    config.pbkdf2 = Some(Pbkdf2Config {
        function,
        number_of_iterations: rounds,
        key_length: digest.len() as u32,
        salt: (!salt.is_empty()).then(|| encode_bytes(salt)),
        salt_length: salt.len() as u32,
    });
    Some(Carried::Hash(HashedPassword {
        config,
        value: encode_bytes(digest),
    }))
}

/// Django's `algorithm$…` strings; `None` when the prefix is not Django's.
fn django(hash: &str) -> Option<Result<Carried, String>> {
    let (algorithm, rest) = hash.split_once('$')?;
    Some(match algorithm {
        "pbkdf2_sha256" => django_pbkdf2(rest, DigestFunction::Sha256),
        "pbkdf2_sha1" => django_pbkdf2(rest, DigestFunction::Sha1),
        "argon2" => match modular(&format!("${rest}")) {
            Ok(Carried::Hash(h)) if h.config.method == HashMethod::Argon2 => Ok(Carried::Hash(h)),
            Ok(Carried::Unsupported(why)) => Ok(Carried::Unsupported(why)),
            _ => Err("password_hash is not a well-formed Django argon2 string".to_string()),
        },
        // `bcrypt$` followed by the bcrypt string itself: `bcrypt$$2b$12$…`.
        "bcrypt" if rest.starts_with("$2") => modular(rest),
        "bcrypt" => Err("password_hash is not a well-formed Django bcrypt string".to_string()),
        "bcrypt_sha256" => unsupported("Django's bcrypt_sha256 (bcrypt over a SHA-256 of the password) cannot be verified by the target"),
        "sha1" | "md5" => unsupported("Django's salted sha1$/md5$ digest salt ‖ password; the target digests password ‖ salt"),
        "unsalted_sha1" => match rest.strip_prefix('$').and_then(|h| hex::decode(h).ok()) {
            Some(d) if d.len() == 20 => Ok(Carried::Hash(DigestKind::Sha(DigestFunction::Sha1).hashed(&d, &[], false))),
            _ => Err("password_hash is not a well-formed Django unsalted_sha1 string".to_string()),
        },
        "scrypt" => unsupported("scrypt hashes cannot be verified by the target"),
        "crypt" => unsupported("crypt(3) DES hashes cannot be verified by the target"),
        _ => return None,
    })
}

/// `pbkdf2_sha256$ITERATIONS$SALT$HASH`: the salt is text (its UTF-8 bytes),
/// the hash standard base64.
fn django_pbkdf2(rest: &str, function: DigestFunction) -> Result<Carried, String> {
    let malformed = || "password_hash is not a well-formed Django pbkdf2 string".to_string();
    let mut parts = rest.split('$');
    let (Some(rounds), Some(salt), Some(digest), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let rounds = rounds.parse::<u32>().map_err(|_| malformed())?;
    let digest = BASE64_ANY_PAD.decode(digest).map_err(|_| malformed())?;
    pbkdf2_hash(function, rounds, salt.as_bytes(), &digest).ok_or_else(malformed)
}

/// `{SCHEME}value` (the leading `{` already removed).
fn ldap(rest: &str) -> Result<Carried, String> {
    let Some((scheme, value)) = rest.split_once('}') else {
        return Err("password_hash starts with '{' but has no LDAP {SCHEME}".to_string());
    };
    let (kind, salted) = match scheme.to_ascii_uppercase().as_str() {
        "SSHA" => (DigestKind::Sha(DigestFunction::Sha1), true),
        "SSHA256" => (DigestKind::Sha(DigestFunction::Sha256), true),
        "SSHA384" => (DigestKind::Sha(DigestFunction::Sha384), true),
        "SSHA512" => (DigestKind::Sha(DigestFunction::Sha512), true),
        "SMD5" => (DigestKind::Md5, true),
        "SHA" => (DigestKind::Sha(DigestFunction::Sha1), false),
        "SHA256" => (DigestKind::Sha(DigestFunction::Sha256), false),
        "SHA384" => (DigestKind::Sha(DigestFunction::Sha384), false),
        "SHA512" => (DigestKind::Sha(DigestFunction::Sha512), false),
        "MD5" => (DigestKind::Md5, false),
        "CRYPT" if value.starts_with('$') => return modular(value),
        "CRYPT" => return unsupported("crypt(3) DES hashes cannot be verified by the target"),
        "ARGON2" => return modular(value),
        "MD4" => return unsupported("MD4 hashes cannot be verified by the target"),
        _ => return unsupported("this LDAP {SCHEME} is not one the target verifies"),
    };
    let malformed = || {
        format!(
            "password_hash is not a well-formed LDAP {{{}}} value (base64 of a {}-byte digest{})",
            scheme.to_ascii_uppercase(),
            kind.size(),
            if salted { " and its salt" } else { "" }
        )
    };
    let decoded = BASE64_ANY_PAD.decode(value).map_err(|_| malformed())?;
    let ok = if salted {
        decoded.len() >= kind.size()
    } else {
        decoded.len() == kind.size()
    };
    if !ok {
        return Err(malformed());
    }
    let salt = &decoded[kind.size()..];
    Ok(Carried::Hash(kind.hashed(&decoded, salt, true)))
}
