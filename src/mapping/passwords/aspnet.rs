//! ASP.NET Identity's `PasswordHasher` blobs (`AspNetUsers.PasswordHash`),
//! selected by `password_algorithm` `aspnet-identity` (or `aspnet`,
//! `aspnetcore-identity`): standard base64 of one of two layouts, told
//! apart by the first byte.
//!
//! | version | layout | PBKDF2 |
//! |---|---|---|
//! | 2 (`0x00`) | `0x00` ‖ salt (16) ‖ subkey (32), 49 bytes | HMAC-SHA1, 1000 iterations |
//! | 3 (`0x01`) | `0x01` ‖ prf ‖ iterations ‖ salt length ‖ salt ‖ subkey (the rest); the three numbers are big-endian `u32` | prf 0 = HMAC-SHA1, 1 = HMAC-SHA256, 2 = HMAC-SHA512 |
//!
//! Both become the contract's pbkdf2 with the subkey as the derived key.
//! ASP.NET refuses to verify a version 3 blob whose salt or subkey is under
//! 16 bytes, so such a blob never matched a password and is rejected here
//! too, as is anything else that does not add up; reasons never echo the blob.

use base64::Engine;

use super::detect::{pbkdf2_hash, MAX_KEY};
use super::digest::BASE64_ANY_PAD;
use super::Carried;
use crate::contract::DigestFunction;

/// Version 2's fixed parameters (ASP.NET Identity 2, and Core in
/// `IdentityV2` compatibility mode).
const V2_ITERATIONS: u32 = 1000;
const V2_SALT: usize = 16;
const V2_SUBKEY: usize = 32;
/// Version 3's header: the marker and three `u32`s.
const V3_HEADER: usize = 13;
/// The shortest salt and subkey ASP.NET verifies in version 3 (128 bits).
const V3_MIN_PART: usize = 16;
/// The longest version 3 salt accepted: ASP.NET writes 16 bytes, and a
/// length field far beyond that is a corrupt blob, not a long salt.
const V3_MAX_SALT: usize = 1024;

/// Converts an ASP.NET Identity hash; `Err` when it is not a well-formed one.
pub fn convert(hash: &str) -> Result<Carried, String> {
    let blob = BASE64_ANY_PAD
        .decode(hash)
        .map_err(|_| malformed("it is not base64"))?;
    match blob.first() {
        Some(0x00) => v2(&blob),
        Some(0x01) => v3(&blob),
        Some(_) => Err(malformed(
            "its first byte is neither 0x00 (version 2) nor 0x01 (version 3)",
        )),
        None => Err(malformed("it is empty")),
    }
}

/// `0x00 ‖ salt(16) ‖ subkey(32)`.
fn v2(blob: &[u8]) -> Result<Carried, String> {
    if blob.len() != 1 + V2_SALT + V2_SUBKEY {
        return Err(malformed(
            "a version 2 hash is exactly 49 bytes (marker, 16-byte salt, 32-byte subkey)",
        ));
    }
    let (salt, subkey) = blob[1..].split_at(V2_SALT);
    pbkdf2(DigestFunction::Sha1, V2_ITERATIONS, salt, subkey)
}

/// `0x01 ‖ prf ‖ iterations ‖ salt length ‖ salt ‖ subkey`.
fn v3(blob: &[u8]) -> Result<Carried, String> {
    let (Some(prf), Some(iterations), Some(salt_length)) =
        (be_u32(blob, 1), be_u32(blob, 5), be_u32(blob, 9))
    else {
        return Err(malformed(
            "it is shorter than a version 3 header (13 bytes)",
        ));
    };
    let function = match prf {
        0 => DigestFunction::Sha1,
        1 => DigestFunction::Sha256,
        2 => DigestFunction::Sha512,
        _ => {
            return Err(malformed(
                "its PRF is not 0 (SHA-1), 1 (SHA-256) or 2 (SHA-512)",
            ))
        }
    };
    if iterations == 0 {
        return Err(malformed("its iteration count is 0"));
    }
    let body = &blob[V3_HEADER..];
    let salt_length = usize::try_from(salt_length).unwrap_or(usize::MAX);
    if !(V3_MIN_PART..=V3_MAX_SALT).contains(&salt_length) {
        return Err(malformed(
            "its salt length is not between 16 and 1024 bytes",
        ));
    }
    if body.len() < salt_length + V3_MIN_PART {
        return Err(malformed(
            "it is shorter than its salt length and a 16-byte subkey",
        ));
    }
    let (salt, subkey) = body.split_at(salt_length);
    pbkdf2(function, iterations, salt, subkey)
}

fn pbkdf2(
    function: DigestFunction,
    iterations: u32,
    salt: &[u8],
    subkey: &[u8],
) -> Result<Carried, String> {
    pbkdf2_hash(function, iterations, salt, subkey)
        .ok_or_else(|| malformed(&format!("its subkey is over {MAX_KEY} bytes")))
}

/// The big-endian `u32` at `at`, if the blob is long enough.
fn be_u32(blob: &[u8], at: usize) -> Option<u32> {
    let bytes = blob.get(at..at + 4)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

fn malformed(why: &str) -> String {
    format!("password_hash is not a well-formed ASP.NET Identity hash: {why}")
}
