//! Vendor formats selected by `password_algorithm`: ASP.NET Identity,
//! Keycloak, Clerk's pbkdf2 strings and Firebase. Each known-answer vector
//! was made with Python's `hashlib` or `argon2-cffi` (the one-liner is next
//! to it), for the password [`PASSWORD`] and the salt `bytes(range(16))`
//! unless said otherwise, and is checked the way the reference server checks
//! an imported hash and verifies a sign-in, under either salt convention
//! ([`verifies`]).

use super::super::*;
use super::verifies;
use crate::contract::choices::decode_bytes;
use crate::contract::{Argon2Config, Pbkdf2Config};

const PASSWORD: &str = "correct horse battery staple";
/// `base64.b64encode(bytes(range(16)))`
const SALT16: &str = "AAECAwQFBgcICQoLDA0ODw==";

// python3 -c "import base64,hashlib;s=bytes(range(16));print(base64.b64encode(b'\x00'+s+hashlib.pbkdf2_hmac('sha1',b'correct horse battery staple',s,1000,32)).decode())"
const ASPNET_V2: &str = "AAABAgMEBQYHCAkKCwwNDg8A6b+Q5v/5gBndnBKiBiA27187WD3zrXpRRPbHcnNx7A==";
// python3 -c "import base64,hashlib,struct;s=bytes(range(16));print(base64.b64encode(b'\x01'+struct.pack('>III',1,1000,16)+s+hashlib.pbkdf2_hmac('sha256',b'correct horse battery staple',s,1000,32)).decode())"
const ASPNET_V3_SHA256: &str =
    "AQAAAAEAAAPoAAAAEAABAgMEBQYHCAkKCwwNDg+mmxeeOt08HgqvInoOs6oqqGRauG/s9soAwXUSaXxxng==";
// python3 -c "import base64,hashlib,struct;s=bytes(range(16));print(base64.b64encode(b'\x01'+struct.pack('>III',2,1000,16)+s+hashlib.pbkdf2_hmac('sha512',b'correct horse battery staple',s,1000,32)).decode())"
const ASPNET_V3_SHA512: &str =
    "AQAAAAIAAAPoAAAAEAABAgMEBQYHCAkKCwwNDg8DoCYUi2LsIqVh2g+JX2N/V32WWnfujbtaazxnHx/Awg==";
// A 24-byte salt and a 20-byte subkey:
// python3 -c "import base64,hashlib,struct;s=bytes(range(100,124));print(base64.b64encode(b'\x01'+struct.pack('>III',0,1000,24)+s+hashlib.pbkdf2_hmac('sha1',b'correct horse battery staple',s,1000,20)).decode())"
const ASPNET_V3_SHA1: &str =
    "AQAAAAAAAAPoAAAAGGRlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e9YmYV4jAyOATIAeRWrsJi8hiP3Q";

// secretData and credentialData as `kc.sh export` writes them. The values:
// python3 -c "import base64,hashlib;print(base64.b64encode(hashlib.pbkdf2_hmac('sha256',b'correct horse battery staple',bytes(range(16)),27500,64)).decode())"
const KC_SHA256_SECRET: &str = r#"{"value":"Ca/W1uHPdOF53bPWSQyrHQQPdk6KOe20VTbaw0U+WWswH2gciKNBqwk+H7RPgAmCshFAhVRLSSar72bo1/g8dA==","salt":"AAECAwQFBgcICQoLDA0ODw==","additionalParameters":{}}"#;
const KC_SHA256_CREDENTIAL: &str =
    r#"{"hashIterations":27500,"algorithm":"pbkdf2-sha256","additionalParameters":{}}"#;
// python3 -c "import base64,hashlib;print(base64.b64encode(hashlib.pbkdf2_hmac('sha512',b'correct horse battery staple',bytes(range(16)),1000,64)).decode())"
const KC_SHA512_SECRET: &str = r#"{"value":"A6AmFIti7CKlYdoPiV9jf1d9llp37o27Wms8Zx8fwMJGCOigJzAthOW3Pg+XF5PnNiYnsQsIz1N5NtynrEm78w==","salt":"AAECAwQFBgcICQoLDA0ODw==","additionalParameters":{}}"#;
const KC_SHA512_CREDENTIAL: &str =
    r#"{"hashIterations":1000,"algorithm":"pbkdf2-sha512","additionalParameters":{}}"#;
// python3 -c "import base64,hashlib;print(base64.b64encode(hashlib.pbkdf2_hmac('sha1',b'correct horse battery staple',bytes(range(16)),1000,64)).decode())"
const KC_SHA1_SECRET: &str = r#"{"value":"AOm/kOb/+YAZ3ZwSogYgNu9fO1g98616UUT2x3Jzcezc674WB6rf1PmFu7KUTJ/kBMpXzOJ47gHQ2i8osqaCHQ==","salt":"AAECAwQFBgcICQoLDA0ODw==","additionalParameters":{}}"#;
const KC_SHA1_CREDENTIAL: &str =
    r#"{"hashIterations":1000,"algorithm":"pbkdf2","additionalParameters":{}}"#;
// python3 -c "import base64;from argon2.low_level import hash_secret_raw,Type;print(base64.b64encode(hash_secret_raw(b'correct horse battery staple',bytes(range(16)),time_cost=2,memory_cost=64,parallelism=1,hash_len=32,type=Type.ID,version=19)).decode())"
const KC_ARGON2_VALUE: &str = "LfR+3mNY7Repl21PztuJehADbUMqSs7xfSY7/Ji9IKw=";
const KC_ARGON2_SECRET: &str = r#"{"value":"LfR+3mNY7Repl21PztuJehADbUMqSs7xfSY7/Ji9IKw=","salt":"AAECAwQFBgcICQoLDA0ODw==","additionalParameters":{}}"#;
const KC_ARGON2_CREDENTIAL: &str = r#"{"hashIterations":2,"algorithm":"argon2","additionalParameters":{"hashLength":["32"],"memory":["64"],"type":["id"],"version":["1.3"],"parallelism":["1"]}}"#;

// Clerk's pbkdf2_sha256, salt and key in base64:
// python3 -c "import base64,hashlib;s=bytes(range(16));print('pbkdf2_sha256\$1000\$%s\$%s'%(base64.b64encode(s).decode(),base64.b64encode(hashlib.pbkdf2_hmac('sha256',b'correct horse battery staple',s,1000,32)).decode()))"
const CLERK_SHA256: &str =
    "pbkdf2_sha256$1000$AAECAwQFBgcICQoLDA0ODw==$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4=";
// The same with a base64 salt of letters only (9 bytes), which Django could have written too:
// python3 -c "import base64,hashlib;print('pbkdf2_sha256\$1000\$abcdefghijkl\$'+base64.b64encode(hashlib.pbkdf2_hmac('sha256',b'correct horse battery staple',base64.b64decode('abcdefghijkl'),1000,32)).decode())"
const CLERK_SHA256_LETTERS: &str =
    "pbkdf2_sha256$1000$abcdefghijkl$7w0WZ80/QCfpEBOtPlGAIIzsXnFdeRhCnuSWUqAcN4E=";
// Django's, with the same salt as text:
// python3 -c "import base64,hashlib;print('pbkdf2_sha256\$1000\$abcdefghijkl\$'+base64.b64encode(hashlib.pbkdf2_hmac('sha256',b'correct horse battery staple',b'abcdefghijkl',1000,32)).decode())"
const DJANGO_SHA256: &str =
    "pbkdf2_sha256$1000$abcdefghijkl$/kbMgJ7UhtmCvMuhdoGhoD586zaCxS3MuYTC1Q0EXuk=";
// Clerk's pbkdf2_sha1, hex salt and hex key of 32 bytes:
// python3 -c "import hashlib;s=bytes(range(16));print('pbkdf2_sha1\$1000\$%s\$%s'%(s.hex(),hashlib.pbkdf2_hmac('sha1',b'correct horse battery staple',s,1000,32).hex()))"
const CLERK_SHA1_HEX_SALT: &str = "pbkdf2_sha1$1000$000102030405060708090a0b0c0d0e0f$00e9bf90e6fff98019dd9c12a2062036ef5f3b583df3ad7a5144f6c7727371ec";
// A salt that is not hex is its bytes:
// python3 -c "import hashlib;print('pbkdf2_sha1\$1000\$not-hex-salt\$'+hashlib.pbkdf2_hmac('sha1',b'correct horse battery staple',b'not-hex-salt',1000,32).hex())"
const CLERK_SHA1_TEXT_SALT: &str = "pbkdf2_sha1$1000$not-hex-salt$26bfecd2eb83149971ebcd98e9ec7ade882e1d70ab5bf00c4af223881db11fcb";
// With the key length after the key:
// python3 -c "import hashlib;s=bytes(range(16));print('pbkdf2_sha1\$1000\$%s\$%s\$20'%(s.hex(),hashlib.pbkdf2_hmac('sha1',b'correct horse battery staple',s,1000,20).hex()))"
const CLERK_SHA1_KEY_LENGTH: &str =
    "pbkdf2_sha1$1000$000102030405060708090a0b0c0d0e0f$00e9bf90e6fff98019dd9c12a2062036ef5f3b58$20";
// Django's pbkdf2_sha1 (text salt, base64 key):
// python3 -c "import base64,hashlib;print('pbkdf2_sha1\$1000\$saltysalt\$'+base64.b64encode(hashlib.pbkdf2_hmac('sha1',b'correct horse battery staple',b'saltysalt',1000)).decode())"
const DJANGO_SHA1: &str = "pbkdf2_sha1$1000$saltysalt$eSJjWC4+iyhJGEWVfb7cL5lFl7U=";
// passlib's PHC pbkdf2 (adapted base64):
// python3 -c "import base64,hashlib;s=bytes(range(16));ab=lambda b:base64.b64encode(b).decode().rstrip('=').replace('+','.');print('\$pbkdf2-sha256\$1000\$%s\$%s'%(ab(s),ab(hashlib.pbkdf2_hmac('sha256',b'correct horse battery staple',s,1000,32))))"
const PHC_SHA256: &str =
    "$pbkdf2-sha256$1000$AAECAwQFBgcICQoLDA0ODw$ppsXnjrdPB4KryJ6DrOqKqhkWrhv7PbKAMF1Eml8cZ4";
// python3 -c "import bcrypt;print(bcrypt.hashpw(b'correct horse battery staple',bcrypt.gensalt(4,prefix=b'2a')).decode())"
const BCRYPT: &str = "$2a$04$muL9jQQApgQp.Qg1VEV4xe7B./0N5y5vZPe23sVX2BnCj6sWw4G02";

/// Converts with `algorithm` and the second vendor value `params`.
fn carry(hash: &str, algorithm: &str, params: Option<&str>) -> Result<Carried, String> {
    convert(hash, None, Some(algorithm), params, SaltEncoding::Hex)
}

/// The contract hash `hash` becomes; panics when it is not carried.
fn carried(hash: &str, algorithm: &str, params: Option<&str>) -> HashedPassword {
    match carry(hash, algorithm, params) {
        Ok(Carried::Hash(hashed)) => hashed,
        other => panic!("{algorithm}: expected a hash, got {other:?}"),
    }
}

/// The server would store `hashed`, and signs in with [`PASSWORD`] only.
fn assert_verifies(hashed: &HashedPassword) {
    assert!(verifies(hashed, PASSWORD), "{hashed:?}");
    assert!(!verifies(hashed, "correct horse battery stapler"));
    assert!(!verifies(hashed, ""));
}

fn pbkdf2_of(hashed: &HashedPassword) -> &Pbkdf2Config {
    assert_eq!(hashed.config.method, HashMethod::Pbkdf2);
    match &hashed.config.pbkdf2 {
        Some(config) => config,
        None => panic!("no pbkdf2 block: {hashed:?}"),
    }
}

/// The salt the config carries, decoded.
fn salt_of(salt: &Option<String>) -> Vec<u8> {
    match salt.as_deref().map(decode_bytes) {
        Some(Ok(bytes)) => bytes,
        other => panic!("no readable salt: {other:?}"),
    }
}

/// Asserts the pbkdf2 parameters of `hashed` and that it verifies.
fn assert_pbkdf2(
    hashed: &HashedPassword,
    function: DigestFunction,
    iterations: u32,
    key_length: u32,
    salt: &[u8],
) {
    let config = pbkdf2_of(hashed);
    assert_eq!(
        (
            config.function,
            config.number_of_iterations,
            config.key_length
        ),
        (function, iterations, key_length)
    );
    assert_eq!(salt_of(&config.salt), salt);
    assert_eq!(config.salt_length as usize, salt.len());
    assert_verifies(hashed);
}

/// The Err or Unsupported reason of a hash that is not carried.
fn reason(hash: &str, algorithm: &str, params: Option<&str>) -> String {
    match carry(hash, algorithm, params) {
        Err(reason) | Ok(Carried::Unsupported(reason)) => reason,
        Ok(Carried::Hash(hashed)) => panic!("{algorithm}: expected no hash, got {hashed:?}"),
    }
}

fn salt16() -> Vec<u8> {
    (0..16).collect()
}

#[test]
fn aspnet_identity_v2_and_v3_become_pbkdf2() {
    use DigestFunction::*;
    let v2 = carried(ASPNET_V2, "aspnet-identity", None);
    assert_pbkdf2(&v2, Sha1, 1000, 32, &salt16());
    let v3 = carried(ASPNET_V3_SHA256, "aspnet", None);
    assert_pbkdf2(&v3, Sha256, 1000, 32, &salt16());
    let v3 = carried(ASPNET_V3_SHA512, "AspNetCore-Identity", None);
    assert_pbkdf2(&v3, Sha512, 1000, 32, &salt16());
    let v3 = carried(ASPNET_V3_SHA1, "ASPNET_IDENTITY", None);
    assert_pbkdf2(&v3, Sha1, 1000, 20, &(100..124).collect::<Vec<u8>>());
}

/// `ASPNET_V3_SHA256` with its bytes `at..` replaced by `with`, or cut at `at`.
fn aspnet_v3_edited(at: usize, with: &[u8]) -> String {
    let mut blob = match decode_bytes(ASPNET_V3_SHA256) {
        Ok(blob) => blob,
        Err(e) => panic!("{e}"),
    };
    if with.is_empty() {
        blob.truncate(at);
    } else {
        blob[at..at + with.len()].copy_from_slice(with);
    }
    encode_bytes(&blob)
}

#[test]
fn malformed_aspnet_identity_blobs_are_rejected() {
    let v2 = match decode_bytes(ASPNET_V2) {
        Ok(blob) => blob,
        Err(e) => panic!("{e}"),
    };
    let cases = [
        ("truncated v2", encode_bytes(&v2[..48])),
        (
            "v2 with an extra byte",
            encode_bytes(&[&v2[..], &[0]].concat()),
        ),
        (
            "version byte 0x02",
            encode_bytes(&[&[2], &v2[1..]].concat()),
        ),
        ("not base64", "AQAAAAEAAAPo!!".to_string()),
        ("short v3 header", aspnet_v3_edited(10, &[])),
        ("unknown prf", aspnet_v3_edited(1, &3u32.to_be_bytes())),
        ("0 iterations", aspnet_v3_edited(5, &0u32.to_be_bytes())),
        (
            "salt under 16 bytes",
            aspnet_v3_edited(9, &8u32.to_be_bytes()),
        ),
        (
            "absurd salt length",
            aspnet_v3_edited(9, &u32::MAX.to_be_bytes()),
        ),
        (
            "salt past the end",
            aspnet_v3_edited(9, &40u32.to_be_bytes()),
        ),
        ("subkey under 16 bytes", aspnet_v3_edited(13 + 16 + 15, &[])),
    ];
    for (case, blob) in &cases {
        let err = carry(blob, "aspnet-identity", None).expect_err(case);
        assert!(err.contains("ASP.NET Identity"), "{case}: {err}");
        assert!(!err.contains(blob.as_str()), "{case}: {err}");
    }
    let costly = aspnet_v3_edited(5, &10_000_001u32.to_be_bytes());
    let err = carry(&costly, "aspnet", None).expect_err("above the bound");
    assert!(err.contains("bound of 10000000"), "{err}");
}

#[test]
fn keycloak_pbkdf2_credentials_become_pbkdf2() {
    use DigestFunction::*;
    let cases = [
        (KC_SHA256_SECRET, KC_SHA256_CREDENTIAL, Sha256, 27500),
        (KC_SHA512_SECRET, KC_SHA512_CREDENTIAL, Sha512, 1000),
        (KC_SHA1_SECRET, KC_SHA1_CREDENTIAL, Sha1, 1000),
    ];
    for (secret, credential, function, iterations) in cases {
        let hashed = carried(secret, "keycloak", Some(credential));
        assert_pbkdf2(&hashed, function, iterations, 64, &salt16());
    }
}

#[test]
fn keycloak_argon2id_becomes_argon2() {
    let hashed = carried(KC_ARGON2_SECRET, "Keycloak", Some(KC_ARGON2_CREDENTIAL));
    assert_eq!(hashed.config.method, HashMethod::Argon2);
    let Some(Argon2Config {
        iterations,
        memory_in_kb,
        parallelism,
        key_length,
        salt,
        salt_length,
    }) = &hashed.config.argon2
    else {
        panic!("no argon2 block: {hashed:?}");
    };
    assert_eq!(
        (
            *iterations,
            *memory_in_kb,
            *parallelism,
            *key_length,
            *salt_length
        ),
        (2, 64, 1, 32, 16)
    );
    assert_eq!(salt_of(salt), salt16());
    assert_eq!(hashed.value, KC_ARGON2_VALUE);
    assert_verifies(&hashed);
}

/// `KC_ARGON2_CREDENTIAL` with other `additionalParameters`.
fn argon2_credential(parameters: &str) -> String {
    format!(
        r#"{{"hashIterations":2,"algorithm":"argon2","additionalParameters":{{{parameters}}}}}"#
    )
}

#[test]
fn keycloak_argon2_variants_and_parameters() {
    let full = r#""memory":["64"],"parallelism":["1"],"hashLength":["32"]"#;
    let unsupported = [
        format!(r#""type":["i"],"version":["1.3"],{full}"#),
        format!(r#""type":["d"],"version":["1.3"],{full}"#),
        format!(r#""type":["id"],"version":["1.0"],{full}"#),
    ];
    for parameters in &unsupported {
        let credential = argon2_credential(parameters);
        match carry(KC_ARGON2_SECRET, "keycloak", Some(&credential)) {
            Ok(Carried::Unsupported(reason)) => assert!(reason.contains("argon2"), "{reason}"),
            other => panic!("{parameters}: {other:?}"),
        }
    }
    let malformed = [
        format!(r#""version":["1.3"],{full}"#),
        format!(r#""type":["x"],"version":["1.3"],{full}"#),
        format!(r#""type":["id"],{full}"#),
        r#""type":["id"],"version":["1.3"],"parallelism":["1"]"#.to_string(),
        r#""type":["id"],"version":["1.3"],"memory":["64"]"#.to_string(),
        r#""type":["id"],"version":["1.3"],"memory":["lots"],"parallelism":["1"]"#.to_string(),
        r#""type":["id"],"version":["1.3"],"memory":["64"],"parallelism":["1"],"hashLength":["16"]"#
            .to_string(),
        r#""type":["id"],"version":["1.3"],"memory":["4"],"parallelism":["1"]"#.to_string(),
    ];
    for parameters in &malformed {
        let credential = argon2_credential(parameters);
        let err = carry(KC_ARGON2_SECRET, "keycloak", Some(&credential)).expect_err(parameters);
        assert!(err.contains("Keycloak"), "{parameters}: {err}");
    }
    // hashLength may be left out: the value's length says it.
    let credential =
        argon2_credential(r#""type":["id"],"version":["1.3"],"memory":["64"],"parallelism":["1"]"#);
    assert_verifies(&carried(KC_ARGON2_SECRET, "keycloak", Some(&credential)));
}

#[test]
fn keycloak_flattened_credentials_are_read_from_password_hash_alone() {
    let as_strings = serde_json::json!({
        "type": "password",
        "secretData": KC_SHA256_SECRET,
        "credentialData": KC_SHA256_CREDENTIAL,
    })
    .to_string();
    let hashed = carried(&as_strings, "keycloak", None);
    assert_pbkdf2(&hashed, DigestFunction::Sha256, 27500, 64, &salt16());
    let parse = |text: &str| match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => value,
        Err(e) => panic!("{e}"),
    };
    let as_objects = serde_json::json!({
        "secretData": parse(KC_ARGON2_SECRET),
        "credentialData": parse(KC_ARGON2_CREDENTIAL),
    })
    .to_string();
    assert_verifies(&carried(&as_objects, "keycloak", None));
    let err = carry(KC_SHA256_SECRET, "keycloak", None).expect_err("no credentialData");
    assert!(err.contains("credentialData"), "{err}");
}

#[test]
fn keycloak_extension_algorithms_fall_back_to_self_describing_values() {
    let credential = r#"{"hashIterations":-1,"algorithm":"bcrypt","additionalParameters":{}}"#;
    let secret = format!(r#"{{"value":"{BCRYPT}","salt":"__SALT__"}}"#);
    let hashed = carried(&secret, "keycloak", Some(credential));
    assert_eq!(hashed.config.method, HashMethod::Bcrypt);
    assert_verifies(&hashed);
    // Some extensions store the bcrypt string's base64.
    let secret = format!(r#"{{"value":"{}"}}"#, encode_bytes(BCRYPT.as_bytes()));
    assert_verifies(&carried(&secret, "keycloak", Some(credential)));
    // An opaque value under an unknown algorithm is unsupported, naming it.
    let credential = r#"{"hashIterations":1,"algorithm":"pbkdf2-sha384"}"#;
    let secret = format!(r#"{{"value":"{SALT16}","salt":"{SALT16}"}}"#);
    let why = reason(&secret, "keycloak", Some(credential));
    assert!(
        matches!(
            carry(&secret, "keycloak", Some(credential)),
            Ok(Carried::Unsupported(_))
        ) && why.contains("'pbkdf2-sha384'"),
        "{why}"
    );
}

#[test]
fn malformed_keycloak_credentials_are_rejected() {
    let value = r#""value":"Ca/W1uHPdOF53bPWSQyrHQQPdk6KOe20VTbaw0U+WWswH2gciKNBqwk+H7RPgAmCshFAhVRLSSar72bo1/g8dA==""#;
    let cases: &[(String, &str)] = &[
        ("{not json".to_string(), KC_SHA256_CREDENTIAL),
        (KC_SHA256_SECRET.to_string(), "{\"hashIterations\":"),
        ("[1,2]".to_string(), KC_SHA256_CREDENTIAL),
        (format!("{{\"salt\":\"{SALT16}\"}}"), KC_SHA256_CREDENTIAL),
        (format!("{{{value}}}"), KC_SHA256_CREDENTIAL),
        (
            format!("{{{value},\"salt\":\"__SALT__\"}}"),
            KC_SHA256_CREDENTIAL,
        ),
        (
            format!("{{{value},\"salt\":\"not base64!\"}}"),
            KC_SHA256_CREDENTIAL,
        ),
        (
            format!("{{\"value\":\"!!{SALT16}\",\"salt\":\"{SALT16}\"}}"),
            KC_SHA256_CREDENTIAL,
        ),
        (KC_SHA256_SECRET.to_string(), r#"{"hashIterations":27500}"#),
        (
            KC_SHA256_SECRET.to_string(),
            r#"{"hashIterations":0,"algorithm":"pbkdf2-sha256"}"#,
        ),
        (
            KC_SHA256_SECRET.to_string(),
            r#"{"algorithm":"pbkdf2-sha256"}"#,
        ),
    ];
    for (secret, credential) in cases {
        let err = carry(secret, "keycloak", Some(credential)).expect_err(secret);
        assert!(err.contains("Keycloak"), "{secret} {credential}: {err}");
    }
}

#[test]
fn firebase_scrypt_is_unsupported_under_every_name() {
    for name in [
        "firebase-scrypt",
        "firebase",
        "scrypt-firebase",
        "scrypt_firebase",
        "FIREBASE_SCRYPT",
    ] {
        let why = reason("lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==", name, None);
        assert!(why.contains(digest::FIREBASE_SCRYPT), "{name}: {why}");
        assert!(matches!(
            carry("abc", name, None),
            Ok(Carried::Unsupported(_))
        ));
    }
    assert_eq!(
        carry("", "firebase", None),
        Err("password_hash is empty".to_string())
    );
}

#[test]
fn clerk_and_django_pbkdf2_strings_are_told_apart() {
    use DigestFunction::*;
    let clerk = carried(CLERK_SHA256, "pbkdf2_sha256", None);
    assert_pbkdf2(&clerk, Sha256, 1000, 32, &salt16());
    // A salt of letters and digits reads as Django's text and Clerk's base64 alike.
    let why = reason(DJANGO_SHA256, "pbkdf2_sha256", None);
    assert!(
        why.contains("ambiguous") && why.contains("pbkdf2_sha256_django"),
        "{why}"
    );
    let django = carried(DJANGO_SHA256, "pbkdf2_sha256_django", None);
    assert_pbkdf2(&django, Sha256, 1000, 32, b"abcdefghijkl");
    assert_verifies(&carried(DJANGO_SHA256, "django", None));
    let letters = carried(CLERK_SHA256_LETTERS, "clerk_pbkdf2_sha256", None);
    assert_verifies(&letters);
    // A PHC string named pbkdf2_sha256 is still read as one.
    assert_verifies(&carried(PHC_SHA256, "pbkdf2-sha256", None));

    let hex_salt = carried(CLERK_SHA1_HEX_SALT, "pbkdf2_sha1", None);
    assert_pbkdf2(&hex_salt, Sha1, 1000, 32, &salt16());
    let text_salt = carried(CLERK_SHA1_TEXT_SALT, "pbkdf2_sha1", None);
    assert_pbkdf2(&text_salt, Sha1, 1000, 32, b"not-hex-salt");
    let key_length = carried(CLERK_SHA1_KEY_LENGTH, "clerk_pbkdf2_sha1", None);
    assert_pbkdf2(&key_length, Sha1, 1000, 20, &salt16());
    let django = carried(DJANGO_SHA1, "pbkdf2_sha1", None);
    assert_pbkdf2(&django, Sha1, 1000, 20, b"saltysalt");

    let wrong_length = CLERK_SHA1_KEY_LENGTH.replace("$20", "$32");
    assert!(reason(&wrong_length, "pbkdf2_sha1", None).contains("Clerk"));
    let not_hex = CLERK_SHA1_HEX_SALT.replace("$00e9", "$zze9");
    assert!(reason(&not_hex, "clerk_pbkdf2_sha1", None).contains("Clerk"));
}

#[test]
fn clerk_password_hasher_names() {
    use digest::{DigestKind, Named, Vendor};
    let self_describing = ["bcrypt", "argon2id", "argon2i", "pbkdf2_sha256_django"];
    for name in self_describing {
        assert!(
            matches!(Named::parse(name), Named::SelfDescribing(_)),
            "{name}"
        );
    }
    assert_eq!(Named::parse("md5"), Named::Digest(DigestKind::Md5));
    assert_eq!(
        Named::parse("sha256"),
        Named::Digest(DigestKind::Sha(DigestFunction::Sha256))
    );
    assert_eq!(
        Named::parse("pbkdf2_sha1"),
        Named::Vendor(Vendor::Pbkdf2Clerk {
            function: DigestFunction::Sha1,
            clerk: false
        })
    );
    let unsupported = [
        "scrypt_firebase",
        "scrypt_werkzeug",
        "bcrypt_sha256_django",
        "bcrypt_peppered",
        "phpass",
        "awscognito",
        "sha256_salted",
    ];
    for name in unsupported {
        match Named::parse(name) {
            Named::Unsupported(reason) => assert!(reason.contains(name), "{reason}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // Clerk's argon2i digests are PHC strings, which the target cannot verify.
    let argon2i = "$argon2i$v=19$m=4096,t=3,p=1$4t6CL3P7YiHBtwESXawI8Hm20zJj4cs7/4/G3c187e0$m7RQFczcKr5bIR0IIxbpO2P0tyrLjf3eUW3M3QSwnLc";
    assert!(matches!(
        carry(argon2i, "argon2i", None),
        Ok(Carried::Unsupported(_))
    ));
    assert_verifies(&carried(BCRYPT, "bcrypt", None));
}

#[test]
fn vendor_names_are_case_insensitive() {
    use digest::{Named, Vendor};
    for name in ["aspnet-identity", "ASPNET", "AspNetCore_Identity"] {
        assert_eq!(
            Named::parse(name),
            Named::Vendor(Vendor::AspNetIdentity),
            "{name}"
        );
    }
    assert_eq!(Named::parse("KeyCloak"), Named::Vendor(Vendor::Keycloak));
}

#[test]
fn vendor_reasons_never_echo_the_hash_salt_or_parameters() {
    let secret_value =
        "Ca/W1uHPdOF53bPWSQyrHQQPdk6KOe20VTbaw0U+WWswH2gciKNBqwk+H7RPgAmCshFAhVRLSSar72bo1/g8dA==";
    let bad_prf = aspnet_v3_edited(1, &9u32.to_be_bytes());
    let cases: Vec<(String, &str, Option<String>)> = vec![
        (bad_prf, "aspnet", None),
        (ASPNET_V2[..40].to_string(), "aspnet", None),
        (
            KC_SHA256_SECRET.to_string(),
            "keycloak",
            Some("{\"hashIterations\":\"x\"}".to_string()),
        ),
        (
            KC_SHA256_SECRET.replace(SALT16, "@@"),
            "keycloak",
            Some(KC_SHA256_CREDENTIAL.to_string()),
        ),
        (
            KC_ARGON2_SECRET.to_string(),
            "keycloak",
            Some(argon2_credential(r#""type":["i"],"version":["1.3"]"#)),
        ),
        (
            format!("{{\"value\":{secret_value:?}"),
            "keycloak",
            Some(KC_SHA1_CREDENTIAL.to_string()),
        ),
        (DJANGO_SHA256.to_string(), "pbkdf2_sha256", None),
        (
            CLERK_SHA1_HEX_SALT.replace("1000", "x"),
            "pbkdf2_sha1",
            None,
        ),
        ("c2NyeXB0IGhhc2g=".to_string(), "scrypt_firebase", None),
    ];
    for (hash, algorithm, params) in &cases {
        let why = reason(hash, algorithm, params.as_deref());
        for secret in [
            hash.as_str(),
            SALT16,
            secret_value,
            "abcdefghijkl",
            "000102030405",
        ] {
            assert!(!why.contains(secret), "{algorithm}: {why}");
        }
        if let Some(params) = params {
            assert!(!why.contains(params.as_str()), "{algorithm}: {why}");
        }
    }
}
