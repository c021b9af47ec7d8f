//! Password hashes from the source → the contract's `hashed_password`.
//!
//! This first version carries salted SHA-256 hashes: the source holds the hex
//! digest of the password's bytes followed by the salt (SHA-256(password ‖ salt)),
//! with the salt in hex in its own column. That is exactly the contract's
//! `sha` method (see [`crate::contract::choices`]), so the digest and salt are
//! re-encoded (hex → base64) and nothing is recomputed. Rows naming any other
//! algorithm are rejected with that reason.
//!
//! Reasons never echo the hash or the salt.

use crate::contract::choices::encode_bytes;
use crate::contract::{DigestFunction, HashConfig, HashMethod, HashedPassword, ShaConfig};

/// Length of a SHA-256 digest in bytes.
const SHA256_LEN: usize = 32;

/// The algorithms ferry can carry over today, named as a source writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-256(password ‖ salt), hex digest, hex salt.
    SaltedSha256,
}

impl Algorithm {
    /// Parses a `password_algorithm` value (`sha256`, `SHA-256`, `salted_sha256`, ...).
    pub fn parse(name: &str) -> Result<Algorithm, String> {
        let compact: String = name
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        match compact.as_str() {
            "sha256" | "saltedsha256" => Ok(Algorithm::SaltedSha256),
            _ => Err(format!(
                "password algorithm '{}' is not supported yet",
                name.trim()
            )),
        }
    }
}

/// Builds the contract hash from a source hash, its salt and algorithm.
/// Without an algorithm, a 64-digit hex hash is taken as salted SHA-256.
pub fn hashed_password(
    hash: &str,
    salt: Option<&str>,
    algorithm: Option<&str>,
) -> Result<HashedPassword, String> {
    let algorithm = match algorithm {
        Some(name) => Algorithm::parse(name)?,
        None if hash.len() == 2 * SHA256_LEN && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Algorithm::SaltedSha256
        }
        None => {
            return Err(
                "password_algorithm is empty and the hash format is not recognised".to_string(),
            )
        }
    };
    match algorithm {
        Algorithm::SaltedSha256 => salted_sha256(hash, salt),
    }
}

fn salted_sha256(hash: &str, salt: Option<&str>) -> Result<HashedPassword, String> {
    let digest = hex::decode(hash)
        .ok()
        .filter(|d| d.len() == SHA256_LEN)
        .ok_or_else(|| {
            format!(
                "password_hash is not a {}-digit hex SHA-256 digest",
                2 * SHA256_LEN
            )
        })?;
    let salt = match salt {
        Some(text) => hex::decode(text).map_err(|_| "password_salt is not hex".to_string())?,
        None => Vec::new(),
    };
    Ok(HashedPassword {
        config: HashConfig {
            method: HashMethod::Sha,
            bcrypt: None,
            pbkdf2: None,
            argon2: None,
            sha: Some(ShaConfig {
                function: DigestFunction::Sha256,
                salt: (!salt.is_empty()).then(|| encode_bytes(&salt)),
                salt_length: salt.len() as u32,
                salt_after_digest_in_hash: false,
            }),
            md5: None,
        },
        value: encode_bytes(&digest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::choices::decode_bytes;
    use sha2::{Digest, Sha256};

    #[test]
    fn salted_sha256_becomes_the_sha_config() {
        let salt = [0xde, 0xad, 0xbe, 0xef];
        let digest = Sha256::new()
            .chain_update(b"hunter2")
            .chain_update(salt)
            .finalize();
        let h = hashed_password(&hex::encode(digest), Some("DEADBEEF"), Some("SHA-256")).unwrap();
        assert_eq!(h.config.method, HashMethod::Sha);
        let sha = h.config.sha.unwrap();
        assert_eq!(sha.function, DigestFunction::Sha256);
        assert_eq!(decode_bytes(sha.salt.as_deref().unwrap()).unwrap(), salt);
        assert_eq!(sha.salt_length, 4);
        assert!(!sha.salt_after_digest_in_hash);
        assert_eq!(decode_bytes(&h.value).unwrap(), digest.as_slice());
    }

    #[test]
    fn algorithm_is_inferred_from_a_hex_digest() {
        let hash = "ab".repeat(32);
        assert!(hashed_password(&hash, None, None).is_ok());
        assert!(hashed_password("$2b$10$abcdefghijklmnopqrstuu", None, None).is_err());
    }

    #[test]
    fn bad_hashes_are_rejected_without_echoing_them() {
        let secret_looking = "zz".repeat(32);
        let err = hashed_password(&secret_looking, None, Some("sha256")).unwrap_err();
        assert!(!err.contains(&secret_looking), "{err}");
        assert!(
            hashed_password(&"ab".repeat(31), None, Some("sha256")).is_err(),
            "too short"
        );
        let err = hashed_password(&"ab".repeat(32), Some("xyz"), None).unwrap_err();
        assert_eq!(err, "password_salt is not hex");
        let err = hashed_password("$2b$10$x", None, Some("bcrypt")).unwrap_err();
        assert_eq!(err, "password algorithm 'bcrypt' is not supported yet");
    }
}
