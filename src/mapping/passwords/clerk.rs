//! `pbkdf2_sha256$…` and `pbkdf2_sha1$…` strings under a `password_algorithm`
//! that Clerk (`password_hasher`) and Django both use, but encode differently:
//!
//! | name | layout | salt | key |
//! |---|---|---|---|
//! | Django `pbkdf2_sha256`, Clerk `pbkdf2_sha256_django` | `pbkdf2_sha256$iterations$salt$key` | text | base64 |
//! | Clerk `pbkdf2_sha256` | the same | base64 | base64 |
//! | Django `pbkdf2_sha1` | `pbkdf2_sha1$iterations$salt$key` | text | base64 |
//! | Clerk `pbkdf2_sha1` | the same, or with `$key_length` after the key | hex, or text when it is not hex | hex |
//!
//! The SHA-1 strings tell themselves apart: a Django key is padded base64
//! of 20 bytes, never all hex digits. The SHA-256 ones do not, as long as
//! the salt uses only letters and digits (Django's salts always do; base64
//! often does): read the wrong way, the hash would never match, so ferry
//! rejects such a row and asks for the unambiguous name,
//! `pbkdf2_sha256_django` for Django's or `clerk_pbkdf2_sha256` for Clerk's.
//! A salt with `+`, `/` or `=` can only be base64.
//!
//! A string of another shape under these names (a PHC `$pbkdf2-sha256$…`)
//! is left to [`super::detect`].

use base64::Engine;

use super::detect::pbkdf2_hash;
use super::digest::BASE64_ANY_PAD;
use super::Carried;
use crate::contract::DigestFunction;

/// Converts `hash` named `pbkdf2_sha256`/`pbkdf2_sha1` (`clerk`: named
/// `clerk_…`); `None` when it is not a string this module decides, so
/// [`super::detect`] does.
pub fn convert(
    hash: &str,
    function: DigestFunction,
    clerk: bool,
) -> Option<Result<Carried, String>> {
    match function {
        DigestFunction::Sha256 => sha256(hash.strip_prefix("pbkdf2_sha256$")?, clerk),
        DigestFunction::Sha1 => sha1(hash.strip_prefix("pbkdf2_sha1$")?, clerk),
        _ => None,
    }
}

/// Clerk's `pbkdf2_sha256` layout, for reasons.
const SHA256_LAYOUT: &str = "pbkdf2_sha256$iterations$base64 salt$base64 key";
/// Clerk's `pbkdf2_sha1` layout, for reasons.
const SHA1_LAYOUT: &str = "pbkdf2_sha1$iterations$salt$hex key, optionally then $key length";

/// `iterations$salt$key`, both base64 (Clerk's), unless it may be Django's.
fn sha256(rest: &str, clerk: bool) -> Option<Result<Carried, String>> {
    let Some([iterations, salt, key]) = split::<3>(rest) else {
        return clerk.then(|| Err(malformed(SHA256_LAYOUT)));
    };
    if !clerk && salt.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some(Err(
            "password_algorithm 'pbkdf2_sha256' is ambiguous for this hash: Clerk reads its salt \
             as base64, Django as text, and this salt reads either way; name it \
             'pbkdf2_sha256_django' (Django) or 'clerk_pbkdf2_sha256' (Clerk)"
                .to_string(),
        ));
    }
    let decoded = (
        iterations.parse::<u32>().ok(),
        BASE64_ANY_PAD.decode(salt).ok(),
        BASE64_ANY_PAD.decode(key).ok(),
    );
    let (Some(iterations), Some(salt), Some(key)) = decoded else {
        return Some(Err(malformed(SHA256_LAYOUT)));
    };
    Some(pbkdf2(
        DigestFunction::Sha256,
        iterations,
        &salt,
        &key,
        SHA256_LAYOUT,
    ))
}

/// `iterations$salt$hex key[$key_length]` (Clerk's); `None` for Django's
/// base64 key, which [`super::detect`] reads.
fn sha1(rest: &str, clerk: bool) -> Option<Result<Carried, String>> {
    let parts: Vec<&str> = rest.split('$').collect();
    match parts[..] {
        [_, _, key] if !clerk && !is_hex(key) => None,
        [iterations, salt, key] => Some(sha1_clerk(iterations, salt, key, None)),
        [iterations, salt, key, length] => Some(sha1_clerk(iterations, salt, key, Some(length))),
        _ => clerk.then(|| Err(malformed(SHA1_LAYOUT))),
    }
}

/// Clerk's `pbkdf2_sha1`: the key in hex, the salt in hex when it is hex.
fn sha1_clerk(
    iterations: &str,
    salt: &str,
    key: &str,
    key_length: Option<&str>,
) -> Result<Carried, String> {
    let malformed = || malformed(SHA1_LAYOUT);
    let iterations = iterations.parse::<u32>().map_err(|_| malformed())?;
    let key = hex::decode(key).map_err(|_| malformed())?;
    if key_length.is_some_and(|length| length.parse::<usize>().ok() != Some(key.len())) {
        return Err(malformed());
    }
    // Clerk: "If the salt is not a valid hex string, the raw bytes will be used instead."
    let salt = match hex::decode(salt) {
        Ok(bytes) if is_hex(salt) => bytes,
        _ => salt.as_bytes().to_vec(),
    };
    pbkdf2(DigestFunction::Sha1, iterations, &salt, &key, SHA1_LAYOUT)
}

fn pbkdf2(
    function: DigestFunction,
    iterations: u32,
    salt: &[u8],
    key: &[u8],
    layout: &str,
) -> Result<Carried, String> {
    pbkdf2_hash(function, iterations, salt, key).ok_or_else(|| malformed(layout))
}

/// Exactly `N` `$`-separated parts.
fn split<const N: usize>(text: &str) -> Option<[&str; N]> {
    let parts: Vec<&str> = text.split('$').collect();
    parts.try_into().ok()
}

/// Non-empty, an even number of hex digits.
fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn malformed(layout: &str) -> String {
    format!("password_hash is not a well-formed Clerk pbkdf2 string ({layout})")
}
