//! The open points of the contract and what ferry assumes about them
//! (spec section "Open points and ferry's choices"). Change them here, and
//! only here, when a real tenant shows otherwise.
//!
//! - bcrypt: `value` is the modular-crypt string, cost read from it.
//! - sha, md5, pbkdf2, argon2: `value` is standard padded base64 of the raw
//!   digest; `salt` is standard padded base64 of the raw salt bytes. Without
//!   `salt` and with `salt_length > 0`, the salt is the first `salt_length`
//!   bytes of the decoded value (the last ones with `salt_after_digest_in_hash`).
//! - sha and md5 digest the password's UTF-8 bytes followed by the salt
//!   (H(password ‖ salt)).
//! - pbkdf2 uses HMAC with `function`; argon2 is argon2id, version 0x13.
//! - identifiers are unique per pool on `identifier_lc` (pools are case-insensitive).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Encodes raw digest or salt bytes the way the contract's hash `value` and `salt` carry them.
pub fn encode_bytes(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes a hash `value` or `salt` field.
pub fn decode_bytes(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD.decode(text)
}

/// Splits a decoded hash `value` into (salt, digest) when the salt travels inside it.
pub fn split_embedded_salt(
    value: &[u8],
    salt_length: usize,
    salt_after_digest: bool,
) -> Option<(&[u8], &[u8])> {
    if salt_length > value.len() {
        return None;
    }
    Some(if salt_after_digest {
        let (digest, salt) = value.split_at(value.len() - salt_length);
        (salt, digest)
    } else {
        value.split_at(salt_length)
    })
}

/// The `expires_at` value that means "never expires".
pub const NEVER_EXPIRES: time::OffsetDateTime = time::macros::datetime!(1900-01-01 00:00:00 UTC);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_salt_either_side() {
        let value = b"SSSDDDDD";
        assert_eq!(
            split_embedded_salt(value, 3, false),
            Some((&b"SSS"[..], &b"DDDDD"[..]))
        );
        assert_eq!(
            split_embedded_salt(value, 5, true),
            Some((&b"DDDDD"[..], &b"SSS"[..]))
        );
        assert_eq!(split_embedded_salt(value, 9, false), None);
    }

    #[test]
    fn base64_round_trip() {
        let bytes = [0u8, 255, 17, 42];
        assert_eq!(decode_bytes(&encode_bytes(&bytes)).unwrap(), bytes);
        assert_eq!(encode_bytes(b"ab"), "YWI=");
    }
}
