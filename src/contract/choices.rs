//! The open points of the contract and what ferry assumes about them
//! (spec section "Open points and ferry's choices"). Change them here, and
//! only here, when a real tenant shows otherwise.
//!
//! - bcrypt: `value` is the modular-crypt string, cost read from it.
//! - sha, md5, pbkdf2, argon2: `value` is standard padded base64 of the raw
//!   digest. How `salt` is written is a target setting, [`SaltConvention`]:
//!   as text (its UTF-8 bytes are the salt; the default, as the migration
//!   guide's sample has it) or as standard padded base64 of the raw bytes.
//!   Without `salt` and with `salt_length > 0`, the salt is the first
//!   `salt_length` bytes of the decoded value (the last ones with
//!   `salt_after_digest_in_hash`).
//! - sha and md5 digest the password's UTF-8 bytes followed by the salt
//!   (H(password ‖ salt)).
//! - pbkdf2 uses HMAC with `function`; argon2 is argon2id, version 0x13.
//! - identifiers are unique per pool on `identifier_lc` (pools are case-insensitive).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::records::HashedPassword;

/// Encodes raw digest or salt bytes the way the contract's hash `value` and `salt` carry them.
pub fn encode_bytes(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes a hash `value` or `salt` field.
pub fn decode_bytes(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD.decode(text)
}

/// How a hash's `salt` field is written: the one encoding choice the
/// public material leaves to evidence, so a setting of the target
/// (`--target-salt`, `ferry serve --salt`).
///
/// The migration guide's sample credential has `"salt":
/// "lJgayFHwYelZGmrBnYqt", "salt_length": 20`: 20 is the length of the text
/// (as base64 it would be 15 bytes), so the platform most likely reads the
/// salt as text, and that is the default.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SaltConvention {
    /// `salt` is text; its UTF-8 bytes are the salt.
    #[default]
    Text,
    /// `salt` is standard padded base64 of the raw salt bytes.
    Base64,
}

impl SaltConvention {
    /// The setting's name, as the flag takes it.
    pub fn name(self) -> &'static str {
        match self {
            SaltConvention::Text => "text",
            SaltConvention::Base64 => "base64",
        }
    }

    /// The raw salt bytes a `salt` field stands for; `None` when it is not
    /// in this convention (text that is not base64, under `base64`).
    pub fn decode(self, salt: &str) -> Option<Vec<u8>> {
        match self {
            SaltConvention::Text => Some(salt.as_bytes().to_vec()),
            SaltConvention::Base64 => decode_bytes(salt).ok(),
        }
    }

    /// Rewrites the `salt` of `hashed`, given as base64 of the raw bytes (the
    /// lossless form ferry's decoders write), as this convention has it.
    /// Under `text`, a salt that is not UTF-8 text cannot be a `salt`: it
    /// travels inside `value` instead, after the digest where the block has
    /// `salt_after_digest_in_hash` (sha, md5) and before it otherwise
    /// (pbkdf2, argon2), with `salt_length` saying where to split. Every
    /// salted method has one of those layouts, so no salt is left behind.
    pub fn write_salt(self, hashed: &mut HashedPassword) {
        if self == SaltConvention::Base64 {
            return;
        }
        let Some(fields) = hashed.config.salt_mut() else {
            return;
        };
        let Some(salt) = fields.salt.take() else {
            return;
        };
        let (Ok(raw), Ok(digest)) = (decode_bytes(&salt), decode_bytes(&hashed.value)) else {
            // Not written by a decoder: left exactly as it was.
            *fields.salt = Some(salt);
            return;
        };
        match String::from_utf8(raw) {
            Ok(text) => *fields.salt = Some(text),
            Err(binary) => {
                let raw = binary.into_bytes();
                *fields.salt_length = raw.len() as u32;
                let embedded = match fields.after_digest {
                    Some(after) => {
                        *after = true;
                        [digest.as_slice(), &raw].concat()
                    }
                    None => [raw.as_slice(), &digest].concat(),
                };
                hashed.value = encode_bytes(&embedded);
            }
        }
    }
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
    use crate::contract::records::{
        Argon2Config, DigestFunction, HashConfig, HashMethod, Pbkdf2Config, ShaConfig,
    };

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

    fn salted(method: HashMethod, salt: &[u8], digest: &[u8]) -> HashedPassword {
        let mut config = HashConfig::only(method);
        let (salt_field, salt_length) = (Some(encode_bytes(salt)), salt.len() as u32);
        match method {
            HashMethod::Pbkdf2 => {
                config.pbkdf2 = Some(Pbkdf2Config {
                    function: DigestFunction::Sha256,
                    number_of_iterations: 1000,
                    key_length: digest.len() as u32,
                    salt: salt_field,
                    salt_length,
                })
            }
            HashMethod::Argon2 => {
                config.argon2 = Some(Argon2Config {
                    iterations: 1,
                    memory_in_kb: 64,
                    parallelism: 1,
                    key_length: digest.len() as u32,
                    salt: salt_field,
                    salt_length,
                })
            }
            _ => {
                config.sha = Some(ShaConfig {
                    function: DigestFunction::Sha256,
                    salt: salt_field,
                    salt_length,
                    salt_after_digest_in_hash: false,
                })
            }
        }
        HashedPassword {
            config,
            value: encode_bytes(digest),
        }
    }

    fn salt_of(hashed: &mut HashedPassword) -> (Option<String>, u32, Option<bool>) {
        let fields = hashed.config.salt_mut().unwrap();
        (
            fields.salt.clone(),
            *fields.salt_length,
            fields.after_digest.map(|a| *a),
        )
    }

    #[test]
    fn under_base64_a_salt_is_written_as_the_decoders_write_it() {
        let mut hashed = salted(HashMethod::Sha, b"salt", b"DIGEST");
        let before = hashed.clone();
        SaltConvention::Base64.write_salt(&mut hashed);
        assert_eq!(hashed, before);
        assert_eq!(
            SaltConvention::Base64.decode("c2FsdA=="),
            Some(b"salt".to_vec())
        );
        assert_eq!(SaltConvention::Base64.decode("salt!"), None);
    }

    #[test]
    fn under_text_a_text_salt_is_the_text_and_a_binary_one_goes_inside_the_value() {
        let mut text = salted(HashMethod::Pbkdf2, "sälz".as_bytes(), b"DIGEST");
        SaltConvention::Text.write_salt(&mut text);
        assert_eq!(salt_of(&mut text), (Some("sälz".into()), 5, None));
        assert_eq!(decode_bytes(&text.value).unwrap(), b"DIGEST");
        assert_eq!(
            SaltConvention::Text.decode("sälz"),
            Some("sälz".as_bytes().to_vec())
        );

        let binary = [0xff, 0x00, 0xc3];
        // sha and md5 have salt_after_digest_in_hash: the salt follows the digest.
        let mut sha = salted(HashMethod::Sha, &binary, b"DIGEST");
        SaltConvention::Text.write_salt(&mut sha);
        assert_eq!(salt_of(&mut sha), (None, 3, Some(true)));
        assert_eq!(decode_bytes(&sha.value).unwrap(), b"DIGEST\xff\x00\xc3");
        // pbkdf2 and argon2 have not: the salt precedes it.
        for method in [HashMethod::Pbkdf2, HashMethod::Argon2] {
            let mut hashed = salted(method, &binary, b"DIGEST");
            SaltConvention::Text.write_salt(&mut hashed);
            assert_eq!(salt_of(&mut hashed), (None, 3, None), "{method:?}");
            assert_eq!(decode_bytes(&hashed.value).unwrap(), b"\xff\x00\xc3DIGEST");
        }
    }

    #[test]
    fn hashes_without_a_salt_field_are_left_alone() {
        let mut bcrypt = HashedPassword {
            config: HashConfig::only(HashMethod::Bcrypt),
            value: "$2b$04$abc".into(),
        };
        let before = bcrypt.clone();
        SaltConvention::Text.write_salt(&mut bcrypt);
        assert_eq!(bcrypt, before);
        let mut embedded = salted(HashMethod::Sha, b"", b"DIGEST");
        embedded.config.sha.as_mut().unwrap().salt = None;
        let before = embedded.clone();
        SaltConvention::Text.write_salt(&mut embedded);
        assert_eq!(embedded, before);
    }
}
