//! Keycloak password credentials, selected by `password_algorithm`
//! `keycloak`: the two JSON strings of a `CredentialRepresentation` as a
//! `kc.sh export` realm file holds them, `secretData` in `password_hash`
//! and `credentialData` in the second password value ([`PasswordInput::params`]):
//!
//! ```json
//! {"value": "<base64 key>", "salt": "<base64 salt>", "additionalParameters": {}}
//! {"hashIterations": 27500, "algorithm": "pbkdf2-sha256", "additionalParameters": {}}
//! ```
//!
//! Without the second value, `password_hash` may be one object holding both
//! (`{"secretData": …, "credentialData": …}`, each a JSON string or an
//! object), as some export tools flatten them.
//!
//! | `algorithm` | becomes |
//! |---|---|
//! | `pbkdf2` (HMAC-SHA1), `pbkdf2-sha256`, `pbkdf2-sha512` | pbkdf2 with `hashIterations`; the key length is the decoded value's (Keycloak's derived key size changed between versions, and its verifier too reads it off the value) |
//! | `argon2` | argon2 with `hashIterations` passes and the `additionalParameters` `type`, `version`, `hashLength`, `memory` (KiB), `parallelism` (each a one-string array) |
//! | anything else (an extension's `bcrypt`, …) | what the value is, when it (or its base64) is a self-describing hash ([`super::detect`]); else unsupported |
//!
//! Keycloak's argon2 verifier reads every parameter from the stored
//! credential, with no fallback: its defaults (type `id`, version `1.3`,
//! hash length 32, memory 7168 KiB, 5 iterations, parallelism 1) only apply
//! to passwords it hashes anew, and it writes all five each time. A stored
//! credential without `type`, `version`, `memory` or `parallelism` therefore
//! never verified in Keycloak, and ferry rejects it rather than guess;
//! `hashLength` may be absent, since the value's length says it. Argon2 type
//! `i` or `d` and version `1.0` are unsupported: the target verifies
//! argon2id version 0x13 only.
//!
//! Reasons never echo the value, the salt or a JSON parse error (which
//! could quote them).
//!
//! [`PasswordInput::params`]: super::PasswordInput::params

use base64::Engine;
use serde_json::{Map, Value};

use super::detect::{self, argon2_hash, pbkdf2_hash, Argon2Cost};
use super::digest::BASE64_ANY_PAD;
use super::Carried;
use crate::contract::DigestFunction;

/// A parsed JSON object.
type Object = Map<String, Value>;

/// Converts a Keycloak credential: `secret` is `secretData` (or both
/// objects in one), `credential` is `credentialData`.
pub fn convert(secret: &str, credential: Option<&str>) -> Result<Carried, String> {
    let (secret, credential) = match credential {
        Some(credential) => (
            object(secret, "secretData")?,
            object(credential, "credentialData")?,
        ),
        None => flattened(secret)?,
    };
    let algorithm = credential
        .get("algorithm")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("credentialData has no algorithm"))?;
    let value = secret
        .get("value")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| malformed("secretData has no value"))?;
    match algorithm.to_ascii_lowercase().as_str() {
        "pbkdf2" => pbkdf2(DigestFunction::Sha1, &secret, &credential, value),
        "pbkdf2-sha256" => pbkdf2(DigestFunction::Sha256, &secret, &credential, value),
        "pbkdf2-sha512" => pbkdf2(DigestFunction::Sha512, &secret, &credential, value),
        "argon2" => argon2(&secret, &credential, value),
        _ => other(algorithm, value),
    }
}

/// `{"secretData": …, "credentialData": …}` in `password_hash` alone.
fn flattened(text: &str) -> Result<(Object, Object), String> {
    let both = object(text, "password_hash")?;
    let part = |key: &str| match both.get(key) {
        Some(Value::String(inner)) => object(inner, key).map(Some),
        Some(Value::Object(inner)) => Ok(Some(inner.clone())),
        Some(_) => Err(malformed(&format!("{key} is not a JSON object"))),
        None => Ok(None),
    };
    match (part("secretData")?, part("credentialData")?) {
        (Some(secret), Some(credential)) => Ok((secret, credential)),
        _ => Err(malformed(
            "credentialData is missing: give it as the second password value, \
             or password_hash as {\"secretData\": …, \"credentialData\": …}",
        )),
    }
}

/// PBKDF2 with HMAC-`function`.
fn pbkdf2(
    function: DigestFunction,
    secret: &Object,
    credential: &Object,
    value: &str,
) -> Result<Carried, String> {
    let iterations = iterations(credential)?;
    let salt = salt(secret)?;
    let key = base64(value, "secretData value")?;
    pbkdf2_hash(function, iterations, &salt, &key)
        .ok_or_else(|| malformed("secretData value is not a PBKDF2 key of 1 to 1024 bytes"))
}

/// argon2, whose parameters are in `credentialData.additionalParameters`.
fn argon2(secret: &Object, credential: &Object, value: &str) -> Result<Carried, String> {
    let parameters = Parameters(
        credential
            .get("additionalParameters")
            .and_then(Value::as_object),
    );
    if let Some(why) = unverifiable_variant(&parameters)? {
        return Ok(Carried::Unsupported(why.to_string()));
    }
    let cost = Argon2Cost {
        iterations: iterations(credential)?,
        memory_in_kb: parameters.required("memory")?,
        parallelism: parameters.required("parallelism")?,
    };
    let salt = salt(secret)?;
    let key = base64(value, "secretData value")?;
    if parameters
        .number("hashLength")?
        .is_some_and(|length| length as usize != key.len())
    {
        return Err(malformed(
            "the argon2 hashLength is not the length of secretData value",
        ));
    }
    argon2_hash(cost, &salt, &key).ok_or_else(|| {
        malformed("the argon2 parameters, salt or key are outside what argon2 accepts")
    })
}

/// Why an argon2 credential's type or version is one the target cannot
/// verify, if it is; `Err` for a type or version Keycloak does not have.
fn unverifiable_variant(parameters: &Parameters<'_>) -> Result<Option<&'static str>, String> {
    let why = match parameters.text("type").as_deref() {
        Some("id") => None,
        Some("i" | "d") => Some(
            "Keycloak argon2 type i or d (argon2i, argon2d) cannot be verified by the target, \
             which verifies argon2id only",
        ),
        _ => return Err(malformed("the argon2 type is not id, i or d")),
    };
    match parameters.text("version").as_deref() {
        Some("1.3") => Ok(why),
        Some("1.0") => Ok(why.or(Some(
            "Keycloak argon2 version 1.0 cannot be verified by the target (it uses version 1.3)",
        ))),
        _ => Err(malformed("the argon2 version is not 1.3 or 1.0")),
    }
}

/// `credentialData.additionalParameters`, whose values are one-string arrays.
struct Parameters<'a>(Option<&'a Object>);

impl Parameters<'_> {
    /// The parameter's first string (a bare string or number is taken as it is).
    fn text(&self, name: &str) -> Option<String> {
        self.0.and_then(|p| p.get(name)).and_then(first_string)
    }

    /// The parameter as a number, if present.
    fn number(&self, name: &str) -> Result<Option<u32>, String> {
        match self.text(name) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| malformed(&format!("the argon2 {name} is not a number"))),
        }
    }

    /// The parameter as a number, which Keycloak always writes.
    fn required(&self, name: &str) -> Result<u32, String> {
        self.number(name)?
            .ok_or_else(|| malformed(&format!("the argon2 {name} is missing")))
    }
}

/// An algorithm Keycloak has through an extension: carried when its value
/// is a self-describing hash (a bcrypt extension stores the bcrypt string,
/// some store its base64).
fn other(algorithm: &str, value: &str) -> Result<Carried, String> {
    let decoded = BASE64_ANY_PAD
        .decode(value)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    for candidate in [Some(value), decoded.as_deref()].into_iter().flatten() {
        if let Some(found) = detect::self_describing(candidate) {
            return found.map(|carried| match carried {
                Carried::Unsupported(why) => Carried::Unsupported(format!(
                    "Keycloak algorithm '{}': {why}",
                    shown(algorithm)
                )),
                hash => hash,
            });
        }
    }
    Ok(Carried::Unsupported(format!(
        "Keycloak algorithm '{}' is not one ferry can carry, and its value is not a \
         self-describing hash",
        shown(algorithm)
    )))
}

/// `credentialData.hashIterations`, a positive number (or its digits).
fn iterations(credential: &Object) -> Result<u32, String> {
    let iterations = match credential.get("hashIterations") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        _ => None,
    };
    iterations
        .filter(|n| *n >= 1)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| malformed("credentialData.hashIterations is not a positive number"))
}

/// `secretData.salt`, decoded. Keycloak writes `__SALT__` or nothing for a
/// credential without salt, which neither its PBKDF2 nor its argon2 verifies.
fn salt(secret: &Object) -> Result<Vec<u8>, String> {
    let salt = secret
        .get("salt")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "__SALT__")
        .ok_or_else(|| malformed("secretData has no salt"))?;
    base64(salt, "secretData salt")
}

fn base64(text: &str, what: &str) -> Result<Vec<u8>, String> {
    BASE64_ANY_PAD
        .decode(text)
        .map_err(|_| malformed(&format!("{what} is not base64")))
}

/// The first string of a Keycloak multivalued parameter (`["7168"]`).
fn first_string(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) => items.first().and_then(first_string),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses `text` as a JSON object; the parser's message is dropped, since
/// it may quote the text.
fn object(text: &str, what: &str) -> Result<Object, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(malformed(&format!("{what} is not a JSON object"))),
    }
}

/// An algorithm name for a reason, cut short: it comes from the source.
fn shown(name: &str) -> String {
    const MAX: usize = 64;
    match name.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_string(),
    }
}

fn malformed(why: &str) -> String {
    format!("password_hash is not a well-formed Keycloak credential: {why}")
}
