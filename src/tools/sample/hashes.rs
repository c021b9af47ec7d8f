//! The password formats of a sample: how a user's generated password is
//! hashed into the export's `password_hash`, `password_salt` and
//! `password_algorithm` columns. Work factors are deliberately cheap (see
//! the module docs of [`super`]).

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// A password format of the sample (`ferry sample --password-formats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleHash {
    /// SHA-256(password ‖ salt), hex digest, 8-byte hex salt; `password_algorithm` sha256.
    Sha256,
    /// SHA-1(password ‖ salt), hex, hex salt.
    Sha1,
    /// SHA-512(password ‖ salt), hex, hex salt.
    Sha512,
    /// MD5(password ‖ salt), hex, hex salt.
    Md5,
    /// bcrypt `$2b$04$…` (cost 4).
    Bcrypt,
    /// argon2id PHC string, `m=64,t=1,p=1`.
    Argon2id,
    /// passlib's `$pbkdf2-sha256$1000$…` (adapted base64).
    Pbkdf2Sha256,
    /// Django's `pbkdf2_sha256$1000$salt$hash`.
    DjangoPbkdf2Sha256,
    /// LDAP `{SSHA}` (SHA-1, salt after the digest).
    Ssha,
    /// LDAP `{SSHA512}`.
    Ssha512,
}

impl SampleHash {
    /// Every format, in the order of [`SampleHash::name`].
    pub const ALL: [SampleHash; 10] = [
        SampleHash::Sha256,
        SampleHash::Sha1,
        SampleHash::Sha512,
        SampleHash::Md5,
        SampleHash::Bcrypt,
        SampleHash::Argon2id,
        SampleHash::Pbkdf2Sha256,
        SampleHash::DjangoPbkdf2Sha256,
        SampleHash::Ssha,
        SampleHash::Ssha512,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SampleHash::Sha256 => "sha256",
            SampleHash::Sha1 => "sha1",
            SampleHash::Sha512 => "sha512",
            SampleHash::Md5 => "md5",
            SampleHash::Bcrypt => "bcrypt",
            SampleHash::Argon2id => "argon2id",
            SampleHash::Pbkdf2Sha256 => "pbkdf2-sha256",
            SampleHash::DjangoPbkdf2Sha256 => "django-pbkdf2-sha256",
            SampleHash::Ssha => "ssha",
            SampleHash::Ssha512 => "ssha512",
        }
    }

    /// Parses a comma-separated list of names (`all` for every format).
    pub fn parse_list(text: &str) -> Result<Vec<SampleHash>, String> {
        let mut list = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                list.extend(SampleHash::ALL);
                continue;
            }
            let format = SampleHash::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| {
                    format!(
                        "unknown password format '{name}' (known: all, {})",
                        SampleHash::ALL.map(SampleHash::name).join(", ")
                    )
                })?;
            list.push(format);
        }
        Ok(list)
    }

    /// The (password_hash, password_salt, password_algorithm) columns for `password`.
    pub(super) fn columns(self, rng: &mut ChaCha8Rng, password: &str) -> (String, String, String) {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
        use base64::Engine;
        let pw = password.as_bytes();
        // Hex digest of password ‖ 8-byte salt, the salt in hex, and the algorithm's name.
        fn salted<D: Digest>(
            rng: &mut ChaCha8Rng,
            pw: &[u8],
            name: &str,
        ) -> (String, String, String) {
            let salt: [u8; 8] = rng.random();
            let digest = D::new().chain_update(pw).chain_update(salt).finalize();
            (hex::encode(digest), hex::encode(salt), name.to_string())
        }
        match self {
            SampleHash::Sha256 => {
                // The draw order (salt, then the name's spelling) keeps earlier samples' bytes.
                let (hash, salt, _) = salted::<Sha256>(rng, pw, "");
                let algorithm = if rng.random_bool(0.8) {
                    "sha256"
                } else {
                    "SHA-256"
                };
                (hash, salt, algorithm.to_string())
            }
            SampleHash::Sha1 => salted::<sha1::Sha1>(rng, pw, "sha1"),
            SampleHash::Sha512 => salted::<sha2::Sha512>(rng, pw, "sha512"),
            SampleHash::Md5 => salted::<md5::Md5>(rng, pw, "md5"),
            SampleHash::Bcrypt => {
                let salt: [u8; 16] = rng.random();
                let hash = bcrypt::hash_with_salt(pw, 4, salt)
                    .map(|h| h.format_for_version(bcrypt::Version::TwoB))
                    .unwrap_or_default();
                (hash, String::new(), String::new())
            }
            SampleHash::Argon2id => {
                let salt: [u8; 16] = rng.random();
                let mut key = [0u8; 32];
                let params = argon2::Params::new(64, 1, 1, Some(32));
                let ok = params.is_ok_and(|params| {
                    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                        .hash_password_into(pw, &salt, &mut key)
                        .is_ok()
                });
                let hash = format!(
                    "$argon2id$v=19$m=64,t=1,p=1${}${}",
                    STANDARD_NO_PAD.encode(salt),
                    STANDARD_NO_PAD.encode(key)
                );
                (
                    if ok { hash } else { String::new() },
                    String::new(),
                    String::new(),
                )
            }
            SampleHash::Pbkdf2Sha256 => {
                let salt: [u8; 16] = rng.random();
                let mut key = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(pw, &salt, 1000, &mut key);
                let ab64 = |b: &[u8]| STANDARD_NO_PAD.encode(b).replace('+', ".");
                let hash = format!("$pbkdf2-sha256$1000${}${}", ab64(&salt), ab64(&key));
                (hash, String::new(), String::new())
            }
            SampleHash::DjangoPbkdf2Sha256 => {
                let salt: String = (0..12)
                    .map(|_| {
                        *b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            .choose(rng)
                            .unwrap_or(&b'a') as char
                    })
                    .collect();
                let mut key = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(pw, salt.as_bytes(), 1000, &mut key);
                let hash = format!("pbkdf2_sha256$1000${salt}${}", STANDARD.encode(key));
                (hash, String::new(), String::new())
            }
            SampleHash::Ssha | SampleHash::Ssha512 => {
                let salt: [u8; 8] = rng.random();
                let (scheme, mut raw) = match self {
                    SampleHash::Ssha => (
                        "SSHA",
                        sha1::Sha1::new()
                            .chain_update(pw)
                            .chain_update(salt)
                            .finalize()
                            .to_vec(),
                    ),
                    _ => (
                        "SSHA512",
                        sha2::Sha512::new()
                            .chain_update(pw)
                            .chain_update(salt)
                            .finalize()
                            .to_vec(),
                    ),
                };
                raw.extend_from_slice(&salt);
                (
                    format!("{{{scheme}}}{}", STANDARD.encode(raw)),
                    String::new(),
                    String::new(),
                )
            }
        }
    }
}
