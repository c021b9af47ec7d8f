//! The password settings of a run: the `[passwords]` section of the mapping
//! file, with `--passwords` and `--unsupported-hash` overriding it.
//!
//! ```toml
//! [passwords]
//! policy = "keep"            # keep | expire | none       (--passwords)
//! unsupported = "reject"     # reject | expire | drop     (--unsupported-hash)
//! salt_encoding = "hex"      # hex | base64 | plain: how password_salt is written
//! target_salt = "text"       # text | base64: how the target reads a hash's salt (--target-salt)
//! plaintext_column = "pw"    # a column of plaintext passwords, hashed with argon2id
//!
//! [passwords.argon2]         # parameters for hashing plaintext passwords
//! memory_kb = 19456
//! iterations = 2
//! parallelism = 1
//! ```

use serde::{Deserialize, Serialize};

use crate::contract::choices::SaltConvention;

/// What to do with the passwords of the source (`--passwords`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum PasswordPolicy {
    /// Carry each password over so users keep signing in with it.
    #[default]
    Keep,
    /// Carry it over with `expires_at` in the past: users must reset it.
    Expire,
    /// Import no credentials (passwordless migration).
    None,
}

/// What becomes of a user whose hash the target cannot verify (`--unsupported-hash`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum UnsupportedPolicy {
    /// Reject the row, with the reason in the rejects file.
    #[default]
    Reject,
    /// Import the user with an expired, unusable credential: they must reset it.
    Expire,
    /// Import the user without a credential.
    Drop,
}

/// How the `password_salt` column of bare digests is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaltEncoding {
    /// Hex digits (either case).
    #[default]
    Hex,
    /// Standard base64, padded or not.
    Base64,
    /// The text itself: its UTF-8 bytes are the salt.
    Plain,
}

/// argon2id parameters for hashing plaintext passwords. The defaults are
/// OWASP's recommendation for argon2id (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Params {
    /// Memory in KiB (at least 8 × parallelism).
    pub memory_kb: u32,
    /// Passes over the memory (at least 1).
    pub iterations: u32,
    /// Lanes (at least 1).
    pub parallelism: u32,
}

impl Default for Argon2Params {
    fn default() -> Argon2Params {
        Argon2Params {
            memory_kb: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Params {
    /// Checks the parameters the way argon2 does, and against the
    /// contract's work-factor bounds (the target would refuse the hashes
    /// otherwise), with a sentence for people.
    pub fn check(&self) -> Result<(), String> {
        argon2::Params::new(self.memory_kb, self.iterations, self.parallelism, Some(32))
            .map_err(|e| format!("[passwords.argon2] parameters are invalid: {e}"))?;
        crate::contract::rules::check_argon2(self.memory_kb, self.iterations, self.parallelism)
            .map_err(|too_high| format!("[passwords.argon2] parameters are invalid: {too_high}"))
    }
}

/// The `[passwords]` section of a mapping file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordOptions {
    /// Keep, expire or drop every credential.
    pub policy: PasswordPolicy,
    /// What to do with hashes the target cannot verify.
    pub unsupported: UnsupportedPolicy,
    /// Encoding of `password_salt` for bare digests.
    pub salt_encoding: SaltEncoding,
    /// How the target reads the `salt` of a hash (`--target-salt`).
    pub target_salt: SaltConvention,
    /// Source column of plaintext passwords. Only read when declared, so a
    /// column that merely happens to be called `password` is never hashed.
    pub plaintext_column: Option<String>,
    /// argon2id parameters for plaintext passwords.
    pub argon2: Argon2Params,
}
