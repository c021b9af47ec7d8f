//! The platform's password check, `verifyPasswordV2`: proof that a migrated
//! user signs in with the password they always had, asked the way a real
//! tenant is asked.
//!
//! `POST` of [`Endpoint::PasswordVerify`](crate::contract::api::Endpoint)
//! (`…/system/pools/{ipID}/user/password/v2/verify`, at every layout) with
//! the spec's `VerifyPassword` body, `{"identifier": "...", "password":
//! "..."}`, and a bearer token of the tenant with scope `identity`, answers
//! `200` with the spec's `VerifyPasswordResponseDataV2`, `{"id", "state",
//! "result"}`:
//!
//! | `result` | when | `id` | `state` |
//! |---|---|---|---|
//! | `password_correct` | the password matches a valid, unexpired credential | the user's | that credential's (`valid` when unset) |
//! | `password_expired` | the password matches only credentials that expired or must be reset or changed | the user's | that credential's |
//! | `password_incorrect` | the password matches none of the user's credentials | the user's | `valid`, whatever is stored |
//! | `no_password` | the user has no password credential | the user's | `valid` |
//! | `user_not_found` | no user of the pool has the identifier | `""` (the spec: empty means not found) | `valid` |
//!
//! Other answers: `401` without a valid token, `403` without scope
//! `identity` or for another tenant, `404` for an unknown tenant or pool,
//! `422` for a body that is not a `VerifyPassword` with an identifier or a `userID` (the
//! statuses the spec declares are 200, 401, 412 and 422; 403, 404 and 429
//! are ferry's, the 429 standing in for the platform's brute-force
//! protection).
//!
//! # What is told to whom
//!
//! `state` is the credential's state (the spec's enum is `valid`,
//! `must_be_reset`, `must_be_changed`), not the user's status, which the v2
//! answer has no word for: a correct password of an inactive user is
//! `password_correct`, as it is on the platform, whose endpoint checks a
//! password for an external system; whether that user may sign in is the
//! user's `status`, read with the user. The password is checked first
//! ([`decide`]), and a credential's state is told only to who knows its
//! password: a wrong password answers `state: valid` whatever is stored, so
//! the answer to a wrong password is the same for an active, inactive,
//! expired or reset user. A user whose only credential is an unusable
//! placeholder (`--unsupported-hash expire`) therefore gets
//! `password_incorrect`: no password can be shown to be theirs.
//!
//! The spec's answer does tell `user_not_found` from `password_incorrect`:
//! that is why it needs the `identity` scope. Its time does not add to it:
//! an unknown identifier, or a user without a password, is checked against a
//! dummy bcrypt hash of cost 12, so that its answer takes about as long as a
//! real user's.
//!
//! The five methods are verified exactly as the contract's encoding choices
//! define them ([`crate::contract::choices`]); digests are compared in
//! constant time, and hashes above the contract's work-factor bounds match
//! nothing.
//!
//! Attempts are rate-limited per (tenant, pool, user) with a GCRA
//! limiter: a burst of [`BURST`], then one every [`REPLENISH`]; and per
//! (tenant, client the token was issued to): a burst of [`CLIENT_BURST`],
//! then one every [`CLIENT_REPLENISH`], so that one caller can neither spray
//! a password over every identifier nor keep the server's cores busy with
//! checks (the limiter is `src/server/attempts.rs`). Neither the password
//! nor the hash is ever logged or answered.
//!
//! The user is named by `identifier` (compared lower-cased) or, without
//! one, by `userID` (or its legacy name `id`). Attempts are counted against
//! the user however it is named, so naming it both ways gains no attempts.

use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

pub use super::attempts::{BURST, CLIENT_BURST, CLIENT_REPLENISH, REPLENISH};
use super::auth::Need;
use super::body::{BodyRejection, StrictJson};
use super::error::ApiError;
use super::state::AppState;
use super::store::accounts::{Account, AccountKey, AccountLookup, StoredPassword};
use super::tenant::Target;
use crate::contract::choices::{decode_bytes, split_embedded_salt, SaltConvention, NEVER_EXPIRES};
use crate::contract::records::{
    BcryptConfig, CredentialState, DigestFunction, HashConfig, HashMethod, HashedPassword,
};
use crate::contract::rules::check_work_factor;

/// Longest accepted password or identifier, in bytes.
const MAX_PASSWORD: usize = 4096;

/// The body of a verification: the spec's `VerifyPassword`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyPassword {
    /// An email, phone or other identifier of the user.
    #[serde(default)]
    identifier: Option<String>,
    /// The password to check.
    password: String,
    /// The user's id, when no identifier is given.
    #[serde(default, rename = "userID")]
    user_id: Option<String>,
    /// The legacy name of `userID`.
    #[serde(default)]
    id: Option<String>,
}

/// The answer: the spec's `VerifyPasswordResponseDataV2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyPasswordResponseV2 {
    /// The user's id; empty when no user has the identifier.
    pub id: String,
    /// The matching credential's state; `valid` unless the password matched.
    pub state: CredentialState,
    /// What the check found.
    pub result: Finding,
}

/// `POST` of [`Endpoint::PasswordVerify`](crate::contract::api::Endpoint).
pub async fn verify(
    State(state): State<AppState>,
    target: Target,
    headers: HeaderMap,
    body: Result<StrictJson<VerifyPassword>, BodyRejection>,
) -> Result<Response, ApiError> {
    let tid = target.tenant.as_str();
    let pool = target.pool()?.to_owned();
    let caller = state
        .tokens()
        .authorize(&headers, tid, Need::Identity, Instant::now())?;
    if !state.store().has_tenant(tid) {
        return Err(ApiError::UnknownTenant);
    }
    let (key, password) = request(body)?;
    let lookup = state
        .store()
        .account(tid, &pool, key.clone())
        .await
        .map_err(|err| {
            tracing::error!(tenant = %tid, error = %err, "A password verification could not read the database.");
            ApiError::Internal
        })?;
    let account = match lookup {
        AccountLookup::UnknownPool => return Err(ApiError::UnknownPool),
        AccountLookup::NoUser => None,
        AccountLookup::Found(account) => Some(account),
    };
    // Attempts count against the user, however it is named (an identifier
    // or its id), or against the name when no user has it.
    let target = match (&account, &key) {
        (Some(account), _) => format!("user\0{}", account.user_id),
        (None, AccountKey::UserId(id)) => format!("user\0{id}"),
        (None, AccountKey::Identifier(identifier_lc)) => format!("identifier\0{identifier_lc}"),
    };
    let attempt = state.verify_limiter().attempt(
        format!("{tid}\0{}", caller.client_id),
        format!("{tid}\0{pool}\0{target}"),
    );
    if let Err(throttle) = attempt {
        tracing::warn!(tenant = %tid, pool, client_id = %caller.client_id, limit = ?throttle, "Too many password attempts.");
        return Err(ApiError::Throttled {
            reason: throttle.reason(),
            retry_after: throttle.retry_after(),
        });
    }
    let now = OffsetDateTime::now_utc();
    let salt = state.config().salt;
    let answer = tokio::task::spawn_blocking(move || {
        decide(account.as_ref(), &password, now, |hash, password| {
            password_matches(hash, password, salt)
        })
    })
    .await
    .map_err(|err| {
        tracing::error!(error = %err, "A password verification task failed.");
        ApiError::Internal
    })?;
    tracing::debug!(tenant = %tid, pool, result = ?answer.result, "Password verified.");
    Ok(Json(answer).into_response())
}

/// The user a body names (by `identifier`, else `userID` or its legacy name
/// `id`) and its password, or the 422 the spec declares. A `userID` that is
/// not a UUID names no user of this server: `user_not_found`.
fn request(
    body: Result<StrictJson<VerifyPassword>, BodyRejection>,
) -> Result<(AccountKey, String), ApiError> {
    let unprocessable = |message: &str| ApiError::Unprocessable {
        code: "invalid_request",
        message: message.to_owned(),
    };
    let StrictJson(request) = body.map_err(|_| {
        unprocessable("the body must be JSON {\"identifier\": \"...\", \"password\": \"...\"}")
    })?;
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (name, by_id) = match (
        given(request.identifier),
        given(request.user_id).or(given(request.id)),
    ) {
        (Some(identifier), _) => (identifier, false),
        (None, Some(id)) => (id, true),
        (None, None) => return Err(unprocessable("identifier or userID is required")),
    };
    if request.password.len() > MAX_PASSWORD || name.len() > MAX_PASSWORD {
        return Err(unprocessable(
            "the identifier and the password are at most 4096 bytes each",
        ));
    }
    let key = if by_id {
        // An id that is not a UUID is no user's, and neither is the nil id.
        AccountKey::UserId(Uuid::parse_str(name.trim()).unwrap_or(Uuid::nil()))
    } else {
        AccountKey::Identifier(name.trim().to_lowercase())
    };
    Ok((key, request.password))
}

/// A bcrypt hash, at cost 12, of a random password nobody kept: what an
/// unknown identifier, or a user without a password, is checked against.
/// Answering those at once would tell a caller, by the time taken, which
/// identifiers are users (a bcrypt-12 check takes a few hundred milliseconds,
/// a lookup a few). Cost 12 is the most common production cost; a dummy
/// check's result is never used.
const DUMMY_BCRYPT: &str = "$2b$12$OS2Z0GZ5YuJq9b611.Cp3eu4YnDoUdrdP2llxdYl0CV7OKcdGOcHW";

/// [`DUMMY_BCRYPT`] as a contract hash.
fn dummy_hash() -> HashedPassword {
    HashedPassword {
        config: HashConfig {
            bcrypt: Some(BcryptConfig { cost: 12 }),
            ..HashConfig::only(HashMethod::Bcrypt)
        },
        value: DUMMY_BCRYPT.to_owned(),
    }
}

/// What checking a password found: the spec's
/// `VerifyPasswordResponseDataV2.result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// No user has the identifier (the dummy hash was checked).
    UserNotFound,
    /// The user has no password credential (the dummy hash was checked).
    NoPassword,
    /// The password matches none of the user's credentials.
    PasswordIncorrect,
    /// The password matches only credentials that expired or must be reset
    /// or changed.
    PasswordExpired,
    /// The password matches a valid, unexpired credential.
    PasswordCorrect,
}

/// The answer for `account` (`None`: no user has the identifier) and
/// `password` at `now`. `matches` checks a password against a hash
/// ([`password_matches`]; tests pass one that records its calls).
///
/// The password is checked before anything is told: `state` is the matching
/// credential's, and `valid` when none matched, so a wrong password gets
/// the same answer whatever is stored. The user's status is not part of the
/// answer (see the module).
pub fn decide(
    account: Option<&Account>,
    password: &str,
    now: OffsetDateTime,
    matches: impl FnMut(&HashedPassword, &str) -> bool,
) -> VerifyPasswordResponseV2 {
    let (result, matched) = check_password(account, password, now, matches);
    VerifyPasswordResponseV2 {
        id: account.map(|a| a.user_id.to_string()).unwrap_or_default(),
        state: matched.unwrap_or(CredentialState::Valid),
        result,
    }
}

/// Checks `password` against every credential of `account`, usable or not,
/// so that the time taken says neither which one matched nor whether any is
/// usable; without a credential to check, against [`DUMMY_BCRYPT`], so that
/// it does not say whether the identifier exists. Returns the finding and
/// the state of the credential the password matched (`None`: none did, or
/// it has no state).
fn check_password(
    account: Option<&Account>,
    password: &str,
    now: OffsetDateTime,
    mut matches: impl FnMut(&HashedPassword, &str) -> bool,
) -> (Finding, Option<CredentialState>) {
    let hashes: Vec<(&StoredPassword, &HashedPassword)> = account
        .map(|a| a.passwords.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.payload.hashed_password.as_ref().map(|h| (c, h)))
        .collect();
    if hashes.is_empty() {
        // The result is never used: no password can sign this identifier in.
        let _ = matches(&dummy_hash(), password);
        let finding = match account {
            None => Finding::UserNotFound,
            Some(_) => Finding::NoPassword,
        };
        return (finding, None);
    }
    // The first matching credential of each kind, by its state; every hash
    // is checked all the same.
    let (mut usable_match, mut unusable_match) = (None, None);
    for (credential, hash) in hashes {
        if !matches(hash, password) {
            continue;
        }
        let slot = if usable(credential, now) {
            &mut usable_match
        } else {
            &mut unusable_match
        };
        slot.get_or_insert(credential.state);
    }
    match (usable_match, unusable_match) {
        (Some(state), _) => (Finding::PasswordCorrect, state),
        (None, Some(state)) => (Finding::PasswordExpired, state),
        (None, None) => (Finding::PasswordIncorrect, None),
    }
}

/// A credential may be used: valid (or stateless) and not expired.
fn usable(credential: &StoredPassword, now: OffsetDateTime) -> bool {
    let state_ok = matches!(credential.state, None | Some(CredentialState::Valid));
    let unexpired = match credential.expires_at {
        None => true,
        Some(t) if t == NEVER_EXPIRES => true,
        Some(t) => t > now,
    };
    state_ok && unexpired
}

/// Whether `password` matches `hash` under the contract's encoding choices,
/// its salt read under `convention`.
/// A hash that cannot be decoded matches nothing, and so does one whose work
/// factor is above the contract's bounds (stored before they were enforced):
/// checking it would cost the server seconds to minutes per attempt.
pub fn password_matches(hash: &HashedPassword, password: &str, convention: SaltConvention) -> bool {
    if check_work_factor(hash).is_err() {
        return false;
    }
    let config = &hash.config;
    let password = password.as_bytes();
    match config.method {
        HashMethod::Bcrypt => bcrypt::verify(password, &hash.value).unwrap_or(false),
        HashMethod::Pbkdf2 => config.pbkdf2.as_ref().is_some_and(|c| {
            salted(convention, hash).is_some_and(|(salt, expected)| {
                let mut out = vec![0u8; expected.len()];
                let rounds = c.number_of_iterations;
                let done = match c.function {
                    DigestFunction::Sha1 => {
                        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, &salt, rounds, &mut out);
                        true
                    }
                    DigestFunction::Sha256 => {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, rounds, &mut out);
                        true
                    }
                    DigestFunction::Sha512 => {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, &salt, rounds, &mut out);
                        true
                    }
                    DigestFunction::Sha384 => false,
                };
                done && bool::from(out.ct_eq(&expected))
            })
        }),
        HashMethod::Argon2 => config.argon2.as_ref().is_some_and(|c| {
            salted(convention, hash).is_some_and(|(salt, expected)| {
                let Ok(params) = Params::new(
                    c.memory_in_kb,
                    c.iterations,
                    c.parallelism,
                    Some(expected.len()),
                ) else {
                    return false;
                };
                let mut out = vec![0u8; expected.len()];
                Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                    .hash_password_into(password, &salt, &mut out)
                    .is_ok()
                    && bool::from(out.ct_eq(&expected))
            })
        }),
        HashMethod::Sha => config.sha.as_ref().is_some_and(|c| {
            salted(convention, hash).is_some_and(|(salt, expected)| {
                let actual = match c.function {
                    DigestFunction::Sha1 => digest::<sha1::Sha1>(password, &salt),
                    DigestFunction::Sha256 => digest::<sha2::Sha256>(password, &salt),
                    DigestFunction::Sha384 => digest::<sha2::Sha384>(password, &salt),
                    DigestFunction::Sha512 => digest::<sha2::Sha512>(password, &salt),
                };
                bool::from(actual.ct_eq(&expected))
            })
        }),
        // An unsalted md5 needs no parameters.
        HashMethod::Md5 => salted(convention, hash).is_some_and(|(salt, expected)| {
            bool::from(digest::<md5::Md5>(password, &salt).ct_eq(&expected))
        }),
    }
}

/// H(password ‖ salt).
fn digest<D: Digest>(password: &[u8], salt: &[u8]) -> Vec<u8> {
    D::new()
        .chain_update(password)
        .chain_update(salt)
        .finalize()
        .to_vec()
}

/// (salt, digest) of a hash value: the separate `salt` field (read under
/// `convention`), or the salt embedded in the value when `salt` is absent
/// ([`HashConfig::salt`] says which).
fn salted(convention: SaltConvention, hash: &HashedPassword) -> Option<(Vec<u8>, Vec<u8>)> {
    let (salt, salt_length, salt_after_digest) = hash.config.salt();
    let decoded = decode_bytes(&hash.value).ok()?;
    match salt {
        Some(salt) => Some((convention.decode(salt)?, decoded)),
        None => {
            let (salt, digest) =
                split_embedded_salt(&decoded, salt_length as usize, salt_after_digest)?;
            Some((salt.to_vec(), digest.to_vec()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::records::{CredentialPayload, HashConfig, ShaConfig, UserStatus};
    use proptest::strategy::Strategy;

    /// The check at a server reading salts as base64, as these hashes are written.
    fn password_matches(hash: &HashedPassword, password: &str) -> bool {
        super::password_matches(hash, password, SaltConvention::Base64)
    }

    /// `{SSHA}gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx0` (SHA-1 of "secret" with salt
    /// "salt", made with Python's hashlib) as the contract carries it: the
    /// 4-byte salt after the digest in `value`.
    fn ssha_of_secret() -> HashedPassword {
        HashedPassword {
            config: HashConfig {
                sha: Some(ShaConfig {
                    function: DigestFunction::Sha1,
                    salt: None,
                    salt_length: 4,
                    salt_after_digest_in_hash: true,
                }),
                ..HashConfig::only(HashMethod::Sha)
            },
            value: "gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx0".into(),
        }
    }

    fn account(status: UserStatus, expires_at: Option<OffsetDateTime>) -> Account {
        let hash = ssha_of_secret();
        Account {
            user_id: uuid::Uuid::from_u128(7),
            status,
            passwords: vec![StoredPassword {
                payload: CredentialPayload {
                    hashed_password: Some(hash),
                    other: Default::default(),
                },
                state: None,
                expires_at,
            }],
        }
    }

    /// The answer `(id, state, result)` in short.
    fn answer(id: &str, state: CredentialState, result: Finding) -> VerifyPasswordResponseV2 {
        VerifyPasswordResponseV2 {
            id: id.to_owned(),
            state,
            result,
        }
    }

    const USER: &str = "00000000-0000-0000-0000-000000000007";

    #[test]
    fn answers_follow_the_documented_table() {
        use CredentialState::{MustBeChanged, MustBeReset, Valid};
        use Finding::{NoPassword, PasswordCorrect, PasswordExpired, PasswordIncorrect};
        let now = time::macros::datetime!(2026-11-23 12:00:00 UTC);
        let check = |account: &Account, password: &str| {
            decide(Some(account), password, now, password_matches)
        };
        let active = account(UserStatus::Active, None);
        assert_eq!(
            check(&active, "secret"),
            answer(USER, Valid, PasswordCorrect)
        );
        assert_eq!(
            check(&active, "Secret"),
            answer(USER, Valid, PasswordIncorrect)
        );
        let never = account(UserStatus::Active, Some(NEVER_EXPIRES));
        assert_eq!(
            check(&never, "secret").result,
            PasswordCorrect,
            "1900-01-01 never expires"
        );
        let future = account(UserStatus::Active, Some(now + time::Duration::days(1)));
        assert_eq!(check(&future, "secret").result, PasswordCorrect);
        let past = account(UserStatus::Active, Some(now - time::Duration::days(1)));
        assert_eq!(check(&past, "secret"), answer(USER, Valid, PasswordExpired));
        let inactive = account(UserStatus::Inactive, None);
        assert_eq!(
            check(&inactive, "secret"),
            answer(USER, Valid, PasswordCorrect),
            "v2 checks the password; the status is the user's"
        );
        for (stored, told) in [(MustBeReset, MustBeReset), (MustBeChanged, MustBeChanged)] {
            let mut reset = account(UserStatus::Active, None);
            reset.passwords[0].state = Some(stored);
            assert_eq!(check(&reset, "secret"), answer(USER, told, PasswordExpired));
            assert_eq!(
                check(&reset, "wrong"),
                answer(USER, Valid, PasswordIncorrect),
                "a credential's state is told only to who knows its password"
            );
        }
        let mut none = account(UserStatus::Active, None);
        none.passwords.clear();
        assert_eq!(check(&none, "secret"), answer(USER, Valid, NoPassword));
    }

    /// The users of the decision table: `None` is an unknown identifier.
    fn table_user(state: &str, now: OffsetDateTime) -> Option<Account> {
        let past = Some(now - time::Duration::days(1));
        match state {
            "unknown" => None,
            "active" => Some(account(UserStatus::Active, None)),
            "inactive" => Some(account(UserStatus::Inactive, None)),
            "expired" => Some(account(UserStatus::Active, past)),
            "inactive+expired" => Some(account(UserStatus::Inactive, past)),
            _ => panic!("no such user state: {state}"),
        }
    }

    #[test]
    fn the_password_is_checked_with_one_hash_check_before_anything_is_told() {
        use Finding::{PasswordCorrect, PasswordExpired, PasswordIncorrect, UserNotFound};
        let now = time::macros::datetime!(2026-11-23 12:00:00 UTC);
        let valid = CredentialState::Valid;
        let table = [
            ("unknown", "secret", answer("", valid, UserNotFound)),
            ("unknown", "wrong", answer("", valid, UserNotFound)),
            ("active", "secret", answer(USER, valid, PasswordCorrect)),
            ("active", "wrong", answer(USER, valid, PasswordIncorrect)),
            ("inactive", "secret", answer(USER, valid, PasswordCorrect)),
            ("inactive", "wrong", answer(USER, valid, PasswordIncorrect)),
            ("expired", "secret", answer(USER, valid, PasswordExpired)),
            ("expired", "wrong", answer(USER, valid, PasswordIncorrect)),
            (
                "inactive+expired",
                "secret",
                answer(USER, valid, PasswordExpired),
            ),
            (
                "inactive+expired",
                "wrong",
                answer(USER, valid, PasswordIncorrect),
            ),
        ];
        for (state, password, expected) in table {
            let user = table_user(state, now);
            let mut checks = 0;
            let answer = decide(user.as_ref(), password, now, |hash, password| {
                checks += 1;
                password_matches(hash, password)
            });
            assert_eq!(answer, expected, "{state} user, password {password:?}");
            assert_eq!(checks, 1, "{state} user, password {password:?}: one check");
        }
    }

    proptest::proptest! {
        /// Whatever the user's status, credential state and expiry, a wrong
        /// password gets one and the same answer.
        #[test]
        fn a_wrong_password_tells_nothing_about_the_user(
            status in proptest::sample::select(vec![
                UserStatus::Active, UserStatus::Inactive, UserStatus::Deleted, UserStatus::New,
            ]),
            state in proptest::option::of(proptest::sample::select(vec![
                CredentialState::Valid, CredentialState::MustBeReset, CredentialState::MustBeChanged,
            ])),
            expires_in_days in proptest::option::of(-1000i64..1000),
            wrong in "[a-zA-Z0-9]{0,12}".prop_filter("not the password", |p| p != "secret"),
        ) {
            let now = time::macros::datetime!(2026-11-23 12:00:00 UTC);
            let mut user = account(status, expires_in_days.map(|d| now + time::Duration::days(d)));
            user.passwords[0].state = state;
            proptest::prop_assert_eq!(
                decide(Some(&user), &wrong, now, password_matches),
                answer(USER, CredentialState::Valid, Finding::PasswordIncorrect)
            );
        }
    }

    #[test]
    fn unknown_identifiers_and_users_without_a_password_check_the_dummy() {
        let now = time::macros::datetime!(2026-11-23 12:00:00 UTC);
        let mut without = account(UserStatus::Active, None);
        without.passwords.clear();
        for (account, expected) in [
            (None, Finding::UserNotFound),
            (Some(&without), Finding::NoPassword),
        ] {
            let mut checked = Vec::new();
            let answer = decide(account, "secret", now, |hash, _| {
                checked.push(hash.value.clone());
                true
            });
            assert_eq!(answer.result, expected, "a dummy match signs nobody in");
            assert_eq!(checked, [DUMMY_BCRYPT]);
        }
    }

    #[test]
    fn answers_serialise_as_the_spec_names_them() {
        let json = serde_json::to_value(answer(
            USER,
            CredentialState::MustBeReset,
            Finding::PasswordExpired,
        ))
        .unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"id": USER, "state": "must_be_reset", "result": "password_expired"})
        );
        for (finding, name) in [
            (Finding::PasswordCorrect, "password_correct"),
            (Finding::PasswordIncorrect, "password_incorrect"),
            (Finding::PasswordExpired, "password_expired"),
            (Finding::NoPassword, "no_password"),
            (Finding::UserNotFound, "user_not_found"),
        ] {
            assert_eq!(serde_json::to_value(finding).ok(), Some(name.into()));
        }
    }

    #[test]
    fn the_dummy_is_a_real_bcrypt_12_check() {
        let dummy = dummy_hash();
        assert_eq!(
            super::super::hashcheck::check(&dummy, SaltConvention::Text),
            Ok(())
        );
        assert_eq!(dummy.config.bcrypt.map(|b| b.cost), Some(12));
        // bcrypt parses it, so the check spends the cost instead of failing fast.
        assert_eq!(bcrypt::verify("", DUMMY_BCRYPT).ok(), Some(false));
    }

    #[test]
    fn hashes_above_the_work_bounds_match_nothing() {
        // PBKDF2-SHA1 of "secret" with salt "salt" at 2^32−1 iterations would
        // take minutes; the bound refuses it before a single HMAC.
        let mut config = HashConfig::only(HashMethod::Pbkdf2);
        config.pbkdf2 = Some(crate::contract::records::Pbkdf2Config {
            function: DigestFunction::Sha1,
            number_of_iterations: u32::MAX,
            key_length: 20,
            salt: Some(crate::contract::choices::encode_bytes(b"salt")),
            salt_length: 4,
        });
        let hash = HashedPassword {
            config,
            value: crate::contract::choices::encode_bytes(&[0u8; 20]),
        };
        assert!(!password_matches(&hash, "secret"));
    }

    #[test]
    fn undecodable_hashes_match_nothing() {
        let mut hash = ssha_of_secret();
        hash.value = "not base64!".into();
        assert!(!password_matches(&hash, "secret"));
    }
}
