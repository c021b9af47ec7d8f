//! Plaintext passwords (a column the mapping declares) are hashed with
//! argon2id, version 0x13, before anything leaves the mapper.
//!
//! The 16-byte salt is derived from the tenant, pool and user key rather
//! than drawn at random, so that the mapper stays deterministic: a dry run
//! and the import produce the same bytes, and a resumed or resent batch is
//! identical. Salts stay unique per user and per pool, which is what a salt
//! is for; deriving it from the password would leak a fast hash of it, so
//! the password is not an input.
//!
//! The plaintext is never part of an error or log: reasons name the column only.

use argon2::{Algorithm, Argon2, Params, Version};

use super::{Argon2Params, Owner};
use crate::contract::choices::encode_bytes;
use crate::contract::{Argon2Config, HashConfig, HashMethod, HashedPassword};

/// Salt length in bytes.
const SALT_LEN: usize = 16;
/// Key length in bytes.
const KEY_LEN: usize = 32;

/// Hashes `password` for `owner` with argon2id.
pub fn hash(
    password: &str,
    params: &Argon2Params,
    owner: Owner<'_>,
) -> Result<HashedPassword, String> {
    let salt = salt(owner);
    let argon = Params::new(
        params.memory_kb,
        params.iterations,
        params.parallelism,
        Some(KEY_LEN),
    )
    .map_err(|e| format!("[passwords.argon2] parameters are invalid: {e}"))?;
    let mut key = [0u8; KEY_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon)
        .hash_password_into(password.as_bytes(), &salt, &mut key)
        .map_err(|e| format!("the plaintext password could not be hashed: {e}"))?;
    let mut config = HashConfig::only(HashMethod::Argon2);
    config.argon2 = Some(Argon2Config {
        iterations: params.iterations,
        memory_in_kb: params.memory_kb,
        parallelism: params.parallelism,
        key_length: KEY_LEN as u32,
        salt: Some(encode_bytes(&salt)),
        salt_length: SALT_LEN as u32,
    });
    Ok(HashedPassword {
        config,
        value: encode_bytes(&key),
    })
}

fn salt(owner: Owner<'_>) -> [u8; SALT_LEN] {
    let digest = owner.digest(b"ferry argon2id salt\0");
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&digest[..SALT_LEN]);
    salt
}
