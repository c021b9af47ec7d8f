//! Known-answer tests: vectors made by independent implementations
//! (`tests/data/passwords/make_vectors.py`: hashlib, passlib, bcrypt,
//! argon2-cffi) are converted and then verified the way the reference server
//! verifies them, with the original password and with a wrong one.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::*;
use crate::contract::choices::{decode_bytes, SaltConvention};
use crate::server::hashcheck;
use crate::server::verify;

mod vendors;

/// Whether `hashed`, as [`convert`] gives it, verifies `password` at a
/// target of either salt convention once written for it
/// ([`SaltConvention::write_salt`]); both must agree, and the server must
/// store it under both.
fn verifies(hashed: &HashedPassword, password: &str) -> bool {
    let [text, base64] = [SaltConvention::Text, SaltConvention::Base64].map(|convention| {
        let mut written = hashed.clone();
        convention.write_salt(&mut written);
        assert_eq!(
            hashcheck::check(&written, convention),
            Ok(()),
            "{convention:?}: {written:?}"
        );
        verify::password_matches(&written, password, convention)
    });
    assert_eq!(text, base64, "the conventions disagree on {hashed:?}");
    text
}

/// Whether a credential [`credential`] planned under the default options
/// (salts written as text) verifies `password` at a target reading salts as text.
fn password_matches(hashed: &HashedPassword, password: &str) -> bool {
    verify::password_matches(hashed, password, SaltConvention::Text)
}

#[derive(Debug, Deserialize)]
struct Vector {
    format: String,
    password: String,
    hash: String,
    salt: Option<String>,
    algorithm: Option<String>,
    salt_encoding: Option<SaltEncoding>,
    expect: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("../../../tests/data/passwords/vectors.json");
    match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => panic!("vectors.json: {e}"),
    }
}

#[test]
fn every_vector_converts_and_verifies_with_its_password_only() {
    let vectors = vectors();
    assert!(vectors.len() > 100);
    for v in &vectors {
        let carried = convert(
            &v.hash,
            v.salt.as_deref(),
            v.algorithm.as_deref(),
            None,
            v.salt_encoding.unwrap_or_default(),
        );
        match (v.expect.as_str(), carried) {
            ("hash", Ok(Carried::Hash(hashed))) => {
                assert!(
                    verifies(&hashed, &v.password),
                    "{}: the original password does not verify: {hashed:?}",
                    v.format
                );
                let wrong = format!("{}!", v.password);
                assert!(
                    !verifies(&hashed, &wrong),
                    "{}: a wrong password verifies",
                    v.format
                );
                assert!(
                    !verifies(&hashed, ""),
                    "{}: the empty password verifies",
                    v.format
                );
            }
            ("unsupported", Ok(Carried::Unsupported(reason))) => {
                assert!(!reason.contains(&v.hash), "{}: {reason}", v.format);
            }
            (expect, other) => panic!("{}: expected {expect}, got {other:?}", v.format),
        }
    }
}

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
fn ldap_salt_stays_after_the_digest() {
    // {SSHA} of "secret" with salt "salt" (base64 of SHA-1("secret" ‖ "salt") ‖ "salt").
    let mut raw = sha1::Sha1::new()
        .chain_update(b"secret")
        .chain_update(b"salt")
        .finalize()
        .to_vec();
    raw.extend_from_slice(b"salt");
    let h = hashed_password(&format!("{{SSHA}}{}", encode_bytes(&raw)), None, None).unwrap();
    let sha = h.config.sha.as_ref().unwrap();
    assert_eq!(
        (
            sha.salt_length,
            sha.salt_after_digest_in_hash,
            sha.salt.as_deref()
        ),
        (4, true, None)
    );
    assert!(verifies(&h, "secret"));
}

#[test]
fn algorithm_names() {
    use digest::{DigestKind, Named};
    let sha256 = Named::Digest(DigestKind::Sha(DigestFunction::Sha256));
    for name in [
        "sha256",
        "SHA-256",
        "salted_sha256",
        "sha256(password+salt)",
        "SHA256_PASSWORD_SALT",
    ] {
        assert_eq!(Named::parse(name), sha256, "{name}");
    }
    for name in [
        "sha256_salt_password",
        "salt_sha256",
        "md5(salt+password)",
        "sha1-salt-first",
    ] {
        assert!(
            matches!(Named::parse(name), Named::Unsupported(_)),
            "{name}"
        );
    }
    for name in [
        "scrypt",
        "firebase_scrypt",
        "HMAC-SHA256",
        "md4",
        "NTLM",
        "crypt",
        "rot13",
    ] {
        assert!(
            matches!(Named::parse(name), Named::Unsupported(_)),
            "{name}"
        );
    }
    for name in [
        "bcrypt",
        "argon2id",
        "pbkdf2",
        "pbkdf2_sha256_django",
        "django",
        "ldap",
        "ssha",
    ] {
        assert!(
            matches!(Named::parse(name), Named::SelfDescribing(_)),
            "{name}"
        );
    }
}

#[test]
fn hex_digest_lengths_infer_the_sha_family_only() {
    assert!(hashed_password(&"ab".repeat(20), None, None).is_ok());
    assert!(hashed_password(&"ab".repeat(32), None, None).is_ok());
    assert!(hashed_password(&"ab".repeat(64), None, None).is_ok());
    // 32 hex digits: MD5, MD4 or NTLM; it must be named.
    assert!(matches!(
        convert(&"ab".repeat(16), None, None, None, SaltEncoding::Hex),
        Ok(Carried::Unsupported(_))
    ));
    assert!(hashed_password(&"ab".repeat(16), None, Some("md5")).is_ok());
}

#[test]
fn malformed_hashes_are_errors_that_never_echo_them() {
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("$2b$10$abcdefghijklmnopqrstuu", None, None),
        (
            "$2b$99$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
            None,
            None,
        ),
        (
            "$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$aGFzaGhhc2g",
            None,
            None,
        ),
        ("$argon2id$v=19$m=64,t=1,p=1$c2Fs$aGFzaGhhc2g", None, None),
        ("$pbkdf2-sha256$0$c2FsdA$aGFzaA", None, None),
        ("pbkdf2_sha256$many$salt$aGFzaA==", None, None),
        ("{SSHA}bm90LWEtZGlnZXN0", None, None),
        ("{SHA}!!!", None, None),
        ("zz".repeat(32).leak(), None, Some("sha256")),
        ("abcd", None, Some("sha256")),
        ("ab".repeat(32).leak(), Some("xyz"), None),
    ];
    for (hash, salt, algorithm) in cases {
        let err = hashed_password(hash, *salt, *algorithm).expect_err(hash);
        assert!(!err.contains(hash), "{err}");
        if let Some(salt) = salt {
            assert!(!err.contains(salt), "{err}");
        }
    }
    let err = hashed_password(&"ab".repeat(32), Some("xyz"), None).unwrap_err();
    assert_eq!(err, "password_salt is not hex");
}

#[test]
fn policies_decide_the_credential() {
    let owner = Owner {
        tenant: "t",
        pool: "p",
        key: "42",
    };
    let good = PasswordInput {
        hash: Some("$2b$04$zf/CI63j2aO.XSxmOfv12u31PsFm7TlCvc5.ak6jahqZ6ssSiarem"),
        ..PasswordInput::default()
    };
    let scrypt = PasswordInput {
        hash: Some("$scrypt$ln=4,r=8,p=1$YKw1Zqx17t0bQ6i1tvY+5w$7ajr4Lg/4KgShKQ03Ft93OFr5mhD18RkKgOoUuNcunM"),
        ..PasswordInput::default()
    };
    let with = |policy, unsupported| PasswordOptions {
        policy,
        unsupported,
        ..PasswordOptions::default()
    };
    let keep = with(PasswordPolicy::Keep, UnsupportedPolicy::Reject);
    let kept = credential(&keep, good, owner).unwrap();
    assert!(!kept.credential.unwrap().expired && !kept.unverifiable);
    let expire = with(PasswordPolicy::Expire, UnsupportedPolicy::Reject);
    let expired_by_choice = credential(&expire, good, owner).unwrap();
    assert!(expired_by_choice.credential.unwrap().expired && !expired_by_choice.unverifiable);
    let none = with(PasswordPolicy::None, UnsupportedPolicy::Reject);
    assert_eq!(credential(&none, good, owner), Ok(Decision::default()));
    assert_eq!(
        credential(&keep, PasswordInput::default(), owner),
        Ok(Decision::default())
    );

    assert!(credential(&keep, scrypt, owner)
        .unwrap_err()
        .contains("scrypt"));
    let drop = with(PasswordPolicy::Keep, UnsupportedPolicy::Drop);
    let dropped = credential(&drop, scrypt, owner).unwrap();
    assert!(dropped.credential.is_none() && dropped.unverifiable);
    let expired = with(PasswordPolicy::Keep, UnsupportedPolicy::Expire);
    let decision = credential(&expired, scrypt, owner).unwrap();
    assert!(decision.unverifiable);
    let planned = decision.credential.unwrap();
    assert!(planned.expired && planned.note.is_some());
    assert!(
        !password_matches(&planned.hashed, ""),
        "the placeholder matches nothing"
    );
}

#[test]
fn plaintext_is_hashed_with_argon2id_deterministically() {
    let owner = Owner {
        tenant: "t",
        pool: "p",
        key: "42",
    };
    let options = PasswordOptions {
        argon2: Argon2Params {
            memory_kb: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..PasswordOptions::default()
    };
    let input = PasswordInput {
        plaintext: Some("pässwörd 🔑"),
        ..PasswordInput::default()
    };
    let a = credential(&options, input, owner)
        .unwrap()
        .credential
        .unwrap();
    let b = credential(&options, input, owner)
        .unwrap()
        .credential
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.hashed.config.method, HashMethod::Argon2);
    assert!(password_matches(&a.hashed, "pässwörd 🔑"));
    assert!(!password_matches(&a.hashed, "passwörd 🔑"));
    let other = Owner { key: "43", ..owner };
    let c = credential(&options, input, other)
        .unwrap()
        .credential
        .unwrap();
    // The salt is binary: under the default text convention it travels
    // as the value's first salt_length bytes.
    let salt = |hashed: &HashedPassword| {
        let length = hashed.config.argon2.as_ref().map_or(0, |c| c.salt_length);
        decode_bytes(&hashed.value).unwrap()[..length as usize].to_vec()
    };
    assert_eq!(salt(&a.hashed).len(), 16);
    assert_ne!(salt(&a.hashed), salt(&c.hashed), "salts differ per user");
    assert!(!format!("{a:?}").contains("pässwörd"));
}

#[test]
fn hashes_above_the_contract_work_bounds_are_rejected_naming_the_bound() {
    let body = "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    let argon = |m: u32, t: u32| format!("$argon2id$v=19$m={m},t={t},p=1$c2FsdHNhbHQ$aGFzaGhhc2g");
    let within = [
        format!("$2b$15${body}"),
        "$pbkdf2-sha256$10000000$c2FsdA$aGFzaA".to_owned(),
        "pbkdf2_sha256$10000000$salt$aGFzaA==".to_owned(),
        argon(1 << 20, 4),
        argon(64, 64),
    ];
    for hash in &within {
        assert!(
            hashed_password(hash, None, None).is_ok(),
            "{hash}: {:?}",
            hashed_password(hash, None, None)
        );
    }
    let above = [
        (format!("$2b$16${body}"), "bcrypt cost 16", "bound of 15"),
        (format!("$2y$31${body}"), "bcrypt cost 31", "bound of 15"),
        (
            "$pbkdf2-sha256$10000001$c2FsdA$aGFzaA".to_owned(),
            "PBKDF2 iteration count 10000001",
            "bound of 10000000",
        ),
        (
            "pbkdf2_sha256$4294967295$salt$aGFzaA==".to_owned(),
            "PBKDF2 iteration count 4294967295",
            "bound of 10000000",
        ),
        (
            argon((1 << 20) + 1, 1),
            "argon2 memory in KiB 1048577",
            "bound of 1048576",
        ),
        (argon(1 << 20, 5), "argon2 work", "bound of 4194304"),
        (argon(64, 65), "argon2 iteration count 65", "bound of 64"),
    ];
    for (hash, parameter, bound) in &above {
        let reason = hashed_password(hash, None, None).expect_err(hash);
        assert!(
            reason.starts_with("password_hash: ")
                && reason.contains(parameter)
                && reason.contains(bound),
            "{hash}: {reason}"
        );
    }
    // The row is rejected whatever --unsupported-hash says: the hash is
    // recognised, just too costly to verify.
    let options = PasswordOptions {
        unsupported: UnsupportedPolicy::Drop,
        ..PasswordOptions::default()
    };
    let input = PasswordInput {
        hash: Some(above[0].0.as_str()),
        ..PasswordInput::default()
    };
    let owner = Owner {
        tenant: "t",
        pool: "p",
        key: "42",
    };
    assert!(credential(&options, input, owner).is_err());
}

#[test]
fn plaintext_argon2_parameters_stay_within_the_contract_bounds() {
    let params = |memory_kb, iterations, parallelism| Argon2Params {
        memory_kb,
        iterations,
        parallelism,
    };
    assert_eq!(params(1 << 20, 4, 1).check(), Ok(()));
    let reason = params((1 << 20) + 1, 1, 1).check().unwrap_err();
    assert!(reason.contains("bound of 1048576"), "{reason}");
    let reason = params(64, 65, 1).check().unwrap_err();
    assert!(reason.contains("bound of 64"), "{reason}");
}
