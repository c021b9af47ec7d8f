//! Whether a password hash is well formed under the contract's encoding
//! choices ([`crate::contract::choices`]): the configuration block of its
//! method is present and sane, `value` and `salt` decode, and the digest has
//! the length its method or `key_length` says. A stored hash that fails these
//! checks could never verify a password, so it is refused at import.
//!
//! A hash whose work factor is above the contract's bounds
//! ([`crate::contract::rules::check_work_factor`]) is refused too: every
//! sign-in attempt against it would spend that work, so one such row lets a
//! caller burn minutes of CPU per request. ferry's mapper applies the same
//! bounds, so the importer rejects such a row before sending it.
//!
//! Problems are reported with the field path (relative to the hash) and a
//! reason that never contains the value or the salt.

use crate::contract::choices::{decode_bytes, split_embedded_salt, SaltConvention};
use crate::contract::records::{DigestFunction, HashConfig, HashMethod, HashedPassword};
use crate::contract::rules::check_work_factor;

/// A problem in a hash: the field path relative to the hash, and why.
pub type HashProblem = (&'static str, String);

/// Longest `key_length` accepted for pbkdf2 and argon2, in bytes.
const MAX_KEY_LENGTH: u32 = 1024;

/// Checks a password hash; see the module docs.
pub fn check(hash: &HashedPassword, convention: SaltConvention) -> Result<(), HashProblem> {
    let config = &hash.config;
    let value = &hash.value;
    match config.method {
        HashMethod::Bcrypt => check_bcrypt(config, value),
        HashMethod::Pbkdf2 => check_pbkdf2(config, value, convention),
        HashMethod::Argon2 => check_argon2(config, value, convention),
        HashMethod::Sha => check_sha(config, value, convention),
        HashMethod::Md5 => check_md5(config, value, convention),
    }?;
    check_work_factor(hash).map_err(|too_high| (too_high.field, too_high.to_string()))
}

/// `$2a$`, `$2b$` or `$2y$`, a two-digit cost from 04 to 31, `$`, and 53
/// characters of bcrypt's base64 alphabet (22 of salt, 31 of digest).
fn check_bcrypt(config: &HashConfig, value: &str) -> Result<(), HashProblem> {
    let cost = bcrypt_cost(value).ok_or((
        "value",
        "is not a bcrypt modular-crypt string ($2a$, $2b$ or $2y$, cost 04-31, 53 characters)"
            .to_owned(),
    ))?;
    if let Some(block) = &config.bcrypt {
        if block.cost != cost {
            return Err((
                "config.bcrypt.cost",
                format!("is {} but the value's cost is {cost}", block.cost),
            ));
        }
    }
    Ok(())
}

/// The cost of a well-formed bcrypt string.
fn bcrypt_cost(value: &str) -> Option<u32> {
    let bytes = value.as_bytes();
    if bytes.len() != 60 {
        return None;
    }
    let prefix_ok =
        bytes.starts_with(b"$2a$") || bytes.starts_with(b"$2b$") || bytes.starts_with(b"$2y$");
    let digits = &value[4..6];
    let cost: u32 = digits.parse().ok()?;
    let body_ok = bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    (prefix_ok && digits.bytes().all(|b| b.is_ascii_digit()) && (4..=31).contains(&cost) && body_ok)
        .then_some(cost)
}

fn check_pbkdf2(
    config: &HashConfig,
    value: &str,
    convention: SaltConvention,
) -> Result<(), HashProblem> {
    let block = config.pbkdf2.as_ref().ok_or((
        "config.pbkdf2",
        "is required when method is pbkdf2".to_owned(),
    ))?;
    if block.function == DigestFunction::Sha384 {
        return Err((
            "config.pbkdf2.function",
            "must be SHA-1, SHA-256 or SHA-512".to_owned(),
        ));
    }
    if block.number_of_iterations == 0 {
        return Err((
            "config.pbkdf2.number_of_iterations",
            "must be at least 1".to_owned(),
        ));
    }
    check_key_length("config.pbkdf2.key_length", block.key_length, 1)?;
    let salted = split_salt(
        convention,
        "config.pbkdf2",
        value,
        block.salt.as_deref(),
        block.salt_length,
        false,
    )?;
    check_digest_length(salted.digest_len, block.key_length as usize, "key_length")
}

fn check_argon2(
    config: &HashConfig,
    value: &str,
    convention: SaltConvention,
) -> Result<(), HashProblem> {
    let block = config.argon2.as_ref().ok_or((
        "config.argon2",
        "is required when method is argon2".to_owned(),
    ))?;
    if block.iterations == 0 {
        return Err(("config.argon2.iterations", "must be at least 1".to_owned()));
    }
    if !(1..=0x00FF_FFFF).contains(&block.parallelism) {
        return Err((
            "config.argon2.parallelism",
            "must be between 1 and 16777215".to_owned(),
        ));
    }
    if u64::from(block.memory_in_kb) < 8 * u64::from(block.parallelism) {
        return Err((
            "config.argon2.memory_in_kb",
            "must be at least 8 times parallelism".to_owned(),
        ));
    }
    check_key_length("config.argon2.key_length", block.key_length, 4)?;
    let salted = split_salt(
        convention,
        "config.argon2",
        value,
        block.salt.as_deref(),
        block.salt_length,
        false,
    )?;
    if salted.salt_len < 8 {
        return Err((
            "config.argon2.salt",
            format!("is {} bytes; argon2 needs at least 8", salted.salt_len),
        ));
    }
    check_digest_length(salted.digest_len, block.key_length as usize, "key_length")
}

fn check_sha(
    config: &HashConfig,
    value: &str,
    convention: SaltConvention,
) -> Result<(), HashProblem> {
    let block = config
        .sha
        .as_ref()
        .ok_or(("config.sha", "is required when method is sha".to_owned()))?;
    let salted = split_salt(
        convention,
        "config.sha",
        value,
        block.salt.as_deref(),
        block.salt_length,
        block.salt_after_digest_in_hash,
    )?;
    check_digest_length(salted.digest_len, digest_size(block.function), "function")
}

fn check_md5(
    config: &HashConfig,
    value: &str,
    convention: SaltConvention,
) -> Result<(), HashProblem> {
    // An unsalted md5 needs no parameters.
    let (salt, salt_length, after) = config.salt();
    let salted = split_salt(convention, "config.md5", value, salt, salt_length, after)?;
    check_digest_length(salted.digest_len, 16, "method md5")
}

fn digest_size(function: DigestFunction) -> usize {
    match function {
        DigestFunction::Sha1 => 20,
        DigestFunction::Sha256 => 32,
        DigestFunction::Sha384 => 48,
        DigestFunction::Sha512 => 64,
    }
}

fn check_key_length(field: &'static str, key_length: u32, min: u32) -> Result<(), HashProblem> {
    if (min..=MAX_KEY_LENGTH).contains(&key_length) {
        Ok(())
    } else {
        Err((field, format!("must be between {min} and {MAX_KEY_LENGTH}")))
    }
}

fn check_digest_length(actual: usize, expected: usize, said_by: &str) -> Result<(), HashProblem> {
    if actual == expected {
        Ok(())
    } else {
        Err((
            "value",
            format!("holds a {actual}-byte digest but {said_by} means {expected} bytes"),
        ))
    }
}

/// Lengths of the salt and digest of a hash, once decoded.
struct Salted {
    salt_len: usize,
    digest_len: usize,
}

/// Decodes `value` (and `salt`), and splits an embedded salt off the value
/// when `salt` is absent and `salt_length > 0`.
fn split_salt(
    convention: SaltConvention,
    block: &'static str,
    value: &str,
    salt: Option<&str>,
    salt_length: u32,
    salt_after_digest: bool,
) -> Result<Salted, HashProblem> {
    let decoded =
        decode_bytes(value).map_err(|_| ("value", "is not standard padded base64".to_owned()))?;
    let salt_length = salt_length as usize;
    match salt {
        Some(salt) => {
            let salt = convention.decode(salt).ok_or_else(|| {
                (
                    salt_field(block),
                    "is not standard padded base64 (this server reads salts as base64: --salt base64)"
                        .to_owned(),
                )
            })?;
            if salt_length != 0 && salt_length != salt.len() {
                return Err((
                    salt_field(block),
                    format!(
                        "holds {} bytes but salt_length is {salt_length}",
                        salt.len()
                    ),
                ));
            }
            Ok(Salted {
                salt_len: salt.len(),
                digest_len: decoded.len(),
            })
        }
        None => {
            let (salt, digest) = split_embedded_salt(&decoded, salt_length, salt_after_digest)
                .ok_or((
                    "value",
                    format!("is shorter than its embedded salt_length of {salt_length} bytes"),
                ))?;
            Ok(Salted {
                salt_len: salt.len(),
                digest_len: digest.len(),
            })
        }
    }
}

fn salt_field(block: &'static str) -> &'static str {
    match block {
        "config.pbkdf2" => "config.pbkdf2.salt",
        "config.argon2" => "config.argon2.salt",
        "config.sha" => "config.sha.salt",
        _ => "config.md5.salt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::choices::encode_bytes;
    use crate::contract::records::{
        Argon2Config, BcryptConfig, Md5Config, Pbkdf2Config, ShaConfig,
    };

    /// The checks at a server reading salts as base64, as these hashes are written.
    fn check(hash: &HashedPassword) -> Result<(), HashProblem> {
        super::check(hash, SaltConvention::Base64)
    }

    fn hash(config: HashConfig, value: impl Into<String>) -> HashedPassword {
        HashedPassword {
            config,
            value: value.into(),
        }
    }

    const BCRYPT: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

    #[test]
    fn bcrypt() {
        assert_eq!(
            check(&hash(HashConfig::only(HashMethod::Bcrypt), BCRYPT)),
            Ok(())
        );
        let mut with_cost = HashConfig::only(HashMethod::Bcrypt);
        with_cost.bcrypt = Some(BcryptConfig { cost: 10 });
        assert_eq!(
            check(&hash(with_cost, BCRYPT)).unwrap_err().0,
            "config.bcrypt.cost"
        );
        for bad in [
            "$2x$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$2b$03$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMU",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMU!",
            "",
        ] {
            assert_eq!(
                check(&hash(HashConfig::only(HashMethod::Bcrypt), bad))
                    .unwrap_err()
                    .0,
                "value"
            );
        }
    }

    #[test]
    fn sha_digest_length_and_embedded_salt() {
        let mut c = HashConfig::only(HashMethod::Sha);
        c.sha = Some(ShaConfig {
            function: DigestFunction::Sha256,
            salt: None,
            salt_length: 8,
            salt_after_digest_in_hash: true,
        });
        assert_eq!(check(&hash(c.clone(), encode_bytes(&[1u8; 40]))), Ok(()));
        assert_eq!(
            check(&hash(c.clone(), encode_bytes(&[1u8; 39])))
                .unwrap_err()
                .0,
            "value"
        );
        assert_eq!(
            check(&hash(c.clone(), encode_bytes(&[1u8; 4])))
                .unwrap_err()
                .0,
            "value"
        );
        assert_eq!(check(&hash(c, "not base64!")).unwrap_err().0, "value");
        assert_eq!(
            check(&hash(
                HashConfig::only(HashMethod::Sha),
                encode_bytes(&[0u8; 20])
            ))
            .unwrap_err()
            .0,
            "config.sha"
        );
    }

    #[test]
    fn md5_with_and_without_block() {
        assert_eq!(
            check(&hash(
                HashConfig::only(HashMethod::Md5),
                encode_bytes(&[7u8; 16])
            )),
            Ok(())
        );
        let mut c = HashConfig::only(HashMethod::Md5);
        c.md5 = Some(Md5Config {
            salt: Some(encode_bytes(b"salt")),
            salt_length: 5,
            salt_after_digest_in_hash: false,
        });
        assert_eq!(
            check(&hash(c, encode_bytes(&[7u8; 16]))).unwrap_err().0,
            "config.md5.salt"
        );
    }

    #[test]
    fn pbkdf2_and_argon2() {
        let mut c = HashConfig::only(HashMethod::Pbkdf2);
        c.pbkdf2 = Some(Pbkdf2Config {
            function: DigestFunction::Sha256,
            number_of_iterations: 10_000,
            key_length: 32,
            salt: Some(encode_bytes(b"0123456789abcdef")),
            salt_length: 16,
        });
        assert_eq!(check(&hash(c.clone(), encode_bytes(&[3u8; 32]))), Ok(()));
        assert_eq!(
            check(&hash(c.clone(), encode_bytes(&[3u8; 31])))
                .unwrap_err()
                .0,
            "value"
        );
        if let Some(block) = c.pbkdf2.as_mut() {
            block.number_of_iterations = 0;
        }
        assert_eq!(
            check(&hash(c, encode_bytes(&[3u8; 32]))).unwrap_err().0,
            "config.pbkdf2.number_of_iterations"
        );

        let mut a = HashConfig::only(HashMethod::Argon2);
        a.argon2 = Some(Argon2Config {
            iterations: 3,
            memory_in_kb: 65536,
            parallelism: 4,
            key_length: 32,
            salt: None,
            salt_length: 16,
        });
        assert_eq!(check(&hash(a.clone(), encode_bytes(&[9u8; 48]))), Ok(()));
        if let Some(block) = a.argon2.as_mut() {
            block.salt_length = 4;
        }
        assert_eq!(
            check(&hash(a, encode_bytes(&[9u8; 36]))).unwrap_err().0,
            "config.argon2.salt"
        );
    }

    /// A bcrypt string of `cost` (the salt and digest of [`BCRYPT`]).
    fn bcrypt_of_cost(cost: u32) -> HashedPassword {
        hash(
            HashConfig::only(HashMethod::Bcrypt),
            format!("$2b${cost:02}${}", &BCRYPT[7..]),
        )
    }

    fn pbkdf2_of(iterations: u32) -> HashedPassword {
        let mut c = HashConfig::only(HashMethod::Pbkdf2);
        c.pbkdf2 = Some(Pbkdf2Config {
            function: DigestFunction::Sha256,
            number_of_iterations: iterations,
            key_length: 32,
            salt: Some(encode_bytes(b"0123456789abcdef")),
            salt_length: 16,
        });
        hash(c, encode_bytes(&[3u8; 32]))
    }

    fn argon2_of(memory_in_kb: u32, iterations: u32, parallelism: u32) -> HashedPassword {
        let mut a = HashConfig::only(HashMethod::Argon2);
        a.argon2 = Some(Argon2Config {
            iterations,
            memory_in_kb,
            parallelism,
            key_length: 32,
            salt: None,
            salt_length: 16,
        });
        hash(a, encode_bytes(&[9u8; 48]))
    }

    #[test]
    fn work_factors_above_the_contract_bounds_are_refused_with_the_bound() {
        use crate::contract::rules::{
            MAX_ARGON2_ITERATIONS, MAX_ARGON2_MEMORY_KB, MAX_ARGON2_PARALLELISM, MAX_BCRYPT_COST,
            MAX_PBKDF2_ITERATIONS,
        };
        assert_eq!(check(&bcrypt_of_cost(MAX_BCRYPT_COST)), Ok(()));
        let (field, reason) = check(&bcrypt_of_cost(MAX_BCRYPT_COST + 1)).unwrap_err();
        assert_eq!(field, "value");
        assert!(
            reason.contains("bcrypt cost 16") && reason.contains("bound of 15"),
            "{reason}"
        );

        assert_eq!(check(&pbkdf2_of(MAX_PBKDF2_ITERATIONS)), Ok(()));
        for too_many in [MAX_PBKDF2_ITERATIONS + 1, u32::MAX] {
            let (field, reason) = check(&pbkdf2_of(too_many)).unwrap_err();
            assert_eq!(field, "config.pbkdf2.number_of_iterations");
            assert!(reason.contains("bound of 10000000"), "{reason}");
        }

        assert_eq!(check(&argon2_of(MAX_ARGON2_MEMORY_KB, 4, 4)), Ok(()));
        let (field, reason) = check(&argon2_of(MAX_ARGON2_MEMORY_KB + 1, 1, 4)).unwrap_err();
        assert_eq!(field, "config.argon2.memory_in_kb");
        assert!(reason.contains("bound of 1048576"), "{reason}");
        assert_eq!(check(&argon2_of(64, MAX_ARGON2_ITERATIONS, 1)), Ok(()));
        assert_eq!(
            check(&argon2_of(64, MAX_ARGON2_ITERATIONS + 1, 1))
                .unwrap_err()
                .0,
            "config.argon2.iterations"
        );
        assert_eq!(check(&argon2_of(1024, 1, MAX_ARGON2_PARALLELISM)), Ok(()));
        assert_eq!(
            check(&argon2_of(1024, 1, MAX_ARGON2_PARALLELISM + 1))
                .unwrap_err()
                .0,
            "config.argon2.parallelism"
        );
    }

    #[test]
    fn reasons_never_contain_the_value() {
        let secret = "c2VjcmV0LWRpZ2VzdA==";
        let mut c = HashConfig::only(HashMethod::Sha);
        c.sha = Some(ShaConfig {
            function: DigestFunction::Sha512,
            salt: Some("c2FsdHlzYWx0".into()),
            salt_length: 0,
            salt_after_digest_in_hash: false,
        });
        let (_, reason) = check(&hash(c, secret)).unwrap_err();
        assert!(
            !reason.contains(secret) && !reason.contains("c2FsdHlzYWx0"),
            "{reason}"
        );
    }
}
